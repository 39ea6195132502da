"""The preprocessing benchmark cases: the jobs the glasses' models actually ask for.

Each case names its source (camera NV12 or a decoded JPEG as RGB888), the model input it produces and the
normalisation that model expects, expressed with the same `Normalization` constructors a model wrapper uses, so
the numbers in the output are the model's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glassbridge.bench.geometry import Job, Rect
from glassbridge.camera.frame import PixelFormat

# (scale 2/255, zero point -1): an int8 model whose float input is [-1, 1], i.e. (v - 127.5) / 127.5.
_INT8_MINUS1_1: Callable[[Any], Any] = lambda N: N.for_quantized(2 / 255, -1, mean=127.5, std=127.5)  # noqa: E731


@dataclass(frozen=True)
class Case:
    name: str
    fmt: PixelFormat
    src_width: int
    src_height: int
    out_width: int
    out_height: int
    channels: str
    out_type: str
    norm: Callable[[Any], Any]  # Normalization class -> Normalization instance
    crop: Rect | None = None
    letterbox: bool = False
    what: str = ""
    interpolation: str = "bilinear"  # "area": the job is the area-averaging mode, against OpenCV INTER_AREA

    def job(self, normalization_cls: Any, letterbox_rect: Callable[..., Any]) -> Job:
        """The concrete job: the crop, where it lands (letterbox as the detector does) and mul/add."""
        crop = self.crop or Rect(0, 0, self.src_width, self.src_height)
        if self.letterbox:
            r = letterbox_rect(crop.width, crop.height, self.out_width, self.out_height)
            dst = Rect(*_rect_tuple(r))
        else:
            dst = Rect(0, 0, self.out_width, self.out_height)
        n = self.norm(normalization_cls)
        mul = tuple(float(x) for x in _per_channel(n.mul))
        add = tuple(float(x) for x in _per_channel(n.add))
        return Job(self.fmt, self.src_width, self.src_height, crop, self.out_width, self.out_height, dst,
                   self.channels, self.out_type, mul, add, pad=0.0, interpolation=self.interpolation)


def _per_channel(v: Any) -> list[float]:
    try:
        vals = [float(x) for x in v]
    except TypeError:
        vals = [float(v)]
    return (vals * 3)[:3] if len(vals) == 1 else vals


def _rect_tuple(r: Any) -> tuple[int, int, int, int]:
    if hasattr(r, "width"):
        return int(r.x), int(r.y), int(r.width), int(r.height)
    x, y, w, h = r
    return int(x), int(y), int(w), int(h)


CASES: tuple[Case, ...] = (
    Case("nv12_1920x1080_to_224x224_int8", PixelFormat.NV12, 1920, 1080, 224, 224, "rgb", "int8", _INT8_MINUS1_1,
         what="1080p camera frame to an int8 classifier (MobileNet-style, scale 2/255, zero point -1)"),
    Case("nv12_640x480_to_224x224_int8", PixelFormat.NV12, 640, 480, 224, 224, "rgb", "int8", _INT8_MINUS1_1,
         what="VGA camera frame to the same classifier: a small reduction, compute bound"),
    Case("nv12_1920x1080_to_192x192_float32", PixelFormat.NV12, 1920, 1080, 192, 192, "rgb", "float32",
         lambda N: N.for_range(-1.0, 1.0), letterbox=True,
         what="BlazeFace full-range detector input: float32 in [-1, 1], letterboxed (192x108 band, padding)"),
    Case("nv12_1920x1080_to_192x192_float32_area", PixelFormat.NV12, 1920, 1080, 192, 192, "rgb", "float32",
         lambda N: N.for_range(-1.0, 1.0), letterbox=True, interpolation="area",
         what="the face detector's job with area averaging (10x reduction, no aliasing): ours area vs ours "
              "bilinear vs OpenCV cvtColor + resize INTER_AREA"),
    Case("nv12_1920x1080_crop_to_64x64_gray_int8", PixelFormat.NV12, 1920, 1080, 64, 64, "gray", "int8",
         _INT8_MINUS1_1, crop=Rect(810, 390, 300, 300),
         what="emotion classifier input: a 300x300 face crop to 64x64 gray int8"),
    Case("rgb888_1280x720_to_224x224_uint8", PixelFormat.RGB888, 1280, 720, 224, 224, "rgb", "uint8",
         lambda N: N.identity(),
         what="decoded JPEG (RGB) to a uint8 model input"),
)


def select(names: list[str] | None) -> tuple[Case, ...]:
    """The cases to run: all, or those named (an unknown name is an error listing the known ones)."""
    if not names:
        return CASES
    known = {c.name: c for c in CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(known[n] for n in names)
