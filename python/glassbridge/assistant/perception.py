"""Local perception for the assistant: faces (and, only when the wearer opted in, expressions) in one frame.

    perceiver = FacePerceiver()                                   # BlazeFace full range; the classifier on demand
    seen = perceiver.perceive(frame, emotions=settings.privacy.emotions)
    seen.summary                       # "one person ahead, looks happy" (for the wearer: display, voice)
    seen.to_pb(share_emotions=False)   # pb.Perception for the phone: boxes, count, emotions_withheld=True

Privacy (ARCHITECTURE decision 9) is enforced here, not by the caller's good manners:
- with emotions=False the expression model is never run (it is not even loaded until the first opt-in call);
- `to_pb` leaves every expression out unless share_emotions; when it leaves computed ones out it sets
  `emotions_withheld` (the phone can say they stayed on the glasses) and sends the summary built without them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.text import fit
from glassbridge.camera.frame import Frame
from glassbridge.protocol.messages import pb

if TYPE_CHECKING:
    from glassbridge.vision.detector import DetectorModel

__all__ = ["FacePerceiver", "LocalPerception", "SeenFace", "describe"]

#: The phone link's Perception.faces limit (glassbridge.proto: "the glasses send the largest 16").
MAX_FACES_SENT = 16
#: Perception.summary and a card's text: at most 191 bytes of UTF-8.
SUMMARY_LIMIT = 191

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# How an expression label of the classifier (glassbridge.vision.emotion.EMOTION_LABELS) is said to the wearer.
_LOOKS = {"angry": "looks angry", "disgust": "looks disgusted", "fear": "looks afraid", "happy": "looks happy",
          "sad": "looks sad", "surprise": "looks surprised", "neutral": "looks neutral"}


@dataclass(frozen=True)
class SeenFace:
    """One face: box (x0, y0, x1, y1) in frame pixels, detection score, and the expression when computed."""

    box: tuple[float, float, float, float]
    score: float
    emotion: str | None = None
    emotion_score: float = 0.0

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])

    def position(self, image_width: int) -> str:
        """Where the face is for the wearer: the camera looks where the wearer looks, so the image's left third
        is the wearer's left."""
        centre = (self.box[0] + self.box[2]) / 2 / image_width
        return "on your left" if centre < 1 / 3 else "on your right" if centre > 2 / 3 else "ahead"


@dataclass(frozen=True)
class LocalPerception:
    """What the glasses saw in one frame. `emotions_computed`: the classifier ran (the wearer opted in)."""

    faces: tuple[SeenFace, ...]
    image_width: int
    image_height: int
    emotions_computed: bool
    elapsed_s: float = 0.0

    @property
    def summary(self) -> str:
        """The sentence for the wearer, with expressions when computed: "one person ahead, looks happy"."""
        return describe(self.faces, self.image_width, with_emotions=True)

    @property
    def shareable_summary(self) -> str:
        """The same sentence without any expression: what may leave the glasses when emotions are not shared."""
        return describe(self.faces, self.image_width, with_emotions=False)

    @property
    def has_emotions(self) -> bool:
        return any(f.emotion for f in self.faces)

    def to_pb(self, *, share_emotions: bool) -> Any:
        """pb.Perception for an AssistantRequest: normalised boxes of the largest 16 faces; expressions only when
        `share_emotions` (else `emotions_withheld` says some exist but stayed on the glasses)."""
        w, h = float(self.image_width), float(self.image_height)
        largest = sorted(self.faces, key=lambda f: f.area, reverse=True)[:MAX_FACES_SENT]
        faces = []
        for f in largest:
            face = pb.Face(x=f.box[0] / w, y=f.box[1] / h, width=(f.box[2] - f.box[0]) / w,
                           height=(f.box[3] - f.box[1]) / h, score=f.score)
            if share_emotions and f.emotion:
                face.emotion = f.emotion
                face.emotion_score = f.emotion_score
            faces.append(face)
        return pb.Perception(
            faces=faces, image_width=self.image_width, image_height=self.image_height,
            emotions_withheld=self.has_emotions and not share_emotions,
            summary=fit(self.summary if share_emotions else self.shareable_summary, SUMMARY_LIMIT),
            elapsed_us=min(int(self.elapsed_s * 1e6), 0xFFFFFFFF),
        )


def describe(faces: tuple[SeenFace, ...] | list[SeenFace], image_width: int, *, with_emotions: bool) -> str:
    """A short sentence about the people in view, largest (nearest) first.

    0: "no one in view"; 1: "one person ahead, looks happy"; 2-4: "two people: one on your left, looks happy;
    one ahead"; more: "seven people in view, the nearest ahead".
    """
    n = len(faces)
    if n == 0:
        return "no one in view"
    ordered = sorted(faces, key=lambda f: f.area, reverse=True)

    def one(face: SeenFace) -> str:
        text = f"one {face.position(image_width)}" if n > 1 else f"one person {face.position(image_width)}"
        if with_emotions and face.emotion:
            text += ", " + _LOOKS.get(face.emotion, f"looks {face.emotion}")
        return text

    if n == 1:
        return one(ordered[0])
    count = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    if n <= 4:
        return f"{count} people: " + "; ".join(one(f) for f in ordered)
    return f"{count} people in view, the nearest {ordered[0].position(image_width)}"


class FacePerceiver:
    """The Perceiver of the glasses: glassbridge.vision's BlazeFace detector always, the expression classifier only
    on opt-in, loaded on the first call with emotions=True (glasses whose wearer never opts in never load it).
    The same two models and steps as glassbridge.vision.FacePipeline."""

    def __init__(self, detector: DetectorModel = "full_range", *, threads: int = 1,
                 score_threshold: float | None = None) -> None:
        from glassbridge.vision.detector import FaceDetector

        self._detector = FaceDetector(detector, threads=threads, score_threshold=score_threshold)
        self._threads = threads
        self._classifier: Any = None

    @property
    def emotion_model_loaded(self) -> bool:
        return self._classifier is not None

    def perceive(self, frame: Frame, *, emotions: bool) -> LocalPerception:
        started = time.perf_counter()
        if emotions and self._classifier is None:
            from glassbridge.vision.emotion import EmotionClassifier

            self._classifier = EmotionClassifier(threads=self._threads)
        faces = []
        for det in self._detector.detect(frame):
            label, score = None, 0.0
            if emotions and det.width >= 1.0 and det.height >= 1.0:
                e = self._classifier.classify(frame, det.box)
                label, score = e.label, float(e.confidence)
            box = (float(det.box[0]), float(det.box[1]), float(det.box[2]), float(det.box[3]))
            faces.append(SeenFace(box, float(det.score), label, score))
        return LocalPerception(tuple(faces), frame.width, frame.height, emotions, time.perf_counter() - started)
