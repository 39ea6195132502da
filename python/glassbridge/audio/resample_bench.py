"""Resamplers compared on accuracy and speed: ``python -m glassbridge.audio.resample_bench [--json OUT] [--old REV]``.

Contenders, each as its users would call it:

- ``kaiser``: the hand-written Kaiser-windowed sinc polyphase resampler that glassbridge used until it was replaced
  (`glassbridge/audio/resampler.py` at git revision ``--old``, loaded from git history; skipped without a git
  checkout), through the PCM path it had (`wav.resample`: int16 -> float64 -> resample -> rint, clip);
- ``soxr HQ`` / ``soxr VHQ``: `soxr.resample` with quality 'HQ' (its default) and 'VHQ', through the same PCM path
  (int16 -> float32 -> soxr -> rint, clip, trimmed to floor(n * dst / src) samples);
- ``glassbridge``: `glassbridge.audio.wav.resample` as it is now (the contract the tests check).

Accuracy, in float64 against an independent reference, the exact band-limited resampling of signals whose
continuous form is known (no resampler involved): a sum of 24 sines at fixed random frequencies below 0.8 (and
0.9) of the lower Nyquist frequency, random phases, evaluated analytically at the output instants n / dst (the
contract: output sample n sits at input time n / dst, no delay). SNR and maximum error (dB re full scale 1.0) are
taken away from the edges (the first and last 50 ms, where "zero outside the input" is a convention, not an
error). ``pcm_snr_db_0.8`` is the same through the int16 PCM path (the 0.8 signal at a 32000 peak, rounded to
int16 on the way in and out: rounding alone, 0.29 LSB RMS at each end, caps it near 81 dB for this signal).
Stop band: single tones above the new Nyquist frequency (downsampling, where the right output is silence) and
the first image of tones near the source Nyquist frequency (upsampling); the worst level over a sweep of
tones, in dB relative to the tone, split into "just above Nyquist" (1.0-1.1 x) and "stop band" (>= 1.1 x).

Speed: 10 s of int16 audio (noise plus a tone) per rate pair, bytes in, bytes out. One process, one thread; every
contender gets an untimed warm-up; each round times each contender once in an order shuffled from a fixed seed;
medians (and p10/p90) over the rounds, with the garbage collector paused; ratios against ``kaiser``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

from glassbridge.audio.wav import array_to_pcm, pcm_to_array, resample

__all__ = ["PAIRS", "OLD_REVISION", "measure", "main"]

PAIRS = ((22050, 16000), (48000, 16000), (44100, 16000), (8000, 16000))
# The last commit whose glassbridge/audio/resampler.py is the hand-written Kaiser resampler.
OLD_REVISION = "d7829ab0b223a0af771be56202dc760229200835"
_EDGE_S = 0.05

Float = npt.NDArray[np.float64]
ArrayResampler = Callable[[Float, int, int], Float]
PcmResampler = Callable[[bytes, int, int], bytes]


def _load_old(revision: str) -> types.ModuleType | None:
    """The old resampler module from git history, or None when there is no git checkout with that revision."""
    root = Path(__file__).resolve().parents[3]
    try:
        source = subprocess.run(["git", "-C", str(root), "show", f"{revision}:python/glassbridge/audio/resampler.py"],
                                check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("glassbridge_old_kaiser_resampler", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{revision[:10]}:resampler.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def _soxr_array(quality: str) -> ArrayResampler:
    def run(x: Float, src: int, dst: int) -> Float:
        y = soxr.resample(x, src, dst, quality=quality)
        return np.asarray(y[:len(x) * dst // src], dtype=np.float64)
    return run


def _soxr_pcm(quality: str) -> PcmResampler:
    def run(pcm: bytes, src: int, dst: int) -> bytes:
        x = pcm_to_array(pcm).astype(np.float32)
        return array_to_pcm(soxr.resample(x, src, dst, quality=quality)[:len(x) * dst // src])
    return run


def _old_pcm(module: types.ModuleType) -> PcmResampler:
    def run(pcm: bytes, src: int, dst: int) -> bytes:
        return array_to_pcm(module.resample_array(pcm_to_array(pcm), src, dst))
    return run


def _current_array(x: Float, src: int, dst: int) -> Float:
    """What `wav.resample` runs now, before int16 rounding: `glassbridge.audio.resampler.resample_array`."""
    from glassbridge.audio import resampler
    return np.asarray(resampler.resample_array(x, src, dst), dtype=np.float64)


# --- accuracy -------------------------------------------------------------------------------------------------


def _multitone(src: int, dst: int, band: float, seconds: float = 1.0) -> tuple[Float, Float]:
    """(input at src, exact output at dst) of 24 sines below `band` x the lower Nyquist frequency."""
    rng = np.random.default_rng(src * 7 + dst)
    nyq = min(src, dst) / 2.0
    freqs = rng.uniform(50.0, band * nyq, 24)
    phases = rng.uniform(0, 2 * np.pi, 24)
    amp = 0.9 / 24
    n_in = int(src * seconds)
    t_in = np.arange(n_in, dtype=np.float64)[:, None] / src
    t_out = np.arange(n_in * dst // src, dtype=np.float64)[:, None] / dst
    x = amp * np.sin(2 * np.pi * freqs * t_in + phases).sum(axis=1)
    ref = amp * np.sin(2 * np.pi * freqs * t_out + phases).sum(axis=1)
    return x, ref


def _core(y: Float, rate: int) -> Float:
    edge = int(_EDGE_S * rate)
    return y[edge:len(y) - edge]


def _image_level_db(y: Float, tone: float, image: float, rate: int, amplitude: float) -> float:
    """Level of the sine of `image` in y, dB relative to `amplitude`: a joint least-squares fit of both the tone
    and its image, so the (much louder) tone's leakage over a finite window does not count as image."""
    t = np.arange(len(y)) / rate
    basis = np.stack([fn(2 * np.pi * f * t) for f in (image, tone) for fn in (np.sin, np.cos)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return 20 * math.log10(max(math.hypot(coef[0], coef[1]), 1e-300) / amplitude)


def _stopband_db(fn: ArrayResampler, src: int, dst: int) -> tuple[float, float]:
    """Worst level (dB re the tone) of what should not be there: (1.0-1.1 x Nyquist, >= 1.1 x Nyquist)."""
    amplitude = 0.5
    n = src  # 1 s
    t = np.arange(n) / src
    near: list[float] = []
    far: list[float] = []
    if dst < src:  # downsampling: tones between the new and the old Nyquist frequency must vanish
        nyq = dst / 2.0
        for f in np.linspace(1.005 * nyq, 0.995 * src / 2.0, 60):
            y = _core(fn(amplitude * np.sin(2 * np.pi * f * t + 0.3), src, dst), dst)
            level = 20 * math.log10(max(float(np.sqrt(2 * np.mean(y * y))), 1e-300) / amplitude)
            (near if f < 1.1 * nyq else far).append(level)
    else:  # upsampling: the image of a tone at f lands at src - f, above the source's Nyquist frequency
        nyq = src / 2.0
        for f in np.linspace(0.5 * nyq, 0.995 * nyq, 60):
            y = _core(fn(amplitude * np.sin(2 * np.pi * f * t + 0.3), src, dst), dst)
            level = _image_level_db(y, f, src - f, dst, amplitude)
            (near if src - f < 1.1 * nyq else far).append(level)
    return max(near), max(far)


def accuracy(contenders: dict[str, ArrayResampler], pcm_contenders: dict[str, PcmResampler]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for src, dst in PAIRS:
        signals = {band: _multitone(src, dst, band) for band in (0.8, 0.9)}
        x_loud, ref_loud = signals[0.8][0] * 32000.0, signals[0.8][1] * 32000.0
        pcm = array_to_pcm(x_loud)
        for name, fn in contenders.items():
            row: dict[str, object] = {"pair": f"{src}->{dst}", "contender": name}
            if name in pcm_contenders:  # int16 in and out: the input's and the output's rounding count too
                y16 = pcm_to_array(pcm_contenders[name](pcm, src, dst)).astype(np.float64)
                err16 = _core(y16 - ref_loud, dst)
                row["pcm_snr_db_0.8"] = round(10 * math.log10(float(np.sum(_core(ref_loud, dst) ** 2)
                                                                    / np.sum(err16**2))), 1)
            else:
                row["pcm_snr_db_0.8"] = ""
            for band, (x, ref) in signals.items():
                y = fn(x, src, dst)
                assert len(y) == len(ref), (name, len(y), len(ref))
                err = _core(y - ref, dst)
                want = _core(ref, dst)
                row[f"snr_db_{band}"] = round(10 * math.log10(float(np.sum(want**2) / np.sum(err**2))), 1)
                row[f"max_err_db_{band}"] = round(20 * math.log10(float(np.max(np.abs(err)))), 1)
            near, far = _stopband_db(fn, src, dst)
            row["alias_near_db"] = round(near, 1)
            row["stopband_db"] = round(far, 1)
            rows.append(row)
    return rows


# --- speed ----------------------------------------------------------------------------------------------------


def _speech_like(rate: int, seconds: float) -> bytes:
    rng = np.random.default_rng(rate)
    t = np.arange(int(rate * seconds)) / rate
    return array_to_pcm(rng.normal(0, 800, len(t)) + 6000 * np.sin(2 * np.pi * 440 * t))


def speed(contenders: dict[str, PcmResampler], seconds: float, rounds: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    rng = np.random.default_rng(0)
    names = list(contenders)
    for src, dst in PAIRS:
        pcm = _speech_like(src, seconds)
        for fn in contenders.values():
            fn(pcm, src, dst)  # warm-up (tables, caches, lazy imports)
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        gc.collect()
        gc.disable()
        try:
            for _ in range(rounds):
                for i in rng.permutation(len(names)):
                    name = names[int(i)]
                    c0, t0 = time.process_time(), time.perf_counter()
                    contenders[name](pcm, src, dst)
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
        finally:
            gc.enable()
        base = statistics.median(times[names[0]])
        for name in names:
            ts = sorted(times[name])
            med = statistics.median(ts)
            rows.append({"pair": f"{src}->{dst}", "contender": name, "median_ms": round(med * 1e3, 2),
                         "p10_ms": round(ts[len(ts) // 10] * 1e3, 2), "p90_ms": round(ts[len(ts) * 9 // 10] * 1e3, 2),
                         "cpu_over_wall": round(statistics.median(cpu[name]) / med, 2),
                         "speedup_vs_first": round(base / med, 2)})
    return rows


def measure(old_revision: str = OLD_REVISION, seconds: float = 10.0, rounds: int = 31) -> dict[str, object]:
    load_start = os.getloadavg()
    old = _load_old(old_revision)
    arrays: dict[str, ArrayResampler] = {}
    pcms: dict[str, PcmResampler] = {}
    if old is not None:
        arrays["kaiser"] = old.resample_array
        pcms["kaiser"] = _old_pcm(old)
    arrays["soxr HQ"] = _soxr_array("HQ")
    arrays["soxr VHQ"] = _soxr_array("VHQ")
    arrays["glassbridge"] = _current_array
    pcms["soxr HQ"] = _soxr_pcm("HQ")
    pcms["soxr VHQ"] = _soxr_pcm("VHQ")
    pcms["glassbridge"] = resample
    result: dict[str, object] = {
        "soxr": soxr.__version__, "numpy": np.__version__, "old_revision": old_revision if old else None,
        "audio_seconds": seconds, "rounds": rounds,
        "accuracy": accuracy(arrays, pcms), "speed": speed(pcms, seconds, rounds)}
    result["load_average_start_end"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
    return result


def _table(rows: list[dict[str, object]], keys: Sequence[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--old", default=OLD_REVISION, help="git revision holding the hand-written resampler")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args(argv)
    result = measure(args.old, args.seconds, args.rounds)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    accuracy_rows = cast("list[dict[str, object]]", result["accuracy"])
    speed_rows = cast("list[dict[str, object]]", result["speed"])
    print(f"soxr {result['soxr']}, numpy {result['numpy']}, kaiser from {result['old_revision']}, "
          f"load average {result['load_average_start_end']}")
    print(_table(accuracy_rows, ["pair", "contender", "snr_db_0.8", "max_err_db_0.8", "snr_db_0.9", "max_err_db_0.9",
                                 "alias_near_db", "stopband_db", "pcm_snr_db_0.8"]))
    print()
    print(_table(speed_rows, ["pair", "contender", "median_ms", "p10_ms", "p90_ms", "cpu_over_wall",
                              "speedup_vs_first"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
