"""The demo's and the tests' speech WAVs, made with espeak-ng: ``python -m glassbridge.audio.speech_samples OUT``.

The repository carries no audio: these WAVs (16 kHz PCM16 mono) are generated, deterministically, from the texts
below with a fixed espeak-ng voice, speed and pitch (espeak-ng gives identical output for identical settings), and
the controls from a seeded random generator. `OUT/samples.json` lists every file with its text and settings.

Each spoken sample is padded with `LEAD_MS` of silence before and `TAIL_MS` after the speech, as a microphone
recording would be: the wake word and the endpointer then see a quiet start and a trailing pause.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from glassbridge.audio.voice import VoiceError, synthesize_blocking
from glassbridge.audio.wav import SAMPLE_RATE, array_to_pcm, write_wav

__all__ = ["Sample", "SAMPLES", "LEAD_MS", "TAIL_MS", "make_pcm", "generate", "main"]

VOICE = "en-us"
LEAD_MS = 250
TAIL_MS = 500
NOISE_SEED = 20261122  # fixed: noise.wav is the same on every machine
NOISE_RMS = 1000.0  # about -30 dBFS: a quiet room through a close microphone, loud enough for the VAD to see


@dataclass(frozen=True)
class Sample:
    """One generated file: spoken `text` (or a control when `kind` is "silence"/"noise")."""

    file: str
    kind: str  # "wake_word", "question", "meeting", "sequence", "silence", "noise"
    text: str = ""
    rate_wpm: int = 150
    pitch: int = 50
    seconds: float = 0.0  # controls only: their length
    parts: tuple[str, ...] = ()  # "sequence" only: the files joined, with PAUSE_MS between


PAUSE_MS = 600  # between the parts of a sequence: the short breath after "okay nabu" before the question

SAMPLES: tuple[Sample, ...] = (
    # 140 wpm: the wake word scored 0.92-0.99 at 120-150 wpm in the lead's measurements.
    Sample("okay_nabu.wav", "wake_word", "okay nabu", rate_wpm=140),
    Sample("question_look.wav", "question", "what am I looking at"),
    Sample("question_sign.wav", "question", "what does this sign say"),
    Sample("question_feel.wav", "question", "how do they feel"),
    Sample("meeting.wav", "meeting", "Good morning everyone. The meeting starts at ten tomorrow morning. "
           "Please send me the budget before Friday.", rate_wpm=165),
    Sample("wake_and_ask.wav", "sequence", parts=("okay_nabu.wav", "question_look.wav")),
    Sample("silence.wav", "silence", seconds=2.0),
    Sample("noise.wav", "noise", seconds=2.0),
)


def _silence(ms: int) -> np.ndarray:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def _spoken(sample: Sample) -> np.ndarray:
    pcm = synthesize_blocking(sample.text, voice=VOICE, rate_wpm=sample.rate_wpm, pitch=sample.pitch)
    return np.concatenate([_silence(LEAD_MS), np.frombuffer(pcm, dtype="<i2"), _silence(TAIL_MS)])


def make_pcm(name: str, cache: dict[str, np.ndarray] | None = None) -> bytes:
    """The PCM16 (16 kHz) of sample `name` (a file name of `SAMPLES`); VoiceError if espeak-ng fails.

    Pass the same `cache` dict to several calls to synthesise each text once (sequences reuse their parts).
    """
    return _samples_array(name, {} if cache is None else cache).tobytes()


def _samples_array(name: str, cache: dict[str, np.ndarray]) -> np.ndarray:
    if name in cache:
        return cache[name]
    by_name = {s.file: s for s in SAMPLES}
    if name not in by_name:
        raise ValueError(f"no speech sample named {name!r}; the samples are: {', '.join(by_name)}")
    sample = by_name[name]
    if sample.kind == "silence":
        samples = np.zeros(int(sample.seconds * SAMPLE_RATE), dtype=np.int16)
    elif sample.kind == "noise":
        rng = np.random.default_rng(NOISE_SEED)
        samples = np.frombuffer(array_to_pcm(rng.normal(0.0, NOISE_RMS, int(sample.seconds * SAMPLE_RATE))),
                                dtype="<i2")
    elif sample.kind == "sequence":
        pieces: list[np.ndarray] = []
        for i, part in enumerate(sample.parts):
            if i:
                pieces.append(_silence(PAUSE_MS))
            pieces.append(_samples_array(part, cache))
        samples = np.concatenate(pieces)
    else:
        samples = _spoken(sample)
    cache[name] = samples
    return samples


def generate(out_dir: str | Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Write the samples (all, or `names`) and samples.json into `out_dir`; return {file name: path}."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [s.file for s in SAMPLES] if names is None else list(names)
    cache: dict[str, np.ndarray] = {}
    written: dict[str, Path] = {}
    index: dict[str, dict[str, object]] = {}
    by_name = {s.file: s for s in SAMPLES}
    for name in wanted:
        pcm = make_pcm(name, cache)
        path = folder / name
        path.write_bytes(write_wav(pcm, SAMPLE_RATE))
        written[name] = path
        entry = {k: v for k, v in asdict(by_name[name]).items() if v not in ("", 0.0, ())}
        entry.update(voice=VOICE if by_name[name].text or by_name[name].parts else None,
                     samples=len(pcm) // 2, duration_s=round(len(pcm) / 2 / SAMPLE_RATE, 3))
        if by_name[name].kind == "sequence":
            entry["text"] = ", ".join(by_name[p].text for p in by_name[name].parts)
        index[name] = {k: v for k, v in entry.items() if v is not None}
    meta = {"sample_rate": SAMPLE_RATE, "lead_ms": LEAD_MS, "tail_ms": TAIL_MS, "pause_ms": PAUSE_MS,
            "noise_seed": NOISE_SEED, "made_by": "python -m glassbridge.audio.speech_samples", "files": index}
    (folder / "samples.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glassbridge.audio.speech_samples",
                                     description="Write the demo's and tests' speech WAVs (16 kHz) with espeak-ng.")
    parser.add_argument("out_dir", help="folder to write the WAVs and samples.json into (created if missing)")
    parser.add_argument("--only", nargs="+", metavar="FILE", help="write only these files (e.g. okay_nabu.wav)")
    args = parser.parse_args(argv)
    try:
        written = generate(args.out_dir, args.only)
    except (VoiceError, ValueError, OSError) as exc:
        print(f"speech_samples: {exc}", file=sys.stderr)
        return 1
    for name, path in written.items():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
