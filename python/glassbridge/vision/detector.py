"""Face detection with MediaPipe's BlazeFace models: a Frame in, face boxes in the frame's pixels out.

One `detect()` call: the native kernel letterboxes the whole frame (any pixel format) into the model's input
tensor in place, LiteRT runs the model, and the C++ decoder turns the outputs into boxes with MediaPipe's
anchors, sigmoid scores and weighted non-maximum suppression, reading LiteRT's output memory in place. The boxes
are then mapped from the letterboxed model input back to source pixels.

Two models (see models/MANIFEST.toml):
* ``"full_range"`` (default): BlazeFace full-range sparse, 192x192, for faces at 1-5 m, the glasses' case. In a
  1080p frame it finds faces down to ~150 px.
* ``"short_range"``: BlazeFace short-range, 128x128, for faces close to the camera (selfie distance); it misses
  faces under ~250 px in a 1080p frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from glassbridge.vision import _kernels
from glassbridge.camera.frame import Frame
from glassbridge.vision.anchors import BLAZEFACE_FULL_RANGE, BLAZEFACE_SHORT_RANGE, SsdAnchorOptions, ssd_anchors
from glassbridge.vision.preprocess import Interpolation, Normalization, letterbox_rect, preprocess
from glassbridge.models.registry import ModelError
from glassbridge.models.runtime import TfliteModel

__all__ = ["Detection", "FaceDetector", "KEYPOINT_NAMES", "DetectorModel"]

DetectorModel = Literal["full_range", "short_range"]

# MediaPipe's FaceKeypoint order. "Right" is the person's right (the left side of an unmirrored photo).
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")


@dataclass(frozen=True)
class _BlazeFaceSpec:
    model_id: str
    anchors: SsdAnchorOptions
    default_score: float


# MediaPipe's face detection defaults: min detection confidence 0.5 (the solution API's default for both models),
# weighted NMS at IoU 0.3.
_MODELS: dict[str, _BlazeFaceSpec] = {
    "full_range": _BlazeFaceSpec("blazeface_full_range_sparse", BLAZEFACE_FULL_RANGE, 0.5),
    "short_range": _BlazeFaceSpec("blazeface_short_range", BLAZEFACE_SHORT_RANGE, 0.5),
}


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) in source pixels (clipped to the frame), score in [0, 1], and the six
    BlazeFace keypoints (x, y) in source pixels, in `KEYPOINT_NAMES` order (not clipped)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def keypoint(self, name: str) -> tuple[float, float]:
        """A keypoint by name, e.g. ``det.keypoint("nose_tip")``."""
        return self.keypoints[KEYPOINT_NAMES.index(name)]


class FaceDetector:
    """BlazeFace through LiteRT with native preprocessing and decoding.

    model: "full_range" (default, faces at 1-5 m) or "short_range" (close faces).
    threads: LiteRT (XNNPACK) threads. score_threshold: minimum face score (default 0.5, MediaPipe's).
    iou_threshold: overlap above which detections are merged (weighted NMS, MediaPipe's 0.3).
    max_faces: at most this many faces, best first.
    model_path: a .tflite file to use instead of the manifest's (it must have the same tensors); it is probed in a
      child process first, so a corrupt file gives a ModelError, not a crash.
    interpolation: how the frame is reduced to the model input: "area" (default: each input pixel averages its
      source footprint, as OpenCV's INTER_AREA) or "bilinear" (2x2 taps). Area is the default because a 1080p frame
      is reduced ~10x (15x for short_range), where 2x2 taps alias: `glassbridge bench aliasing` (24 seeded scenes,
      faces 24-450 px over real backgrounds, sensor noise sigma 3, shifted 0-5 px in x and y) measured the median
      score swing of confidently found faces at 0.051 with area against 0.100 with bilinear (full_range; 0.020
      against 0.065 for short_range), the same as OpenCV's INTER_AREA pipeline (0.049, 0.020), and recall of
      61-300 px faces up, not down (full_range 151-300 px: 0.96 against 0.93). docs/benchmarks.md has the table.
    """

    def __init__(
        self,
        model: DetectorModel = "full_range",
        *,
        threads: int = 1,
        score_threshold: float | None = None,
        iou_threshold: float = 0.3,
        max_faces: int = 100,
        model_path: str | None = None,
        interpolation: Interpolation = "area",
    ) -> None:
        if model not in _MODELS:
            raise ValueError(f"unknown face detector model {model!r}: use 'full_range' or 'short_range'")
        spec = _MODELS[model]
        if interpolation not in ("bilinear", "area"):
            raise ValueError(f"interpolation must be 'bilinear' or 'area', got {interpolation!r}")
        self.interpolation: Interpolation = interpolation
        self.model_name = model
        self.score_threshold = spec.default_score if score_threshold is None else float(score_threshold)
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {self.score_threshold}")
        size = spec.anchors.input_width
        shape = (1, spec.anchors.input_height, size, 3)
        if model_path is None:
            self.model = TfliteModel.from_manifest(spec.model_id, threads=threads)
        else:
            self.model = TfliteModel(model_path, threads=threads, input_shape=shape, input_dtype=np.float32)
        self.input_width, self.input_height = spec.anchors.input_width, spec.anchors.input_height
        anchors = ssd_anchors(spec.anchors)
        self._regressors, self._scores = self._output_roles(len(anchors))
        # MediaPipe's ImageToTensorCalculator maps pixels to [-1, 1] (output_tensor_float_range).
        self._norm = Normalization.for_range(-1.0, 1.0)
        self._decoder = _kernels.SsdFaceDecoder(
            anchors,
            x_scale=float(self.input_width), y_scale=float(self.input_height),
            w_scale=float(self.input_width), h_scale=float(self.input_height),
            num_coords=16, num_keypoints=len(KEYPOINT_NAMES), score_clipping=100.0,
            min_score=self.score_threshold, iou_threshold=float(iou_threshold), max_detections=int(max_faces),
        )

    def _output_roles(self, num_anchors: int) -> tuple[int, int]:
        """Which output holds the box regressors (N x 16) and which the score logits (N x 1)."""
        shapes = [o.shape for o in self.model.outputs]
        reg = [i for i, s in enumerate(shapes) if s[-2:] == (num_anchors, 16)]
        cls = [i for i, s in enumerate(shapes) if s[-2:] == (num_anchors, 1)]
        if len(shapes) != 2 or len(reg) != 1 or len(cls) != 1:
            raise ModelError(self.model.path, f"outputs {shapes} are not BlazeFace's ({num_anchors} x 16 boxes and "
                             f"{num_anchors} x 1 scores for the {self.model_name} anchors)",
                             "use the manifest's BlazeFace model for this detector type")
        if any(o.dtype != np.float32 for o in self.model.outputs):
            raise ModelError(self.model.path, "BlazeFace outputs must be float32", "use the manifest's model")
        return reg[0], cls[0]

    def letterbox(self, frame: Frame) -> tuple[int, int, int, int]:
        """Where the whole frame lands in the model input: (x, y, w, h), centred, aspect ratio kept."""
        return letterbox_rect(frame.width, frame.height, self.input_width, self.input_height)

    def detect(self, frame: Frame) -> list[Detection]:
        """Faces in `frame`, best score first, in the frame's pixel coordinates."""
        dst = self.letterbox(frame)

        def write(view: np.ndarray) -> None:
            # pad 0 = black, which the normalisation maps to -1 as MediaPipe's BORDER_ZERO letterbox does.
            preprocess(frame, view, channels="rgb", norm=self._norm, dst=dst, pad=0.0,
                       interpolation=self.interpolation)

        def read(views: list[np.ndarray]) -> np.ndarray:
            decoded: np.ndarray = self._decoder.decode(views[self._regressors], views[self._scores])
            return decoded

        rows = self.model.fill(write, read=read)
        return self.to_source(rows, frame.width, frame.height, dst)

    def to_source(
        self, rows: np.ndarray, width: int, height: int, dst: Sequence[int]
    ) -> list[Detection]:
        """Map decoder rows (normalised to the model input) through the letterbox `dst` to source pixels."""
        if len(rows) == 0:
            return []
        dx, dy, dw, dh = (float(v) for v in dst)
        r = np.asarray(rows, dtype=np.float64)
        # Model-input pixel (u * input size) minus the letterbox offset, scaled to the source. Under half-pixel-
        # centre resizing, continuous coordinates map linearly, so box edges map exactly.
        xs = (r[:, [0, 2]] * self.input_width - dx) * (width / dw)
        ys = (r[:, [1, 3]] * self.input_height - dy) * (height / dh)
        kx = (r[:, 5::2] * self.input_width - dx) * (width / dw)
        ky = (r[:, 6::2] * self.input_height - dy) * (height / dh)
        np.clip(xs, 0.0, width, out=xs)
        np.clip(ys, 0.0, height, out=ys)
        return [
            Detection(
                box=(float(xs[i, 0]), float(ys[i, 0]), float(xs[i, 1]), float(ys[i, 1])),
                score=float(r[i, 4]),
                keypoints=tuple((float(a), float(b)) for a, b in zip(kx[i], ky[i])),
            )
            for i in range(len(r))
        ]
