"""The last step every non-fused contender needs: uint8 pixels -> the model's input tensor, in numpy.

This is what a user of OpenCV or libyuv writes after the resize: y = v * mul + add in float32, rounded and
saturated for integer outputs, written into the (preallocated) tensor, padding outside the letterbox rectangle.
It uses preallocated scratch and in-place ufuncs, so the contenders are not charged for allocations they would
avoid in a real application.
"""

from __future__ import annotations

import numpy as np

from glassbridge.bench.geometry import INT_LIMITS, Job


class Normaliser:
    """Callable `(pixels, out)`: pixels is a dst.height x dst.width x C uint8 view (any strides)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        d = job.dst
        c = job.n_channels
        self._mul = np.asarray(job.mul[:c], np.float32)
        self._add = np.asarray(job.add[:c], np.float32)
        self._scratch = np.empty((d.height, d.width, c), np.float32)
        pad = np.full(c, job.pad, np.float32) * self._mul + self._add
        if job.out_type in INT_LIMITS:
            lo, hi = INT_LIMITS[job.out_type]
            pad = np.clip(np.rint(pad), lo, hi)
        self._pad = pad.astype(job.out_dtype)

    def __call__(self, pixels: np.ndarray, out: np.ndarray) -> None:
        job, d = self.job, self.job.dst
        region = out[d.y : d.y + d.height, d.x : d.x + d.width]
        # One scalar multiply-add over the whole image when every channel shares it (numpy's fast path); per
        # channel otherwise. Broadcasting a (3,) vector along the last axis would run numpy's inner loop over
        # 3 elements at a time, several times slower.
        if len(set(self._mul.tolist())) == 1 and len(set(self._add.tolist())) == 1:
            self._affine(pixels, region, self._mul[0], self._add[0])
        else:
            for c in range(job.n_channels):
                self._affine(pixels[..., c], region[..., c], self._mul[c], self._add[c], self._scratch[..., c])
        if job.letterboxed:
            out[: d.y] = self._pad
            out[d.y + d.height :] = self._pad
            out[d.y : d.y + d.height, : d.x] = self._pad
            out[d.y : d.y + d.height, d.x + d.width :] = self._pad

    def _affine(self, pixels: np.ndarray, region: np.ndarray, mul: np.float32, add: np.float32,
                scratch: np.ndarray | None = None) -> None:
        if self.job.out_type == "float32":
            np.multiply(pixels, mul, out=region)
            np.add(region, add, out=region)
            return
        s = self._scratch if scratch is None else scratch
        np.multiply(pixels, mul, out=s)
        np.add(s, add, out=s)
        np.rint(s, out=s)
        lo, hi = INT_LIMITS[self.job.out_type]
        np.clip(s, lo, hi, out=s)
        region[...] = s
