"""On-device perception: face detection, facial expression, and the pieces they are built from.

    from glassbridge.vision import FacePipeline
    faces = FacePipeline().run(frame)          # [FaceResult(box, score, emotion, probabilities)]

Public names (each also importable from its submodule):

* `FacePipeline`, `FaceResult` (pipeline): a Frame or JPEG bytes to faces with box, score and expression.
* `FaceDetector`, `Detection`, `KEYPOINT_NAMES` (detector): MediaPipe BlazeFace, full range or short range.
* `EmotionClassifier`, `Emotion`, `EMOTION_LABELS` (emotion): the project's int8 expression model.
* `TfliteModel` (glassbridge.models.runtime, shared with the audio): LiteRT with zero-copy input filling; `ModelError` (registry) for any model problem.
* `Normalization`, `letterbox_rect` (preprocess): how pixels become model inputs. The kernel itself is
  `glassbridge.vision.preprocess.preprocess` (not re-exported here: the name is also its submodule's, and Python
  rebinds the package attribute to the submodule once it is imported).

Importing this package is cheap: LiteRT and the native extension load when a model or kernel is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "EMOTION_LABELS",
    "KEYPOINT_NAMES",
    "Detection",
    "Emotion",
    "EmotionClassifier",
    "FaceDetector",
    "FacePipeline",
    "FaceResult",
    "ModelError",
    "Normalization",
    "TfliteModel",
    "letterbox_rect",
]

# name -> submodule that defines it; resolved on first access (PEP 562), so `import glassbridge.vision` stays light.
_WHERE = {
    "EMOTION_LABELS": "emotion",
    "Emotion": "emotion",
    "EmotionClassifier": "emotion",
    "KEYPOINT_NAMES": "detector",
    "Detection": "detector",
    "FaceDetector": "detector",
    "FacePipeline": "pipeline",
    "FaceResult": "pipeline",
    "TfliteModel": "glassbridge.models.runtime",
    "Normalization": "preprocess",
    "letterbox_rect": "preprocess",
}

if TYPE_CHECKING:
    from glassbridge.vision.detector import KEYPOINT_NAMES, Detection, FaceDetector
    from glassbridge.vision.emotion import EMOTION_LABELS, Emotion, EmotionClassifier
    from glassbridge.vision.pipeline import FacePipeline, FaceResult
    from glassbridge.vision.preprocess import Normalization, letterbox_rect
    from glassbridge.models.registry import ModelError
    from glassbridge.models.runtime import TfliteModel


def __getattr__(name: str) -> Any:
    if name == "ModelError":  # the model registry lives in glassbridge.models (audio and the CLI use it too)
        from glassbridge.models.registry import ModelError

        globals()[name] = ModelError
        return ModelError
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'glassbridge.vision' has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"glassbridge.vision.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
