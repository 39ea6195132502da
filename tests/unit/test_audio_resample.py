"""glassbridge.audio.resampler and wav.resample against an independent float64 reference.

The reference is the exact band-limited resampling of signals whose continuous form is known: sums of sines
below the lower Nyquist frequency, evaluated analytically at the output instants n / dst (no resampler involved).
That checks the whole contract at once: the pass band is kept (amplitude and phase), nothing is delayed (output
sample n sits at input time n / dst), and nothing is added (aliases, images). A tone above the new Nyquist frequency
must vanish (its exact band-limited resampling is silence), and the image of a tone near the source's Nyquist
frequency must not appear when upsampling.

The thresholds are the measured figures (python -m glassbridge.audio.resample_bench, docs/benchmarks.md) with
about 10 dB of margin, far stricter than the hand-written resampler this module replaced could pass (52-63 dB of
pass-band SNR, -35 dB just above the new Nyquist frequency).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassbridge.audio import resampler as rs
from glassbridge.audio.wav import resample

PAIRS = [(22050, 16000), (48000, 16000), (44100, 16000), (8000, 16000), (16000, 48000), (16000, 22050)]
EDGE_S = 0.05  # before the start and after the end count as zero: the edges are a convention, not an error


def _multitone(src: int, dst: int, band: float, seconds: float = 1.0,
               peak: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(input at src, exact output at dst): 24 sines at random frequencies below `band` x the lower Nyquist."""
    rng = np.random.default_rng(src + 3 * dst)
    freqs = rng.uniform(50.0, band * min(src, dst) / 2.0, 24)
    phases = rng.uniform(0.0, 2 * np.pi, 24)
    amp = 0.9 * peak / 24
    n = int(src * seconds)

    def at(times: np.ndarray) -> np.ndarray:
        return np.asarray(amp * np.sin(2 * np.pi * freqs * times[:, None] + phases).sum(axis=1), dtype=np.float64)

    return at(np.arange(n) / src), at(np.arange(n * dst // src) / dst)


def _core(y: np.ndarray, rate: int) -> np.ndarray:
    edge = int(EDGE_S * rate)
    return y[edge:len(y) - edge]


def _snr_db(got: np.ndarray, want: np.ndarray, rate: int) -> float:
    err = _core(got - want, rate)
    return 10 * math.log10(float(np.sum(_core(want, rate) ** 2) / np.sum(err**2)))


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_the_pass_band_is_kept_exactly_in_time_and_amplitude(src: int, dst: int) -> None:
    # Measured (soxr 1.1 HQ): 80.6-135 dB up to 0.8 of the lower Nyquist frequency, 72.5-135 dB up to 0.9.
    for band, floor_db in ((0.8, 70.0), (0.9, 62.0)):
        x, want = _multitone(src, dst, band)
        got = rs.resample_array(x, src, dst)
        assert got.dtype == np.float64 and got.shape == want.shape
        assert _snr_db(got, want, dst) > floor_db, f"band {band}"


def test_a_delay_of_a_fraction_of_a_sample_would_fail_the_reference() -> None:
    # The reference is sharp enough to see misalignment: shifting it by 1/20 sample costs > 40 dB of SNR.
    src, dst = 22050, 16000
    x, want = _multitone(src, dst, 0.8)
    got = rs.resample_array(x, src, dst)
    shifted = np.interp(np.arange(len(got)) + 0.05, np.arange(len(got)), got)
    assert _snr_db(shifted, want, dst) < _snr_db(got, want, dst) - 40.0


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (48000, 16000), (44100, 16000)])
def test_a_tone_above_the_new_nyquist_frequency_is_removed_not_aliased(src: int, dst: int) -> None:
    # Its exact band-limited resampling is silence. Measured: below -125 dB from 1.005 x the new Nyquist frequency.
    t = np.arange(src) / src
    for freq in np.linspace(1.01 * dst / 2, 0.99 * src / 2, 9):
        y = _core(rs.resample_array(0.5 * np.sin(2 * np.pi * freq * t + 0.3), src, dst), dst)
        level_db = 20 * math.log10(max(float(np.sqrt(2 * np.mean(y * y))), 1e-300) / 0.5)  # may be exactly 0
        assert level_db < -100.0, f"{freq:.0f} Hz only {level_db:.1f} dB down"


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (16000, 48000)])
def test_upsampling_adds_no_image_above_the_source_nyquist_frequency(src: int, dst: int) -> None:
    # A tone at f has its first image at src - f; the reference has none. Measured: below -128 dB.
    t = np.arange(src) / src
    for freq in np.linspace(0.5 * src / 2, 0.99 * src / 2, 6):
        y = rs.resample_array(0.5 * np.sin(2 * np.pi * freq * t + 0.3), src, dst)
        residual = _core(y - 0.5 * np.sin(2 * np.pi * freq * np.arange(len(y)) / dst + 0.3), dst)
        tt = _core(np.arange(len(y)) / dst, dst)
        # The image's amplitude: a joint fit of tone and image, so the tone's residual cannot leak into it.
        basis = np.stack([g(2 * np.pi * f * tt) for f in (src - freq, freq) for g in (np.sin, np.cos)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, residual, rcond=None)
        level_db = 20 * math.log10(max(math.hypot(coef[0], coef[1]), 1e-300) / 0.5)
        assert level_db < -100.0, f"image of {freq:.0f} Hz at {src - freq:.0f} Hz only {level_db:.1f} dB down"


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (44100, 16000), (8000, 16000)])
def test_pcm_resample_is_the_reference_rounded_to_int16(src: int, dst: int) -> None:
    # int16 in, int16 out: the reference (of the int16 input's sines) within the rounding of input and output.
    x, want = _multitone(src, dst, 0.8, seconds=2.0, peak=32000.0)
    pcm = np.rint(x).astype("<i2").tobytes()
    out = np.frombuffer(resample(pcm, src, dst), dtype="<i2").astype(np.float64)
    assert len(out) == len(want) == len(x) * dst // src
    err = _core(out - want, dst)
    assert np.max(np.abs(err)) <= 2.0  # LSBs: 0.5 output rounding + the input's rounding noise, filtered
    assert np.sqrt(np.mean(err**2)) < 0.6
    # Rounding to nearest, no dither: exactly rint of the float result (the same every call).
    samples = np.frombuffer(pcm, dtype="<i2")
    assert np.array_equal(out, np.rint(rs.resample_array(samples, src, dst)))


