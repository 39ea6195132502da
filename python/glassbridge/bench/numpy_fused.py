"""The numpy contender: the fused job written as a numpy user with time on their hands would write it.

It follows the same semantics as our kernel (so its accuracy is comparable), with the best numpy idioms we
know: index and weight tables built once per geometry, one gather per plane for all four taps at once, colour
conversion through 256-entry lookup tables, clamping per tap, weighted sums, then normalisation in float32.
Only the ~50k output pixels' taps are read, never the whole frame: numpy's weakness is per-call overhead and
temporaries, not bandwidth, and this is what keeps it in the race.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from glassbridge.bench.geometry import INT_LIMITS, Job, taps
from glassbridge.bench.synthetic import BenchFrame
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange

_KR, _KB = 0.299, 0.114
_KG = 1 - _KR - _KB


def yuv_coefficients(rng: YuvRange) -> tuple[float, float, float, float, float, float, float]:
    """(y_scale, y_offset, c_scale, V->R, U->G, V->G, U->B) of BT.601, from Kr and Kb.

    R = ys * (Y - yo) + cs * 2(1-Kr) (V-128); B = ys (Y - yo) + cs * 2(1-Kb) (U-128); G from the luma equation.
    """
    ys, yo, cs = (255 / 219, 16.0, 255 / 224) if rng is YuvRange.LIMITED else (1.0, 0.0, 1.0)
    vr = 2 * (1 - _KR)
    ub = 2 * (1 - _KB)
    ug = ub * _KB / _KG
    vg = vr * _KR / _KG
    return ys, yo, cs, vr * cs, ug * cs, vg * cs, ub * cs


def _flat(plane: np.ndarray) -> np.ndarray:
    """A 1-D view over a plane's memory, rows included with their stride (no copy even for padded rows)."""
    stride = plane.strides[0]
    n = (plane.shape[0] - 1) * stride + plane.shape[1]
    return as_strided(plane, shape=(n,), strides=(1,), writeable=False)


