"""The C++ postprocessing (glassbridge.vision._kernels; weighted_nms alone from glassbridge._testing_native)
against the independent float64 numpy reference.

tests/reference/blazeface_ref.py rebuilds MediaPipe's anchors, decoding and weighted NMS from their documented
behaviour; here both run on the real BlazeFace outputs for the test images and on random inputs. Softmax, top-k
and dequantisation are checked against plain numpy.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from glassbridge import _testing_native
from glassbridge.vision import _kernels
from glassbridge.vision.anchors import BLAZEFACE_FULL_RANGE, BLAZEFACE_SHORT_RANGE, SsdAnchorOptions, ssd_anchors


def _load_reference() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "reference" / "blazeface_ref.py"
    spec = importlib.util.spec_from_file_location("blazeface_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["blazeface_ref"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

# name -> (anchor options, the reference's description of the same grid, manifest model id)
CONFIGS = {
    "short_range": (BLAZEFACE_SHORT_RANGE, (128, [8, 16, 16, 16], 1.0), "blazeface_short_range"),
    "full_range": (BLAZEFACE_FULL_RANGE, (192, [4], 0.0), "blazeface_full_range_sparse"),
}


def _decoder(config: str, min_score: float = 0.5, **kw: float) -> _kernels.SsdFaceDecoder:
    options = CONFIGS[config][0]
    s = float(options.input_width)
    return _kernels.SsdFaceDecoder(ssd_anchors(options), x_scale=s, y_scale=s, w_scale=s, h_scale=s,
                                  min_score=min_score, **kw)


def _ref_rows(dets: list) -> np.ndarray:
    return np.array([[*d.box, d.score, *d.keypoints.ravel()] for d in dets]).reshape(-1, 17)


# --------------------------------------------------------------------------------------------------------------
# Anchors


@pytest.mark.parametrize("config", CONFIGS)
def test_anchors_match_reference_and_model(config: str) -> None:
    options, (size, strides, ratio), model_id = CONFIGS[config]
    ours = ssd_anchors(options)
    theirs = ref.anchors(size, strides, ratio)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-7)
    # The model's own output row count is the anchor count (896 short range, 2304 full range).
    from glassbridge.models.registry import model_info

    rows = model_info(model_id).outputs[0].shape[1]
    assert len(ours) == rows


def test_anchor_options_other_layouts() -> None:
    # Not fixed-size: widths and heights follow the scales and aspect ratios (MediaPipe's SSD defaults).
    opts = SsdAnchorOptions(64, 64, (16, 32), aspect_ratios=(1.0, 2.0), fixed_anchor_size=False)
    a = ssd_anchors(opts)
    # 4x4 cells x (2 ratios + 1 interpolated) + 2x2 cells x 3.
    assert a.shape == (4 * 4 * 3 + 2 * 2 * 3, 4)
    scale0 = 0.1484375
    np.testing.assert_allclose(a[0, 2:], [scale0, scale0], rtol=1e-6)  # ratio 1: square
    np.testing.assert_allclose(a[1, 2] / a[1, 3], 2.0, rtol=1e-6)  # ratio 2: twice as wide as high
    with pytest.raises(ValueError, match="strides"):
        SsdAnchorOptions(64, 64, ())


# --------------------------------------------------------------------------------------------------------------
# Decoding and NMS on random inputs


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("seed", range(5))
def test_decode_random_matches_reference(config: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    options = CONFIGS[config][0]
    anchors = ssd_anchors(options)
    n = len(anchors)
    raw = rng.normal(0.0, 20.0, (1, n, 16)).astype(np.float32)
    raw[0, :, 2:4] = np.abs(raw[0, :, 2:4]) * np.where(rng.random((n, 2)) < 0.05, -1, 1)  # some negative sizes
    logits = rng.normal(-1.0, 4.0, (1, n, 1)).astype(np.float32)
    logits[0, :5, 0] = [1e6, -1e6, np.nan, 150.0, 0.0]  # clipping, NaN, the exact threshold (sigmoid(0) = 0.5)
    rows, index = _decoder(config).decode_boxes(raw, logits)
    expected = ref.decode(raw, logits, anchors, float(options.input_width), 0.5)
    assert index.tolist() == [d.index for d in expected]
    np.testing.assert_allclose(rows, _ref_rows(expected), rtol=0, atol=2e-6)


def _clustered_rows(rng: np.random.Generator, clusters: int) -> np.ndarray:
    """Float32 detection rows: a few jittered boxes around each random face, scores with deliberate ties."""
    rows = []
    for _ in range(clusters):
        cx, cy, size = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.02, 0.3)
        for _ in range(int(rng.integers(1, 8))):
            jx, jy, js = rng.normal(0, size * 0.15, 3)
            w = max(size + js, 1e-3)
            kps = rng.uniform(0, 1, 12)
            score = round(float(rng.uniform(0.5, 1.0)), 2)  # 2 decimals: ties happen
            rows.append([cx + jx - w / 2, cy + jy - w / 2, cx + jx + w / 2, cy + jy + w / 2, score, *kps])
    return np.asarray(rows, dtype=np.float32)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_weighted_nms_random_matches_reference(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(100 + seed)
    rows = _clustered_rows(rng, clusters=int(rng.integers(1, 30)))
    out, leaders = _testing_native.weighted_nms(rows, iou_threshold=threshold, max_detections=100)
    # The reference gets the same float32 numbers (widened to float64), so every IoU decision is the same.
    dets = [ref.RefDetection(r[:4].astype(np.float64), float(r[4]), r[5:].astype(np.float64).reshape(6, 2), i)
            for i, r in enumerate(rows)]
    expected = ref.weighted_nms(dets, threshold)
    assert leaders.tolist() == [d.index for d in expected]
    np.testing.assert_allclose(out, _ref_rows(expected), rtol=0, atol=1e-6)


def test_weighted_nms_max_detections_and_empty() -> None:
    rows = _clustered_rows(np.random.default_rng(7), clusters=12)
    full, _ = _testing_native.weighted_nms(rows)
    top3, _ = _testing_native.weighted_nms(rows, max_detections=3)
    np.testing.assert_array_equal(top3, full[:3])
    empty, idx = _testing_native.weighted_nms(np.zeros((0, 17), np.float32))
    assert empty.shape == (0, 17) and idx.shape == (0,)


# --------------------------------------------------------------------------------------------------------------
# Decoding and NMS on the real models' outputs


def _model_outputs(model_id: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw (regressors, logits) of a BlazeFace model for an RGB image, letterboxed as the detector does."""
    from glassbridge.camera.frame import Frame, PixelFormat
    from glassbridge.vision.preprocess import Normalization, letterbox_rect, preprocess
    from glassbridge.models.runtime import TfliteModel

    model = TfliteModel.from_manifest(model_id)
    h, w = image.shape[:2]
    frame = Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(image).reshape(h, w * 3),))
    size = model.input.shape[1]
    dst = letterbox_rect(w, h, size, size)
    outs = model.fill(lambda v: preprocess(frame, v, norm=Normalization.for_range(-1.0, 1.0), dst=dst))
    assert isinstance(outs, list)
    reg = next(o for o in outs if o.shape[-1] == 16)
    cls = next(o for o in outs if o.shape[-1] == 1)
    return reg, cls


