"""CPU cost of the audio path per unit of audio: ``python -m glassbridge.audio.benchmark [--json] [--seconds S]``.

Speed claims live here, not in unit tests. The input is white noise plus a tone (the cost of these stages does
not depend on the content, except Opus, whose VBR packets are also reported for the tone), run through each stage
as the glasses would stream it, timed with `time.perf_counter` over the whole run:

- wake word: pymicro-features per 10 ms step, and the LiteRT invoke per 30 ms (reported per 10 ms of audio too);
- VAD: pymicro-vad per 10 ms;
- Opus: encode and decode per 20 ms packet, and the packet sizes at 16, 24 and 32 kbit/s;
- resampling: 1 s of 22050 Hz audio (espeak-ng's rate) to 16 kHz.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np

from glassbridge.audio.opus import OpusDecoder, OpusEncoder
from glassbridge.audio.resampler import resample_array
from glassbridge.audio.vad import Vad
from glassbridge.audio.wakeword import WakeWord
from glassbridge.audio.wav import SAMPLE_RATE, array_to_pcm

__all__ = ["measure", "main"]


def _signal(seconds: float) -> bytes:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return array_to_pcm(rng.normal(0, 500, len(t)) + 6000 * np.sin(2 * np.pi * 440 * t))


def measure(seconds: float = 10.0) -> dict[str, object]:
    """Run every stage over `seconds` of audio; return microseconds per unit and Opus packet sizes."""
    pcm = _signal(seconds)
    steps = len(pcm) // 320
    results: dict[str, object] = {"audio_seconds": seconds}

    wake = WakeWord()
    t0 = time.perf_counter()
    wake.feed(pcm)
    total = time.perf_counter() - t0
    # The model alone: invoke on a fixed input as often as the stream needed.
    q = np.zeros((1, 3, 40), dtype=np.int8)
    t0 = time.perf_counter()
    for _ in range(wake.invokes):
        wake._model.run(q, dequantize=False)  # noqa: SLF001 - the model's own cost, for the split
    invoke = time.perf_counter() - t0
    results["wake_word_us_per_10ms"] = round(total / steps * 1e6, 2)
    results["wake_word_invoke_us"] = round(invoke / max(wake.invokes, 1) * 1e6, 2)
    results["wake_word_frontend_us_per_10ms"] = round((total - invoke) / steps * 1e6, 2)

    vad = Vad()
    t0 = time.perf_counter()
    vad.feed(pcm)
    results["vad_us_per_10ms"] = round((time.perf_counter() - t0) / steps * 1e6, 2)

    sizes: dict[str, dict[str, float]] = {}
    for bitrate in (16000, 24000, 32000):
        enc, dec = OpusEncoder(bitrate=bitrate), OpusDecoder()
        t0 = time.perf_counter()
        packets = enc.encode(pcm)
        t_enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in packets:
            dec.decode(p)
        t_dec = time.perf_counter() - t0
        lengths = np.array([len(p) for p in packets[10:]])
        sizes[str(bitrate)] = {"mean_bytes": round(float(lengths.mean()), 1), "min_bytes": int(lengths.min()),
                               "max_bytes": int(lengths.max()),
                               "kbit_s": round(float(lengths.mean()) * 8 * 50 / 1000, 1),
                               "encode_us_per_20ms": round(t_enc / len(packets) * 1e6, 1),
                               "decode_us_per_20ms": round(t_dec / len(packets) * 1e6, 1)}
    results["opus"] = sizes

    x = np.random.default_rng(2).normal(0, 1000, 22050)
    t0 = time.perf_counter()
    for _ in range(10):
        resample_array(x, 22050, 16000)
    results["resample_22050_to_16000_ms_per_s"] = round((time.perf_counter() - t0) / 10 * 1e3, 2)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glassbridge.audio.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of audio per stage (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    results = measure(args.seconds)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
