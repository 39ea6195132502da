"""The assistant's state machine with in-memory devices: a tap from start to answer, the camera's power around
the capture only (errors and cancel included), every wait ending in its specific message, busy handling."""

from __future__ import annotations

import asyncio

from glassbridge.protocol.errors import RequestFailed
from glassbridge.protocol.messages import pb
from tests.unit.assistant_fakes import fast_settings, Rig, run, Script, start_rig, stop_rig


def test_tap_goes_through_the_states_and_shows_and_speaks_the_answer() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.default = Script(parts=("A person ", "in a spacesuit."))
        rig.mcu.press("main", "tap")
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.states()[:4] == ["capturing", "thinking", "answering", "idle"]
    answer = rig.mcu.cards[-1]
    assert (answer.kind, answer.text) == ("answer", "A person in a spacesuit.")
    assert rig.voice.said[0] == "A person in a spacesuit."
    asked = rig.phone.asked[0]
    assert asked.task == "describe" and asked.text == "What am I looking at?" and asked.queued_ms == 0
    assert asked.photo is not None and asked.photo[:3] == b"\xff\xd8\xff"  # a JPEG
    # The camera was powered for the capture only, and the stages are on the timeline in order.
    assert rig.mcu.power_log == [True, False] and not rig.mcu.camera_powered
    assert rig.mcu.mic_starts == 0  # no wake word, no captions: the microphone (and its LED) stayed off
    stages = rig.timeline.questions()[1]
    order = ["button", "camera_on", "frame", "camera_off", "perception", "jpeg", "request_sent", "answer_first",
             "answer_final", "card_shown"]
    assert all(k in stages for k in order), stages
    assert [stages[k] for k in order] == sorted(stages[k] for k in order)


def test_capture_tap_reads_the_sign() -> None:
    async def body() -> Rig:
        rig = await start_rig(scene="text")
        rig.mcu.press("capture", "tap")
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.phone.asked[0].task == "read_text"
    assert rig.phone.asked[0].text == "What does this sign say?"


def test_camera_error_releases_the_camera_and_says_why() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.camera.fail = "sensor did not deliver a frame (VIDIOC_DQBUF: EIO)"
        rig.mcu.press()
        await rig.timeline.wait_for("capture_failed", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.power_log == [True, False] and not rig.mcu.camera_powered
    # The reason is on the card; the wearer hears a short sentence, not the details.
    assert rig.mcu.last_card.text == "No photo: the camera failed (sensor did not deliver a frame (VIDIOC_DQBUF: EIO))."
    assert rig.voice.said == ["No photo: the camera failed."]
    assert rig.mcu.last_card.icon == "warning"
    assert rig.phone.asked == []
    assert rig.assistant.state == "idle"


def test_camera_power_refused_and_camera_timeout() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.mcu.refuse_power = True
        rig.mcu.press()
        await rig.timeline.wait_for("capture_failed", question=1, timeout=5)
        await rig.settle()
        rig.mcu.refuse_power = False
        rig.camera.hang = True
        rig.mcu.press()
        await rig.timeline.wait_for("capture_failed", question=2, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.power_log == [True, False, True, False] and not rig.mcu.camera_powered
    texts = [card.text for card in rig.mcu.cards]
    assert any("the glasses could not power the camera" in text for text in texts), texts
    assert "No photo: the camera gave no frame within 0.3 s." in texts
    assert rig.voice.said == ["No photo: the camera did not turn on.", "No photo: the camera gave no frame."]


def test_long_press_cancels_during_capture_and_the_camera_goes_off() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"capture_timeout_s": 10.0}))
        rig.camera.hang = True
        rig.mcu.press()
        await rig.timeline.wait_for("camera_on", question=1, timeout=5)
        assert rig.mcu.camera_powered and rig.assistant.state == "capturing"
        rig.mcu.press("main", "long_press")
        await rig.timeline.wait_for("cancelled", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.power_log == [True, False] and not rig.mcu.camera_powered
    assert rig.voice.heard("Cancelled.")
    assert rig.assistant.state == "idle"


def test_stop_during_capture_powers_the_camera_off() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"capture_timeout_s": 10.0}))
        rig.camera.hang = True
        rig.mcu.press()
        await rig.timeline.wait_for("camera_on", question=1, timeout=5)
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.power_log == [True, False] and not rig.mcu.camera_powered


def test_phone_timeout_says_so_and_returns_to_idle() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"answer_timeout_s": 0.3}))
        rig.phone.scripts = [Script(hang=True)]
        rig.mcu.press()
        await rig.timeline.wait_for("answer_timeout", question=1, timeout=5)
        await rig.settle()
        # and the next question works
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=2, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said[0] == "The phone did not answer in 0.3 s."
    assert any(c.text == "The phone did not answer in 0.3 s." and c.icon == "warning" for c in rig.mcu.cards)
    assert rig.states().count("idle") >= 2 and rig.assistant.state == "idle"
    assert rig.mcu.power_log == [True, False, True, False]


