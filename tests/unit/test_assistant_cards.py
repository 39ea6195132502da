"""Cards from the phone (notifications, navigation arrows, payment and call prompts answered with the head),
media gestures forwarded to the phone, and the battery's effects."""

from __future__ import annotations

import asyncio

from glassbridge.assistant.cards import navigation_icon
from tests.unit.assistant_fakes import fast_settings, Rig, run, start_rig, stop_rig


def test_message_and_navigation_cards() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.notify(7, "message", app="Messages", title="Mei", text="Lunch at 12:30?", icon="message")
        rig.phone.notify(8, "navigation", app="Maps", title="In 50 m", text="Turn left onto Rue Cler")
        rig.phone.notify(9, "navigation", app="Maps", title="In 200 m", text="Continue", icon="arrow_right")
        await rig.timeline.wait_for("notification", notification=9, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    cards = {(c.title, c.kind, c.icon): c.text for c in rig.mcu.cards}
    assert cards[("Messages: Mei", "notification", "message")] == "Lunch at 12:30?"
    assert cards[("In 50 m", "navigation", "arrow_left")] == "Turn left onto Rue Cler"
    assert cards[("In 200 m", "navigation", "arrow_right")] == "Continue"
    # turns are spoken too (eyes on the road); messages only shown
    assert rig.voice.said == ["Turn left onto Rue Cler", "Continue"]


def test_navigation_icon_from_the_instruction() -> None:
    assert navigation_icon("none", "Turn right, then left") == "arrow_right"
    assert navigation_icon("none", "Keep left at the fork") == "arrow_left"
    assert navigation_icon("none", "Continue for 2 km") == "arrow_up"
    assert navigation_icon("arrow_left", "Turn right") == "arrow_left"  # the phone's arrow wins


def test_payment_confirmed_with_a_nod() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.mcu.gesture("nod")  # nothing waiting yet: ignored
        rig.phone.notify(21, "payment", app="Wallet", title="Cafe Lumen", text="Pay 23.50 EUR?",
                         needs_response=True, timeout_ms=10_000)
        await rig.timeline.wait_for("notification", notification=21, timeout=5)
        await rig.settle()
        rig.mcu.gesture("nod")
        await rig.timeline.wait_for("responded", notification=21, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.timeline.find("gesture_ignored")
    prompt = next(c for c in rig.mcu.cards if c.kind == "payment" and "Nod" in c.text)
    assert (prompt.title, prompt.icon) == ("Wallet: Cafe Lumen", "pay")
    assert prompt.text == "Pay 23.50 EUR? Nod to pay, shake to decline."
    assert rig.phone.responses == [(21, True)]
    assert rig.mcu.last_card.text == "Paid 23.50 EUR to Cafe Lumen"
    assert rig.voice.heard("Paid 23.50 EUR to Cafe Lumen")


def test_call_dismissed_with_a_shake_and_prompt_expiry() -> None:
    async def body() -> Rig:
        rig = await start_rig()
        rig.phone.notify(5, "call", app="Phone", title="Mum", text="Incoming call", needs_response=True)
        await rig.timeline.wait_for("notification", notification=5, timeout=5)
        rig.mcu.gesture("shake")
        await rig.timeline.wait_for("responded", notification=5, timeout=5)
        rig.phone.notify(6, "payment", app="Wallet", title="Kiosk", text="Pay 2 EUR?", needs_response=True,
                         timeout_ms=200)
        await rig.timeline.wait_for("prompt_expired", notification=6, timeout=5)
        await rig.settle()
        rig.mcu.gesture("nod")  # too late: nothing waits any more
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.phone.responses == [(5, False)]
    assert rig.voice.heard("Declined")
    assert rig.voice.heard("No answer in 0.2 s: the payment was declined.")
    assert len(rig.timeline.find("gesture_ignored")) == 1


def test_media_gestures_go_to_the_phone() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(media={"gestures": {"capture.double_tap": "play_pause",
                                                                 "capture.long_press": "volume_up"}}))
        rig.mcu.press("capture", "double_tap")
        rig.mcu.press("capture", "long_press")
        await rig.timeline.wait_for("media", action="volume_up", timeout=5)
        await rig.settle()
        rig.phone.set_up(False)
        rig.mcu.press("capture", "double_tap")
        await rig.timeline.wait_for("media_failed", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.phone.media_actions == ["play_pause", "volume_up"]
    assert rig.voice.heard("No play pause: the phone is not connected.")
    assert rig.phone.asked == []  # no button of the media map started a question


def test_critical_battery_stops_captions_and_the_wake_word() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(wake_word={"enabled": True}), wake=True)
        await asyncio.sleep(0.05)
        assert rig.mcu.mic_streaming  # the wake word listens
        rig.mcu.press("main", "double_tap")
        await rig.timeline.wait_for("captions_on", timeout=5)
        await rig.settle()
        assert rig.assistant.state == "streaming"
        rig.mcu.battery(4, "critical")
        await rig.timeline.wait_for("captions_off", timeout=5)
        await rig.settle()
        await asyncio.sleep(0.05)
        assert not rig.mcu.mic_streaming and rig.assistant.state == "idle"
        rig.mcu.press("main", "double_tap")  # refused while critical
        await rig.timeline.wait_for("notice", title="Captions", timeout=5)
        await rig.settle()
        rig.mcu.battery(60, "ok")
        await rig.timeline.wait_for("mic_on", timeout=5, after=rig.timeline.now() - 0.5)
        await rig.settle()
        await asyncio.sleep(0.05)
        assert rig.mcu.mic_streaming
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.heard("Battery at 4%: captions and the wake word are off. Charge the glasses soon.")
    assert rig.voice.heard("The battery is critical: captions stay off.")
    assert rig.voice.heard("Battery at 60%: back to full-size photos.")
    assert not rig.mcu.mic_streaming


def test_low_battery_limits_the_photo_rate() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(power={"low_min_interval_s": 5.0}))
        rig.mcu.battery(15, "low")
        await rig.settle()
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=5)
        await rig.settle()
        rig.clock.advance(1.0)
        rig.mcu.press()
        await rig.timeline.wait_for("question_refused", question=2, timeout=5)
        await rig.settle()
        rig.clock.advance(5.0)
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=3, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    assert rig.voice.heard("Battery low: one photo every 5 s. Ask again in 4.0 s.")
    assert len(rig.phone.asked) == 2

