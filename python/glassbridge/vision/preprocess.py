"""Fused preprocessing: a camera `Frame` straight into a model's input tensor, in one native pass.

One call crops the frame, resizes it bilinearly (half-pixel centres, as OpenCV's INTER_LINEAR) or by area
averaging (interpolation="area", as OpenCV's INTER_AREA, for large reductions), converts the
colour (BT.601 YUV, RGB, RGB565, gray), normalises and quantises, and writes into the array you pass, typically
the LiteRT input tensor view. Each source tap is converted to RGB before interpolation, and the unrounded
interpolated value v (0..255) is normalised and quantised once::

    y = v * mul + add        (float32; uint8/int8 outputs store saturate(round_half_even(y)))

`Normalization` derives mul and add from what a model expects, e.g. for an int8 model whose input is [-1, 1]
with scale 2/255 and zero point -1::

    norm = Normalization.for_range(-1.0, 1.0, scale=2 / 255, zero_point=-1)
    preprocess(frame, tensor_view, norm=norm)

The kernel releases the GIL while it runs; the SIMD path (ref, sse41, avx2, neon) is chosen at import from the
CPU, the GLASSBRIDGE_ISA environment variable, or `force_isa`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from glassbridge.vision import _kernels
from glassbridge.camera.frame import Frame

__all__ = [
    "Interpolation",
    "Normalization",
    "available_isas",
    "force_isa",
    "isa",
    "letterbox_rect",
    "preprocess",
]

ChannelOrder = Literal["rgb", "bgr", "gray"]
Interpolation = Literal["bilinear", "area"]
Triple = tuple[float, float, float]
_CHANNELS = {"rgb": 0, "bgr": 1, "gray": 2}
_INTERPOLATIONS = {"bilinear": 0, "area": 1}


def _triple(name: str, value: float | Sequence[float]) -> Triple:
    """One value per channel: a scalar applies to all three."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return (v, v, v)
    values = tuple(float(v) for v in value)
    if len(values) != 3:
        raise ValueError(f"{name} needs one value or three (one per channel), got {len(values)}")
    return (values[0], values[1], values[2])


@dataclass(frozen=True)
class Normalization:
    """How the interpolated source value v (0..255) becomes a model input: y = v * mul + add, per channel.

    Per-channel values are in the OUTPUT channel order (the order the model's input channels have: for
    channels="bgr" give B, G, R). For quantized outputs y is in quantized units (it is rounded and saturated);
    for float32 outputs it is stored as is.
    """

    mul: Triple
    add: Triple

    def __post_init__(self) -> None:
        for name, values in (("mul", self.mul), ("add", self.add)):
            if len(values) != 3 or not all(math.isfinite(v) for v in values):
                raise ValueError(f"Normalization.{name} must be three finite numbers, got {values!r}")

    @classmethod
    def identity(cls) -> Normalization:
        """y = v: uint8 outputs get the interpolated value rounded, float32 outputs get 0..255."""
        return cls((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))

    @classmethod
    def from_mean_std(cls, mean: float | Sequence[float], std: float | Sequence[float]) -> Normalization:
        """Float models that expect (v - mean) / std, e.g. ImageNet: mean (123.675, 116.28, 103.53),
        std (58.395, 57.12, 57.375) on the 0..255 scale."""
        m, s = _triple("mean", mean), _triple("std", std)
        if any(x == 0.0 for x in s):
            raise ValueError(f"std must be non-zero, got {s}")
        return cls(
            (1.0 / s[0], 1.0 / s[1], 1.0 / s[2]),
            (-m[0] / s[0], -m[1] / s[1], -m[2] / s[2]),
        )

    @classmethod
    def for_quantized(
        cls,
        scale: float,
        zero_point: int,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 1.0,
    ) -> Normalization:
        """Quantized models: the model reads real = (q - zero_point) * scale and expects real = (v - mean) / std.

        So q = (v - mean) / (std * scale) + zero_point, i.e. mul = 1 / (std * scale),
        add = zero_point - mean / (std * scale).
        """
        if not (math.isfinite(scale) and scale > 0.0):
            raise ValueError(f"quantization scale must be a positive number, got {scale}")
        m, s = _triple("mean", mean), _triple("std", std)
        if any(x == 0.0 for x in s):
            raise ValueError(f"std must be non-zero, got {s}")
        mul = tuple(1.0 / (si * scale) for si in s)
        add = tuple(zero_point - mi / (si * scale) for mi, si in zip(m, s))
        return cls((mul[0], mul[1], mul[2]), (add[0], add[1], add[2]))

    @classmethod
    def for_range(
        cls, lo: float, hi: float, *, scale: float | None = None, zero_point: int | None = None
    ) -> Normalization:
        """Models that expect v mapped linearly from [0, 255] onto [lo, hi] (BlazeFace: [-1, 1]; many: [0, 1]).

        Float models: give lo and hi only. Quantized models: also the input's scale (and zero point, default 0).
        """
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
            raise ValueError(f"range [{lo}, {hi}] must be two different finite numbers")
        if scale is None:
            if zero_point is not None:
                raise ValueError("zero_point given without scale: quantized models need both")
            k = (hi - lo) / 255.0
            return cls((k, k, k), (lo, lo, lo))
        # real = lo + v * (hi - lo) / 255 is (v - mean) / std with std = 255 / (hi - lo), mean = -lo * std.
        std = 255.0 / (hi - lo)
        return cls.for_quantized(scale, 0 if zero_point is None else zero_point, mean=-lo * std, std=std)