def _test_images() -> dict[str, np.ndarray]:
    from glassbridge.camera import read_image
    from glassbridge.camera.convert import rgb_view
    from glassbridge.models.registry import test_image_path

    images = {name: rgb_view(read_image(test_image_path(name))).copy() for name in ("astronaut", "camera")}
    # A grid of faces makes many overlapping candidates: the NMS has real work.
    face = images["astronaut"][40:200, 140:300]
    images["faces"] = np.tile(face, (3, 3, 1))
    images["noise"] = np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    return images


@pytest.fixture(scope="module")
def real_outputs() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    images = _test_images()
    return {(config, name): _model_outputs(CONFIGS[config][2], img)
            for config in CONFIGS for name, img in images.items()}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("image", ["astronaut", "camera", "faces", "noise"])
@pytest.mark.parametrize("min_score", [0.5, 0.05])
def test_real_outputs_match_reference(
    real_outputs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], config: str, image: str, min_score: float
) -> None:
    reg, cls = real_outputs[(config, image)]
    options = CONFIGS[config][0]
    got = _decoder(config, min_score=min_score).decode(reg, cls)
    decoded = ref.decode(reg, cls, ref.anchors(*CONFIGS[config][1]), float(options.input_width), min_score)
    expected = ref.weighted_nms(decoded, 0.3)
    assert len(got) == len(expected), f"{len(got)} detections, reference {len(expected)}"
    np.testing.assert_allclose(got, _ref_rows(expected), rtol=0, atol=1e-5)
    if image in ("astronaut", "camera") and min_score == 0.5:
        assert len(got) == 1  # one face in each photo
    if image == "faces" and min_score == 0.5:
        assert len(got) == 9  # the astronaut's face tiled 3x3: nine faces, each one detection after NMS


