"""Exact BT.601 colour conversion in numpy, for the rig and for previews (never the perception hot path).

The native kernel converts camera frames on the fly while it resizes them for a model; this module exists for
the places where a whole image must change format: a test image loaded as a camera would deliver it
(`read_image(..., format=PixelFormat.NV12)`), the test pattern, and the PNG preview of `glassbridge camera grab`.

Every value is computed in float64 from the definition and rounded once (half up), so the result is the exact
BT.601 answer for each 8-bit code; OpenCV's fixed-point cvtColor is the independent reference in the tests and
agrees within one level.

BT.601 (ITU-R BT.601-7, Kr = 0.299, Kb = 0.114), full range ("JFIF", what JPEG stores):
    Y  = Kr R + Kg G + Kb B                      (Kg = 1 - Kr - Kb = 0.587)
    Cb = 128 + (B - Y) / (2 (1 - Kb))            = 128 - 0.168736 R - 0.331264 G + 0.5 B
    Cr = 128 + (R - Y) / (2 (1 - Kr))            = 128 + 0.5 R - 0.418688 G - 0.081312 B
Limited range ("studio swing", what cameras send): luma scaled into 16..235 and chroma into 16..240:
    Y' = 16 + 219/255 Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255
    C' = 128 + 224/255 (C - 128)
Decoding inverts the same equations and clamps to 0..255.

Chroma subsampling: the encoder stores the mean of each 2x2 block (NV12, I420; 2x1 for YUYV), the chroma that a
sample sited at the block centre sees; edge blocks of odd-sized images average the pixels they have. The decoder
applies each chroma sample to its whole block, as the kernels do (ARCHITECTURE decision 2) and as OpenCV does.

RGB565: little-endian 16-bit words, R in the high 5 bits. Encoding truncates (keeps the high bits, as OpenCV and
display controllers do); decoding maps each 5- or 6-bit code to the nearest 8-bit level, round(code * 255 / max).
GRAY8 from RGB is full-range luma Y; GRAY8 to RGB repeats it.
"""

from __future__ import annotations

import time

import numpy as np

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange, plane_shapes

KR = 0.299
KB = 0.114
KG = 1.0 - KR - KB

# Limited range: luma spans 219 codes above 16, chroma 224 codes around 128 (BT.601 section 2.5.3).
_Y_SCALE = 219.0 / 255.0
_C_SCALE = 224.0 / 255.0

__all__ = [
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "frame_from_rgb",
    "frame_to_rgb",
    "rgb_view",
]


