"""The libyuv contender, through ctypes on the system's libyuv (Debian/Ubuntu package libyuv0).

libyuv is the reference for fast colour conversion and scaling in C (Chromium, WebRTC). Its natural pipeline for
our job is convert-then-scale: NV12ToARGB of the crop, ARGBScale with bilinear filtering, then the cheapest exact
numpy normalisation into the model's tensor (libyuv has no quantisation; normalise.py): none for an identity
uint8 output (RGBScale writes straight into the tensor), np.take of a 256-entry table for integer outputs, a
float32 multiply-add for float outputs. RGB888 sources scale with RGBScale; gray models scale the luma plane
with ScalePlane, then one table expands the range and normalises.

When the library is absent the contender is skipped with a note, never faked.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from glassbridge.bench.geometry import Job
from glassbridge.bench.normalise import Normaliser, expand_range_lut
from glassbridge.bench.synthetic import BenchFrame
from glassbridge.camera.frame import PixelFormat

LIBYUV_PATH = Path("/usr/lib/x86_64-linux-gnu/libyuv.so.0")
_CANDIDATES = (LIBYUV_PATH, Path("/usr/lib/aarch64-linux-gnu/libyuv.so.0"))
K_FILTER_BILINEAR = 2  # libyuv FilterMode kFilterBilinear

_lib: ctypes.CDLL | None = None


def find_libyuv() -> Path | None:
    for p in _CANDIDATES:
        if p.exists():
            return p
    return None


def load() -> ctypes.CDLL:
    """The library with the prototypes we call (from libyuv's public headers: convert_argb.h, scale*.h)."""
    global _lib
    if _lib is not None:
        return _lib
    path = find_libyuv()
    if path is None:
        raise FileNotFoundError("libyuv is not installed (apt-get install libyuv0)")
    lib = ctypes.CDLL(str(path))
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.NV12ToARGB.argtypes = [p, i, p, i, p, i, i, i]
    lib.NV12ToARGB.restype = i
    lib.ARGBScale.argtypes = [p, i, i, i, p, i, i, i, i]
    lib.ARGBScale.restype = i
    lib.RGBScale.argtypes = [p, i, i, i, p, i, i, i, i]
    lib.RGBScale.restype = i
    lib.ScalePlane.argtypes = [p, i, i, i, p, i, i, i, i]
    lib.ScalePlane.restype = None
    _lib = lib
    return lib


def _ptr(a: np.ndarray, offset: int = 0) -> int:
    return int(a.ctypes.data) + offset


class LibyuvConvertScale:
    """Callable `(item, out)`: libyuv convert-then-scale (bilinear) + numpy normalisation."""

    def __init__(self, job: Job) -> None:
        self.lib = load()
        self.job = job
        c, d = job.crop, job.dst
        if job.fmt is PixelFormat.NV12 and (c.x % 2 or c.y % 2):
            raise ValueError(f"libyuv's NV12 conversion of a crop needs an even origin, got {c}")
        self._argb = np.empty((c.height, c.width, 4), np.uint8)
        self._small_argb = np.empty((d.height, d.width, 4), np.uint8)
        self._small_rgb = np.empty((d.height, d.width, 3), np.uint8)
        self._small_gray = np.empty((d.height, d.width), np.uint8)
        self._gray_rgb = np.empty((d.height, d.width), np.float32)
        self._normalise = Normaliser(job, "numpy")
        self._normalise_gray = Normaliser(job, "numpy", pre_lut=expand_range_lut())

    def __call__(self, item: BenchFrame, out: np.ndarray) -> None:
        lib, job, c, d = self.lib, self.job, self.job.crop, self.job.dst
        planes = item.frame.planes
        if job.fmt is PixelFormat.NV12:
            y, uv = planes
            sy, suv = y.strides[0], uv.strides[0]
            y_ptr = _ptr(y, c.y * sy + c.x)
            if job.channels == "gray":
                lib.ScalePlane(y_ptr, sy, c.width, c.height, _ptr(self._small_gray), d.width, d.width, d.height,
                               K_FILTER_BILINEAR)
                self._normalise_gray(self._small_gray, out)
                return
            uv_ptr = _ptr(uv, (c.y // 2) * suv + c.x)
            lib.NV12ToARGB(y_ptr, sy, uv_ptr, suv, _ptr(self._argb), c.width * 4, c.width, c.height)
            lib.ARGBScale(_ptr(self._argb), c.width * 4, c.width, c.height, _ptr(self._small_argb), d.width * 4,
                          d.width, d.height, K_FILTER_BILINEAR)
            # libyuv's ARGB is B, G, R, A in memory.
            pix: np.ndarray = self._small_argb[..., 2::-1] if job.channels == "rgb" else self._small_argb[..., :3]
            self._normalise(pix, out)
            return
        (rgb,) = planes
        s = rgb.strides[0]
        direct = self._normalise.direct(out) if job.channels == "rgb" else None
        if direct is not None and direct.strides[1:] == (3, 1):  # identity: scale straight into the tensor
            lib.RGBScale(_ptr(rgb, c.y * s + c.x * 3), s, c.width, c.height, _ptr(direct), direct.strides[0],
                         d.width, d.height, K_FILTER_BILINEAR)
            self._normalise.pad(out)
            return
        lib.RGBScale(_ptr(rgb, c.y * s + c.x * 3), s, c.width, c.height, _ptr(self._small_rgb), d.width * 3,
                     d.width, d.height, K_FILTER_BILINEAR)
        pix = self._small_rgb
        if job.channels == "bgr":
            pix = pix[..., ::-1]
        elif job.channels == "gray":
            g = self._gray_rgb
            np.multiply(pix[..., 0], np.float32(0.299), out=g)
            g += np.float32(0.587) * pix[..., 1]
            g += np.float32(0.114) * pix[..., 2]
            pix = g[..., None]
        self._normalise(pix, out)
