"""Spoken answers: the `Voice` protocol and `EspeakVoice`, which runs espeak-ng and returns 16 kHz PCM16.

espeak-ng is a formant synthesiser: robotic, but small, offline, in Debian (`apt-get install espeak-ng`) and
deterministic for a fixed voice, speed and pitch, which is why the tests and the demo also make their speech WAVs
with it (`glassbridge.audio.speech_samples`). It writes 22050 Hz WAV to stdout (with a streamed header whose sizes
are placeholders; `read_wav` copes), resampled here to 16 kHz with the band-limited resampler.

The text goes to espeak-ng on stdin (``--stdin``), never on the command line: a text starting with "-" would be
read as an option, and the command line has a length limit.

espeak-ng is a short-lived child that never outlives its caller: it runs in a process group of its own with the
parent-death signal set (glassbridge.lifetime: SIGTERM when this process dies, SIGKILL included), and its run
time is bounded (`timeout_s`): past it, the whole group is killed (anything it started too) and VoiceError says
so, within the bound, whatever the child left holding its pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import subprocess
from typing import Protocol, runtime_checkable

from glassbridge.audio.wav import SAMPLE_RATE, WavError, read_wav, resample

__all__ = ["Voice", "EspeakVoice", "VoiceError", "espeak_command", "espeak_available", "synthesize_blocking",
           "ESPEAK", "INSTALL_ESPEAK"]

ESPEAK = "espeak-ng"
INSTALL_ESPEAK = "install it: `sudo apt-get install espeak-ng` (or `scripts/system-packages.sh audio`)"
# espeak-ng speaks a sentence in well under a second; 10 s only trips on a hung process or a huge text.
DEFAULT_TIMEOUT_S = 10.0
_MAX_TEXT = 5000  # characters: a spoken answer is a few sentences; more is a bug upstream, not something to say


class VoiceError(RuntimeError):
    """Speech synthesis failed: the message says what (missing program, timeout, exit status, bad output)."""


@runtime_checkable
class Voice(Protocol):
    """Anything that turns text into speech: 16 kHz PCM16 mono bytes."""

    async def synthesize(self, text: str) -> bytes: ...


def espeak_available() -> bool:
    """Whether espeak-ng is on PATH."""
    return shutil.which(ESPEAK) is not None


def espeak_command(voice: str, rate_wpm: int, pitch: int) -> list[str]:
    """The espeak-ng command line (text comes on stdin, UTF-8; WAV goes to stdout)."""
    return [ESPEAK, "--stdout", "--stdin", "-b", "1", "-v", voice, "-s", str(rate_wpm), "-p", str(pitch)]


def _check(text: str, voice: str, rate_wpm: int, pitch: int) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("nothing to say: the text is empty")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"the text is {len(text)} characters; speak at most {_MAX_TEXT} at once")
    if not voice or voice.startswith("-") or any(c.isspace() for c in voice):
        raise ValueError(f"voice must be an espeak-ng voice name such as 'en-us', got {voice!r}")
    if not 80 <= rate_wpm <= 450:
        raise ValueError(f"rate_wpm must be 80..450 words per minute (espeak-ng's range), got {rate_wpm!r}")
    if not 0 <= pitch <= 99:
        raise ValueError(f"pitch must be 0..99, got {pitch!r}")
    return text.encode("utf-8")


def _pcm_from_output(stdout: bytes, stderr: bytes, returncode: int, voice: str) -> bytes:
    message = stderr.decode(errors="replace").strip()
    if returncode != 0:
        raise VoiceError(f"{ESPEAK} failed (exit status {returncode}) for voice {voice!r}: "
                         f"{message or 'no message'}; `espeak-ng --voices` lists the voices")
    try:
        pcm, rate = read_wav(stdout)
    except WavError as exc:
        raise VoiceError(f"{ESPEAK} wrote no usable WAV for voice {voice!r} ({exc}); {message}") from exc
    if not pcm:
        # espeak-ng exits 0 and writes a header only for an unknown voice, printing the reason on stderr.
        raise VoiceError(f"{ESPEAK} produced no audio for voice {voice!r}: {message or 'no message'}; "
                         "`espeak-ng --voices` lists the voices")
    return resample(pcm, rate, SAMPLE_RATE)


def _timeout_error(timeout_s: float, text: str) -> VoiceError:
    return VoiceError(f"{ESPEAK} did not finish within {timeout_s:g} s ({len(text)} characters), so it was killed; "
                      "a sentence takes it well under a second: it hung, or the machine is overloaded")


def _kill_group(pid: int) -> None:
    """SIGKILL to the child's process group (it leads one: start_new_session), so nothing it started is left
    holding the pipes or the CPU. Only our own child's group: its id is the child's pid."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _check_timeout(timeout_s: float) -> None:
    if not (isinstance(timeout_s, (int, float)) and 0 < timeout_s < math.inf):  # nan compares false: refused too
        raise ValueError(f"timeout_s must be positive and finite (the bound on espeak-ng's run time), got "
                         f"{timeout_s!r}")


