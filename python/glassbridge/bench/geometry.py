"""What a benchmark case asks for, in plain numbers every contender can read.

A `Job` is one preprocessing task: source format and size, crop, output size, where the crop lands in the output
(letterbox), channels, output type, and the per-channel normalisation y = v * mul + add (v in 0..255) that the
kernel contract (cpp/include/glassbridge/preprocess.h) defines. Contenders other than ours (OpenCV, numpy,
libyuv) read it to do the same job their own way.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

import numpy as np

from glassbridge.camera.frame import PixelFormat

OUT_DTYPES = {"uint8": np.uint8, "int8": np.int8, "float32": np.float32}
INT_LIMITS = {"uint8": (0, 255), "int8": (-128, 127)}


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Job:
    fmt: PixelFormat
    src_width: int
    src_height: int
    crop: Rect              # in source pixels
    out_width: int
    out_height: int
    dst: Rect               # where the crop lands in the output; the rest is padding
    channels: str           # "rgb" | "bgr" | "gray"
    out_type: str           # "uint8" | "int8" | "float32"
    mul: tuple[float, ...]  # per output channel
    add: tuple[float, ...]
    pad: float = 0.0        # source-range value (0..255) outside dst, normalised like any pixel
    interpolation: str = "bilinear"  # "bilinear" | "area" (the kernel's interpolation mode for this job)

    @property
    def n_channels(self) -> int:
        return 1 if self.channels == "gray" else 3

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_height, self.out_width, self.n_channels)

    @property
    def out_dtype(self) -> type[Any]:  # np.uint8, np.int8 or np.float32
        return OUT_DTYPES[self.out_type]

    @property
    def letterboxed(self) -> bool:
        return (self.dst.width, self.dst.height) != (self.out_width, self.out_height)

    def new_output(self) -> np.ndarray:
        return np.zeros(self.out_shape, self.out_dtype)

    def step(self) -> np.ndarray:
        """One output step per channel: a quantisation level for integer outputs; for float32 outputs, 1/255 of
        the input range as it appears in the output (|mul|), as the issue defines accuracy."""
        if self.out_type == "float32":
            return np.abs(np.asarray(self.mul[: self.n_channels], np.float64))
        return np.ones(self.n_channels)


def taps(src_len: int, dst_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps with half-pixel centres (OpenCV INTER_LINEAR): i0, i1 and the weight of i1, per output.

    src = (dst + 0.5) * src_len / dst_len - 0.5, clamped to the first and last source sample.
    """
    s = (np.arange(dst_len, dtype=np.float64) + 0.5) * src_len / dst_len - 0.5
    i0 = np.floor(s).astype(np.int64)
    f = s - i0
    low = i0 < 0
    i0[low], f[low] = 0, 0.0
    high = i0 >= src_len - 1
    i0[high], f[high] = src_len - 1, 0.0
    i1 = np.minimum(i0 + 1, src_len - 1)
    return i0, i1, f


def letterbox(src_w: int, src_h: int, out_w: int, out_h: int) -> Rect:
    """Where a src_w x src_h image lands, aspect kept, centred in out_w x out_h (used only when the kernels'
    own `letterbox_rect` is not importable)."""
    s = min(out_w / src_w, out_h / src_h)
    w, h = max(1, round(src_w * s)), max(1, round(src_h * s))
    return Rect((out_w - w) // 2, (out_h - h) // 2, w, h)