def _round_u8(x: np.ndarray) -> np.ndarray:
    """Round half up and clamp to 0..255: the single rounding step of every conversion here."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def rgb_to_ycbcr(rgb: np.ndarray, yuv_range: YuvRange = YuvRange.LIMITED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unrounded float64 Y, Cb, Cr of an (..., 3) RGB array (0..255), per pixel, no subsampling."""
    x = np.asarray(rgb, dtype=np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = KR * r + KG * g + KB * b
    cb = (b - y) / (2.0 * (1.0 - KB))
    cr = (r - y) / (2.0 * (1.0 - KR))
    if yuv_range is YuvRange.LIMITED:
        return 16.0 + _Y_SCALE * y, 128.0 + _C_SCALE * cb, 128.0 + _C_SCALE * cr
    return y, 128.0 + cb, 128.0 + cr


def ycbcr_to_rgb(
    y: np.ndarray, cb: np.ndarray, cr: np.ndarray, yuv_range: YuvRange = YuvRange.LIMITED
) -> np.ndarray:
    """Unrounded, unclamped float64 (..., 3) RGB from Y, Cb, Cr of the same shape (the inverse of rgb_to_ycbcr)."""
    yf = np.asarray(y, dtype=np.float64)
    u = np.asarray(cb, dtype=np.float64) - 128.0
    v = np.asarray(cr, dtype=np.float64) - 128.0
    if yuv_range is YuvRange.LIMITED:
        yf, u, v = (yf - 16.0) / _Y_SCALE, u / _C_SCALE, v / _C_SCALE
    r = yf + 2.0 * (1.0 - KR) * v
    b = yf + 2.0 * (1.0 - KB) * u
    g = (yf - KR * r - KB * b) / KG
    return np.stack([r, g, b], axis=-1)


def _block_mean(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of each rows x cols block; edges of odd-sized images are padded by repetition, which averages exactly
    the pixels an edge block has (each counted the same number of times)."""
    h, w = x.shape
    ph, pw = -h % rows, -w % cols
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw)), mode="edge")
    # Summing strided slices is several times faster than a reshape-mean over the inner axes.
    total = sum(x[i::rows, j::cols] for i in range(rows) for j in range(cols))
    return np.asarray(total) / float(rows * cols)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an (height, width, 3) uint8 RGB array, got shape {arr.shape} of {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image is empty: {arr.shape[1]}x{arr.shape[0]}")
    return arr


def frame_from_rgb(
    rgb: np.ndarray,
    fmt: PixelFormat,
    *,
    yuv_range: YuvRange = YuvRange.LIMITED,
    timestamp_ns: int | None = None,
    sequence: int = 0,
) -> Frame:
    """Encode an (H, W, 3) uint8 RGB image into a tightly packed Frame of `fmt` (see the module docstring).

    yuv_range applies to the YUV formats (limited is what a camera sends); YUYV needs an even width.
    """
    rgb = _check_rgb(rgb)
    h, w = rgb.shape[:2]
    ts = time.monotonic_ns() if timestamp_ns is None else timestamp_ns
    planes: list[np.ndarray]
    if fmt is PixelFormat.RGB888:
        planes = [np.ascontiguousarray(rgb).reshape(h, w * 3)]
    elif fmt is PixelFormat.BGR888:
        planes = [np.ascontiguousarray(rgb[..., ::-1]).reshape(h, w * 3)]
    elif fmt is PixelFormat.RGBA8888:
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[..., :3] = rgb
        rgba[..., 3] = 255
        planes = [rgba.reshape(h, w * 4)]
    elif fmt is PixelFormat.GRAY8:
        planes = [_round_u8(rgb_to_ycbcr(rgb, YuvRange.FULL)[0])]
    elif fmt is PixelFormat.RGB565:
        r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
        word = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
        planes = [word.astype("<u2").view(np.uint8).reshape(h, w * 2)]
    else:
        if fmt is PixelFormat.YUYV and w % 2:
            raise ValueError(f"YUYV needs an even width, got {w}")
        y, cb, cr = rgb_to_ycbcr(rgb, yuv_range)
        # Subsampling averages the unrounded chroma (linear in RGB), then rounds once.
        block = (1, 2) if fmt is PixelFormat.YUYV else (2, 2)
        u, v = _round_u8(_block_mean(cb, *block)), _round_u8(_block_mean(cr, *block))
        yq = _round_u8(y)
        if fmt is PixelFormat.NV12:
            uv = np.empty((u.shape[0], u.shape[1] * 2), np.uint8)
            uv[:, 0::2], uv[:, 1::2] = u, v
            planes = [yq, uv]
        elif fmt is PixelFormat.I420:
            planes = [yq, u, v]
        else:  # YUYV: Y0 U Y1 V
            packed = np.empty((h, w * 2), np.uint8)
            packed[:, 0::2] = yq
            packed[:, 1::4], packed[:, 3::4] = u, v
            planes = [packed]
    return Frame(fmt, w, h, tuple(planes), timestamp_ns=ts, range=yuv_range, sequence=sequence)


def _visible(frame: Frame) -> list[np.ndarray]:
    """Each plane cut to the bytes that hold pixels (row padding dropped)."""
    shapes = plane_shapes(frame.format, frame.width, frame.height)
    return [p[:rows, :row_bytes] for p, (rows, row_bytes) in zip(frame.planes, shapes)]


def rgb_view(frame: Frame) -> np.ndarray:
    """An (H, W, 3) view of an RGB888 frame's pixels, without copying (strided when rows are padded)."""
    if frame.format is not PixelFormat.RGB888:
        raise ValueError(f"rgb_view needs an RGB888 frame, got {frame.format.name}; use frame_to_rgb")
    plane = _visible(frame)[0]
    return np.lib.stride_tricks.as_strided(
        plane, shape=(frame.height, frame.width, 3), strides=(plane.strides[0], 3, 1), writeable=False
    )


# 5- and 6-bit codes to the nearest 8-bit level.
_EXPAND5 = _round_u8(np.arange(32) * 255.0 / 31.0)
_EXPAND6 = _round_u8(np.arange(64) * 255.0 / 63.0)


def frame_to_rgb(frame: Frame) -> np.ndarray:
    """Decode any Frame to a new (H, W, 3) uint8 RGB array (see the module docstring for the exact rules)."""
    fmt, w, h = frame.format, frame.width, frame.height
    planes = _visible(frame)
    if fmt is PixelFormat.RGB888:
        return rgb_view(frame).copy()
    if fmt is PixelFormat.BGR888:
        return planes[0].reshape(h, w, 3)[..., ::-1].copy()
    if fmt is PixelFormat.RGBA8888:
        return planes[0].reshape(h, w, 4)[..., :3].copy()
    if fmt is PixelFormat.GRAY8:
        return np.repeat(planes[0][..., None], 3, axis=2)
    if fmt is PixelFormat.RGB565:
        word = np.ascontiguousarray(planes[0]).view("<u2").reshape(h, w)
        return np.stack([_EXPAND5[word >> 11], _EXPAND6[(word >> 5) & 63], _EXPAND5[word & 31]], axis=-1)
    if fmt is PixelFormat.YUYV:
        y = planes[0][:, 0::2]
        u = np.repeat(planes[0][:, 1::4], 2, axis=1)
        v = np.repeat(planes[0][:, 3::4], 2, axis=1)
    else:
        y = planes[0]
        if fmt is PixelFormat.NV12:
            u, v = planes[1][:, 0::2], planes[1][:, 1::2]
        else:
            u, v = planes[1], planes[2]
        # Each chroma sample covers its 2x2 block; odd sizes drop the repeated half of the edge blocks.
        u = np.repeat(np.repeat(u, 2, axis=0), 2, axis=1)[:h, :w]
        v = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1)[:h, :w]
    return _round_u8(ycbcr_to_rgb(y, u, v, frame.range))
