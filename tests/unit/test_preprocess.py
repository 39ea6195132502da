"""glassbridge.vision.preprocess against the independent float64 reference, OpenCV, and across SIMD paths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from glassbridge import _testing_native
from glassbridge.vision import _kernels
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange, plane_shapes
from glassbridge.vision.preprocess import (
    Normalization,
    available_isas,
    force_isa,
    isa,
    letterbox_rect,
    preprocess,
)
from tests.reference import preprocess_ref as ref

DTYPES = (np.uint8, np.int8, np.float32)
CHANNELS = ("rgb", "bgr", "gray")

# Normalisations with non-trivial scales and zero points, one family per output type.
IMAGENET = Normalization.from_mean_std((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
NORMS: dict[type, list[Normalization]] = {
    np.uint8: [Normalization.for_quantized(0.0173, 37, mean=127.5, std=127.5), Normalization.identity()],
    np.int8: [
        Normalization.for_range(-1.0, 1.0, scale=2 / 255, zero_point=-1),  # BlazeFace-style int8
        Normalization.for_range(-1.0, 1.0, scale=1 / 128, zero_point=0),  # one step ~ one input level
    ],
    np.float32: [IMAGENET, Normalization.for_range(-1.0, 1.0)],
}
GRAY_FLOAT = Normalization.from_mean_std(116.0, 57.5)  # gray models take one mean and std


def norms_for(dtype: type, channels: str) -> list[Normalization]:
    if channels == "gray" and dtype == np.float32:
        return [GRAY_FLOAT, NORMS[dtype][1]]
    return NORMS[dtype]


def make_frame(
    fmt: PixelFormat, width: int, height: int, rng: np.random.Generator, *, pad: int = 0, full_range: bool = False,
    legal: bool = False,
) -> Frame:
    """A frame of uniform noise (the hardest case for interpolation), each plane's rows padded by `pad` bytes."""
    planes = []
    for rows, row_bytes in plane_shapes(fmt, width, height):
        lo, hi = (16, 236) if legal else (0, 256)
        buf = rng.integers(lo, hi, size=(rows, row_bytes + pad), dtype=np.uint8)
        planes.append(buf[:, :row_bytes])
    return Frame(fmt, width, height, tuple(planes), range=YuvRange.FULL if full_range else YuvRange.LIMITED)


def frame_size(fmt: PixelFormat, width: int) -> int:
    return width + (width % 2) if fmt is PixelFormat.YUYV else width


def reference(frame: Frame, out_shape: tuple[int, int], *, crop=None, channels="rgb", norm, dst=None, pad=0.0):
    out_h, out_w = out_shape
    crop = crop or (0, 0, frame.width, frame.height)
    dst = dst or (0, 0, out_w, out_h)
    pads = (float(pad),) * 3 if np.isscalar(pad) else tuple(pad)
    return ref.reference_values(
        frame.format.value, list(frame.planes), frame.width, frame.height, frame.range.value,
        ref.Geometry(crop, out_w, out_h, dst), channels, norm.mul, norm.add, pads,
    )


def assert_within_one_step(got: np.ndarray, want: np.ndarray, norm: Normalization) -> None:
    """The contract: every output within one output step of the float64 reference.

    Quantized: |q - quantize(y)| <= 1. Float32: |y - y_ref| <= |mul| (one input level through the scaling).
    Also the documented error budget of the interpolated value (about 0.03 level, asserted at 0.1 level), which
    is what keeps a quantized output on the nearer of the two neighbours of y.
    """
    mul = np.abs(np.asarray(norm.mul[: got.shape[-1]]))
    if got.dtype == np.float32:
        err = np.abs(got.astype(np.float64) - want)
        assert (err <= mul * 1.0).all(), f"float32 error {err.max()} exceeds one level x |mul|"
        assert (err <= mul * 0.1 + 1e-5).all(), f"float32 error {(err / mul).max()} levels exceeds the 0.1 budget"
        return
    info = np.iinfo(got.dtype)
    q = got.astype(np.int64)
    steps = np.abs(q - ref.quantize(want, got.dtype).astype(np.int64))
    assert steps.max() <= 1, f"{steps.max()} output steps from the reference at {np.argwhere(steps > 1)[:5]}"
    exact = np.abs(q - np.clip(want, info.min, info.max))
    assert (exact <= 0.5 + mul * 0.1 + 1e-9).all(), f"quantized error {exact.max()} > 0.5 step + 0.1 level"


