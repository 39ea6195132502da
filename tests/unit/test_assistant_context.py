"""SkillContext and SharedState: the skills hold one context (never the Assistant or each other), the shared state
is a read-only snapshot read from each field's owner, and a skill runs against a small fake context, its
requests to other skills showing as named calls."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from glassbridge.assistant import Assistant, Timeline
from glassbridge.assistant.context import SharedState
from glassbridge.assistant.power import PowerSkill
from glassbridge.mcu.events import BatteryInfo
from tests.unit.assistant_fakes import FakeCamera, FakeClock, FakeMcu, FakePhone, FakeVoice, NoFaces, fast_settings

SKILL_NAMES = ("ask", "offline", "cards", "captions", "media", "wake", "power", "mic")


def _assistant() -> Assistant:
    mcu = FakeMcu()
    return Assistant(fast_settings(), mcu, FakePhone(), FakeCamera(mcu), NoFaces(), FakeVoice())


def test_every_skill_holds_the_same_context_and_nothing_of_the_loop() -> None:
    assistant = _assistant()
    skills = [getattr(assistant, name) for name in SKILL_NAMES]
    assert len({id(skill.ctx) for skill in skills}) == 1
    ctx = skills[0].ctx
    assert not isinstance(ctx, Assistant) and not hasattr(ctx, "__dict__")  # slots: nothing to reach through
    for name, skill in zip(SKILL_NAMES, skills):
        for attribute, value in vars(skill).items():
            assert not isinstance(value, Assistant), f"{name}.{attribute} holds the Assistant"
            assert not any(value is other for other in skills), f"{name}.{attribute} holds another skill"


def test_the_shared_state_is_a_read_only_snapshot_of_its_owners() -> None:
    assistant = _assistant()
    ctx = assistant.ask.ctx
    state = ctx.state
    assert state == SharedState(busy=False, stopping=False, phone_down_since=None, battery_level="ok",
                                battery_percent=None, streaming_allowed=True, captions_active=False,
                                wake_word_enabled=False, wake_word_on_soc=False, listening=False)
    assert state.base_state == "idle"
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.busy = True  # type: ignore[misc]
    assert ctx.ports.phone is assistant.phone and ctx.ports.mcu is assistant.mcu
    assert ctx.settings is assistant.settings and ctx.timeline is assistant.timeline


class RecordingContext:
    """As much of a SkillContext as the power skill uses; requests and spoken notices are recorded."""

    def __init__(self, state: SharedState) -> None:
        self.settings = fast_settings()
        self.clock = FakeClock()
        self.timeline = Timeline(self.clock)
        self._state = state
        self.calls: list[tuple[Any, ...]] = []

    @property
    def state(self) -> SharedState:
        return self._state

    def say_soon(self, title: str, text: str, **kw: Any) -> None:
        self.calls.append(("say_soon", title, text))

    def stop_captions(self, reason: str, *, announce: bool = True) -> None:
        self.calls.append(("stop_captions", reason, announce))

    def update_microphone(self) -> None:
        self.calls.append(("update_microphone",))


def test_a_critical_battery_asks_captions_and_the_microphone_through_the_context() -> None:
    state = SharedState(busy=False, stopping=False, phone_down_since=None, battery_level="ok",
                        battery_percent=50, streaming_allowed=True, captions_active=True, wake_word_enabled=True,
                        wake_word_on_soc=True, listening=False)
    ctx = RecordingContext(state)
    power = PowerSkill(ctx)  # type: ignore[arg-type]
    power.on_battery(BatteryInfo(4, 3300, False, "critical"))
    assert ctx.calls == [
        ("stop_captions", "the battery is critical", False),
        ("update_microphone",),
        ("say_soon", "Battery critical", "Battery at 4%: captions and the wake word are off. Charge the glasses soon."),
    ]
    assert (power.level, power.percent, power.streaming_allowed) == ("critical", 4, False)
    assert ctx.timeline.kinds() == ["battery"]
