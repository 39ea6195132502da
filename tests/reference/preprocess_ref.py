"""An independent float64 reference of the fused preprocessing kernel, written from the contract alone.

The contract is cpp/include/glassbridge/preprocess.h (ARCHITECTURE decision 2). This file shares no code and no
fixed-point constants with the kernel: it converts every source pixel to float64 RGB (BT.601 from its formula,
clamped to [0, 255]), samples the crop with OpenCV's INTER_LINEAR coordinates (half-pixel centres, clamped at the
crop's edges), interpolates the four converted taps in float64 and normalises y = v * mul + add without rounding.
`quantize` then gives what an exact kernel would store. Slow but plain numpy; fine for test-sized images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# PixelFormat / YuvRange / channel values, as in glassbridge.camera.frame (kept literal: this is a spec reading).
NV12, I420, YUYV, RGB888, BGR888, RGBA8888, RGB565, GRAY8 = range(8)
LIMITED, FULL = 0, 1

KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


@dataclass(frozen=True)
class Geometry:
    crop: tuple[int, int, int, int]  # x, y, w, h in source pixels
    out_w: int
    out_h: int
    dst: tuple[int, int, int, int]  # x, y, w, h in output pixels


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, yuv_range: int) -> np.ndarray:
    """BT.601 YUV (float arrays) -> RGB float64, clamped to [0, 255]; last axis = R, G, B."""
    if yuv_range == LIMITED:
        yy = (y - 16.0) * 255.0 / 219.0
        cu = (u - 128.0) * 255.0 / 224.0
        cv = (v - 128.0) * 255.0 / 224.0
    else:
        yy, cu, cv = y, u - 128.0, v - 128.0
    r = yy + 2.0 * (1.0 - KR) * cv
    g = yy - 2.0 * (1.0 - KB) * KB / KG * cu - 2.0 * (1.0 - KR) * KR / KG * cv
    b = yy + 2.0 * (1.0 - KB) * cu
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 255.0)


def yuv_luma(y: np.ndarray, yuv_range: int) -> np.ndarray:
    """Gray output from YUV: Y expanded to full range when limited, clamped."""
    if yuv_range == LIMITED:
        return np.clip((y - 16.0) * 255.0 / 219.0, 0.0, 255.0)
    return y.astype(np.float64)


def source_pixels(fmt: int, planes: list[np.ndarray], width: int, height: int, yuv_range: int, gray: bool) -> np.ndarray:
    """Every source pixel converted to float64: (H, W, 3) RGB, or (H, W, 1) luma when gray."""
    ys, xs = np.mgrid[0:height, 0:width]
    if fmt in (NV12, I420, YUYV):
        if fmt == YUYV:
            packed = planes[0][:height, : 2 * width].astype(np.float64)
            y = packed[:, 0::2]
            u = np.repeat(packed[:, 1::4], 2, axis=1)[:, :width]
            v = np.repeat(packed[:, 3::4], 2, axis=1)[:, :width]
        else:
            y = planes[0][:height, :width].astype(np.float64)
            if fmt == NV12:
                uv = planes[1].astype(np.float64)
                u = uv[ys // 2, 2 * (xs // 2)]
                v = uv[ys // 2, 2 * (xs // 2) + 1]
            else:
                u = planes[1].astype(np.float64)[ys // 2, xs // 2]
                v = planes[2].astype(np.float64)[ys // 2, xs // 2]
        if gray:
            return yuv_luma(y, yuv_range)[..., None]
        return yuv_to_rgb(y, u, v, yuv_range)
    p = planes[0].astype(np.float64)
    if fmt == GRAY8:
        g = p[:height, :width]
        return g[..., None] if gray else np.repeat(g[..., None], 3, axis=-1)
    if fmt in (RGB888, BGR888, RGBA8888):
        bpp = 4 if fmt == RGBA8888 else 3
        px = p[:height, : bpp * width].reshape(height, width, bpp)[..., :3]
        rgb = px[..., ::-1] if fmt == BGR888 else px
    elif fmt == RGB565:
        word = planes[0][:height, : 2 * width].astype(np.uint16)
        v16 = word[:, 0::2] | (word[:, 1::2] << 8)
        r5, g6, b5 = (v16 >> 11) & 31, (v16 >> 5) & 63, v16 & 31
        rgb = np.stack([r5 * 255.0 / 31.0, g6 * 255.0 / 63.0, b5 * 255.0 / 31.0], axis=-1)
    else:
        raise ValueError(f"unknown format {fmt}")
    if gray:
        return (rgb[..., 0] * KR + rgb[..., 1] * KG + rgb[..., 2] * KB)[..., None]
    return rgb


def axis_taps(start: int, length: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV INTER_LINEAR sampling of [start, start + length) by n outputs: (i0, i1, fraction of i1)."""
    s = (np.arange(n, dtype=np.float64) + 0.5) * (length / n) - 0.5
    s = np.clip(s, 0.0, length - 1.0)
    i0 = np.floor(s).astype(np.int64)
    f = s - i0
    i1 = np.minimum(i0 + 1, length - 1)
    return i0 + start, i1 + start, f


def reference_values(
    fmt: int,
    planes: list[np.ndarray],
    width: int,
    height: int,
    yuv_range: int,
    geo: Geometry,
    channels: str,
    mul: tuple[float, float, float],
    add: tuple[float, float, float],
    pad: tuple[float, float, float],
) -> np.ndarray:
    """The unrounded normalised output y, float64, shape (out_h, out_w, C), channels in output order."""
    gray = channels == "gray"
    pix = source_pixels(fmt, planes, width, height, yuv_range, gray)
    if channels == "bgr":
        pix = pix[..., ::-1]
    cx, cy, cw, ch = geo.crop
    dx, dy, dw, dh = geo.dst
    x0, x1, fx = axis_taps(cx, cw, dw)
    y0, y1, fy = axis_taps(cy, ch, dh)
    fx = fx[None, :, None]
    fy = fy[:, None, None]
    top = pix[y0][:, x0] * (1.0 - fx) + pix[y0][:, x1] * fx
    bot = pix[y1][:, x0] * (1.0 - fx) + pix[y1][:, x1] * fx
    v = top * (1.0 - fy) + bot * fy
    nch = 1 if gray else 3
    m = np.asarray(mul[:nch], dtype=np.float64)
    a = np.asarray(add[:nch], dtype=np.float64)
    out = np.empty((geo.out_h, geo.out_w, nch), dtype=np.float64)
    out[...] = np.asarray(pad[:nch], dtype=np.float64) * m + a
    out[dy : dy + dh, dx : dx + dw] = v * m + a
    return out


def quantize(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """What an exact kernel stores: round half to even, saturate (float32: y itself)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return y.astype(np.float32)
    info = np.iinfo(dtype)
    return np.clip(np.rint(y), info.min, info.max).astype(dtype)
