"""The last step every non-fused contender needs: uint8 pixels -> the model's input tensor.

A user of OpenCV or libyuv writes the cheapest exact step their library offers, so the contenders do too:
- identity (uint8 output, mul 1, add 0): nothing. The resize writes straight into the tensor (`direct`), and
  only the letterbox padding, if any, is filled;
- integer outputs (uint8/int8, quantised): y = v * mul + add of a uint8 v takes 256 values, so one 256-entry
  table (computed once in float32 exactly as the float path computes each pixel: multiply, add, round half to
  even, saturate) applied with `cv2.LUT` (OpenCV contenders) or `np.take` (numpy/libyuv contenders). A uint8
  lookup the contender already applies before normalising (the limited-range luma expansion of gray models) is
  folded into the same table: one lookup, the same values as two. np.take is the cheaper numpy step only for
  small images (measured on the benchmark VM, int8: 64x64 0.0046 ms against 0.0086 ms for the float path, but
  224x224x3 0.117 ms against 0.087 ms, and 2.0 M against 1.3 M instructions), so the numpy backend takes the table
  up to TABLE_MAX_ELEMENTS values, or when a table is applied anyway, and the float path above that; cv2.LUT is
  the cheaper step at every size (224x224x3: 0.044 ms, 0.96 M instructions);
- float32 outputs: multiply and add in float32 into the tensor, in place. A float32 table through cv2.LUT or
  np.take is just as exact but measured slower (108x192x3: multiply+add 0.016 ms, cv2.LUT 0.019 ms, np.take
  0.050 ms on the benchmark VM), so the arithmetic stays.
Non-uint8 pixels (libyuv's float gray of an RGB source) always take the float path: a multiply, an add, and for
integer outputs round half to even and saturate, through preallocated scratch.
Every mode stores exactly what the float32 path would store for the same uint8 pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassbridge.bench.geometry import INT_LIMITS, Job

BACKENDS = ("cv2", "numpy")
TABLE_MAX_ELEMENTS = 16384  # numpy backend: np.take beats the float path below this many output values


def _affine_f32(v: np.ndarray, mul: np.ndarray, add: np.ndarray, out_type: str) -> np.ndarray:
    """v (..., C) -> the stored values, float32 multiply then add, rounded and saturated for integer outputs."""
    y: np.ndarray = np.asarray(v, np.float32) * mul
    y += add
    if out_type in INT_LIMITS:
        lo, hi = INT_LIMITS[out_type]
        np.rint(y, out=y)
        np.clip(y, lo, hi, out=y)
    return y


def expand_range_lut() -> np.ndarray:
    """Limited-range luma to full-range gray as a uint8 table: (Y - 16) * 255 / 219, rounded, clamped."""
    table: np.ndarray = np.clip(np.rint((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
    return table


class Normaliser:
    """Callable `(pixels, out)`: pixels is a dst.height x dst.width x C view (any strides), uint8 or float32.

    backend: "cv2" (tables through cv2.LUT) or "numpy" (np.take). pre_lut: an optional uint8 256-entry table the
    contender applies to its pixels before normalising; it is folded into the integer table.
    """

    def __init__(self, job: Job, backend: str = "numpy", pre_lut: np.ndarray | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown normalisation backend {backend!r} ({', '.join(BACKENDS)})")
        self.job = job
        self.backend = backend
        d = job.dst
        c = job.n_channels
        self._mul = np.asarray(job.mul[:c], np.float32)
        self._add = np.asarray(job.add[:c], np.float32)
        self._scratch = np.empty((d.height, d.width, c), np.float32)
        self._pad = _affine_f32(np.full(c, job.pad, np.float32), self._mul, self._add,
                                job.out_type).astype(job.out_dtype)
        self._pre = pre_lut
        self._shared = len(set(self._mul.tolist())) == 1 and len(set(self._add.tolist())) == 1
        self.identity = (job.out_type == "uint8" and pre_lut is None and self._shared
                         and float(self._mul[0]) == 1.0 and float(self._add[0]) == 0.0)
        self._table: np.ndarray | None = None
        small = d.width * d.height * c <= TABLE_MAX_ELEMENTS
        if job.out_type in INT_LIMITS and not self.identity and (backend == "cv2" or pre_lut is not None or small):
            v = np.arange(256, dtype=np.float32) if pre_lut is None else pre_lut.astype(np.float32)
            per_channel = _affine_f32(np.repeat(v[:, None], c, axis=1), self._mul, self._add, job.out_type)
            table = per_channel.astype(job.out_dtype)  # (256, C)
            if self._shared:
                self._table = np.ascontiguousarray(table[:, 0])
            elif backend == "cv2":
                self._table = np.ascontiguousarray(table.reshape(256, 1, c))  # one table per channel
            else:
                self._table = np.ascontiguousarray(table.T)  # (C, 256)
        self.mode = "identity" if self.identity else "lut" if self._table is not None else "float"
        self._cv2: Any = None
        if backend == "cv2" and self._table is not None:
            from glassbridge.bench.cv import import_cv2

            self._cv2 = import_cv2()

    def describe(self) -> str:
        """What the normalisation costs this contender, for the benchmark's descriptions."""
        lut = "cv2.LUT" if self.backend == "cv2" else "np.take"
        return {"identity": "no normalisation (identity: resized straight into the tensor)",
                "lut": f"{lut} 256-entry table",
                "float": "float32 multiply-add"}[self.mode]

    def region(self, out: np.ndarray) -> np.ndarray:
        """The part of `out` the crop lands in (the letterbox rectangle), 2-D for one channel."""
        d = self.job.dst
        r = out[d.y : d.y + d.height, d.x : d.x + d.width]
        return r[..., 0] if self.job.n_channels == 1 else r

    def direct(self, out: np.ndarray) -> np.ndarray | None:
        """Where the resize may write when normalisation is the identity (then call `pad` only), else None."""
        return self.region(out) if self.identity else None

    def pad(self, out: np.ndarray) -> None:
        """Fill the output outside the letterbox rectangle with the normalised padding value."""
        job, d = self.job, self.job.dst
        if job.letterboxed:
            out[: d.y] = self._pad
            out[d.y + d.height :] = self._pad
            out[d.y : d.y + d.height, : d.x] = self._pad
            out[d.y : d.y + d.height, d.x + d.width :] = self._pad

    def __call__(self, pixels: np.ndarray, out: np.ndarray) -> None:
        job = self.job
        region = out[job.dst.y : job.dst.y + job.dst.height, job.dst.x : job.dst.x + job.dst.width]
        if pixels.dtype != np.uint8:
            if self._pre is not None:
                raise ValueError("a pre-normalisation table applies to uint8 pixels only")
            self._float(pixels, region)
        elif self.identity:
            region[...] = pixels
        elif self._table is not None:
            self._lookup(pixels, region)
        else:
            if self._pre is not None:
                pixels = np.take(self._pre, pixels)
            self._float(pixels, region)
        self.pad(out)

    def _lookup(self, pixels: np.ndarray, region: np.ndarray) -> None:
        table = self._table
        assert table is not None
        c = self.job.n_channels
        if c == 1:
            pixels = pixels[..., 0] if pixels.ndim == 3 else pixels
            region = region[..., 0]
        if self._cv2 is not None:
            self._cv2.LUT(pixels, table, dst=region)
        elif self._shared:
            np.take(table, pixels, out=region, mode="clip")
        else:
            for ch in range(c):
                np.take(table[ch], pixels[..., ch], out=region[..., ch], mode="clip")

    def _float(self, pixels: np.ndarray, region: np.ndarray) -> None:
        # One scalar multiply-add over the whole image when every channel shares it (numpy's fast path); per
        # channel otherwise. Broadcasting a (3,) vector along the last axis would run numpy's inner loop over
        # 3 elements at a time, several times slower.
        if self._shared:
            self._affine(pixels, region, self._mul[0], self._add[0])
        else:
            for c in range(self.job.n_channels):
                self._affine(pixels[..., c], region[..., c], self._mul[c], self._add[c], self._scratch[..., c])

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
