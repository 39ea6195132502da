"""What a skill sees of the assistant: `SkillContext`, its effects and its requests, and `SharedState`, a
read-only snapshot of what the other skills own.

    class MediaSkill:
        def __init__(self, ctx: SkillContext) -> None: ...
        async def send(self, action):
            if not self.ctx.ports.phone.up:                                      # a port
                await self.ctx.notice("Media", "No play pause: ...", icon="warning")   # an effect

The skills (ask, offline, cards, captions, media, wake, power, mic) are built with a SkillContext and nothing
else: they never hold the Assistant, never import glassbridge.assistant.loop or each other, and never read or
write another skill's fields. What they read of the others is `ctx.state` (battery level, captions active,
listening, ...); what they want of the others is a named request on the context (`ctx.ask(question)`,
`ctx.stop_captions(reason)`, `ctx.update_microphone()`), which the Assistant wires to the skill that owns it.
tests/unit/test_assistant_imports.py keeps it that way (no import cycle in the package, TYPE_CHECKING imports
included; no skill importing the loop or another skill).

The context offers
    reading      settings, timeline, ports (mcu, phone, camera, perceiver, wake_word), audio, clock(), state
    the wearer   show(card), speak(text), notice(title, text), say_soon(title, text)
    the loop     spawn(coro, what), start_job(coro, what), set_state(state), settle(), next_question()
    requests     ask, ask_phone (ask); answer_offline (offline); photo_size, capture_refusal (power);
                 stop_captions, feed_captions (captions); update_microphone (mic); abort_listening,
                 feed_wake_word (wake)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from glassbridge.assistant.audio_tools import AudioTools
    from glassbridge.assistant.config import Settings
    from glassbridge.assistant.perception import LocalPerception
    from glassbridge.assistant.ports import Ports
    from glassbridge.assistant.question import Question
    from glassbridge.assistant.timeline import Timeline
    from glassbridge.mcu.events import AudioChunk, CardSpec

__all__ = ["SharedState", "SkillContext"]


@dataclass(frozen=True)
class SharedState:
    """What the skills may know of each other, at one moment (SkillContext.state builds a fresh one per read:
    read it where it is used, do not keep it across an await). Each field is owned, and written, by one place."""

    busy: bool  # a job runs: a question or the offline queue's delivery (loop)
    stopping: bool  # run() is shutting down (loop)
    phone_down_since: float | None  # when the phone link was last seen going down, on the clock; None while up (loop)
    battery_level: str  # ok, low, critical (power)
    battery_percent: int | None  # None until the MCU reported it (power)
    streaming_allowed: bool  # the battery allows the microphone to stream (power)
    captions_active: bool  # a caption session runs (captions)
    wake_word_enabled: bool  # a wake word is configured and enabled (wake)
    wake_word_on_soc: bool  # it listens on the SoC (the microphone streams for it), not on the MCU (wake)
    listening: bool  # the wake word was heard, the question is being recorded (wake)

    @property
    def base_state(self) -> str:
        """Where the loop rests between questions: streaming while captions run, else idle."""
        return "streaming" if self.captions_active else "idle"


class SkillContext(Protocol):
    """The one thing a skill is given (see the module docstring). glassbridge.assistant.loop implements it over
    the Assistant; a test may give a skill a fake one."""

    # ---- reading ---------------------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def ports(self) -> Ports: ...

    @property
    def audio(self) -> AudioTools:
        """Opus encoders, the Opus stream packer and endpointers (built on first use)."""
        ...

    @property
    def state(self) -> SharedState:
        """A snapshot of the shared state, now."""
        ...

    def clock(self) -> float:
        """The assistant's clock (time.monotonic, or the test's)."""
        ...

    # ---- the wearer's display and voice ----------------------------------------------------------------------

    async def show(self, card: CardSpec, **mark: Any) -> bool:
        """Shows a card (fitted to the display); False when the MCU did not take it in time."""
        ...

    async def speak(self, text: str) -> None:
        """Says `text` (its first sentences, bounded in time; a failure is on the timeline, not raised)."""
        ...

    async def notice(self, title: str, text: str, *, icon: str = "info", kind: str = "text", speak: bool = True,
                     say: str | None = None, ttl_ms: int = 0, **mark: Any) -> None:
        """A card, and the sentence said (`say` instead of the card's text when given)."""
        ...

    def say_soon(self, title: str, text: str, *, icon: str = "info", kind: str = "text", **mark: Any) -> None:
        """notice() as a side task (from code that must not wait on devices)."""
        ...

    # ---- the loop --------------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str, *, timer: bool = False) -> asyncio.Task[Any]:
        """A side task: tracked, cancelled at stop, failures logged; a `timer` is not waited for by idle()."""
        ...

    def start_job(self, coro: Coroutine[Any, Any, None], what: str, question: int | None = None) -> None:
        """Runs `coro` as THE job (check state.busy first); a long press cancels it."""
        ...

    def set_state(self, state: str, **detail: Any) -> None: ...

    def settle(self) -> None:
        """Back to the base state unless a job or listening is under way."""
        ...

    def next_question(self) -> int:
        """The next question's number in the session."""
        ...

    # ---- requests, each served by the skill that owns it -----------------------------------------------------

    def ask(self, question: Question) -> None:
        """ask: start `question`, queue it behind the job, or refuse it with a spoken reason."""
        ...

    async def ask_phone(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None, *,
                        queued_ms: int, local: LocalPerception | None = None, title: str | None = None) -> str:
        """ask: the phone's answer, streamed onto the display; raises AnswerTimeout or the phone's PeerError."""
        ...

    async def answer_offline(self, q: Question, local: LocalPerception, jpeg: bytes, perception: Any,
                             audio_opus: bytes | None, why: str, *, lost: bool = False) -> None:
        """offline: the glasses' own answer now, and the question queued for the phone."""
        ...

    def photo_size(self) -> tuple[int, int, int]:
        """power: (max width, max height, JPEG quality) of the photo for the phone at this battery level."""
        ...

    def capture_refusal(self, last_capture: float | None) -> str:
        """power: "" when a photo may be taken now, else the sentence that says why not."""
        ...

    def stop_captions(self, reason: str, *, announce: bool = True) -> None:
        """captions: stop the session (as a side task, "captions stop")."""
        ...

    async def feed_captions(self, chunk: AudioChunk) -> None:
        """captions: one microphone chunk for the running session."""
        ...

    def update_microphone(self) -> None:
        """mic: start or stop the microphone stream to match who needs it now."""
        ...

    def abort_listening(self, reason: str) -> None:
        """wake: end listening without a question."""
        ...

    def feed_wake_word(self, chunk: AudioChunk) -> None:
        """wake: one microphone chunk for the wake word (or the question being recorded)."""
        ...