@pytest.mark.parametrize("fmt", list(PixelFormat), ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels", CHANNELS)
def test_every_format_type_and_channels_within_one_step(fmt: PixelFormat, dtype: type, channels: str) -> None:
    rng = np.random.default_rng(1000 + fmt.value * 9 + DTYPES.index(dtype) * 3 + CHANNELS.index(channels))
    frame = make_frame(fmt, frame_size(fmt, 45), 31, rng, pad=7, full_range=bool(fmt.value % 2))
    for norm in norms_for(dtype, channels):
        for crop, out_hw in (((3, 2, 37, 27), (13, 11)), (None, (40, 50)), ((5, 4, 9, 7), (24, 30))):
            nch = 1 if channels == "gray" else 3
            out = np.zeros((*out_hw, nch), dtype=dtype)
            preprocess(frame, out, crop=crop, channels=channels, norm=norm)
            assert_within_one_step(out, reference(frame, out_hw, crop=crop, channels=channels, norm=norm), norm)


GEOMETRIES = [
    # (crop, out (h, w), dst, pad)
    ((0, 0, 1, 1), (3, 4), None, 0.0),  # one pixel, at the top-left corner
    ((47, 35, 1, 1), (2, 2), None, 0.0),  # one pixel, at the bottom-right corner
    ((0, 0, 48, 36), (1, 1), None, 0.0),  # everything into one pixel
    ((0, 10, 48, 5), (7, 96), None, 0.0),  # touching left and right edges, upscaled x2 horizontally
    ((20, 0, 9, 36), (72, 5), None, 0.0),  # touching top and bottom, upscaled x2 vertically
    ((40, 30, 8, 6), (37, 41), None, 0.0),  # bottom-right corner crop, upscaled by odd factors
    ((1, 1, 46, 34), (17, 23), None, 0.0),  # odd downscale
    (None, (24, 24), letterbox_rect(48, 36, 24, 24), 114.0),  # letterbox, grey pad
    ((2, 3, 20, 30), (16, 16), (5, 0, 10, 16), (255.0, 0.0, 128.0)),  # pillarbox, per-channel pad
    (None, (9, 33), (32, 8, 1, 1), 0.0),  # the whole frame into one output pixel at the far corner
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[str(i) for i in range(len(GEOMETRIES))])
@pytest.mark.parametrize("fmt", [PixelFormat.NV12, PixelFormat.RGB888, PixelFormat.YUYV, PixelFormat.I420])
def test_crops_letterbox_and_scales_within_one_step(geometry, fmt: PixelFormat) -> None:
    crop, out_hw, dst, pad = geometry
    rng = np.random.default_rng(7)
    frame = make_frame(fmt, 48, 36, rng, pad=3)
    for dtype, channels in ((np.int8, "rgb"), (np.float32, "bgr"), (np.uint8, "gray")):
        norm = norms_for(dtype, channels)[0]
        out = np.zeros((1, *out_hw, 1 if channels == "gray" else 3), dtype=dtype)
        preprocess(frame, out, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad)
        want = reference(frame, out_hw, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad)
        assert_within_one_step(out[0], want, norm)


def test_every_isa_is_bit_identical_to_the_reference() -> None:
    rng = np.random.default_rng(3)
    isas = available_isas()
    assert isas[0] == "ref" and isa() in isas
    cases = 0
    for fmt, dtype, channels in itertools.product(PixelFormat, DTYPES, CHANNELS):
        width = frame_size(fmt, int(rng.integers(2, 90)))
        height = int(rng.integers(1, 60))
        frame = make_frame(fmt, width, height, rng, pad=int(rng.integers(0, 9)), full_range=bool(rng.integers(2)))
        cw, ch = int(rng.integers(1, width + 1)), int(rng.integers(1, height + 1))
        crop = (int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1)), cw, ch)
        out_h, out_w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        dx, dy = int(rng.integers(0, out_w)), int(rng.integers(0, out_h))
        dst = (dx, dy, int(rng.integers(1, out_w - dx + 1)), int(rng.integers(1, out_h - dy + 1)))
        norm = norms_for(dtype, channels)[int(rng.integers(2))]
        nch = 1 if channels == "gray" else 3
        want = np.zeros((out_h, out_w, nch), dtype=dtype)
        _testing_native.preprocess_ref(
            list(frame.planes), fmt.value, width, height, frame.range.value, crop, want,
            ("rgb", "bgr", "gray").index(channels), norm.mul, norm.add, dst, (17.0, 99.0, 250.0),
        )
        for name in isas:
            got = np.full_like(want, 3)
            with force_isa(name):
                preprocess(frame, got, crop=crop, channels=channels, norm=norm, dst=dst, pad=(17.0, 99.0, 250.0))
            assert got.tobytes() == want.tobytes(), f"{name} differs from ref: {fmt.name} {dtype} {channels}"
            cases += 1
    assert cases == len(isas) * len(PixelFormat) * len(DTYPES) * len(CHANNELS)


