"""The OpenCV contenders, written as an OpenCV user would, into preallocated buffers.

- `OpenCvConvertResize` (the baseline every ratio is against): cvtColor the frame to RGB, resize with
  INTER_LINEAR (INTER_AREA for an area job: the same pipeline with OpenCV's footprint averaging), then the
  cheapest exact normalisation (normalise.py): none for an identity uint8 output (the resize writes straight into
  the tensor), cv2.LUT with a 256-entry table for integer outputs, a float32 multiply-add for float outputs.
  Exact up to the rounding of the intermediate RGB image (<= 1-2 levels).
- `OpenCvResizePlanes` (OpenCV's fastest path): resize the Y and UV planes first, then convert the small NV12
  image. It touches far fewer pixels, but it interpolates chroma on its own half-resolution grid and mixes
  colours across hard edges before converting, so it is wrong at chroma edges: its accuracy is reported, not
  assumed.

OpenCV is imported lazily: it is a benchmark reference only (the `bench` extra), never a runtime dependency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassbridge.bench.cv import import_cv2
from glassbridge.bench.geometry import Job
from glassbridge.bench.normalise import Normaliser, expand_range_lut
from glassbridge.bench.synthetic import BenchFrame
from glassbridge.camera.frame import PixelFormat


def _check_even(job: Job, what: str) -> None:
    c = job.crop
    if job.fmt is PixelFormat.NV12 and (c.x % 2 or c.y % 2 or c.width % 2 or c.height % 2):
        raise ValueError(f"{what} needs an even NV12 crop (chroma is 2x2), got {c}")


class OpenCvConvertResize:
    """cvtColor (NV12 -> RGB, then RGB -> GRAY for gray models), resize INTER_LINEAR (INTER_AREA for an area
    job), numpy normalisation."""

    def __init__(self, job: Job) -> None:
        self.cv2 = import_cv2()
        self.job = job
        _check_even(job, "OpenCV's NV12 conversion of a crop")
        c, d = job.crop, job.dst
        self._full = (c.x, c.y, c.width, c.height) == (0, 0, job.src_width, job.src_height)
        # A crop of an NV12 frame is not one contiguous NV12 image: cvtColor needs the crop's Y and UV rows
        # copied into one buffer first (135 KB for a 300x300 face crop).
        self._crop_nv12 = np.empty((c.height * 3 // 2, c.width), np.uint8)
        self._rgb = np.empty((c.height, c.width, 3), np.uint8)
        self._gray = np.empty((c.height, c.width), np.uint8)
        self._small = np.empty((d.height, d.width) + ((3,) if job.n_channels == 3 else ()), np.uint8)
        self._normalise = Normaliser(job, "cv2")
        cv2 = self.cv2
        self._to_rgb = cv2.COLOR_YUV2BGR_NV12 if job.channels == "bgr" else cv2.COLOR_YUV2RGB_NV12
        self._interp = cv2.INTER_AREA if job.interpolation == "area" else cv2.INTER_LINEAR

    def __call__(self, item: BenchFrame, out: np.ndarray) -> None:
        cv2, job, c, d = self.cv2, self.job, self.job.crop, self.job.dst
        if job.fmt is PixelFormat.NV12:
            if self._full:
                nv12 = item.buf
            else:
                y, uv = item.frame.planes
                self._crop_nv12[: c.height] = y[c.y : c.y + c.height, c.x : c.x + c.width]
                self._crop_nv12[c.height :] = uv[c.y // 2 : (c.y + c.height) // 2, c.x : c.x + c.width]
                nv12 = self._crop_nv12
            cv2.cvtColor(nv12, self._to_rgb, dst=self._rgb)
            pix: np.ndarray = self._rgb  # RGB (h, w, 3), or gray (h, w) below
            if job.channels == "gray":
                # _to_rgb is RGB here, so RGB2GRAY weights 0.299 R + 0.587 G + 0.114 B as the contract does.
                cv2.cvtColor(self._rgb, cv2.COLOR_RGB2GRAY, dst=self._gray)
                pix = self._gray
        else:
            pix = item.buf[c.y : c.y + c.height, c.x : c.x + c.width]
            if job.channels == "bgr":
                cv2.cvtColor(pix, cv2.COLOR_RGB2BGR, dst=self._rgb)
                pix = self._rgb
            elif job.channels == "gray":
                cv2.cvtColor(pix, cv2.COLOR_RGB2GRAY, dst=self._gray)
                pix = self._gray
        direct = self._normalise.direct(out)
        if direct is not None:  # identity: resize straight into the tensor
            cv2.resize(pix, (d.width, d.height), dst=direct, interpolation=self._interp)
            self._normalise.pad(out)
            return
        cv2.resize(pix, (d.width, d.height), dst=self._small, interpolation=self._interp)
        self._normalise(self._small if self._small.ndim == 3 else self._small[..., None], out)


class OpenCvResizePlanes:
    """OpenCV's fastest NV12 path: resize the Y and UV planes, then cvtColor the small NV12 image.

    Gray output needs no chroma: resize the luma plane, then one cv2.LUT that expands limited range and
    normalises (the two 256-entry tables composed).
    """

    def __init__(self, job: Job) -> None:
        if job.fmt is not PixelFormat.NV12:
            raise ValueError("resize-planes-then-convert applies to NV12 sources only")
        self.cv2 = import_cv2()
        self.job = job
        _check_even(job, "resizing the NV12 planes of a crop")
        d = job.dst
        if d.width % 2 or d.height % 2:
            raise ValueError(f"resizing NV12 planes needs an even output size, got {d.width}x{d.height}")
        self._small_nv12 = np.empty((d.height * 3 // 2, d.width), np.uint8)
        self._small = np.empty((d.height, d.width, 3), np.uint8)
        self._gray = np.empty((d.height, d.width), np.uint8)
        self._normalise = Normaliser(job, "cv2")
        # Limited-range luma to full-range gray, as the contract's gray output: (Y - 16) * 255 / 219, clamped.
        self._normalise_gray = Normaliser(job, "cv2", pre_lut=expand_range_lut())
        cv2 = self.cv2
        self._to_rgb = cv2.COLOR_YUV2BGR_NV12 if job.channels == "bgr" else cv2.COLOR_YUV2RGB_NV12

    def __call__(self, item: BenchFrame, out: np.ndarray) -> None:
        cv2, job, c, d = self.cv2, self.job, self.job.crop, self.job.dst
        y, uv = item.frame.planes
        y_crop = y[c.y : c.y + c.height, c.x : c.x + c.width]
        if job.channels == "gray":
            cv2.resize(y_crop, (d.width, d.height), dst=self._gray, interpolation=cv2.INTER_LINEAR)
            self._normalise_gray(self._gray, out)
            return
        uv_crop = uv[c.y // 2 : (c.y + c.height) // 2, c.x : c.x + c.width].reshape(c.height // 2, c.width // 2, 2)
        cv2.resize(y_crop, (d.width, d.height), dst=self._small_nv12[: d.height], interpolation=cv2.INTER_LINEAR)
        small_uv = self._small_nv12[d.height :].reshape(d.height // 2, d.width // 2, 2)
        cv2.resize(uv_crop, (d.width // 2, d.height // 2), dst=small_uv, interpolation=cv2.INTER_LINEAR)
        direct = self._normalise.direct(out)
        if direct is not None:  # identity: convert straight into the tensor
            cv2.cvtColor(self._small_nv12, self._to_rgb, dst=direct)
            self._normalise.pad(out)
            return
        cv2.cvtColor(self._small_nv12, self._to_rgb, dst=self._small)
        self._normalise(self._small, out)
