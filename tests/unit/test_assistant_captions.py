"""Captions: the microphone streamed to the phone as Opus packets numbered by sample, caption lines on the
display, final lines in a transcript file with retention, the phone's refusal said aloud."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from glassbridge.assistant.transcripts import Transcript, sweep_transcripts
from tests.unit.assistant_fakes import fast_settings, Rig, run, start_rig, stop_rig, tone


def test_transcription_session(tmp_path: Path) -> None:
    old = tmp_path / "transcript-20200101-120000-7.txt"
    old.write_text("# an old meeting\n")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not ours\n")
    os.utime(foreign, (time.time() - 400 * 86400,) * 2)

    async def body() -> Rig:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path), "retention_days": 30}))
        rig.mcu.press("main", "double_tap")
        on = await rig.timeline.wait_for("captions_on", timeout=5)
        stream = on.detail["stream"]
        await rig.settle()
        assert rig.mcu.mic_streaming and rig.assistant.state == "streaming"
        rig.mcu.speak_into_mic(tone(200))  # 10 chunks of 20 ms
        rig.mcu.skip_samples(1600)  # 100 ms lost (an MCU reboot)
        rig.mcu.speak_into_mic(tone(100), gap_before=True)
        while len(rig.phone.packets) < 15:
            await asyncio.sleep(0.01)
        rig.phone.caption(stream, "the meeting", final=False)
        rig.phone.caption(stream, "the meeting starts at ten", final=True)
        rig.phone.caption(stream + 1, "somebody else's stream", final=True)
        await rig.timeline.wait_for("caption", text="somebody else's stream", timeout=5)
        await rig.settle()
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_off", timeout=5)
        rig.phone.caption(stream, "tomorrow morning", final=True)  # the phone's last line after the stop
        await rig.timeline.wait_for("caption", text="tomorrow morning", timeout=5)
        await rig.settle()
        await asyncio.sleep(0.05)
        assert not rig.mcu.mic_streaming and rig.assistant.state == "idle"
        await stop_rig(rig)
        rig.extra["stream"] = stream
        return rig

    rig = run(body)
    stream = rig.extra["stream"]
    assert rig.phone.captions[0] == ("start", stream, "transcription", "en", "")
    assert rig.phone.captions[-1][:2] == ("stop", stream)
    packets = rig.phone.packets
    assert len(packets) == 15 and {p[0] for p in packets} == {stream}
    assert {(p[3], p[4]) for p in packets} == {("opus", 320)}
    firsts = [p[1] for p in packets]
    assert firsts[:10] == [320 * i for i in range(10)]
    assert firsts[10:] == [3200 + 1600 + 320 * i for i in range(5)]  # after the gap: later, and marked
    assert [p[5] for p in packets] == [False] * 10 + [True] + [False] * 4
    caption_cards = [c for c in rig.mcu.cards if c.kind == "caption"]
    assert [c.text for c in caption_cards][1:3] == ["the meeting", "the meeting starts at ten"]
    assert "somebody else's stream" not in [c.text for c in rig.mcu.cards]
    files = sorted(tmp_path.glob("transcript-*.txt"))
    assert len(files) == 1 and not old.exists() and foreign.exists()  # retention touched only our old file
    lines = files[0].read_text().splitlines()
    assert lines[0].startswith("# glassbridge transcription, en")
    assert [line.split(" ", 1)[1] for line in lines[1:]] == ["the meeting starts at ten", "tomorrow morning"]
    # The card names the transcript; the voice says only that captions are off (a file name read aloud is long).
    assert f"Captions off: stopped by a double tap. Transcript: {files[0].name}." in [c.text for c in rig.mcu.cards]
    assert rig.voice.heard("Captions off: stopped by a double tap.") and not rig.voice.heard(files[0].name)


def test_translation_refused_by_the_offline_brain(tmp_path: Path) -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path), "translate_to": "fr"}))
        rig.phone.caption_refusal = "translation needs the online brain"
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_refused", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.phone.captions == [("start", rig.phone.captions[0][1], "translation", "fr", "en")]
    assert rig.voice.said == ["No translation: translation needs the online brain."]
    assert not rig.mcu.mic_streaming and not list(tmp_path.iterdir())
    assert rig.assistant.state == "idle"


def test_phone_away_stops_captions(tmp_path: Path) -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path)}))
        rig.phone.set_up(False)
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("notice", title="Captions", timeout=5)
        await rig.settle()
        rig.phone.set_up(True)
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_on", timeout=5)
        await rig.settle()
        rig.phone.set_up(False)
        rig.mcu.speak_into_mic(tone(60))
        await rig.timeline.wait_for("captions_off", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.heard("Captions need the phone, and it is not connected.")
    assert rig.voice.heard("Captions off: the phone went away (audio packet: the phone link is down).")


def test_real_opus_packets_decode_to_the_microphone_audio(tmp_path: Path) -> None:
    try:
        from glassbridge.assistant.audio_tools import AudioTools
        from glassbridge.audio import OpusDecoder

        tools = AudioTools.default()
        tools.encoder(24000)
    except Exception as exc:
        pytest.skip(f"libopus unavailable: {exc}")
    pcm = tone(400, amplitude=8000, freq=500.0)

    async def body() -> Rig:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path)}), audio=tools)
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_on", timeout=5)
        await rig.settle()
        rig.mcu.speak_into_mic(pcm)
        while len(rig.phone.packets) < 20:
            await asyncio.sleep(0.01)
        await stop_rig(rig)
        return rig

    rig = run(body)
    decoder = OpusDecoder()
    decoded = b"".join(decoder.decode(p[2]) for p in rig.phone.packets[:20])
    got = np.frombuffer(decoded, "<i2").astype(np.float64)
    want = np.frombuffer(pcm, "<i2").astype(np.float64)
    # Opus adds a small algorithmic delay: compare at the best lag within 10 ms, past the first packets
    best = max(float(np.corrcoef(got[1600 + lag:6000 + lag], want[1600:6000])[0, 1]) for lag in range(0, 160))
    assert best > 0.95


def test_sweep_with_zero_retention_removes_every_transcript(tmp_path: Path) -> None:
    t = Transcript(tmp_path, 42, "transcription", "en")
    t.append("hello")
    assert sweep_transcripts(tmp_path, 0) == [t.path]
    assert sweep_transcripts(tmp_path / "missing", 30) == []


def test_sweep_spares_the_kept_file_and_the_latest(tmp_path: Path) -> None:
    a = Transcript(tmp_path, 1, "transcription", "en", now=time.time() - 3600)
    b = Transcript(tmp_path, 2, "transcription", "en")
    os.utime(a.path, (time.time() - 3600,) * 2)
    assert sweep_transcripts(tmp_path, 0, keep=a.path) == [b.path] and a.path.exists()
    c = Transcript(tmp_path, 3, "transcription", "en")
    assert sweep_transcripts(tmp_path, 0, keep_latest=True) == [a.path] and c.path.exists()


def test_retention_applies_at_start_up_and_when_a_session_ends(tmp_path: Path) -> None:
    """An old transcript goes when the assistant starts, without any caption session, and one that turned old
    during a session goes when that session ends; with retention_days = 0 start-up keeps the latest session's."""
    old = tmp_path / "transcript-20200101-120000-7.txt"
    old.write_text("# an old meeting\n")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    recent = tmp_path / "transcript-20260101-120000-9.txt"
    recent.write_text("# last week's meeting\n")

    async def start_only() -> None:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path), "retention_days": 30}))
        await rig.timeline.wait_for("transcripts_deleted", timeout=5)
        await stop_rig(rig)

    run(start_only)
    assert not old.exists() and recent.exists()

    async def one_session() -> None:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path), "retention_days": 30}))
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_on", timeout=5)
        await rig.settle()
        old.write_text("# turned old while the meeting ran\n")
        os.utime(old, (time.time() - 40 * 86400,) * 2)
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_off", timeout=5)
        await rig.settle()
        await stop_rig(rig)

    run(one_session)
    assert not old.exists() and recent.exists() and len(list(tmp_path.glob("transcript-*.txt"))) == 2

    async def start_keeping_none() -> None:
        rig = await start_rig(fast_settings(captions={"transcript_dir": str(tmp_path), "retention_days": 0}))
        await rig.timeline.wait_for("transcripts_deleted", timeout=5)
        await stop_rig(rig)

    newest = max(tmp_path.glob("transcript-*.txt"), key=lambda p: p.stat().st_mtime)
    run(start_keeping_none)
    assert list(tmp_path.glob("transcript-*.txt")) == [newest]