def test_phone_refusal_is_said_with_its_reason() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.scripts = [Script(error=RequestFailed("the assistant's answer", pb.ERROR_CODE_TOO_LARGE,
                                                        "too_large", "the photo exceeds 200 KB", peer="phone"))]
        rig.mcu.press()
        await rig.timeline.wait_for("answer_refused", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said == ["The phone could not answer: the photo exceeds 200 KB."]


def test_busy_queues_one_and_refuses_more_with_spoken_reasons() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.scripts = [Script(parts=("first answer",), delay=0.3), Script(parts=("second answer",))]
        rig.mcu.press()
        await rig.timeline.wait_for("request_sent", question=1, timeout=5)
        rig.mcu.press()
        rig.mcu.press()
        await rig.timeline.wait_for("question_refused", question=3, timeout=5)
        await rig.timeline.wait_for("card_shown", question=2, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.heard("One moment: I will look again when this answer is done.")
    assert rig.voice.heard("I am still answering; one question is already waiting. Ask again in a moment.")
    assert [a.text for a in rig.phone.asked] == ["What am I looking at?"] * 2
    assert rig.voice.heard("first answer") and rig.voice.heard("second answer")
    assert rig.mcu.power_log == [True, False, True, False]
    assert rig.timeline.find("question_refused")[0].detail["question"] == 3


def test_busy_refuse_mode() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"busy": "refuse"}))
        rig.phone.scripts = [Script(parts=("first answer",), delay=0.2)]
        rig.mcu.press()
        await rig.timeline.wait_for("request_sent", question=1, timeout=5)
        rig.mcu.press()
        await rig.timeline.wait_for("question_refused", question=2, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert len(rig.phone.asked) == 1
    assert rig.voice.heard("questions are not queued ([assistant] busy = refuse)")


def test_voice_failure_still_shows_the_answer() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.voice.fail = True
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.last_card.text == "A person in a spacesuit."
    failed = rig.timeline.find("speak_failed")
    assert failed and "espeak-ng" in failed[0].detail["reason"]


def test_timeline_json_has_every_event_with_time() -> None:
    import json

    seen: list[str] = []

    async def body_with_listener() -> Rig:
        rig = await start_rig()
        rig.timeline.subscribe(lambda e: seen.append(e.kind))
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        status = rig.assistant.status()
        assert status["state"] == "idle" and status["phone_up"] and status["offline_queue"] == []
        json.dumps(status)
        await stop_rig(rig)
        return rig

    rig = run(body_with_listener)
    assert seen[0] == "button" and seen[-1] == "stopped"
    data = json.loads(json.dumps(rig.timeline.to_json()))
    times = [e["t"] for e in data["events"]]
    assert times == sorted(times) and data["events"][0]["kind"] == "started"
    assert data["events"][-1]["kind"] == "stopped"
    kinds = {e["kind"] for e in data["events"]}
    assert {"button", "camera_on", "frame", "perception", "jpeg", "request_sent", "card_shown", "spoken"} <= kinds


def test_long_press_while_waiting_for_the_phone() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"answer_timeout_s": 10.0}))
        rig.phone.scripts = [Script(hang=True)]
        rig.mcu.press()
        await rig.timeline.wait_for("request_sent", question=1, timeout=5)
        assert rig.assistant.state == "thinking" and not rig.mcu.camera_powered
        rig.mcu.press("main", "long_press")
        await rig.timeline.wait_for("cancelled", question=1, timeout=5)
        await rig.settle()
        rig.mcu.press("main", "long_press")  # nothing left to cancel
        await rig.timeline.wait_for("cancel_ignored", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said == ["Cancelled."] and rig.assistant.state == "idle"
    assert rig.mcu.power_log == [True, False]


def test_stop_before_run_returns_at_once() -> None:
    async def body() -> None:
        from glassbridge.assistant import Assistant
        from tests.unit.assistant_fakes import FakeCamera, FakeMcu, FakePhone, FakeVoice, NoFaces

        mcu = FakeMcu()
        assistant = Assistant(fast_settings(), mcu, FakePhone(), FakeCamera(mcu), NoFaces(), FakeVoice())
        assistant.stop()
        await asyncio.wait_for(assistant.run(), 5)
        assert assistant.timeline.kinds() == ["started", "stopped"]

    run(body)


def test_bad_arguments_are_refused() -> None:
    import pytest

    from glassbridge.assistant import Assistant
    from tests.unit.assistant_fakes import FakeCamera, FakeMcu, FakePhone, FakeVoice, NoFaces

    mcu = FakeMcu()
    assistant = Assistant(fast_settings(), mcu, FakePhone(), FakeCamera(mcu), NoFaces(), FakeVoice())
    with pytest.raises(ValueError, match="unknown assistant state 'sleeping'; states: idle, listening"):
        assistant.set_state("sleeping")
    with pytest.raises(TypeError, match="needs glassbridge.assistant.config.Settings .* got dict"):
        Assistant({"privacy": {}}, mcu, FakePhone(), FakeCamera(mcu), NoFaces(), FakeVoice())  # type: ignore[arg-type]


def test_a_long_answer_is_shown_whole_and_said_in_its_first_sentences() -> None:
    long_answer = ("A person in a white spacesuit. Behind them, a flag and the Earth's horizon. The photo is evenly "
                   "lit and mostly black, which is space.")

    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"speak_max_chars": 70}))
        rig.phone.default = Script(parts=(long_answer,))
        rig.mcu.press("main", "tap")
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.mcu.cards[-1].text == long_answer
    assert rig.voice.said[0] == "A person in a white spacesuit."  # the second sentence would pass 70 characters
