"""The area-averaging mode of glassbridge.vision.preprocess (interpolation="area"): against the independent float64
reference of its contract (tests/reference/preprocess_area_ref.py), OpenCV's INTER_AREA, and across SIMD paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassbridge import _testing_native
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange, plane_shapes
from glassbridge.vision.preprocess import Normalization, available_isas, force_isa, letterbox_rect, preprocess
from tests.reference import preprocess_area_ref as aref
from tests.reference import preprocess_ref as ref

DTYPES = (np.uint8, np.int8, np.float32)
CHANNELS = ("rgb", "bgr", "gray")
NORMS: dict[type, list[Normalization]] = {
    np.uint8: [Normalization.for_quantized(0.0173, 37, mean=127.5, std=127.5), Normalization.identity()],
    np.int8: [
        Normalization.for_range(-1.0, 1.0, scale=2 / 255, zero_point=-1),
        Normalization.for_range(-1.0, 1.0, scale=1 / 128, zero_point=0),
    ],
    np.float32: [Normalization.from_mean_std((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
                 Normalization.for_range(-1.0, 1.0)],
}
GRAY_FLOAT = Normalization.from_mean_std(116.0, 57.5)


def norms_for(dtype: type, channels: str) -> list[Normalization]:
    if channels == "gray" and dtype == np.float32:
        return [GRAY_FLOAT, NORMS[dtype][1]]
    return NORMS[dtype]


def make_frame(fmt: PixelFormat, width: int, height: int, rng: np.random.Generator, *, pad: int = 0,
               full_range: bool = False) -> Frame:
    """Uniform noise (every plane's rows padded by `pad` bytes: strides larger than the rows)."""
    planes = []
    for rows, row_bytes in plane_shapes(fmt, width, height):
        buf = rng.integers(0, 256, size=(rows, row_bytes + pad), dtype=np.uint8)
        planes.append(buf[:, :row_bytes])
    return Frame(fmt, width, height, tuple(planes), range=YuvRange.FULL if full_range else YuvRange.LIMITED)


def even(fmt: PixelFormat, width: int) -> int:
    return width + (width % 2) if fmt is PixelFormat.YUYV else width


def reference(frame: Frame, out_hw: tuple[int, int], *, crop=None, channels="rgb", norm, dst=None, pad=0.0):
    out_h, out_w = out_hw
    crop = crop or (0, 0, frame.width, frame.height)
    dst = dst or (0, 0, out_w, out_h)
    pads = (float(pad),) * 3 if np.isscalar(pad) else tuple(pad)
    return aref.reference_values(frame.format.value, list(frame.planes), frame.width, frame.height,
                                 frame.range.value, ref.Geometry(crop, out_w, out_h, dst), channels, norm.mul,
                                 norm.add, pads)


def assert_within_one_step(got: np.ndarray, want: np.ndarray, norm: Normalization) -> None:
    """The contract: within one output step of the float64 reference; and the documented error budget of the
    averaged value (<= ~0.07 level, asserted at 0.1 level)."""
    mul = np.abs(np.asarray(norm.mul[: got.shape[-1]]))
    if got.dtype == np.float32:
        err = np.abs(got.astype(np.float64) - want)
        assert (err <= mul * 0.1 + 1e-5).all(), f"float32 error {(err / mul).max()} levels exceeds the 0.1 budget"
        return
    info = np.iinfo(got.dtype)
    q = got.astype(np.int64)
    steps = np.abs(q - ref.quantize(want, got.dtype).astype(np.int64))
    assert steps.max() <= 1, f"{steps.max()} output steps from the reference at {np.argwhere(steps > 1)[:5]}"
    exact = np.abs(q - np.clip(want, info.min, info.max))
    assert (exact <= 0.5 + mul * 0.1 + 1e-9).all(), f"quantized error {exact.max()} > 0.5 step + 0.1 level"


def run(frame: Frame, out_hw: tuple[int, int], dtype: type, channels: str, norm: Normalization, **kw) -> np.ndarray:
    out = np.zeros((*out_hw, 1 if channels == "gray" else 3), dtype=dtype)
    preprocess(frame, out, channels=channels, norm=norm, interpolation="area", **kw)  # type: ignore[arg-type]
    return out


# (crop, out (h, w)): integer and non-integer reductions, one output per axis, equal sizes, enlarged axes.
SCALES = [
    ((3, 2, 37, 27), (13, 11)),   # ~2.8 x 2.1, non-integer
    (None, (10, 15)),             # 4.6 x 3.1 on the 46 x 31 frame
    ((0, 0, 40, 30), (3, 4)),     # 10 x 10, integer
    ((5, 4, 9, 7), (7, 9)),       # identity size
    ((1, 1, 40, 3), (3, 13)),     # x 3.1, y 1.0 (identity rows)
    ((2, 3, 20, 5), (11, 7)),     # x reduced 2.86, y enlarged 2.2 (bilinear on y)
    (None, (1, 1)),               # the whole frame into one pixel
]


@pytest.mark.parametrize("fmt", list(PixelFormat), ids=lambda f: f.name)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels", CHANNELS)
def test_every_format_type_and_channels_within_one_step(fmt: PixelFormat, dtype: type, channels: str) -> None:
    rng = np.random.default_rng(2000 + fmt.value * 9 + DTYPES.index(dtype) * 3 + CHANNELS.index(channels))
    frame = make_frame(fmt, even(fmt, 46), 31, rng, pad=5, full_range=bool(fmt.value % 2))
    for norm in norms_for(dtype, channels):
        for crop, out_hw in SCALES:
            got = run(frame, out_hw, dtype, channels, norm, crop=crop)
            assert_within_one_step(got, reference(frame, out_hw, crop=crop, channels=channels, norm=norm), norm)


GEOMETRIES = [
    (None, (24, 24), letterbox_rect(96, 54, 24, 24), 114.0),            # letterbox, grey pad (4x)
    ((2, 3, 60, 40), (16, 16), (5, 0, 10, 16), (255.0, 0.0, 128.0)),   # pillarbox, per-channel pad
    ((95, 53, 1, 1), (2, 2), None, 0.0),                                # the last pixel, enlarged
    ((0, 0, 96, 54), (9, 33), (32, 8, 1, 1), 0.0),                      # everything into the far corner pixel
    ((7, 1, 83, 51), (17, 13), None, 0.0),                              # odd crop start: chroma split
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[str(i) for i in range(len(GEOMETRIES))])
@pytest.mark.parametrize("fmt", [PixelFormat.NV12, PixelFormat.I420, PixelFormat.YUYV, PixelFormat.RGB888,
                                 PixelFormat.RGB565])
def test_crops_letterbox_and_strides_within_one_step(geometry, fmt: PixelFormat) -> None:
    crop, out_hw, dst, pad = geometry
    frame = make_frame(fmt, 96, 54, np.random.default_rng(11), pad=9)
    for dtype, channels in ((np.int8, "rgb"), (np.float32, "bgr"), (np.uint8, "gray")):
        norm = norms_for(dtype, channels)[0]
        got = run(frame, out_hw, dtype, channels, norm, crop=crop, dst=dst, pad=pad)
        want = reference(frame, out_hw, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad)
        assert_within_one_step(got, want, norm)


def test_constant_images_stay_exact() -> None:
    """A flat image averages to itself at any reduction (the weights are normalised by their exact sum)."""
    for value in (0, 1, 77, 254, 255):
        frame = Frame(PixelFormat.GRAY8, 101, 67, (np.full((67, 101), value, np.uint8),))
        for out_hw in ((7, 9), (1, 1), (67, 101), (13, 3)):
            got = run(frame, out_hw, np.uint8, "gray", Normalization.identity())
            assert (got == value).all(), (value, out_hw, np.unique(got))


def test_largest_reduction_fits_and_matches() -> None:
    """32768 source pixels on an axis into one (and into 3): the adaptive Q keeps the int32 sums exact."""
    rng = np.random.default_rng(5)
    frame = make_frame(PixelFormat.GRAY8, 32768, 3, rng)
    norm = Normalization.identity()
    for out_hw in ((1, 1), (2, 3), (1, 7)):
        for dtype in (np.float32, np.uint8):
            got = run(frame, out_hw, dtype, "gray", norm)
            assert_within_one_step(got, reference(frame, out_hw, channels="gray", norm=norm), norm)
    tall = make_frame(PixelFormat.NV12, 2, 32768, rng)
    got = run(tall, (3, 1), np.float32, "rgb", norm)
    assert_within_one_step(got, reference(tall, (3, 1), norm=norm), norm)


def test_area_differs_from_bilinear_and_averages_noise() -> None:
    """What the mode is for: on noise, a 10x reduction's output varies far less than the 2x2 taps'."""
    frame = make_frame(PixelFormat.GRAY8, 400, 300, np.random.default_rng(2))
    area = run(frame, (30, 40), np.float32, "gray", Normalization.identity())
    bil = np.zeros_like(area)
    preprocess(frame, bil, channels="gray", norm=Normalization.identity())
    assert area.std() < 0.25 * bil.std(), (area.std(), bil.std())


def call_ref(frame: Frame, out: np.ndarray, crop, channels: str, norm: Normalization, dst, pad) -> None:
    _testing_native.preprocess_ref(
        list(frame.planes), frame.format.value, frame.width, frame.height, frame.range.value, crop, out,
        CHANNELS.index(channels), norm.mul, norm.add, dst, pad, 1,
    )


@st.composite
def cases(draw):
    fmt = draw(st.sampled_from(list(PixelFormat)))
    width = even(fmt, draw(st.integers(1, 200)))
    height = draw(st.integers(1, 120))
    cw, ch = draw(st.integers(1, width)), draw(st.integers(1, height))
    crop = (draw(st.integers(0, width - cw)), draw(st.integers(0, height - ch)), cw, ch)
    out_w, out_h = draw(st.integers(1, 80)), draw(st.integers(1, 60))
    dx, dy = draw(st.integers(0, out_w - 1)), draw(st.integers(0, out_h - 1))
    dst = (dx, dy, draw(st.integers(1, out_w - dx)), draw(st.integers(1, out_h - dy)))
    dtype = draw(st.sampled_from(DTYPES))
    channels = draw(st.sampled_from(CHANNELS))
    seed = draw(st.integers(0, 2**32 - 1))
    return fmt, width, height, crop, (out_h, out_w), dst, dtype, channels, seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_isa_is_bit_identical_and_within_one_step(case) -> None:
    fmt, width, height, crop, out_hw, dst, dtype, channels, seed = case
    rng = np.random.default_rng(seed)
    frame = make_frame(fmt, width, height, rng, pad=int(rng.integers(0, 9)), full_range=bool(rng.integers(2)))
    norm = norms_for(dtype, channels)[int(rng.integers(2))]
    pad = (17.0, 99.0, 250.0)
    want = np.zeros((*out_hw, 1 if channels == "gray" else 3), dtype=dtype)
    call_ref(frame, want, crop, channels, norm, dst, pad)
    assert_within_one_step(want, reference(frame, out_hw, crop=crop, channels=channels, norm=norm, dst=dst,
                                           pad=pad), norm)
    for name in available_isas():
        got = np.full_like(want, 3)
        with force_isa(name):
            preprocess(frame, got, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad, interpolation="area")
        assert got.tobytes() == want.tobytes(), f"{name} differs from ref"


@pytest.mark.parametrize("fmt", [PixelFormat.NV12, PixelFormat.I420, PixelFormat.YUYV, PixelFormat.RGB888,
                                 PixelFormat.RGBA8888, PixelFormat.GRAY8], ids=lambda f: f.name)
def test_every_isa_is_bit_identical_on_the_detector_job(fmt: PixelFormat) -> None:
    """The shape the detector runs: a 1080p frame letterboxed into 192x192 (10x), and a non-integer 720p one."""
    for (w, h), dtype in (((1920, 1080), np.float32), ((1280, 720), np.int8)):
        frame = make_frame(fmt, w, h, np.random.default_rng(fmt.value + w))
        dst = letterbox_rect(w, h, 192, 192)
        norm = norms_for(dtype, "rgb")[1]
        want = np.zeros((192, 192, 3), dtype=dtype)
        call_ref(frame, want, (0, 0, w, h), "rgb", norm, dst, (0.0, 0.0, 0.0))
        for name in available_isas():
            got = np.zeros_like(want)
            with force_isa(name):
                preprocess(frame, got, norm=norm, dst=dst, interpolation="area")
            assert got.tobytes() == want.tobytes(), f"{name} differs from ref on {fmt.name} {w}x{h}"


@pytest.mark.parametrize("fmt", [PixelFormat.RGB888, PixelFormat.GRAY8], ids=lambda f: f.name)
@pytest.mark.parametrize("crop,size", [
    ((0, 0, 200, 120), (20, 12)),     # 10x, integer
    ((10, 6, 150, 90), (50, 30)),     # 3x, integer
    ((3, 1, 190, 117), (41, 29)),     # ~4.6 x 4.0, non-integer
    ((0, 0, 200, 120), (133, 97)),    # ~1.5 x 1.2, non-integer
])
def test_matches_opencv_inter_area_within_one_level(fmt: PixelFormat, crop, size) -> None:
    cv2 = pytest.importorskip("cv2")
    frame = make_frame(fmt, 200, 120, np.random.default_rng(9))
    x, y, w, h = crop
    src = np.asarray(frame.planes[0]).reshape(120, 200, -1)[y : y + h, x : x + w]
    want = cv2.resize(np.ascontiguousarray(src), size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    channels = "gray" if fmt is PixelFormat.GRAY8 else "rgb"
    got = run(frame, (size[1], size[0]), np.uint8, channels, Normalization.identity(), crop=crop)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    assert diff.max() <= 1, f"{diff.max()} levels from cv2.INTER_AREA"


def test_bad_interpolation_is_a_clear_error() -> None:
    frame = make_frame(PixelFormat.GRAY8, 8, 8, np.random.default_rng(0))
    out = np.zeros((4, 4, 1), np.uint8)
    with pytest.raises(ValueError, match="interpolation must be 'bilinear' or 'area'"):
        preprocess(frame, out, channels="gray", norm=Normalization.identity(),
                   interpolation="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interpolation 7 is unknown"):
        _testing_native.preprocess_ref([frame.planes[0]], 7, 8, 8, 0, (0, 0, 8, 8), out, 2, (1, 1, 1), (0, 0, 0),
                                       (0, 0, 0, 0), (0, 0, 0), 7)


def test_detector_takes_the_interpolation_and_rejects_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """FaceDetector(interpolation=...) reaches the kernel in detect() (the default is the detector's choice)."""
    from PIL import Image

    from glassbridge.models.registry import test_image_path
    from glassbridge.vision import detector as det_mod

    with pytest.raises(ValueError, match="interpolation must be 'bilinear' or 'area'"):
        det_mod.FaceDetector(interpolation="nearest")  # type: ignore[arg-type]
    seen: list[str] = []
    real = det_mod.preprocess

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("interpolation", "bilinear"))
        return real(*args, **kwargs)

    monkeypatch.setattr(det_mod, "preprocess", spy)
    rgb = np.asarray(Image.open(test_image_path("astronaut")).convert("RGB"))
    h, w = rgb.shape[:2]
    frame = Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))
    scores = {}
    for interp in ("bilinear", "area"):
        faces = det_mod.FaceDetector("short_range", interpolation=interp).detect(frame)  # type: ignore[arg-type]
        assert len(faces) == 1, (interp, faces)
        scores[interp] = faces[0].score
    assert seen == ["bilinear", "area"]
    assert abs(scores["area"] - scores["bilinear"]) < 0.05  # the same face, a slightly different input


def test_bilinear_stays_the_default() -> None:
    frame = make_frame(PixelFormat.NV12, 64, 48, np.random.default_rng(4))
    a, b = np.zeros((12, 16, 3), np.uint8), np.zeros((12, 16, 3), np.uint8)
    preprocess(frame, a, norm=Normalization.identity())
    preprocess(frame, b, norm=Normalization.identity(), interpolation="bilinear")
    assert a.tobytes() == b.tobytes()
