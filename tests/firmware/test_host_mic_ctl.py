"""The host port's microphone sources, switched on its control socket: `mic play PATH` (a WAV once, then
silence), `mic loop PATH`, `mic tone`, `mic silence`.

What the SoC receives is read the way the SoC reads it: glassbridge.mcu.Mcu.microphone() through the link
emulator at 921600 baud, every AudioFrame with its first_sample. The reference is independent of the firmware:
the WAV's samples as Python's wave module reads them back, zeros for silence, and a least-squares fit of a
440 Hz sine (numpy) for the tone.
"""

from __future__ import annotations

import asyncio
import random
import wave
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import numpy as np

from glassbridge.mcu.client import Mcu
from glassbridge.mcu.events import AudioChunk
from glassbridge_rig.runner import FirmwareError, FirmwareRunner
from tests.e2e.conftest import ctl_status, run

FRAME = 320  # samples in a 20 ms frame at 16 kHz: the stream's unit, so a source switch lands on a multiple


def write_wav(path: Path, samples: list[int], rate: int = 16000, channels: int = 1) -> bytes:
    """Writes a PCM16 WAV with Python's wave module and returns its frames as wave reads them back."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    with wave.open(str(path), "rb") as r:
        return r.readframes(r.getnframes())


def speech_like(n: int, seed: int) -> list[int]:
    """Deterministic noise with a non-zero first sample, so where the WAV starts in the stream is unambiguous."""
    rng = random.Random(seed)
    out = [rng.randint(-20000, 20000) or 1 for _ in range(n)]
    out[0] = 12345
    return out


async def take(stream: AsyncGenerator[AudioChunk, None], samples: int, timeout: float = 10.0) -> bytes:
    """At least `samples` more samples from the stream, checked to be contiguous and without gaps."""
    got: list[AudioChunk] = []

    async def pull() -> None:
        while sum(len(c.pcm) // 2 for c in got) < samples:
            got.append(await stream.__anext__())

    try:
        await asyncio.wait_for(pull(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"only {sum(len(c.pcm) // 2 for c in got)} of {samples} microphone samples arrived "
                             f"in {timeout} s") from None
    for a, b in zip(got, got[1:]):
        assert b.first_sample == a.first_sample + len(a.pcm) // 2 and not b.gap_before, (a, b)
    return b"".join(c.pcm for c in got)


async def status(fw: Any) -> dict[str, Any]:
    return await ctl_status(fw)


def test_play_before_the_stream_starts_gives_the_wav_from_sample_zero_then_silence(tmp_path: Path) -> None:
    samples = speech_like(5000, seed=1)  # not a multiple of 320: silence fills the rest of the WAV's last frame
    reference = write_wav(tmp_path / "question.wav", samples)

    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            assert await fw.control(f"mic play {tmp_path / 'question.wav'}") == "mic play samples=5000"
            before = await status(fw)
            # Nothing reads the microphone yet: the WAV waits for the stream instead of being lost.
            assert before["mic_source"] == "play" and before["mic_position"] == 0
            assert before["mic_wav_samples"] == 5000
            stream = mcu.microphone(20)
            try:
                first = await asyncio.wait_for(stream.__anext__(), 10)
                assert first.first_sample == 0 and first.sample_rate == 16000
                pcm = first.pcm + await take(stream, 5000 + 10 * FRAME)
            finally:
                await stream.aclose()
            assert pcm[: len(reference)] == reference
            tail = pcm[len(reference):]
            assert len(tail) >= 10 * FRAME * 2 and tail == bytes(len(tail)), "after the WAV: silence"
            after = await status(fw)
            assert after["mic_source"] == "play" and after["mic_position"] == 5000

    run(body(), 60)


def test_a_switch_mid_stream_lands_on_a_frame_and_loop_repeats_the_wav(tmp_path: Path) -> None:
    samples = speech_like(1000, seed=2)
    reference = write_wav(tmp_path / "loop me.wav", samples)  # a space in the path: the rest of the line counts

    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            assert await fw.control("mic silence") == "mic silence samples=0"
            stream = mcu.microphone(20)
            try:
                quiet = await take(stream, 3 * FRAME)
                assert quiet == bytes(len(quiet))
                assert await fw.control(f"mic loop {tmp_path / 'loop me.wav'}") == "mic loop samples=1000"
                pcm = await take(stream, 3 * 1000 + 40 * FRAME)  # what was queued before, then three loops
            finally:
                await stream.aclose()
            start = next(i for i in range(0, len(pcm), 2) if pcm[i:i + 2] != b"\0\0") // 2
            assert start % FRAME == 0, f"the new source began at sample {start}, inside a frame"
            assert pcm[: start * 2] == bytes(start * 2)
            looped = pcm[start * 2:]
            assert len(looped) >= 3 * len(reference)
            assert looped[: 3 * len(reference)] == reference * 3
            s = await status(fw)
            assert s["mic_source"] == "loop" and 0 <= s["mic_position"] < 1000

    run(body(), 60)


def test_tone_is_a_440_hz_sine(tmp_path: Path) -> None:
    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            write_wav(tmp_path / "x.wav", [7] * 640)
            assert await fw.control(f"mic play {tmp_path / 'x.wav'}") == "mic play samples=640"
            assert await fw.control("mic tone") == "mic tone samples=0"
            stream = mcu.microphone(20)
            try:
                pcm = await take(stream, 1600)
            finally:
                await stream.aclose()
            x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)[:1600]
            t = np.arange(x.size) / 16000.0
            basis = np.column_stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)])
            coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
            amplitude = float(np.hypot(*coef))
            residual = x - basis @ coef
            assert abs(amplitude - 8192) < 8, amplitude  # the documented tone: 440 Hz at 8192
            assert float(np.sqrt(np.mean(residual**2))) < 2.0, "more than rounding away from a pure sine"
            assert (await status(fw))["mic_source"] == "tone"

    run(body(), 60)


def test_bad_mic_commands_are_explained_and_change_nothing(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    write_wav(stereo, [0] * 400, rate=44100, channels=2)
    truncated = tmp_path / "cut.wav"
    write_wav(truncated, speech_like(800, seed=3))
    truncated.write_bytes(truncated.read_bytes()[:-100])

    async def refused(fw: Any, command: str) -> str:
        try:
            answer = await fw.control(command)
        except FirmwareError as exc:
            return str(exc)
        raise AssertionError(f"{command!r} was accepted: {answer}")

    async def body() -> None:
        async with FirmwareRunner("host") as fw:
            assert "cannot open mic play" in await refused(fw, f"mic play {tmp_path / 'missing.wav'}")
            message = await refused(fw, f"mic loop {stereo}")
            assert "need PCM 16-bit mono 16000 Hz" in message and "44100" in message and "2 channel" in message
            assert "truncated" in await refused(fw, f"mic play {truncated}")
            assert "needs the path" in await refused(fw, "mic play")
            assert "takes no argument" in await refused(fw, "mic tone loud")
            assert "unknown microphone source 'sing'" in await refused(fw, "mic sing")
            assert "usage: mic play PATH" in await refused(fw, "mic")
            s = await status(fw)
            assert s["mic_source"] == "tone" and s["mic_wav_samples"] == 0  # every refusal left the tone on

    run(body(), 30)
