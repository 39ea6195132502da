"""The wake word heard on the MCU ([wake_word] where): the assistant tells a capable firmware to listen instead of
streaming the microphone, takes the question from the stream a WakeWordHeard brings (after the detected sample,
as the SoC path takes the chunks after its detection), stops the MCU's listening when the battery is critical and
at shutdown; "soc" streams as before; "mcu" with a firmware that cannot says so and listens nowhere."""

from __future__ import annotations

import asyncio

from tests.unit.assistant_fakes import FakeMcu, FakeWakeMcu, Rig, Script, fast_settings, run, silence, start_rig, \
    stop_rig, tone, wake_chunk


def _unpack(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 2], "little")
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def test_auto_has_a_capable_mcu_listen_and_takes_the_question_after_the_detection() -> None:
    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "silence_ms": 300}), wake=True, mcu=mcu)
        await rig.timeline.wait_for("wake_word_mcu", listening=True, timeout=5)
        assert not mcu.mic_streaming and mcu.mic_starts == 0, "no stream while the MCU listens"
        # 1.5 s of lookback (with the phrase, a wake mark the SoC's detector would fire on), then the question.
        mcu.hear_wake_word(silence(1400) + wake_chunk(), silence(100) + tone(1000) + silence(400))
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert mcu.listen_calls[0] == (True, None) and mcu.listen_calls[-1] == (False, None), mcu.listen_calls
    assert rig.timeline.find("wake_word")[0].detail["probability"] == 0.97
    asked = rig.phone.asked[0]
    assert asked.task == "ask" and asked.photo is not None
    # From the detected sample to the end of 300 ms of silence: 100 + 1000 + 300 ms; nothing of the lookback.
    assert len(_unpack(asked.audio_opus or b"")) == (100 + 1000 + 300) // 20
    assert rig.wake is not None and rig.wake.fed == 0, "the SoC's detector never ran"
    assert mcu.wake_streams_closed == 1 and mcu.mic_starts == 0


def test_a_detection_while_busy_is_refused_and_its_stream_closed() -> None:
    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), wake=True, mcu=mcu)
        await rig.timeline.wait_for("wake_word_mcu", listening=True, timeout=5)
        rig.phone.scripts = [Script(parts=("an answer",), delay=0.5)]
        mcu.press("main", "tap")
        await rig.timeline.wait_for("request_sent", question=1, timeout=5)
        mcu.hear_wake_word(silence(200), tone(200))
        await rig.timeline.wait_for("question_refused", timeout=5)
        for _ in range(100):
            if mcu.wake_streams_closed:
                break
            await asyncio.sleep(0.01)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("question_refused")[0].detail["reason"] == "busy"
    assert mcu.wake_streams_closed == 1


def test_critical_battery_stops_the_mcu_listening_and_charging_resumes_it() -> None:
    from glassbridge.mcu.events import BatteryChanged, BatteryInfo

    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), wake=True, mcu=mcu)
        await rig.timeline.wait_for("wake_word_mcu", listening=True, timeout=5)
        mcu.emit(BatteryChanged(BatteryInfo(4, 3400, False, "critical"), 0))
        await rig.timeline.wait_for("wake_word_mcu", listening=False, timeout=5)
        mcu.emit(BatteryChanged(BatteryInfo(60, 3900, True, "ok"), 0))
        for _ in range(200):
            if len(rig.timeline.find("wake_word_mcu")) >= 3:
                break
            await asyncio.sleep(0.01)
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert [c[0] for c in mcu.listen_calls][:3] == [True, False, True]
    assert mcu.mic_starts == 0


def test_soc_streams_the_microphone_even_when_the_mcu_could_listen() -> None:
    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "where": "soc"}), wake=True, mcu=mcu)
        await asyncio.sleep(0.05)
        assert mcu.mic_streaming
        mcu.speak_into_mic(silence(100) + wake_chunk())
        await rig.timeline.wait_for("wake_word", question=1, timeout=5)
        await stop_rig(rig)
        return rig

    run(body)
    assert mcu.listen_calls == []


def test_mcu_only_with_a_firmware_that_cannot_says_so_and_listens_nowhere() -> None:
    mcu = FakeWakeMcu(capable=False)

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "where": "mcu"}), wake=True, mcu=mcu)
        await rig.settle()
        await asyncio.sleep(0.05)
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert not any(c for c in mcu.listen_calls if c[0])
    assert mcu.mic_starts == 0
    assert any("cannot listen for the wake word" in t for t in mcu.texts() + rig.voice.said), mcu.texts()


def test_a_plain_mcu_port_keeps_the_soc_path() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), wake=True, mcu=FakeMcu())
        await asyncio.sleep(0.05)
        assert rig.mcu.mic_streaming
        await stop_rig(rig)
        return rig

    run(body)


def test_a_detection_during_captions_is_ignored_and_captions_go_on(tmp_path: object) -> None:
    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True},
                                            captions={"transcript_dir": str(tmp_path)}), wake=True, mcu=mcu)
        await rig.timeline.wait_for("wake_word_mcu", listening=True, timeout=5)
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_on", timeout=5)
        assert mcu.mic_streaming, "captions stream the microphone"
        mcu.hear_wake_word(silence(200), tone(200))
        await rig.timeline.wait_for("wake_word_ignored", reason="captions", timeout=5)
        assert rig.assistant.state == "streaming"
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("wake_word") == []


def test_the_listening_watchdog_stops_a_stream_that_went_quiet() -> None:
    mcu = FakeWakeMcu()

    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True, "listen_timeout_s": 0.3}), wake=True,
                              mcu=mcu)
        await rig.timeline.wait_for("wake_word_mcu", listening=True, timeout=5)
        mcu.hear_wake_word(silence(200), tone(100))  # speech starts, then the MCU's stream delivers nothing
        await rig.timeline.wait_for("listening_ended", question=1, timeout=5)
        for _ in range(100):
            if mcu.wake_streams_closed:
                break
            await asyncio.sleep(0.01)
        assert mcu.wake_streams_closed == 1, "the stream is stopped when listening ends, not left open"
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("listening_ended")[0].detail["reason"] == "timeout"
