"""Offline mode: the glasses answer from their own perception at once, queue the question (bounded), and deliver
it when the phone is back, with how long it waited (queued_ms) and the late answer shown and spoken."""

from __future__ import annotations

import asyncio

import pytest

from glassbridge.assistant.perception import FacePerceiver
from glassbridge.protocol.errors import LinkLost
from tests.unit.assistant_fakes import fast_settings, Rig, run, Script, start_rig, stop_rig


@pytest.fixture(scope="module")
def perceiver() -> FacePerceiver:
    try:
        return FacePerceiver()
    except Exception as exc:
        pytest.skip(f"face models unavailable: {exc}")


def test_offline_answer_now_and_queued_answer_after_reconnect(perceiver: FacePerceiver) -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(privacy={"emotions": True}), perceiver=perceiver, phone_up=False)
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=10)
        await rig.settle()
        assert rig.assistant.offline.questions() == [1]
        assert rig.phone.asked == [] and rig.assistant.state == "idle"
        rig.clock.advance(40.0)  # the wearer walks on; the phone comes back 40 s later
        rig.phone.scripts = [Script(parts=("You asked this 40 s ago: an astronaut.",))]
        rig.phone.set_up(True)
        await rig.timeline.wait_for("delivered", question=1, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    offline = rig.timeline.find("offline_answer")[0].detail
    assert offline["text"] == ("One person ahead, looks happy. The rest will come when the phone is back.")
    assert rig.voice.said[0] == offline["text"]
    assert rig.mcu.power_log == [True, False]  # one capture: the delivery reuses the queued photo
    asked = rig.phone.asked[0]
    assert asked.queued_ms == 40000
    assert asked.photo is not None and asked.perception.emotions_withheld
    late = [c for c in rig.mcu.cards if c.title.startswith("Earlier question")]
    assert late and late[-1].title == "Earlier question (40 s ago)"
    assert late[-1].text == "You asked this 40 s ago: an astronaut."
    assert rig.voice.heard("You asked this 40 s ago: an astronaut.")
    assert rig.assistant.offline.pending == 0


def test_queue_is_bounded_and_says_so() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"queue_max": 2}), phone_up=False, scene="coffee")
        for n in (1, 2, 3):
            rig.mcu.press()
            await rig.timeline.wait_for("card_shown", question=n, timeout=10)
            await rig.settle()
        rig.phone.set_up(True)
        await rig.timeline.wait_for("delivered", question=2, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    queued = [e.detail["queued"] for e in rig.timeline.find("offline_answer")]
    assert queued == [True, True, False]
    assert rig.voice.heard("No one in view. The phone is away and 2 questions already wait for it, so this one "
                           "will not be sent.")
    assert len(rig.phone.asked) == 2  # oldest first
    assert [e.detail["question"] for e in rig.timeline.find("delivered")] == [1, 2]


def test_phone_lost_while_asking_falls_back_to_offline() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.scripts = [Script(error=LinkLost("waiting for the answer: the link to the phone has been down "
                                                   "for 30.0 s", peer="phone"))]
        rig.mcu.press()
        await rig.timeline.wait_for("offline_answer", question=1, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.said[0] == "No one in view. The rest will come when the phone is back."
    assert rig.assistant.offline.questions() == [1]


def test_phone_reconnecting_is_waited_for_briefly() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"phone_wait_s": 2.0}), phone_up=False)
        rig.mcu.press()
        await rig.timeline.wait_for("jpeg", question=1, timeout=10)
        rig.phone.set_up(True)  # back within phone_wait_s: asked live, not queued
        await rig.timeline.wait_for("card_shown", question=1, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert not rig.timeline.find("offline_answer")
    assert rig.phone.asked[0].queued_ms == 0


def test_delivery_interrupted_keeps_the_question() -> None:
    async def body() -> Rig:
        rig = await start_rig(phone_up=False)
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=10)
        await rig.settle()
        rig.phone.scripts = [Script(error=LinkLost("gone again", peer="phone"))]
        rig.phone.set_up(True)
        await rig.timeline.wait_for("delivery_interrupted", question=1, timeout=10)
        await rig.settle()
        assert rig.assistant.offline.questions() == [1]
        rig.phone.set_up(True)
        await rig.timeline.wait_for("delivered", question=1, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert len(rig.phone.asked) == 2 and rig.assistant.offline.pending == 0


def test_a_phone_away_for_long_is_not_waited_for() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"phone_wait_s": 5.0}), phone_up=False)
        rig.clock.advance(60.0)  # the phone has been away for a minute
        started = asyncio.get_running_loop().time()
        rig.mcu.press()
        await rig.timeline.wait_for("offline_answer", question=1, timeout=10)
        rig.extra["seconds"] = asyncio.get_running_loop().time() - started
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.extra["seconds"] < 2.0  # answered at once, not after phone_wait_s
    assert not rig.timeline.find("phone_not_up")


def test_phone_dropping_during_a_slow_answer_falls_back_to_offline() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(assistant={"answer_timeout_s": 0.3}))
        rig.phone.scripts = [Script(hang=True)]
        rig.mcu.press()
        await rig.timeline.wait_for("request_sent", question=1, timeout=5)
        rig.phone.set_up(False)  # the real client keeps waiting for the link; the loop's bound ends it
        await rig.timeline.wait_for("offline_answer", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert not rig.timeline.find("answer_timeout")
    assert rig.assistant.offline.questions() == [1]
