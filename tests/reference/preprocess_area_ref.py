"""An independent float64 reference of the fused kernel's AREA mode, written from the contract alone.

The contract is the "Area mode" part of cpp/include/glassbridge/preprocess.h. This file shares no code and no
fixed-point constants with the kernel: per axis it builds a dense weight matrix in float64 (a reduced axis, crop
length L >= n outputs: the exact overlap of each source pixel with [d L / n, (d + 1) L / n); an enlarged axis: the
bilinear taps of the bilinear contract), normalises each row to sum 1, averages every source channel in the
source's colour space (Y, U, V with chroma replicated over its luma block; R, G, B; RGB565's raw components; gray),
then converts once (BT.601 clamped to [0, 255], gray weights, RGB565 widening) and normalises y = v * mul + add
without rounding. Use `preprocess_ref.quantize` for what an exact kernel stores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NV12, I420, YUYV, RGB888, BGR888, RGBA8888, RGB565, GRAY8 = range(8)
LIMITED, FULL = 0, 1
KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, yuv_range: int) -> np.ndarray:
    """BT.601 (limited: Y 16..235, C 16..240 scaled to full; full: JPEG) -> RGB float64 clamped to [0, 255]."""
    if yuv_range == LIMITED:
        yy, cu, cv = (y - 16.0) * 255.0 / 219.0, (u - 128.0) * 255.0 / 224.0, (v - 128.0) * 255.0 / 224.0
    else:
        yy, cu, cv = y, u - 128.0, v - 128.0
    r = yy + 2.0 * (1.0 - KR) * cv
    g = yy - 2.0 * (1.0 - KB) * KB / KG * cu - 2.0 * (1.0 - KR) * KR / KG * cv
    b = yy + 2.0 * (1.0 - KB) * cu
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 255.0)


def bilinear_taps(length: int, n: int) -> list[tuple[int, int, float]]:
    """The bilinear contract's taps on an enlarged axis: (i0, i1, fraction of i1) in crop coordinates."""
    taps = []
    for d in range(n):
        s = min(max((d + 0.5) * length / n - 0.5, 0.0), length - 1.0)
        i0 = int(np.floor(s))
        taps.append((i0, min(i0 + 1, length - 1), s - i0))
    return taps


def axis_matrix(image_len: int, start: int, length: int, n: int) -> np.ndarray:
    """(n, image_len) float64 weights of each output over the source pixels, rows summing to 1."""
    m = np.zeros((n, image_len), dtype=np.float64)
    if length >= n:
        scale = length / n
        for d in range(n):
            f0, f1 = d * scale, (d + 1) * scale
            for j in range(int(np.floor(f0)), min(length, int(np.ceil(f1)))):
                cov = min(j + 1.0, f1) - max(float(j), f0)
                if cov > 0:
                    m[d, start + j] = cov
    else:
        for d, (i0, i1, f) in enumerate(bilinear_taps(length, n)):
            m[d, start + i0] += 1.0 - f
            m[d, start + i1] += f
    return m / m.sum(axis=1, keepdims=True)


def source_channels(fmt: int, planes: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """(H, W, C) float64 source channels in the source's own colour space (C = 3, or 1 for GRAY8)."""
    ys, xs = np.mgrid[0:height, 0:width]
    if fmt in (NV12, I420):
        y = planes[0][:height, :width].astype(np.float64)
        if fmt == NV12:
            uv = planes[1].astype(np.float64)
            u, v = uv[ys // 2, 2 * (xs // 2)], uv[ys // 2, 2 * (xs // 2) + 1]
        else:
            u = planes[1].astype(np.float64)[ys // 2, xs // 2]
            v = planes[2].astype(np.float64)[ys // 2, xs // 2]
        return np.stack([y, u, v], axis=-1)
    if fmt == YUYV:
        packed = planes[0][:height, : 2 * width].astype(np.float64)
        y = packed[:, 0::2]
        u = np.repeat(packed[:, 1::4], 2, axis=1)[:, :width]
        v = np.repeat(packed[:, 3::4], 2, axis=1)[:, :width]
        return np.stack([y, u, v], axis=-1)
    if fmt == GRAY8:
        return planes[0][:height, :width].astype(np.float64)[..., None]
    if fmt in (RGB888, BGR888, RGBA8888):
        bpp = 4 if fmt == RGBA8888 else 3
        px = planes[0][:height, : bpp * width].astype(np.float64).reshape(height, width, bpp)[..., :3]
        return px[..., ::-1] if fmt == BGR888 else px
    if fmt == RGB565:
        word = planes[0][:height, : 2 * width].astype(np.uint16)
        v16 = word[:, 0::2] | (word[:, 1::2] << 8)
        return np.stack([(v16 >> 11) & 31, (v16 >> 5) & 63, v16 & 31], axis=-1).astype(np.float64)
    raise ValueError(f"unknown format {fmt}")


def convert(fmt: int, avg: np.ndarray, yuv_range: int, gray: bool) -> np.ndarray:
    """Averaged source channels -> (..., 3) RGB or (..., 1) gray on the 0..255 scale."""
    if fmt in (NV12, I420, YUYV):
        if gray:
            y = avg[..., 0]
            luma = np.clip((y - 16.0) * 255.0 / 219.0, 0.0, 255.0) if yuv_range == LIMITED else y
            return luma[..., None]
        return yuv_to_rgb(avg[..., 0], avg[..., 1], avg[..., 2], yuv_range)
    if fmt == GRAY8:
        return avg if gray else np.repeat(avg, 3, axis=-1)
    rgb = avg
    if fmt == RGB565:
        rgb = avg * np.array([255.0 / 31.0, 255.0 / 63.0, 255.0 / 31.0])
    if gray:
        return (rgb[..., 0] * KR + rgb[..., 1] * KG + rgb[..., 2] * KB)[..., None]
    return rgb


def reference_values(
    fmt: int,
    planes: list[np.ndarray],
    width: int,
    height: int,
    yuv_range: int,
    geo: Any,  # preprocess_ref.Geometry: crop, out_w, out_h, dst
    channels: str,
    mul: tuple[float, float, float],
    add: tuple[float, float, float],
    pad: tuple[float, float, float],
) -> np.ndarray:
    """The unrounded normalised output y of the area mode, float64, shape (out_h, out_w, C), output order."""
    gray = channels == "gray"
    cx, cy, cw, ch = geo.crop
    dx, dy, dw, dh = geo.dst
    wx = axis_matrix(width, cx, cw, dw)
    wy = axis_matrix(height, cy, ch, dh)
    src = source_channels(fmt, planes, width, height)
    avg = np.einsum("ay,yxc,bx->abc", wy, src, wx, optimize=True)
    v = convert(fmt, avg, yuv_range, gray)
    if channels == "bgr":
        v = v[..., ::-1]
    nch = 1 if gray else 3
    m = np.asarray(mul[:nch], dtype=np.float64)
    a = np.asarray(add[:nch], dtype=np.float64)
    out = np.empty((geo.out_h, geo.out_w, nch), dtype=np.float64)
    out[...] = np.asarray(pad[:nch], dtype=np.float64) * m + a
    out[dy : dy + dh, dx : dx + dw] = v * m + a
    return out
