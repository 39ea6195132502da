"""Camera frames: pixel data in the camera's own format, with the geometry a kernel needs to read it.

A `Frame` never converts anything itself. It holds the planes exactly as a camera (V4L2 NV12/YUYV), a decoder or
a file gave them, so the native preprocessing kernel can read only the pixels a model needs, once.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

import numpy as np


class PixelFormat(enum.Enum):
    """Source pixel formats. Values match `glassbridge.vision._kernels` (cpp/include/glassbridge/preprocess.h)."""

    NV12 = 0  # Y plane, then interleaved UV at half resolution (V4L2 NV12, Android camera)
    I420 = 1  # Y, U, V planes, chroma at half resolution (YU12)
    YUYV = 2  # packed 4:2:2, Y0 U Y1 V (V4L2 YUYV, UVC webcams)
    RGB888 = 3
    BGR888 = 4
    RGBA8888 = 5
    RGB565 = 6  # little-endian 16-bit, R in the high 5 bits (V4L2 RGB565, small displays)
    GRAY8 = 7

    @property
    def is_yuv(self) -> bool:
        return self in (PixelFormat.NV12, PixelFormat.I420, PixelFormat.YUYV)


class YuvRange(enum.Enum):
    """BT.601 quantisation range of YUV data: cameras send limited (16-235), JPEG's YCbCr is full (0-255)."""

    LIMITED = 0
    FULL = 1


# Bytes per pixel of each packed format's single plane.
PACKED_BYTES_PER_PIXEL = {
    PixelFormat.YUYV: 2,
    PixelFormat.RGB888: 3,
    PixelFormat.BGR888: 3,
    PixelFormat.RGBA8888: 4,
    PixelFormat.RGB565: 2,
    PixelFormat.GRAY8: 1,
}


def plane_shapes(fmt: PixelFormat, width: int, height: int) -> list[tuple[int, int]]:
    """(rows, bytes per row) of each plane of a tightly packed image of this format and size."""
    cw, ch = (width + 1) // 2, (height + 1) // 2
    if fmt is PixelFormat.NV12:
        return [(height, width), (ch, 2 * cw)]
    if fmt is PixelFormat.I420:
        return [(height, width), (ch, cw), (ch, cw)]
    return [(height, width * PACKED_BYTES_PER_PIXEL[fmt])]


@dataclass(frozen=True)
class Frame:
    """One image from a frame source.

    planes: 2-D uint8 arrays, one per plane (NV12: Y, UV; I420: Y, U, V; packed formats: one). Each array's
    row stride (``planes[i].strides[0]``) may exceed the row's bytes, as V4L2 buffers padded to 64 bytes do.
    timestamp_ns: capture time on the monotonic clock (time.monotonic_ns), or the file's presentation time.
    """

    format: PixelFormat
    width: int
    height: int
    planes: tuple[np.ndarray, ...]
    timestamp_ns: int = field(default_factory=time.monotonic_ns)
    range: YuvRange = YuvRange.LIMITED
    sequence: int = 0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"frame size must be positive, got {self.width}x{self.height}")
        if self.format is PixelFormat.YUYV and self.width % 2:
            raise ValueError(f"YUYV frames need an even width, got {self.width}")
        expected = plane_shapes(self.format, self.width, self.height)
        if len(self.planes) != len(expected):
            raise ValueError(f"{self.format.name} frames have {len(expected)} planes, got {len(self.planes)}")
        for i, (plane, (rows, row_bytes)) in enumerate(zip(self.planes, expected)):
            if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 2:
                raise ValueError(f"{self.format.name} plane {i} must be a 2-D uint8 array")
            if plane.shape[0] < rows or plane.shape[1] < row_bytes:
                raise ValueError(
                    f"{self.format.name} {self.width}x{self.height} plane {i} needs {rows} rows of {row_bytes} "
                    f"bytes, got an array of shape {plane.shape}"
                )
            if plane.strides[1] != 1:
                raise ValueError(f"{self.format.name} plane {i}: pixels within a row must be contiguous")

    @property
    def strides(self) -> tuple[int, ...]:
        """Bytes per row of each plane."""
        return tuple(int(p.strides[0]) for p in self.planes)

    @property
    def nbytes(self) -> int:
        return sum(rows * row_bytes for rows, row_bytes in plane_shapes(self.format, self.width, self.height))

    @classmethod
    def from_buffer(
        cls,
        fmt: PixelFormat,
        width: int,
        height: int,
        data: bytes | bytearray | memoryview | np.ndarray,
        *,
        stride: int | None = None,
        timestamp_ns: int | None = None,
        range: YuvRange = YuvRange.LIMITED,
        sequence: int = 0,
    ) -> Frame:
        """Wrap one contiguous buffer (a V4L2 buffer, a raw file) without copying.

        stride is the luma (or packed) row stride in bytes; chroma planes of NV12/I420 follow with the stride
        V4L2 uses (NV12: the same stride; I420: half of it). A short buffer is an error naming both sizes.
        """
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
        shapes = plane_shapes(fmt, width, height)
        stride0 = stride if stride is not None else shapes[0][1]
        if stride0 < shapes[0][1]:
            raise ValueError(f"stride {stride0} is smaller than a {fmt.name} row of width {width} ({shapes[0][1]} bytes)")
        plane_strides = [stride0]
        if fmt is PixelFormat.NV12:
            plane_strides.append(stride0)
        elif fmt is PixelFormat.I420:
            plane_strides += [stride0 // 2 if stride is not None else shapes[1][1]] * 2
        need = sum(rows * s for (rows, _), s in zip(shapes, plane_strides))
        if buf.size < need:
            raise ValueError(
                f"truncated {fmt.name} {width}x{height} frame: {buf.size} bytes, need {need} (stride {stride0})"
            )
        planes, offset = [], 0
        for (rows, row_bytes), s in zip(shapes, plane_strides):
            planes.append(buf[offset : offset + rows * s].reshape(rows, s)[:, :row_bytes])
            offset += rows * s
        return cls(
            fmt, width, height, tuple(planes),
            timestamp_ns=time.monotonic_ns() if timestamp_ns is None else timestamp_ns,
            range=range, sequence=sequence,
        )