def synthesize_blocking(text: str, *, voice: str = "en-us", rate_wpm: int = 170, pitch: int = 50,
                        timeout_s: float = DEFAULT_TIMEOUT_S) -> bytes:
    """The same as `EspeakVoice.synthesize`, for code that is not async (sample generation, tests)."""
    from glassbridge.lifetime import popen

    data = _check(text, voice, rate_wpm, pitch)
    _check_timeout(timeout_s)
    try:
        # popen: the child gets SIGTERM if this process dies (forked on a thread that lives as long as it).
        proc = popen(espeak_command(voice, rate_wpm, pitch), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        raise VoiceError(f"{ESPEAK} is not installed; {INSTALL_ESPEAK}") from None
    with proc:  # closes the pipes and reaps the child on the way out
        try:
            stdout, stderr = proc.communicate(data, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            raise _timeout_error(timeout_s, text) from None
        except BaseException:  # interrupted (KeyboardInterrupt): the child must not outlive the call
            _kill_group(proc.pid)
            raise
    return _pcm_from_output(stdout, stderr, proc.returncode, voice)


class EspeakVoice:
    """`Voice` through espeak-ng in a subprocess (asyncio): `await EspeakVoice().synthesize("Hello")`."""

    def __init__(self, voice: str = "en-us", rate_wpm: int = 170, *, pitch: int = 50,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        _check("x", voice, rate_wpm, pitch)
        _check_timeout(timeout_s)
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.timeout_s = timeout_s

    async def synthesize(self, text: str) -> bytes:
        """16 kHz PCM16 mono of `text` spoken; VoiceError when espeak-ng is missing, fails or times out."""
        from glassbridge.lifetime import die_with_parent

        data = _check(text, self.voice, self.rate_wpm, self.pitch)
        try:
            # Forked on the event loop's thread, which outlives the child (lifetime's caveat on PDEATHSIG).
            proc = await asyncio.create_subprocess_exec(
                *espeak_command(self.voice, self.rate_wpm, self.pitch),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                preexec_fn=die_with_parent(), start_new_session=True)
        except FileNotFoundError:
            raise VoiceError(f"{ESPEAK} is not installed; {INSTALL_ESPEAK}") from None
        done = False
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(data), self.timeout_s)
            done = True
        except asyncio.TimeoutError:
            raise _timeout_error(self.timeout_s, text) from None
        finally:
            if not done:  # timed out or cancelled: end the child's whole group, and reap the child
                _kill_group(proc.pid)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 5.0)
        assert proc.returncode is not None
        # Resampling a few seconds takes milliseconds: not worth a thread.
        return _pcm_from_output(stdout, stderr, proc.returncode, self.voice)

    def __repr__(self) -> str:
        return f"EspeakVoice(voice={self.voice!r}, rate_wpm={self.rate_wpm}, pitch={self.pitch})"
