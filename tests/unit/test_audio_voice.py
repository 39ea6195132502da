"""glassbridge.audio.EspeakVoice and the speech samples: real espeak-ng, and fake ones for the failure paths.

The reference for the voice's output is espeak-ng's own WAV of the same text (written with -w and read with
Python's `wave`): the 16 kHz PCM must last as long and carry the same energy. The failure paths use small shell
scripts named espeak-ng on a private PATH (one that hangs, one that fails), so the errors and the clean-up of a
hung child are tested without breaking the real program.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from glassbridge.audio import SAMPLE_RATE, EspeakVoice, Voice, VoiceError, read_wav
from glassbridge.audio import speech_samples
from glassbridge.audio.voice import synthesize_blocking

TEXT = "One person ahead, looking happy."


@pytest.fixture
def espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng)")
    return path


def _fake_espeak(folder: Path, body: str) -> Path:
    script = folder / "espeak-ng"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return script


def test_espeak_voice_speaks_like_espeak_ng_itself(espeak: str, tmp_path: Path) -> None:
    voice = EspeakVoice(voice="en-us", rate_wpm=170)
    assert isinstance(voice, Voice)
    pcm = asyncio.run(voice.synthesize(TEXT))
    ref_path = tmp_path / "ref.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "170", "-p", "50", "-w", str(ref_path), TEXT], check=True,
                   timeout=30)
    with wave.open(str(ref_path)) as w:
        ref_rate = w.getframerate()
        ref = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    out = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert ref_rate == 22050
    assert len(out) == len(ref) * SAMPLE_RATE // ref_rate  # same duration at the new rate
    # Same loudness: resampling removes only what lies above 7.2 kHz, little of a voice's energy.
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(ref**2)), rel=0.05)
    assert pcm == synthesize_blocking(TEXT, voice="en-us", rate_wpm=170)  # deterministic, both paths alike


def test_missing_espeak_ng_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no espeak-ng anywhere
    with pytest.raises(VoiceError, match="apt-get install espeak-ng"):
        asyncio.run(EspeakVoice().synthesize("hello"))
    with pytest.raises(VoiceError, match="espeak-ng is not installed"):
        synthesize_blocking("hello")


def test_unknown_voice_is_reported_with_espeak_ngs_reason(espeak: str) -> None:
    with pytest.raises(VoiceError, match="voice 'xx-nowhere'.*does not exist"):
        asyncio.run(EspeakVoice(voice="xx-nowhere").synthesize("hello"))


def test_a_hung_espeak_times_out_and_is_killed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sleep = shutil.which("sleep") or "/bin/sleep"
    _fake_espeak(tmp_path, f'echo $$ > "{pid_file}"\nexec {sleep} 30')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(VoiceError, match="did not finish within 0.5 s"):
        asyncio.run(EspeakVoice(timeout_s=0.5).synthesize("hello"))
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped: no process left behind
    pid_file.unlink()
    with pytest.raises(VoiceError, match="did not finish within 0.5 s"):
        synthesize_blocking("hello", timeout_s=0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_failing_or_silent_espeak_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_espeak(tmp_path, 'echo "broken data" >&2\nexit 3')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(VoiceError, match="exit status 3.*broken data"):
        asyncio.run(EspeakVoice().synthesize("hello"))
    _fake_espeak(tmp_path, "read -r line\necho not a wav")
    with pytest.raises(VoiceError, match="no usable WAV"):
        asyncio.run(EspeakVoice().synthesize("hello"))


def test_arguments_are_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="nothing to say"):
        asyncio.run(EspeakVoice().synthesize("   "))
    with pytest.raises(ValueError, match="voice must be"):
        EspeakVoice(voice="--help")
    with pytest.raises(ValueError, match="rate_wpm"):
        EspeakVoice(rate_wpm=10)
    with pytest.raises(ValueError, match="timeout_s"):
        EspeakVoice(timeout_s=0)


def test_text_starting_with_a_dash_is_spoken_not_taken_as_an_option(espeak: str) -> None:
    pcm = synthesize_blocking("-v is not an option here")
    assert len(pcm) > SAMPLE_RATE  # over half a second of speech


def test_speech_samples_are_deterministic_and_listed(espeak: str, tmp_path: Path) -> None:
    assert speech_samples.main([str(tmp_path / "a")]) == 0
    speech_samples.generate(tmp_path / "b")
    index = json.loads((tmp_path / "a" / "samples.json").read_text())
    expected = {"okay_nabu.wav", "question_look.wav", "question_sign.wav", "question_feel.wav", "meeting.wav",
                "silence.wav", "noise.wav", "wake_and_ask.wav"}
    assert set(index["files"]) == expected
    assert index["files"]["question_look.wav"]["text"] == "what am I looking at"
    assert index["files"]["okay_nabu.wav"]["text"] == "okay nabu"
    for name in expected:
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert a == b, f"{name} differs between two runs"
        pcm, rate = read_wav(a)
        assert rate == SAMPLE_RATE
        assert index["files"][name]["samples"] == len(pcm) // 2
        assert len(pcm) // 2 <= 8 * SAMPLE_RATE  # a small set: a few seconds each
    silence, _ = read_wav(tmp_path / "a" / "silence.wav")
    assert not any(silence)
    noise = np.frombuffer(read_wav(tmp_path / "a" / "noise.wav")[0], dtype="<i2").astype(np.float64)
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(speech_samples.NOISE_RMS, rel=0.05)
    assert speech_samples.main([str(tmp_path / "c"), "--only", "nope.wav"]) == 1