# --------------------------------------------------------------------------------------------------------------
# Softmax, top-k, dequantisation


@pytest.mark.parametrize("shape", [(7,), (3, 7), (2, 4, 1000)])
def test_softmax_matches_numpy(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).normal(0, 30, shape).astype(np.float32)
    x.flat[0] = 500.0  # exp(500) overflows float32 and float64 without the max subtraction
    got = _kernels.softmax(x)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref.softmax(x), rtol=2e-6, atol=1e-9)


def test_top_k_matches_stable_argsort() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        x = np.round(rng.normal(0, 1, n), 1).astype(np.float32)  # rounding makes ties
        if n > 3:
            x[int(rng.integers(0, n))] = np.nan
        k = int(rng.integers(0, n + 1))
        idx, val = _kernels.top_k(x, k)
        # Descending with ties in index order, NaN last: a stable sort of -x (NaN sorts last in numpy).
        expected = np.argsort(-x, kind="stable")[:k]
        assert idx.tolist() == expected.tolist()
        np.testing.assert_array_equal(val, x[expected])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_dequantize_matches_numpy(dtype: type) -> None:
    """The C++ kernel and the runner's numpy twin (glassbridge.models.runtime.dequantize_output, which keeps the
    LiteRT runner free of native code) against the float64 formula."""
    from glassbridge.models.runtime import dequantize_output

    rng = np.random.default_rng(4)
    info = np.iinfo(dtype)
    q = rng.integers(info.min, info.max + 1, (3, 50), dtype=dtype)
    for scale, zero_point in [(1 / 256, -128 if dtype == np.int8 else 0), (0.0371, 17), (2 / 255, -1)]:
        # float32(q - zp) * float32(scale) is exact in float64 and rounds once to float32 (LiteRT's formula).
        expected = ((q.astype(np.float64) - zero_point) * np.float64(np.float32(scale))).astype(np.float32)
        for got in (_kernels.dequantize(q, scale, zero_point), dequantize_output(q, scale, zero_point)):
            assert got.shape == q.shape and got.dtype == np.float32
            np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="scale must be finite"):
        dequantize_output(q, 0.0, 0)


# --------------------------------------------------------------------------------------------------------------
# Errors


def test_bad_arguments_raise_clear_errors() -> None:
    dec = _decoder("short_range")
    reg = np.zeros((1, 896, 16), np.float32)
    cls = np.zeros((1, 896, 1), np.float32)
    with pytest.raises(TypeError, match="float32"):
        dec.decode(reg.astype(np.float64), cls)
    with pytest.raises(ValueError, match="expects 14336 box values"):
        dec.decode(np.zeros((1, 2304, 16), np.float32), cls)
    with pytest.raises(ValueError, match="C-contiguous"):
        dec.decode(np.asfortranarray(np.zeros((896, 16), np.float32)), cls)
    with pytest.raises(ValueError, match="anchors must have shape"):
        _kernels.SsdFaceDecoder(np.zeros((10, 3), np.float32), x_scale=1, y_scale=1, w_scale=1, h_scale=1)
    with pytest.raises(ValueError, match="x_scale"):
        _kernels.SsdFaceDecoder(ssd_anchors(BLAZEFACE_SHORT_RANGE), x_scale=0, y_scale=1, w_scale=1, h_scale=1)
    with pytest.raises(ValueError, match="min_score"):
        _decoder("short_range", min_score=2.0)
    with pytest.raises(ValueError, match="shape"):
        _testing_native.weighted_nms(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="larger than"):
        _kernels.top_k(np.zeros(3, np.float32), 4)
    with pytest.raises(TypeError, match="int8 or uint8"):
        _kernels.dequantize(np.zeros(3, np.int16), 0.1, 0)
    with pytest.raises(ValueError, match="scale"):
        _kernels.dequantize(np.zeros(3, np.int8), 0.0, 0)
