"""From a camera frame (or JPEG bytes) to faces: box, score, expression and class probabilities.

    from glassbridge.vision import FacePipeline
    pipeline = FacePipeline()                          # BlazeFace full range + the int8 expression model
    for face in pipeline.run(frame):                   # any Frame: NV12 from the camera, RGB from a file
        print(face.to_json())                          # {"box": [x0, y0, x1, y1], "score": .., "emotion": "happy", ...}
    faces = pipeline.run_jpeg(open("photo.jpg", "rb").read())

Each stage reads the frame in its own camera format through the native kernel: the detector letterboxes the
whole frame to 192x192, the classifier crops each face to 64x64 gray. Nothing converts the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glassbridge.camera.frame import Frame
from glassbridge.vision.detector import Detection, DetectorModel, FaceDetector
from glassbridge.vision.emotion import Emotion, EmotionClassifier

__all__ = ["FacePipeline", "FaceResult"]

# run_jpeg decodes at 1/2, 1/4 or 1/8 scale while the image stays at least this large: the detector sees 192 px,
# and a face the full-range model can find (>= ~1/12 of the frame width) keeps >= ~64 px for the 64x64 classifier.
JPEG_MIN_WIDTH = 768
JPEG_MIN_HEIGHT = 432


def _round(v: float, digits: int) -> float:
    r = round(float(v), digits)
    return 0.0 if r == 0 else r  # no "-0.0" in JSON


@dataclass(frozen=True)
class FaceResult:
    """One face: the detection (box in source pixels) and, when the pipeline classifies, its expression."""

    detection: Detection
    emotion: Emotion | None = None

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.detection.box

    @property
    def score(self) -> float:
        return self.detection.score

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, always with the same keys: box [x0, y0, x1, y1] in source pixels (0.1 px), score
        and probabilities (3 digits), emotion (the most likely label). Without expression classification emotion
        is None and probabilities is empty."""
        emotion = self.emotion
        return {
            "box": [_round(v, 1) for v in self.detection.box],
            "score": _round(self.detection.score, 3),
            "emotion": None if emotion is None else emotion.label,
            "probabilities": {} if emotion is None else {k: _round(p, 3) for k, p in emotion.probabilities.items()},
        }


class FacePipeline:
    """Face detection, then (optionally) the expression of each face.

    detector: "full_range" (default, faces at 1-5 m) or "short_range". emotions: classify expressions (opt-in
    by the wearer in the product; on by default here because the CLI's `see` asks for it). threads: LiteRT
    threads for each model. score_threshold / max_faces: passed to the detector.
    """

    def __init__(
        self,
        detector: DetectorModel = "full_range",
        *,
        emotions: bool = True,
        threads: int = 1,
        score_threshold: float | None = None,
        max_faces: int = 20,
    ) -> None:
        self.detector = FaceDetector(detector, threads=threads, score_threshold=score_threshold, max_faces=max_faces)
        self.classifier = EmotionClassifier(threads=threads) if emotions else None

    def run(self, frame: Frame) -> list[FaceResult]:
        """Faces in `frame`, best score first; boxes in the frame's pixels."""
        results = []
        for det in self.detector.detect(frame):
            emotion = None
            if self.classifier is not None and det.width >= 1.0 and det.height >= 1.0:
                emotion = self.classifier.classify(frame, det.box)
            results.append(FaceResult(det, emotion))
        return results

    def run_jpeg(self, data: bytes) -> list[FaceResult]:
        """Faces in a JPEG image. It is decoded at reduced scale when large; boxes are in the original's pixels.

        Corrupt data raises ValueError (with libjpeg-turbo's reason).
        """
        from glassbridge.camera.jpeg import decode_jpeg, jpeg_size

        width, height = jpeg_size(data)
        frame = decode_jpeg(data, min_width=min(width, JPEG_MIN_WIDTH), min_height=min(height, JPEG_MIN_HEIGHT))
        results = self.run(frame)
        if frame.width == width and frame.height == height:
            return results
        sx, sy = width / frame.width, height / frame.height
        scaled = []
        for r in results:
            d = r.detection
            box = (d.box[0] * sx, d.box[1] * sy, min(d.box[2] * sx, width), min(d.box[3] * sy, height))
            kps = tuple((x * sx, y * sy) for x, y in d.keypoints)
            scaled.append(FaceResult(Detection(box, d.score, kps), r.emotion))
        return scaled
