"""The whole perception path on real images: BlazeFace finds faces (also small ones in a 1080p NV12 frame), the
int8 expression model reads them, and it agrees with fer's own quantized model (an independent reference).

Ground truth: the face boxes below were annotated by hand on scikit-image's astronaut and camera photos (brow to
chin, cheek to cheek); the detector's boxes must overlap them, not equal any number the detector once printed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange

# Hand annotations (x0, y0, x1, y1) in the 512x512 originals.
ASTRONAUT_FACE = (175.0, 80.0, 270.0, 172.0)
CAMERA_FACE = (190.0, 125.0, 262.0, 198.0)  # three-quarter profile, eye hidden by the camera


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def load_rgb(name: str) -> np.ndarray:
    from PIL import Image

    from glassbridge.models.registry import test_image_path

    return np.asarray(Image.open(test_image_path(name)).convert("RGB"))


def rgb_frame(rgb: np.ndarray) -> Frame:
    h, w = rgb.shape[:2]
    return Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))


def nv12_frame(rgb: np.ndarray) -> Frame:
    """NV12, BT.601 limited range, written here from the standard (not glassbridge.camera.convert):
    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, Cb/Cr = 128 + 224/255 * (B - Y')/1.772 and (R - Y')/1.402
    with Y' the full-range luma; chroma is the mean of each 2x2 block."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    y = 16.0 + luma * 219.0 / 255.0
    cb = 128.0 + (b - luma) / 1.772 * 224.0 / 255.0
    cr = 128.0 + (r - luma) / 1.402 * 224.0 / 255.0
    h, w = y.shape
    assert h % 2 == 0 and w % 2 == 0
    cb2 = cb.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    cr2 = cr.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    to_u8 = lambda x: np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)  # noqa: E731
    uv = np.stack([to_u8(cb2), to_u8(cr2)], axis=-1).reshape(h // 2, w)
    return Frame(PixelFormat.NV12, w, h, (to_u8(y), uv), range=YuvRange.LIMITED)


@pytest.fixture(scope="module")
def pipeline():  # type: ignore[no-untyped-def]
    from glassbridge.vision import FacePipeline

    return FacePipeline("full_range", emotions=True)


# --------------------------------------------------------------------------------------------------------------
# Detection and expression on the test photos


def test_astronaut_face_and_happiness(pipeline) -> None:  # type: ignore[no-untyped-def]
    rgb = load_rgb("astronaut")
    (face,) = pipeline.run(rgb_frame(rgb))
    print("astronaut full range:", face.to_json())
    assert face.score >= 0.8
    assert iou(face.box, ASTRONAUT_FACE) >= 0.6
    assert face.emotion is not None and face.emotion.label == "happy"
    assert face.emotion.probabilities["happy"] >= 0.5
    # The same photo as a camera would send it (NV12, limited range): the same face, the same expression.
    (from_nv12,) = pipeline.run(nv12_frame(rgb))
    assert iou(from_nv12.box, face.box) >= 0.9
    assert abs(from_nv12.score - face.score) < 0.05
    assert from_nv12.emotion is not None and from_nv12.emotion.label == "happy"


def test_camera_man(pipeline) -> None:  # type: ignore[no-untyped-def]
    (face,) = pipeline.run(rgb_frame(load_rgb("camera")))
    print("camera full range:", face.to_json())
    assert face.score >= 0.7
    assert iou(face.box, CAMERA_FACE) >= 0.5


def test_short_range_on_the_close_portrait() -> None:
    from glassbridge.vision import FaceDetector

    (face,) = FaceDetector("short_range").detect(rgb_frame(load_rgb("astronaut")))
    print("astronaut short range:", round(face.score, 3), [round(v, 1) for v in face.box])
    assert face.score >= 0.8
    assert iou(face.box, ASTRONAUT_FACE) >= 0.6
    # Keypoints land in the face: eyes above the nose, nose above the mouth, the person's right eye image-left.
    right_eye, left_eye = face.keypoint("right_eye"), face.keypoint("left_eye")
    assert right_eye[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < face.keypoint("nose_tip")[1] < face.keypoint("mouth_center")[1]


@pytest.mark.parametrize("name", ["coffee", "text", "chelsea"])
@pytest.mark.parametrize("model", ["full_range", "short_range"])
def test_no_face_where_there_is_none(name: str, model: str) -> None:
    from glassbridge.vision import FaceDetector

    assert FaceDetector(model).detect(rgb_frame(load_rgb(name))) == []


# --------------------------------------------------------------------------------------------------------------
# Small faces in a 1080p camera frame


def composite_1080p(face_px: int, x: int, y: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A 1920x1080 synthetic scene (colour gradient and sensor-like noise) with the astronaut's head pasted so
    that her face (the hand-annotated box) is `face_px` wide, its head square's corner at (x, y).

    Returns the RGB image and the annotated face box carried through the paste."""
    from PIL import Image

    rng = np.random.default_rng(face_px + x + y)
    yy, xx = np.mgrid[0:1080, 0:1920]
    scene = np.stack([60 + 100 * xx / 1920, 90 + 60 * yy / 1080, 140 - 50 * xx / 1920], axis=-1)
    scene = np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8)
    head_box = (130, 30, 320, 220)  # a 190 px square around the astronaut's head
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE
    s = face_px / (fx1 - fx0)
    size = int(round((head_box[2] - head_box[0]) * s))
    head = Image.fromarray(load_rgb("astronaut")).crop(head_box).resize((size, size), Image.BILINEAR)
    scene[y : y + size, x : x + size] = np.asarray(head)
    truth = (x + (fx0 - head_box[0]) * s, y + (fy0 - head_box[1]) * s,
             x + (fx1 - head_box[0]) * s, y + (fy1 - head_box[1]) * s)
    return scene, truth


# A 150 px face in a 1920x1080 frame is 15 px in the 192x192 model input: the small end of what the full-range
# model finds (it scores 0.7-0.9 here, varying with the face's sub-pixel position against the 10:1 resize).
@pytest.mark.parametrize("face_px", [150, 200])
@pytest.mark.parametrize("corner", [(300, 600), (1400, 250)])
def test_small_faces_in_a_1080p_nv12_frame(pipeline, face_px: int, corner: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    rgb, truth = composite_1080p(face_px, *corner)
    faces = pipeline.run(nv12_frame(rgb))
    print(f"1080p NV12, {face_px} px face:", [f.to_json()["box"] + [f.to_json()["score"]] for f in faces])
    assert len(faces) == 1
    assert iou(faces[0].box, truth) >= 0.5, (faces[0].box, truth)
    assert faces[0].emotion is not None and faces[0].emotion.label == "happy"


def test_run_jpeg_reports_boxes_in_original_pixels(pipeline) -> None:  # type: ignore[no-untyped-def]
    from glassbridge.camera.jpeg import encode_jpeg

    rgb, truth = composite_1080p(200, 1400, 250)
    data = encode_jpeg(rgb, quality=92)
    (face,) = pipeline.run_jpeg(data)  # decoded at half size (960x540), boxes scaled back to 1920x1080
    assert iou(face.box, truth) >= 0.5
    (direct,) = pipeline.run(rgb_frame(rgb))
    assert iou(face.box, direct.box) >= 0.8
    with pytest.raises(ValueError, match="JPEG"):
        pipeline.run_jpeg(data[:2000])


# --------------------------------------------------------------------------------------------------------------
# The int8 expression model against fer's own quantized model


def fer_reference_probabilities(model, rgb: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """fer's own preprocessing (fer/fer.py detect_emotions): OpenCV BGR->gray, crop, cv2.resize to 64x64
    (bilinear), (x / 255 - 0.5) * 2, then its emotion_model_quantized.tflite through LiteRT."""
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(rgb[..., ::-1]), cv2.COLOR_BGR2GRAY)
    x, y, w, h = rect
    face = cv2.resize(gray[y : y + h, x : x + w], (64, 64)).astype(np.float32)
    face = (face / 255.0 - 0.5) * 2.0
    (probs,) = model.run(face.reshape(1, 64, 64, 1))
    return probs.reshape(-1)


def crop_set() -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """>= 60 (name, image, crop) cases from the detector's boxes on astronaut and camera: crops shifted and
    scaled around the face, mirrored images, darker and brighter images."""
    from glassbridge.vision import FaceDetector
    from glassbridge.vision.emotion import face_crop

    detector = FaceDetector("full_range")
    cases = []
    for name in ("astronaut", "camera"):
        base = load_rgb(name)
        (face,) = detector.detect(rgb_frame(base))
        variants = {
            "plain": base,
            "mirror": base[:, ::-1],
            "dark": np.clip(base.astype(np.float64) * 0.6, 0, 255).astype(np.uint8),
            "bright": np.clip(base.astype(np.float64) * 1.35 + 10, 0, 255).astype(np.uint8),
        }
        for variant, img in variants.items():
            x0, y0, x1, y1 = face.box
            if variant == "mirror":
                x0, x1 = img.shape[1] - x1, img.shape[1] - x0
            w, h = x1 - x0, y1 - y0
            for margin in (0.0, 0.1, 0.25):
                for dx, dy in ((0.0, 0.0), (-0.08, 0.0), (0.08, 0.0), (0.0, -0.08), (0.0, 0.08)):
                    box = (x0 + dx * w, y0 + dy * h, x1 + dx * w, y1 + dy * h)
                    rect = face_crop(box, img.shape[1], img.shape[0], margin)
                    cases.append((f"{name}/{variant}/m{margin}/d{dx:+.2f},{dy:+.2f}", np.ascontiguousarray(img), rect))
    return cases


# Threshold: both models are quantisations of the same float Keras network (ours full int8, fer's dynamic-range
# int8 weights with float activations), and their inputs differ slightly (fer rounds the gray and the resized
# pixels to uint8; our kernel quantises once). Planning measured 92% top-1 agreement of a full-int8 conversion
# with the float network; here the two quantised models agree on 119 of 120 crops (0.99). 0.9 keeps a margin for
# the crops where the float network itself is undecided (the camera man's face sits between sad, angry and
# neutral) while still catching real regressions: feeding [0, 1] instead of [-1, 1] measured 0.69, crops shifted
# by half a face 0.26.
AGREEMENT_THRESHOLD = 0.9


def test_emotion_agrees_with_fers_own_model(capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.vision import EmotionClassifier
    from glassbridge.vision.emotion import EMOTION_LABELS
    from glassbridge.models.runtime import TfliteModel

    ours = EmotionClassifier()
    reference = TfliteModel.from_manifest("fer_emotion_quantized")
    cases = crop_set()
    assert len(cases) >= 60
    agree, diffs, disagreements = 0, [], []
    for name, img, rect in cases:
        mine = ours.classify_rect(rgb_frame(img), rect)
        theirs = fer_reference_probabilities(reference, img, rect)
        label = EMOTION_LABELS[int(np.argmax(theirs))]
        agree += mine.label == label
        diffs.append(np.abs(np.array(list(mine.probabilities.values())) - theirs).max())
        if mine.label != label:
            disagreements.append(f"{name}: ours {mine.label}, fer {label}")
    rate = agree / len(cases)
    with capsys.disabled():
        print(f"\nemotion top-1 agreement with fer's quantized model: {agree}/{len(cases)} = {rate:.3f}, "
              f"median max|prob diff| {np.median(diffs):.3f}")
        for line in disagreements:
            print("  ", line)
    assert rate >= AGREEMENT_THRESHOLD