@pytest.mark.parametrize("fmt", [PixelFormat.NV12, PixelFormat.I420, PixelFormat.RGB888], ids=lambda f: f.name)
def test_every_isa_is_bit_identical_on_camera_sized_frames(fmt: PixelFormat) -> None:
    """The shapes the product runs: a VGA frame to a 224 model input, a face crop to the 64x64 gray model input."""
    frame = make_frame(fmt, 640, 480, np.random.default_rng(fmt.value))
    norm_i8 = NORMS[np.int8][0]
    cases = [
        (None, np.zeros((1, 224, 224, 3), np.int8), "rgb", norm_i8),
        ((201, 99, 173, 190), np.zeros((1, 64, 64, 1), np.int8), "gray", norm_i8),
        (None, np.zeros((1, 128, 128, 3), np.float32), "bgr", IMAGENET),
    ]
    for crop, template, channels, norm in cases:
        want = np.zeros_like(template)
        _testing_native.preprocess_ref(
            list(frame.planes), fmt.value, 640, 480, frame.range.value, crop or (0, 0, 640, 480), want,
            ("rgb", "bgr", "gray").index(channels), norm.mul, norm.add, (0, 0, 0, 0), (0.0, 0.0, 0.0),
        )
        for name in available_isas():
            got = np.zeros_like(template)
            with force_isa(name):
                preprocess(frame, got, crop=crop, channels=channels, norm=norm)
            assert got.tobytes() == want.tobytes(), f"{name} differs from ref: {fmt.name} {channels}"


def test_force_isa_restores_and_rejects_unknown_names() -> None:
    before = isa()
    with force_isa("ref"):
        assert isa() == "ref"
    assert isa() == before
    with pytest.raises(ValueError, match="unknown ISA"):
        with force_isa("mmx"):
            pass
    assert isa() == before


def test_nv12_matches_opencv_convert_then_resize_within_two_levels() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(11)
    frame = make_frame(PixelFormat.NV12, 320, 240, rng, legal=True)
    nv12 = np.concatenate([frame.planes[0], frame.planes[1]])
    for crop, size in (((0, 0, 320, 240), (224, 224)), ((40, 30, 200, 150), (64, 48)), ((10, 10, 50, 40), (120, 90))):
        x, y, w, h = crop
        rgb = cv2.cvtColor(nv12, cv2.COLOR_YUV2RGB_NV12)[y : y + h, x : x + w]
        want = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR).astype(np.int64)
        out = np.zeros((size[1], size[0], 3), np.uint8)
        preprocess(frame, out, crop=crop, norm=Normalization.identity())
        assert np.abs(out.astype(np.int64) - want).max() <= 2


def test_int8_identity_mapping_is_uint8_shifted() -> None:
    """With mul 1 and add -128 an int8 output is the uint8 output minus 128, exactly (one rounding)."""
    rng = np.random.default_rng(5)
    frame = make_frame(PixelFormat.NV12, 64, 48, rng)
    u8 = np.zeros((20, 20, 3), np.uint8)
    i8 = np.zeros((20, 20, 3), np.int8)
    preprocess(frame, u8, norm=Normalization.identity())
    preprocess(frame, i8, norm=Normalization((1.0, 1.0, 1.0), (-128.0, -128.0, -128.0)))
    assert np.array_equal(u8.astype(np.int16) - 128, i8.astype(np.int16))


# ---- Normalization and letterbox geometry -------------------------------------------------------------------


