"""glassbridge.vision without whole-pipeline expectations: the LiteRT runner (errors, zero-copy), crop and
letterbox geometry, JPEG decoding, JSON output, the light package import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassbridge.camera.frame import Frame, PixelFormat
from glassbridge.models.registry import ModelError, model_path

# --------------------------------------------------------------------------------------------------------------
# Runtime: every bad model file is a ModelError naming the file, never a crash


@pytest.fixture(scope="module")
def short_range_path() -> Path:
    return model_path("blazeface_short_range")


def _model(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    from glassbridge.models.runtime import TfliteModel

    return TfliteModel(path, **kw)  # type: ignore[arg-type]


def test_missing_model(tmp_path: Path) -> None:
    path = tmp_path / "absent.tflite"
    with pytest.raises(ModelError, match="missing") as err:
        _model(path)
    assert err.value.path == path and str(path) in str(err.value)


def test_not_a_flatbuffer(tmp_path: Path) -> None:
    path = tmp_path / "page.tflite"
    path.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(ModelError, match="not a TFLite flatbuffer") as err:
        _model(path)
    assert str(path) in str(err.value)
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty file"):
        _model(empty)
    with pytest.raises(ModelError, match="directory"):
        _model(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage_body"])
def test_corrupt_model_is_refused_by_the_child_probe(tmp_path: Path, short_range_path: Path, damage: str) -> None:
    data = short_range_path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]  # keeps the TFL3 identifier: only LiteRT itself can tell
    else:
        data = data[:8] + np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    path = tmp_path / f"{damage}.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelError, match="LiteRT") as err:
        _model(path)
    assert str(path) in str(err.value)


def test_crash_in_the_child_becomes_model_error(
    tmp_path: Path, short_range_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LiteRT can segfault on a malformed model; the probe must turn that into an error. The crash is simulated by
    # a probe script that dereferences a null pointer the way a broken flatbuffer makes LiteRT do.
    from glassbridge.models import runtime

    monkeypatch.setattr(runtime, "_PROBE", "import ctypes; ctypes.string_at(0)")
    path = tmp_path / "model.tflite"
    shutil.copy(short_range_path, path)
    with pytest.raises(ModelError, match="crashed \\(SIGSEGV\\)") as err:
        _model(path)
    assert str(path) in str(err.value)


def test_wrong_input_shape_or_type(short_range_path: Path) -> None:
    with pytest.raises(ModelError, match=r"shape \[1, 128, 128, 3\], expected \[1, 192, 192, 3\]") as err:
        _model(short_range_path, input_shape=(1, 192, 192, 3), verified=True)
    assert str(short_range_path) in str(err.value)
    with pytest.raises(ModelError, match="type float32, expected int8"):
        _model(short_range_path, input_dtype=np.int8, verified=True)


def test_detector_refuses_a_model_of_another_kind() -> None:
    from glassbridge.vision.detector import FaceDetector

    emotion = model_path("emotion_fer_int8")
    with pytest.raises(ModelError, match="shape") as err:
        FaceDetector(model_path=str(emotion))
    assert str(emotion) in str(err.value)


def test_truncated_manifest_model_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.vision.detector import FaceDetector

    src = model_path("blazeface_full_range_sparse")
    (tmp_path / src.name).write_bytes(src.read_bytes()[:100_000])
    monkeypatch.setenv("GLASSBRIDGE_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="truncated") as err:
        FaceDetector("full_range")
    assert str(tmp_path / src.name) in str(err.value)


def test_threads_must_be_positive(short_range_path: Path) -> None:
    with pytest.raises(ValueError, match="threads"):
        _model(short_range_path, threads=0, verified=True)


# --------------------------------------------------------------------------------------------------------------
# Runtime: zero-copy fill


def _rgb_frame(rgb: np.ndarray) -> Frame:
    h, w = rgb.shape[:2]
    return Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))


def test_fill_writes_into_the_interpreters_own_memory() -> None:
    from glassbridge.vision.preprocess import Normalization, preprocess
    from glassbridge.models.runtime import TfliteModel

    model = TfliteModel.from_manifest("blazeface_short_range")
    frame = _rgb_frame(np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8))
    norm = Normalization.for_range(-1.0, 1.0)
    written: list[int] = []

    def writer(view: np.ndarray) -> None:
        assert view.shape == (1, 128, 128, 3) and view.dtype == np.float32 and view.flags.writeable
        written.append(view.ctypes.data)
        preprocess(frame, view, norm=norm)

    for _ in range(3):  # repeated fills: invoke never meets a leftover reference
        outs = model.fill(writer)
        assert [o.shape for o in outs] == [o.shape for o in model.outputs]
    address = model.input_address()
    assert written == [address] * 3  # the kernel wrote at the interpreter's input buffer, every time
    expected = np.empty((1, 128, 128, 3), np.float32)
    preprocess(frame, expected, norm=norm)
    np.testing.assert_array_equal(model.get_input(), expected)
    # Reading outputs in place gives the same numbers as the copies.
    in_place = model.fill(writer, read=lambda views: [np.array(v) for v in views])
    for a, b in zip(in_place, outs):
        np.testing.assert_array_equal(a, b)


def test_a_kept_view_is_reported_clearly() -> None:
    from glassbridge.models.runtime import TfliteModel

    model = TfliteModel.from_manifest("blazeface_short_range")
    kept: list[np.ndarray] = []
    with pytest.raises(RuntimeError, match="must not keep the array"):
        model.fill(lambda view: kept.append(view))
    kept.clear()
    model.fill(lambda view: view.fill(0.0))  # works again once the reference is gone


def test_quantized_outputs_are_dequantized() -> None:
    from glassbridge.models.runtime import TfliteModel

    model = TfliteModel.from_manifest("emotion_fer_int8")
    assert model.input.quantized and model.outputs[0].quantized
    x = np.zeros(model.input.shape, model.input.dtype)
    (raw,) = model.run(x, dequantize=False)
    (real,) = model.run(x)
    o = model.outputs[0]
    assert raw.dtype == np.int8 and real.dtype == np.float32
    np.testing.assert_allclose(real, (raw.astype(np.float64) - o.zero_point) * o.scale, rtol=1e-6)


# --------------------------------------------------------------------------------------------------------------
# Geometry


def test_face_crop_is_square_and_inside() -> None:
    from glassbridge.vision.emotion import face_crop

    assert face_crop((100, 100, 200, 180), 640, 480, margin=0.1) == (90, 80, 120, 120)
    # Near the left/top edge the square shifts inside instead of shrinking.
    assert face_crop((0, 0, 50, 60), 640, 480, margin=0.1) == (0, 0, 72, 72)
    # Near the right/bottom edge likewise.
    assert face_crop((600, 440, 640, 480), 640, 480, margin=0.0) == (600, 440, 40, 40)
    # Larger than the frame: cut to the frame.
    assert face_crop((0, 0, 100, 90), 80, 60, margin=0.0) == (0, 0, 80, 60)
    with pytest.raises(ValueError, match="no area"):
        face_crop((10, 10, 10, 20), 640, 480)


def test_detector_maps_letterboxed_rows_to_source_pixels() -> None:
    from glassbridge.vision.detector import FaceDetector

    det = FaceDetector("full_range")
    # 400x200 into 192x192: scale 0.48, the frame fills rows 48..144.
    dst = det.letterbox(_rgb_frame(np.zeros((200, 400, 3), np.uint8)))
    assert dst == (0, 48, 192, 96)
    row = np.zeros((1, 17), np.float32)
    row[0, :5] = [0.25, 0.5, 0.75, 0.75, 0.9]
    row[0, 5:7] = [0.5, 0.1]  # a keypoint in the top letterbox band maps above the frame (not clipped)
    (d,) = det.to_source(row, 400, 200, dst)
    np.testing.assert_allclose(d.box, (100.0, 100.0, 300.0, 200.0), atol=1e-4)
    np.testing.assert_allclose(d.keypoints[0], (200.0, -60.0), atol=1e-4)
    assert d.score == pytest.approx(0.9)


# --------------------------------------------------------------------------------------------------------------
# JPEG


def _photo() -> np.ndarray:
    from glassbridge.camera import read_image
    from glassbridge.camera.convert import rgb_view
    from glassbridge.models.registry import test_image_path

    return rgb_view(read_image(test_image_path("astronaut"))).copy()


def test_decode_jpeg_full_and_reduced() -> None:
    from PIL import Image

    from glassbridge.camera.convert import rgb_view
    from glassbridge.camera.jpeg import decode_jpeg, encode_jpeg, jpeg_size

    rgb = _photo()
    data = encode_jpeg(rgb, quality=95)
    assert jpeg_size(data) == (512, 512)
    full = decode_jpeg(data)
    assert (full.format, full.width, full.height) == (PixelFormat.RGB888, 512, 512)
    # Close to the original (JPEG is lossy) and to an independent decoder's result.
    import io

    pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.abs(rgb_view(full).astype(int) - pil.astype(int)).max() <= 2
    assert np.abs(rgb_view(full).astype(int) - rgb.astype(int)).mean() < 3
    # The smallest 1/2^k scale that still meets the caller's minimum.
    for want, size in [((200, None), 256), ((129, 129), 256), ((128, 64), 128), ((64, 64), 64), ((10, 10), 64),
                       ((300, None), 512)]:
        f = decode_jpeg(data, min_width=want[0], min_height=want[1])
        assert (f.width, f.height) == (size, size), want
    # A half-scale decode is a 2x2 average of the full image, within JPEG's error.
    half = rgb_view(decode_jpeg(data, min_width=256)).astype(float)
    pooled = rgb.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    assert np.abs(half - pooled).mean() < 4


def test_decode_jpeg_errors() -> None:
    from glassbridge.camera.jpeg import decode_jpeg, encode_jpeg

    data = encode_jpeg(_photo())
    with pytest.raises(ValueError, match="corrupt or truncated JPEG"):
        decode_jpeg(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable JPEG"):
        decode_jpeg(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="empty"):
        decode_jpeg(b"")
    with pytest.raises(TypeError, match="bytes"):
        decode_jpeg("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_width"):
        decode_jpeg(data, min_width=0)


def test_encode_jpeg_frames_of_any_format() -> None:
    from glassbridge.camera.convert import frame_from_rgb
    from glassbridge.camera.jpeg import decode_jpeg, encode_jpeg

    rgb = _photo()
    nv12 = frame_from_rgb(rgb, PixelFormat.NV12)
    back = decode_jpeg(encode_jpeg(nv12, quality=90))
    assert (back.width, back.height) == (512, 512)
    gray = encode_jpeg(rgb[..., 1])
    assert decode_jpeg(gray).width == 512
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(rgb, quality=0)
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(rgb.astype(np.float32))


# --------------------------------------------------------------------------------------------------------------
# Results and API


def test_face_result_json() -> None:
    from glassbridge.vision.detector import Detection
    from glassbridge.vision.emotion import EMOTION_LABELS, Emotion
    from glassbridge.vision.pipeline import FaceResult

    probs = dict(zip(EMOTION_LABELS, [0.01, 0.0, 0.02, 0.9012345, 0.03, 0.0, 0.0387655]))
    r = FaceResult(Detection((10.04, 20.06, 110.0, 130.55), 0.91234), Emotion("happy", probs))
    j = r.to_json()
    assert j == {
        "box": [10.0, 20.1, 110.0, 130.6],
        "score": 0.912,
        "emotion": "happy",
        "probabilities": {"angry": 0.01, "disgust": 0.0, "fear": 0.02, "happy": 0.901, "sad": 0.03,
                          "surprise": 0.0, "neutral": 0.039},
    }
    import json

    json.dumps(j)  # plain Python types only
    assert FaceResult(Detection((0, 0, 1, 1), 0.5)).to_json() == {
        "box": [0.0, 0.0, 1.0, 1.0], "score": 0.5, "emotion": None, "probabilities": {}}


def test_emotion_from_logits_gets_a_softmax() -> None:
    from glassbridge.vision.emotion import EmotionClassifier

    logits = np.array([1.0, -2.0, 0.5, 3.0, 0.0, -1.0, 2.0], np.float32)
    e = EmotionClassifier._emotion(logits)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert e.label == "happy"
    np.testing.assert_allclose(list(e.probabilities.values()), expected, rtol=1e-6)
    probs = np.array([0.1, 0.0, 0.0, 0.0, 0.0, 0.7, 0.19921875], np.float32)  # int8 rounding: sums to 0.999
    e = EmotionClassifier._emotion(probs)
    assert e.label == "surprise" and sum(e.probabilities.values()) == pytest.approx(1.0)


def test_vision_import_is_light() -> None:
    code = ("import sys, glassbridge.vision as v; "
            "print('ai_edge_litert' in sys.modules, 'glassbridge.vision._kernels' in sys.modules, sorted(v.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ)).stdout
    heavy_litert, heavy_native, names = out.strip().split(" ", 2)
    assert (heavy_litert, heavy_native) == ("False", "False")
    for name in ("FacePipeline", "FaceResult", "FaceDetector", "EmotionClassifier", "TfliteModel", "ModelError"):
        assert name in names
    import glassbridge.vision as vision

    for name in vision.__all__:
        assert getattr(vision, name) is not None
