"""The audio fuzz target's oracles on its seeds and on damaged copies of them (the short atheris run is in
`make test-fuzz-py`): a valid WAV agrees with Python's `wave`, a valid Opus body packs back to itself, and every
truncation of either is refused with the documented error or parsed consistently."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
SEEDS = sorted((FUZZ / "seeds_audio").iterdir())


def _target():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_audio_input", FUZZ / "fuzz_audio_input.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_audio_input"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", SEEDS, ids=[s.name for s in SEEDS])
def test_seed_and_its_truncations_hold_the_oracles(seed: Path) -> None:
    target = _target()
    data = seed.read_bytes()
    if seed.suffix == ".wav":
        from glassbridge.audio.wav import read_wav

        pcm, rate = read_wav(data)
        assert rate == 16000 and len(pcm) == 200  # the seed is what its name says
    else:
        from glassbridge.audio import unpack_opus_stream

        assert len(unpack_opus_stream(data)) == 3
    for cut in range(len(data) + 1):
        target.run(data[:cut])
        target.run(data[:cut] + b"\xff" * 3)