def test_normalization_constructors_follow_their_definitions() -> None:
    v = np.array([0.0, 17.0, 128.0, 255.0])
    n = Normalization.from_mean_std((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    for c, (m, s) in enumerate(((1.0, 4.0), (2.0, 5.0), (3.0, 6.0))):
        assert np.allclose(v * n.mul[c] + n.add[c], (v - m) / s)
    q = Normalization.for_quantized(0.0173, 37, mean=127.5, std=58.0)
    assert np.allclose(v * q.mul[0] + q.add[0], (v - 127.5) / 58.0 / 0.0173 + 37)
    f = Normalization.for_range(-1.0, 1.0)
    assert np.allclose(v * f.mul[1] + f.add[1], v / 127.5 - 1.0)
    r = Normalization.for_range(-1.0, 1.0, scale=2 / 255, zero_point=-1)
    # real = (q - zp) * scale must be the [-1, 1] mapping of v
    assert np.allclose((v * r.mul[2] + r.add[2] + 1) * (2 / 255), v / 127.5 - 1.0)
    assert Normalization.identity() == Normalization((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    "call",
    [
        lambda: Normalization.from_mean_std(0.0, 0.0),
        lambda: Normalization.for_quantized(0.0, 0),
        lambda: Normalization.for_range(1.0, 1.0),
        lambda: Normalization.for_range(0.0, 1.0, zero_point=3),
        lambda: Normalization((1.0, float("nan"), 1.0), (0.0, 0.0, 0.0)),
        lambda: Normalization.from_mean_std((1.0, 2.0), 1.0),
    ],
)
def test_normalization_rejects_nonsense(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_letterbox_rect_preserves_aspect_and_centres() -> None:
    assert letterbox_rect(1920, 1080, 224, 224) == (0, 49, 224, 126)
    assert letterbox_rect(1080, 1920, 224, 224) == (49, 0, 126, 224)
    assert letterbox_rect(640, 480, 640, 480) == (0, 0, 640, 480)
    x, y, w, h = letterbox_rect(4000, 3, 128, 128)
    assert (w, h) == (128, 1) and x == 0 and y == 63
    with pytest.raises(ValueError, match="src_w"):
        letterbox_rect(0, 10, 10, 10)


# ---- clear errors -------------------------------------------------------------------------------------------


def native_args(frame: Frame, out: np.ndarray, **over):
    args = dict(
        planes=list(frame.planes), format=frame.format.value, width=frame.width, height=frame.height,
        range=frame.range.value, crop=(0, 0, frame.width, frame.height), out=out, channels=0,
        mul=(1.0, 1.0, 1.0), add=(0.0, 0.0, 0.0), dst=(0, 0, 0, 0), pad=(0.0, 0.0, 0.0),
    )
    args.update(over)
    return args


@pytest.fixture
def nv12() -> Frame:
    return make_frame(PixelFormat.NV12, 32, 24, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (dict(width=34), "plane 0 is too small"),
        (dict(height=0), "must be positive"),
        (dict(format=9), "pixel format 9 is unknown"),
        (dict(format=PixelFormat.I420.value), "I420 needs 3 planes"),
        (dict(crop=(30, 0, 8, 8)), "crop .* inside the 32x24 source"),
        (dict(crop=(0, 0, 0, 8)), "crop"),
        (dict(dst=(10, 10, 8, 8)), "destination rectangle"),
        (dict(channels=2), "output has 3 channels, gray output needs 1"),
        (dict(channels=5), "channels 5 is unknown"),
        (dict(range=4), "range 4 is unknown"),
        (dict(mul=(1.0, float("inf"), 1.0)), "not finite"),
    ],
)
def test_native_errors_name_the_problem(nv12: Frame, override, message: str) -> None:
    out = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=message):
        _kernels.preprocess(**native_args(nv12, out, **override))


def test_plane_errors(nv12: Frame) -> None:
    out = np.zeros((8, 8, 3), np.uint8)
    y, uv = nv12.planes
    cases = [
        ([y, uv[:11]], "plane 1 is too small .* need 12 rows of 32 bytes"),  # truncated chroma
        ([y[:, :31], uv], "plane 0 is too small"),
        ([y.astype(np.int16), uv], "dtype uint8"),
        ([np.ascontiguousarray(y[:, ::-1])[:, ::-1], uv], "contiguous"),  # negative byte stride within rows
        ([y.reshape(-1), uv], "2-D"),
        ([np.zeros((24, 64), np.uint8)[:, ::2], uv], "contiguous"),  # every other byte: not a row of pixels
        (["not an array", uv], "numpy uint8 array"),
    ]
    for planes, message in cases:
        with pytest.raises(ValueError, match=message):
            _kernels.preprocess(**native_args(nv12, out, planes=planes))


def test_output_errors(nv12: Frame) -> None:
    norm = Normalization.identity()
    with pytest.raises(ValueError, match="dtype must be uint8, int8 or float32"):
        preprocess(nv12, np.zeros((8, 8, 3), np.float64), norm=norm)
    with pytest.raises(ValueError, match=r"shape \(H, W, C\) or \(1, H, W, C\), got \(2, 8, 8, 3\)"):
        preprocess(nv12, np.zeros((2, 8, 8, 3), np.uint8), norm=norm)
    with pytest.raises(ValueError, match="output has 1 channels"):
        preprocess(nv12, np.zeros((8, 8, 1), np.uint8), norm=norm)
    read_only = np.zeros((8, 8, 3), np.uint8)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        preprocess(nv12, read_only, norm=norm)
    with pytest.raises(ValueError, match="C-contiguous"):
        preprocess(nv12, np.zeros((8, 16, 3), np.uint8)[:, ::2], norm=norm)
    with pytest.raises(ValueError, match="numpy array"):
        preprocess(nv12, [[0]], norm=norm)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels must be"):
        preprocess(nv12, np.zeros((8, 8, 3), np.uint8), norm=norm, channels="rgba")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gray output takes one normalisation"):
        preprocess(nv12, np.zeros((8, 8, 1), np.float32), norm=IMAGENET, channels="gray")
    with pytest.raises(ValueError, match="dst"):
        preprocess(nv12, np.zeros((8, 8, 3), np.uint8), norm=norm, dst=(0, 0, 0, 4))