def letterbox_rect(src_w: int, src_h: int, out_w: int, out_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the largest rectangle with the source's aspect ratio centred in an out_w x out_h output.

    Pass it as `dst` (and the same pad everywhere) to letterbox: the model sees the whole, undistorted frame.
    """
    for name, v in (("src_w", src_w), ("src_h", src_h), ("out_w", out_w), ("out_h", out_h)):
        if v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")
    scale = min(out_w / src_w, out_h / src_h)
    w = min(out_w, max(1, round(src_w * scale)))
    h = min(out_h, max(1, round(src_h * scale)))
    return ((out_w - w) // 2, (out_h - h) // 2, w, h)


def preprocess(
    frame: Frame,
    out: np.ndarray,
    *,
    crop: tuple[int, int, int, int] | None = None,
    channels: ChannelOrder = "rgb",
    norm: Normalization,
    dst: tuple[int, int, int, int] | None = None,
    pad: float | Sequence[float] = 0.0,
    interpolation: Interpolation = "bilinear",
) -> None:
    """Crop, resize, convert, normalise and quantise `frame` into `out`, in one native pass.

    out: writeable C-contiguous (H, W, C) or (1, H, W, C) array of uint8, int8 or float32 (C = 3 for rgb/bgr,
      1 for gray); its dtype is the output type and its H, W the output size.
    crop: (x, y, w, h) in source pixels, inside the frame; None = the whole frame.
    dst: (x, y, w, h) in output pixels where the crop lands; None = all of out. Pixels outside get `pad`.
    pad: source-scale value(s) (0..255) for the letterbox border, normalised like every pixel (0 = black).
    norm: see `Normalization`; gray output uses the first channel's values.
    interpolation: "bilinear" (2x2 taps, OpenCV INTER_LINEAR) or "area": each output pixel averages its source
      footprint (OpenCV INTER_AREA), which does not alias on large reductions (e.g. 1080p -> 192x192); the average
      is taken in the source's colour space, then converted. An enlarged axis stays bilinear.
    Raises ValueError naming the problem for a wrong size, stride, truncated plane, crop, dtype or shape.
    """
    if channels not in _CHANNELS:
        raise ValueError(f"channels must be 'rgb', 'bgr' or 'gray', got {channels!r}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be 'bilinear' or 'area', got {interpolation!r}")
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy array, got {type(out).__name__}")
    if channels == "gray" and (len(set(norm.mul)) > 1 or len(set(norm.add)) > 1):
        raise ValueError(f"gray output takes one normalisation, got per-channel values {norm}")
    crop_rect = (0, 0, frame.width, frame.height) if crop is None else tuple(int(v) for v in crop)
    dst_rect = (0, 0, 0, 0) if dst is None else tuple(int(v) for v in dst)
    if len(crop_rect) != 4 or len(dst_rect) != 4:
        raise ValueError(f"crop and dst are (x, y, w, h), got crop={crop!r} dst={dst!r}")
    if dst is not None and (dst_rect[2] <= 0 or dst_rect[3] <= 0):
        raise ValueError(f"dst {dst_rect} must have a positive width and height")
    _kernels.preprocess(
        list(frame.planes),
        frame.format.value,
        frame.width,
        frame.height,
        frame.range.value,
        crop_rect,
        out,
        _CHANNELS[channels],
        norm.mul,
        norm.add,
        dst_rect,
        _triple("pad", pad),
        _INTERPOLATIONS[interpolation],
    )


def isa() -> str:
    """The SIMD path in use: 'ref', 'sse41', 'avx2' or 'neon'."""
    return str(_kernels.isa())


def available_isas() -> list[str]:
    """SIMD paths compiled in and supported by this CPU, best last ('ref' is always first)."""
    return [str(name) for name in _kernels.available_isas()]


@contextlib.contextmanager
def force_isa(name: str) -> Iterator[None]:
    """Run the block on one SIMD path (for tests and benchmarks), then restore the previous one.

    Process-wide: do not use while other threads preprocess. Unknown or unavailable names raise ValueError.
    """
    previous = isa()
    _kernels.set_isa(name)
    try:
        yield
    finally:
        _kernels.set_isa(previous)
