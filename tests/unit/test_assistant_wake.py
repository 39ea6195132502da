"""The wake word skill: heard -> listening -> the question recorded until the wearer stops -> photo + Opus
recording to the phone; no speech and the listening limit end in their own spoken messages. First with
deterministic stand-ins, then with the real okay_nabu model, VAD and libopus on espeak-ng speech."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.assistant_fakes import fast_settings, Rig, run, silence, start_rig, stop_rig, tone, wake_chunk


def _unpack(data: bytes) -> list[bytes]:
    """The 2-byte little-endian length-prefixed stream (TRANSFER_KIND_AUDIO_OPUS), parsed independently."""
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 2], "little")
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def test_wake_word_question_is_recorded_and_asked() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "silence_ms": 300}), wake=True)
        await asyncio.sleep(0.02)
        assert rig.mcu.mic_streaming
        rig.mcu.speak_into_mic(silence(100) + wake_chunk())
        await rig.timeline.wait_for("wake_word", question=1, timeout=5)
        assert rig.assistant.state == "listening"
        rig.mcu.speak_into_mic(silence(100) + tone(1000) + silence(400))
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    asked = rig.phone.asked[0]
    assert asked.task == "ask" and asked.text == "" and asked.photo is not None
    packets = _unpack(asked.audio_opus or b"")
    # recorded from the start of listening to the end of the 300 ms of silence: 100 + 1000 + 300 ms
    assert len(packets) == (100 + 1000 + 300) // 20
    assert rig.mcu.power_log == [True, False]
    assert rig.states()[:2] == ["listening", "idle"] and "capturing" in rig.states()
    recorded = rig.timeline.find("question_recorded")[0].detail
    assert recorded["reason"] == "silence" and recorded["seconds"] == pytest.approx(1.4, abs=0.021)
    assert any(c.title == "Listening" and c.icon == "mic" for c in rig.mcu.cards)


def test_no_speech_after_the_wake_word() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "no_speech_ms": 500}), wake=True)
        rig.mcu.speak_into_mic(wake_chunk() + silence(800))
        await rig.timeline.wait_for("listening_ended", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said == ["I did not hear a question."]
    assert rig.phone.asked == [] and rig.mcu.power_log == []
    assert rig.assistant.state == "idle"


def test_listening_watchdog_when_the_microphone_stalls() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "listen_timeout_s": 0.3}), wake=True)
        rig.mcu.speak_into_mic(wake_chunk() + tone(100))  # speech starts, then the microphone delivers nothing
        await rig.timeline.wait_for("listening_ended", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said == ["I stopped listening after 0.3 s."]
    assert rig.timeline.find("listening_ended")[0].detail["reason"] == "timeout"


def test_long_press_cancels_listening() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), wake=True)
        rig.mcu.speak_into_mic(wake_chunk())
        await rig.timeline.wait_for("wake_word", question=1, timeout=5)
        rig.mcu.press("main", "long_press")
        await rig.timeline.wait_for("listening_ended", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("listening_ended")[0].detail["reason"] == "cancelled"
    assert rig.voice.heard("Cancelled.") and rig.phone.asked == []


def test_real_wake_word_vad_and_opus_on_espeak_speech() -> None:
    try:
        from glassbridge.assistant.audio_tools import AudioTools
        from glassbridge.audio import OpusDecoder, WakeWord
        from glassbridge.audio.speech_samples import make_pcm

        wake = WakeWord()
        tools = AudioTools.default()
        speech = make_pcm("wake_and_ask.wav")
        question = make_pcm("question_look.wav")
    except Exception as exc:  # models not fetched, espeak-ng or libopus missing
        pytest.skip(f"real audio unavailable: {exc}")

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), audio=tools, wake_word=wake)
        await asyncio.sleep(0.02)
        rig.mcu.speak_into_mic(silence(300) + speech + silence(1500))
        await rig.timeline.wait_for("card_shown", question=1, timeout=20)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("wake_word")[0].detail["probability"] > 0.85
    asked = rig.phone.asked[0]
    decoder = OpusDecoder()
    pcm = b"".join(decoder.decode(p) for p in _unpack(asked.audio_opus or b""))
    seconds = len(pcm) / 32000
    # the recording holds the whole spoken question (plus the pause before it and the silence that ended it)
    assert len(question) / 32000 < seconds < len(question) / 32000 + 2.5


def test_enabled_wake_word_is_built_from_the_settings() -> None:
    from glassbridge.assistant.loop import build_wake_word

    try:
        wake = build_wake_word(fast_settings(wake_word={"enabled": True, "cutoff": 0.9}))
    except Exception as exc:  # the model not fetched
        pytest.skip(f"wake word model unavailable: {exc}")
    assert (wake.model_id, wake.cutoff) == ("okay_nabu", 0.9)  # type: ignore[attr-defined]
    assert wake.feed(silence(500)) == []