def test_pcm_resample_saturates_instead_of_wrapping() -> None:
    # A full-scale square wave at 1 kHz: its band-limited form overshoots (Gibbs) past the int16 range.
    src, dst = 48000, 16000
    square = np.where(np.arange(src) % 48 < 24, 32767, -32768).astype("<i2")
    exact = rs.resample_array(square.astype(np.float64), src, dst)
    assert exact.max() > 32767.5 and exact.min() < -32768.5  # the test means something
    out = np.frombuffer(resample(square.tobytes(), src, dst), dtype="<i2")
    assert out.max() == 32767 and out.min() == -32768
    assert np.array_equal(out, np.clip(np.rint(exact), -32768, 32767))


def test_a_long_recording_is_resampled_as_one_stream() -> None:
    # 30 s: no seams (the reference is continuous, so a seam anywhere would cost SNR).
    x, want = _multitone(22050, 16000, 0.8, seconds=30.0)
    assert _snr_db(rs.resample_array(x, 22050, 16000), want, 16000) > 70.0


def test_length_identity_and_argument_errors() -> None:
    x = np.arange(22050.0)
    assert len(rs.resample_array(x, 22050, 16000)) == 16000  # one second stays one second
    for n in (0, 1, 2, 7, 100, 22051):
        for src, dst in PAIRS:
            assert len(rs.resample_array(np.zeros(n), src, dst)) == rs.resample_length(n, src, dst) == n * dst // src
    assert np.array_equal(rs.resample_array(x, 16000, 16000), x)
    assert len(resample(b"\x01\x00" * 7, 22050, 16000)) == 2 * (7 * 16000 // 22050)
    with pytest.raises(ValueError, match="1-D"):
        rs.resample_array(np.zeros((2, 10)), 16000, 8000)
    with pytest.raises(ValueError, match="dst_rate must be a positive integer"):
        rs.resample_array(x, 16000, -1)
    with pytest.raises(ValueError, match="src_rate must be a positive integer"):
        rs.resample_array(x, 16000.5, 8000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="src_rate must be a positive integer"):
        resample(b"", True, 16000)
