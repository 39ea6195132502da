"""Band-limited sample-rate conversion in numpy: a Kaiser-windowed sinc evaluated in polyphase form.

Why not linear interpolation: espeak-ng speaks at 22050 Hz and the glasses' audio runs at 16000 Hz. Everything
between 8 and 11 kHz in the source would fold back below 8 kHz (aliasing) and smear the log-mel features the wake
word and the recogniser were trained on. A low-pass filter at the lower of the two Nyquist frequencies removes it.

The method: every output sample ``y[n]`` sits at the source position ``t = n * src / dst`` and is

    y[n] = sum_i x[i] * h(t - i),   h(tau) = 2 fc sinc(2 fc tau) * kaiser(tau / (ZERO_CROSSINGS / (2 fc)))

with ``fc = CUTOFF * min(1, dst / src) / 2`` cycles per source sample (the lower Nyquist frequency, slightly
lowered so the transition band ends near it) and a Kaiser window of ``BETA`` spanning ``ZERO_CROSSINGS`` zero
crossings of the sinc on each side. For a rational ratio ``dst/src = L/M`` (in lowest terms) the fractional part of
``t`` takes only ``L`` values, so the filter is tabulated once per phase (``L`` rows of taps) and each output is one
dot product: the polyphase form. Samples before the start and after the end count as zero.

Measured properties (tests/unit/test_audio_resample.py checks them against a direct float64 sum of the formula):
a tone in the pass band keeps its frequency and amplitude (within 0.1 dB up to 0.8 of the lower Nyquist
frequency); a tone above the new Nyquist frequency is attenuated by more than 60 dB.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["BETA", "CUTOFF", "ZERO_CROSSINGS", "resample_array", "resample_length", "kernel"]

# Cut-off as a fraction of the lower Nyquist frequency. 0.9 puts the -6 dB point at 7.2 kHz for 16 kHz output, and
# with 16 zero crossings the stop band (> 60 dB down) starts near 8.7 kHz: speech loses nothing it needs.
CUTOFF = 0.9
# Sinc zero crossings on each side of the centre: the filter is 2 * ZERO_CROSSINGS periods of the cut-off long.
ZERO_CROSSINGS = 16
# Kaiser window shape: beta 8.6 gives about 85 dB of stop-band attenuation (measured: a 9 kHz tone through
# 22050 -> 16000 Hz comes out 89 dB down).
BETA = 8.6
# Rows of output computed at once: bounds the (rows x taps) gather to a few MB for long recordings.
_BLOCK = 16384


def resample_length(n: int, src_rate: int, dst_rate: int) -> int:
    """Number of output samples for `n` input samples: floor(n * dst / src), so one second stays one second."""
    return (n * dst_rate) // src_rate


def kernel(tau: npt.NDArray[np.float64], src_rate: int, dst_rate: int) -> npt.NDArray[np.float64]:
    """The filter h(tau) for offsets `tau` in source samples (see the module docstring); 0 outside its span."""
    fc = CUTOFF * min(1.0, dst_rate / src_rate) / 2.0  # cycles per source sample
    half_width = ZERO_CROSSINGS / (2.0 * fc)  # source samples from the centre to the window's edge
    inside = np.abs(tau) < half_width
    # np.kaiser is defined on integer points; evaluate the window's formula at arbitrary positions instead.
    ratio = np.where(inside, tau / half_width, 0.0)
    window = np.i0(BETA * np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, 1.0))) / np.i0(BETA)
    return np.where(inside, 2.0 * fc * np.sinc(2.0 * fc * tau) * window, 0.0)


@lru_cache(maxsize=16)
def _phase_table(src_rate: int, dst_rate: int) -> tuple[npt.NDArray[np.float64], int, int, int]:
    """(taps per phase x L table, L, M, offset of the first tap relative to floor(t))."""
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    fc = CUTOFF * min(1.0, dst_rate / src_rate) / 2.0
    reach = int(math.ceil(ZERO_CROSSINGS / (2.0 * fc)))  # taps on each side of t that the window can reach
    first = -reach + 1  # tap j reads x[floor(t) + first + j]
    taps = 2 * reach
    phases = np.arange(up, dtype=np.float64)[:, None] / up  # frac(t) for each phase
    offsets = first + np.arange(taps, dtype=np.float64)[None, :]
    table = kernel(phases - offsets, src_rate, dst_rate)  # tau = t - i = frac - (i - floor(t))
    table.setflags(write=False)
    return table, up, down, first


def resample_array(x: npt.ArrayLike, src_rate: int, dst_rate: int) -> npt.NDArray[np.float64]:
    """Resample a 1-D signal from `src_rate` to `dst_rate` Hz; returns float64 (no rounding or clipping).

    Output length is `resample_length(len(x), src_rate, dst_rate)`; output sample n is at input position
    n * src / dst, so the first samples line up (no delay is added).
    """
    for name, rate in (("src_rate", src_rate), ("dst_rate", dst_rate)):
        if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate <= 0:
            raise ValueError(f"{name} must be a positive integer number of Hz, got {rate!r}")
    signal = np.asarray(x, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"resample takes a 1-D (mono) signal, got an array of shape {signal.shape}")
    if src_rate == dst_rate:
        return signal.copy()
    table, up, down, first = _phase_table(int(src_rate), int(dst_rate))
    taps = table.shape[1]
    n_out = resample_length(len(signal), src_rate, dst_rate)
    # Zero padding on both sides so every tap of every output reads a valid index.
    pad_left = -first
    padded = np.concatenate([np.zeros(pad_left), signal, np.zeros(taps)])
    out = np.empty(n_out, dtype=np.float64)
    tap_index = np.arange(taps)
    for start in range(0, n_out, _BLOCK):
        n = np.arange(start, min(start + _BLOCK, n_out), dtype=np.int64)
        base, phase = np.divmod(n * down, up)  # floor(t) and frac(t) * L, exactly, in integers
        gathered = padded[(base + first + pad_left)[:, None] + tap_index[None, :]]
        out[start:start + len(n)] = np.einsum("ij,ij->i", gathered, table[phase])
    return out
