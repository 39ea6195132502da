"""The wake word on the MCU (firmware/src/app/wake.c, the gbnn engine and frontend, on the host port) against the
SoC's detector (glassbridge.audio.WakeWord: pymicro-features + LiteRT) on the same audio.

The firmware plays an espeak-ng WAV as its microphone (`mic play`, from the first sample the wake word reads) and
listens after Mcu.listen_for_wake_word(); the SoC's WakeWord reads the same samples, with pymicro-features' frontend
and LiteRT (nothing of gbnn). Same model, same features,
same decision rule: every detection at the same sample, none where the SoC has none. The stream a detection starts
must begin lookback_ms before it with exactly the WAV's samples (the phrase reaches the SoC uncut), and while the
MCU only listens nothing but the link's own keep-alive crosses the UART and the capture LED stays off.
The negatives are a question without the phrase and noise (`glassbridge bench int8` adds the 8 s meeting and
silence).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from glassbridge.audio import SAMPLE_RATE, WakeWord, read_wav
from glassbridge.audio.speech_samples import generate
from glassbridge.audio.wav import write_wav
from glassbridge.mcu.client import Mcu
from glassbridge.mcu.events import WakeWordHeard
from glassbridge_rig.runner import FirmwareRunner
from tests.e2e.conftest import run

LOOKBACK_MS = 1500


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng): the speech WAVs are made with it")
    folder = tmp_path_factory.mktemp("speech")
    out = {}
    for name, path in generate(folder, ["wake_and_ask.wav", "question_look.wav", "noise.wav"]).items():
        pcm, rate = read_wav(path)
        assert rate == SAMPLE_RATE
        out[name] = np.frombuffer(pcm, dtype="<i2")
    return out


class _PymicroFeatures:
    """pymicro-features' MicroFrontend behind glassbridge.nn.Frontend's face: the SoC reference keeps a frontend
    written by others, so the MCU's (gbnn's) is checked against it here too, not against itself."""

    def __init__(self) -> None:
        from pymicro_features import MicroFrontend

        self._fe = MicroFrontend()

    def process(self, pcm: bytes | memoryview) -> list[float] | None:
        features = self._fe.process_samples(bytes(pcm)).features
        return list(features) if features else None

    def reset(self) -> None:
        self._fe.reset()


def soc_detections(pcm: np.ndarray) -> list[int]:
    """The SoC's detector with pymicro-features' frontend and LiteRT: nothing of gbnn."""
    wake = WakeWord()
    wake._frontend = _PymicroFeatures()  # type: ignore[assignment]
    return [d.sample for d in wake.feed(pcm.astype("<i2").tobytes())]


async def mcu_listens(wav: Path, seconds: float) -> tuple[list[WakeWordHeard], dict[str, int], bytes]:
    """Plays `wav` into the host firmware's microphone while the MCU listens; returns its detections, what
    crossed the UART from the MCU while it only listened, and the first detection's stream (lookback on)."""
    async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
        assert mcu.listens_for_wake_word, "the host firmware should declare CAPABILITY_WAKE_WORD"
        events = mcu.events()
        assert (await fw.control(f"mic play {wav}")).startswith("mic play samples=")
        before = mcu.link_info()
        await mcu.listen_for_wake_word(lookback_ms=LOOKBACK_MS)
        status = await mcu.status()
        assert status.wake_listening and not status.mic_streaming and not status.capture_led
        heard: list[WakeWordHeard] = []
        stream_pcm = b""
        idle: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                event = await asyncio.wait_for(events.next(), left)
            except asyncio.TimeoutError:
                break
            if not isinstance(event, WakeWordHeard):
                continue
            if not heard:
                after = mcu.link_info()
                idle = {k: after[k] - before[k] for k in ("bytes_rx", "frames_rx") if k in after}
                # The stream: from the lookback on, the WAV's own samples.
                stream = mcu.wake_stream(event)
                try:
                    while len(stream_pcm) < (LOOKBACK_MS * 16 + 8000) * 2:
                        chunk = await asyncio.wait_for(stream.__anext__(), 10)
                        assert not chunk.gap_before
                        stream_pcm += chunk.pcm
                finally:
                    await stream.aclose()
                assert (await mcu.status()).capture_led is False, "the LED goes off with the stream"
            heard.append(event)
        final = await mcu.status()
        assert final.wake_late_steps == 0
        await mcu.listen_for_wake_word(False)
        await events.aclose()
        return heard, idle, stream_pcm


@pytest.mark.parametrize("name", ["wake_and_ask.wav", "question_look.wav", "noise.wav"])
def test_mcu_detects_where_the_soc_does(name: str, speech: dict[str, np.ndarray], tmp_path: Path) -> None:
    pcm = np.concatenate([speech[name], np.zeros(SAMPLE_RATE, dtype=np.int16)])  # a second of quiet after
    wav = tmp_path / name
    wav.write_bytes(write_wav(pcm.astype("<i2").tobytes()))
    expected = soc_detections(pcm)
    if name == "wake_and_ask.wav":
        assert len(expected) == 1, f"the SoC's detector should hear the phrase once: {expected}"
    else:
        assert expected == [], f"the SoC's detector fired on {name}: {expected}"
    heard, idle, stream = run(mcu_listens(wav, len(pcm) / SAMPLE_RATE + 2.0), 90)
    assert [e.heard_sample for e in heard] == expected
    if not expected:
        return
    first = heard[0]
    start = max(0, first.heard_sample - LOOKBACK_MS * 16)
    assert first.lookback_sample == 0 and first.detected_sample == first.heard_sample - start
    got = np.frombuffer(stream, dtype="<i2")
    want = pcm[start:start + got.size]
    assert got.size >= LOOKBACK_MS * 16 and np.array_equal(got[:want.size], want), \
        "the wake word's stream is the microphone's audio from the lookback on"
    # Listening sent no audio: a few keep-alive frames at most over the seconds before the detection.
    assert idle.get("bytes_rx", 0) < 2000, idle


def test_mcu_monitor_wake_word_prints_the_detection(speech: dict[str, np.ndarray], tmp_path: Path) -> None:
    """`glassbridge mcu monitor --wake-word` on the host firmware: the MCU listens, the phrase is heard, the line
    says so, and the stream the detection started is stopped again (LED off)."""
    import json
    import subprocess
    import sys

    pcm = np.concatenate([speech["wake_and_ask.wav"], np.zeros(SAMPLE_RATE, dtype=np.int16)])
    wav = tmp_path / "wake.wav"
    wav.write_bytes(write_wav(pcm.astype("<i2").tobytes()))

    async def body() -> None:
        async with FirmwareRunner("host") as fw:
            assert (await fw.control(f"mic play {wav}")).startswith("mic play samples=")
            proc = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("glassbridge")), "mcu", "monitor", "--port", fw.port,
                "--wake-word", "--json", "--duration", "8", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            lines = [json.loads(line) for line in out.decode().splitlines()]
            heard = [e for e in lines if e["event"] == "WakeWordHeard"]
            assert len(heard) == 1 and heard[0]["heard_sample"] == soc_detections(pcm)[0], lines
            status = json.loads(await fw.control("status"))
            assert not status["mic_streaming"] and not status["wake_listening"] and status["wake_detections"] == 1

    run(body(), 60)
