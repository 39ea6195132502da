"""Benchmark frames: a realistic synthetic image, encoded the way a camera would deliver it.

Timing a kernel on a flat or random image flatters or punishes the wrong things: flat images make every
interpolation trivial, pure noise has no structure and hides edge artefacts. The image here has what a camera
sees in a room: smooth gradients (walls, skin), hard-edged blobs (furniture, text on signs: where resize-before-
convert shortcuts show their chroma errors) and sensor noise. It is encoded to NV12 with BT.601 limited range
("legal range": Y in 16..235, chroma in 16..240), as camera ISPs send it.

Only numpy is used here so frames can be made without OpenCV (the encoder is written from the BT.601 formulas,
not taken from any contender).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange

# BT.601 luma weights; chroma scale factors 0.5/(1-0.114) and 0.5/(1-0.299).
_KR, _KG, _KB = 0.299, 0.587, 0.114


def natural_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An HxWx3 uint8 RGB image: gradients + 60 hard-edged blobs + Gaussian noise (sigma 6), deterministic."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    s = np.float32(1920.0 / width)  # same look at every size: features scale with the frame
    img = np.empty((height, width, 3), np.float32)
    img[..., 0] = 128 + 100 * np.sin(xx * s / 97.0 + yy * s / 53.0)
    img[..., 1] = 128 + 90 * np.cos(xx * s / 41.0 - yy * s / 77.0)
    img[..., 2] = 128 + 80 * np.sin((xx + yy) * s / 150.0)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1 = x0 + int(rng.integers(max(width // 40, 1), max(width // 5, 2)))
        y1 = y0 + int(rng.integers(max(height // 40, 1), max(height // 5, 2)))
        img[y0:y1, x0:x1] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def rgb_to_nv12(rgb: np.ndarray) -> np.ndarray:
    """Encode RGB to one NV12 buffer of shape (H + ceil(H/2), W rounded up to even), BT.601 limited range.

    Chroma is the BT.601 Cb/Cr of the 2x2 block's mean RGB (what a camera's 4:2:0 subsampling approximates).
    Odd sizes replicate the last row/column for the chroma block.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb_to_nv12 needs an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float64)
    luma = _KR * f[..., 0] + _KG * f[..., 1] + _KB * f[..., 2]
    y = np.clip(np.rint(16 + luma * 219 / 255), 16, 235).astype(np.uint8)
    ph, pw = h + h % 2, w + w % 2
    padded = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    mean = padded.reshape(ph // 2, 2, pw // 2, 2, 3).mean(axis=(1, 3))
    lm = _KR * mean[..., 0] + _KG * mean[..., 1] + _KB * mean[..., 2]
    cb = 128 + (mean[..., 2] - lm) / (2 * (1 - _KB)) * 224 / 255
    cr = 128 + (mean[..., 0] - lm) / (2 * (1 - _KR)) * 224 / 255
    nv12 = np.zeros((h + ph // 2, pw), np.uint8)
    nv12[:h, :w] = y
    uv = nv12[h:].reshape(ph // 2, pw // 2, 2)
    uv[..., 0] = np.clip(np.rint(cb), 16, 240)
    uv[..., 1] = np.clip(np.rint(cr), 16, 240)
    return nv12


def nv12_frame_from_buffer(buf: np.ndarray, width: int, height: int) -> Frame:
    """Wrap an NV12 buffer made by `rgb_to_nv12` (or a copy of it) as a `Frame`, without copying."""
    ch = (height + 1) // 2
    cw2 = 2 * ((width + 1) // 2)
    return Frame(PixelFormat.NV12, width, height, (buf[:height, :width], buf[height : height + ch, :cw2]),
                 timestamp_ns=0, range=YuvRange.LIMITED)


def rgb888_frame_from_buffer(buf: np.ndarray) -> Frame:
    """Wrap an HxWx3 uint8 RGB array (a decoded JPEG) as an RGB888 `Frame`, without copying."""
    h, w = buf.shape[:2]
    return Frame(PixelFormat.RGB888, w, h, (buf.reshape(h, w * 3),), timestamp_ns=0, range=YuvRange.FULL)


def frame_buffer(fmt: PixelFormat, width: int, height: int, seed: int = 0) -> np.ndarray:
    """The raw buffer of one synthetic frame in `fmt` (NV12 or RGB888): what a pool of frames copies."""
    rgb = natural_rgb(height, width, seed)
    if fmt is PixelFormat.NV12:
        return rgb_to_nv12(rgb)
    if fmt is PixelFormat.RGB888:
        return rgb
    raise ValueError(f"benchmark frames are NV12 or RGB888, not {fmt.name}")


@dataclass(frozen=True)
class BenchFrame:
    """One input of the benchmark: the `Frame` our kernel reads, and the same memory as the one contiguous buffer
    OpenCV's cvtColor wants (a V4L2 NV12 buffer is exactly that)."""

    frame: Frame
    buf: np.ndarray


def wrap(fmt: PixelFormat, buf: np.ndarray, width: int, height: int) -> BenchFrame:
    """A `BenchFrame` over `buf` (made by `frame_buffer` or a copy of it)."""
    if fmt is PixelFormat.NV12:
        return BenchFrame(nv12_frame_from_buffer(buf, width, height), buf)
    return BenchFrame(rgb888_frame_from_buffer(buf), buf)