class NumpyFused:
    """Callable `(item, out) -> None` for one `Job`; tables are built on the first frame of each stride layout."""

    def __init__(self, job: Job) -> None:
        if job.fmt not in (PixelFormat.NV12, PixelFormat.RGB888):
            raise ValueError(f"the numpy contender handles NV12 and RGB888 sources, not {job.fmt.name}")
        self.job = job
        c, d = job.crop, job.dst
        y0, y1, fy = taps(c.height, d.height)
        x0, x1, fx = taps(c.width, d.width)
        self._rows = (c.y + y0, c.y + y1)
        self._cols = (c.x + x0, c.x + x1)
        wy = (1 - fy, fy)
        wx = (1 - fx, fx)
        self._w = np.stack([np.outer(wy[a], wx[b]).ravel() for a in (0, 1) for b in (0, 1)]).astype(np.float32)
        self._offsets: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}
        self._mul = np.asarray(job.mul[: job.n_channels], np.float32)
        self._add = np.asarray(job.add[: job.n_channels], np.float32)
        self._pad = self._normalise(np.full((1, job.n_channels), job.pad, np.float32))[0]
        self._wm = [self._w * m for m in self._mul]
        self._vals = np.empty((job.n_channels, d.height * d.width), np.float32)
        self._luts: tuple[np.ndarray, ...] | None = None
        # The cheapest exact normalisation: no add when it is zero (identity), no clamp when v * mul + add cannot
        # leave the output type's range for v in [0, 255] (with 0.25 of slack for float32 interpolation error:
        # rint then keeps every value inside the range).
        self._needs_add = bool(np.any(self._add != 0))
        self._needs_clip = job.out_type in INT_LIMITS and not self._in_range()

    def _in_range(self) -> bool:
        lo, hi = INT_LIMITS[self.job.out_type]
        ends = np.stack([self._add, self._mul * 255 + self._add]).astype(np.float64)
        return bool(ends.min() >= lo - 0.25 and ends.max() <= hi + 0.25)

    # Tables -----------------------------------------------------------------------------------------------
    def _tap_offsets(self, frame: Frame) -> tuple[np.ndarray, ...]:
        key = frame.strides
        hit = self._offsets.get(key)
        if hit is not None:
            return hit
        (r0, r1), (c0, c1) = self._rows, self._cols
        pairs = [(r, col) for r in (r0, r1) for col in (c0, c1)]
        if self.job.fmt is PixelFormat.NV12:
            sy, suv = key
            off_y = np.stack([(r[:, None] * sy + col[None, :]).ravel() for r, col in pairs])
            off_uv = np.stack([((r[:, None] // 2) * suv + (col[None, :] // 2) * 2).ravel() for r, col in pairs])
            hit = (off_y, off_uv, off_uv + 1)
        else:
            (s,) = key
            off = np.stack([(r[:, None] * s + col[None, :] * 3).ravel() for r, col in pairs])
            hit = (off, off + 1, off + 2)
        self._offsets[key] = hit
        return hit

    def _yuv_luts(self, rng: YuvRange) -> tuple[np.ndarray, ...]:
        if self._luts is None:
            ys, yo, _, vr, ug, vg, ub = yuv_coefficients(rng)
            i = np.arange(256, dtype=np.float64)
            self._luts = tuple(a.astype(np.float32) for a in
                               (ys * (i - yo), vr * (i - 128), ug * (i - 128), vg * (i - 128), ub * (i - 128)))
        return self._luts

    # Per call ---------------------------------------------------------------------------------------------
    def _normalise(self, v: np.ndarray) -> np.ndarray:
        """v (rows, C) on the 0..255 scale -> the stored values (float32, rounded and saturated for ints)."""
        y = v * self._mul + self._add
        if self.job.out_type in INT_LIMITS:
            lo, hi = INT_LIMITS[self.job.out_type]
            np.rint(y, out=y)
            np.clip(y, lo, hi, out=y)
        return y

    def _interp(self, taps4: np.ndarray, channel: int) -> None:
        """Weighted sum of the four taps (4, N) into row `channel` of the values, times that channel's mul
        (folded into the weights: one multiply fewer per pixel)."""
        np.einsum("kn,kn->n", self._wm[channel], taps4, out=self._vals[channel])

    def __call__(self, item: BenchFrame, out: np.ndarray) -> None:
        job, frame = self.job, item.frame
        offs = self._tap_offsets(frame)
        order = (0, 1, 2) if job.channels != "bgr" else (2, 1, 0)
        if job.fmt is PixelFormat.NV12:
            y_t = np.take(_flat(frame.planes[0]), offs[0])
            uv = _flat(frame.planes[1])
            ly, lvr, lug, lvg, lub = self._yuv_luts(frame.range)
            y = np.take(ly, y_t)
            if job.channels == "gray":
                self._interp(np.clip(y, 0, 255, out=y), 0)
            else:
                u_t, v_t = np.take(uv, offs[1]), np.take(uv, offs[2])
                r = np.take(lvr, v_t)
                r += y
                g = np.take(lug, u_t)
                g += np.take(lvg, v_t)
                np.subtract(y, g, out=g)
                b = np.take(lub, u_t)
                b += y
                for ch, plane in zip(order, (r, g, b)):
                    self._interp(np.clip(plane, 0, 255, out=plane), ch)
        else:
            flat = _flat(frame.planes[0])
            r, g, b = (np.take(flat, o).astype(np.float32) for o in offs)
            if job.channels == "gray":
                r *= np.float32(0.299)
                r += np.float32(0.587) * g
                r += np.float32(0.114) * b
                self._interp(r, 0)
            else:
                for ch, plane in zip(order, (r, g, b)):
                    self._interp(plane, ch)
        vals = self._vals
        if self._needs_add:
            vals += self._add[:, None]
        if job.out_type in INT_LIMITS:
            np.rint(vals, out=vals)
            if self._needs_clip:
                lo, hi = INT_LIMITS[job.out_type]
                np.clip(vals, lo, hi, out=vals)
        d = job.dst
        out[d.y : d.y + d.height, d.x : d.x + d.width] = vals.T.reshape(d.height, d.width, job.n_channels)
        if job.letterboxed:
            out[: d.y] = self._pad
            out[d.y + d.height :] = self._pad
            out[d.y : d.y + d.height, : d.x] = self._pad
            out[d.y : d.y + d.height, d.x + d.width :] = self._pad
