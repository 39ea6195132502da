"""The wake word: "okay nabu", then the wearer's question, then the same path as a tap with the recording.

    mic chunk -> WakeWord.feed -> detection -> listening (card "Listening...") -> Endpointer.feed per chunk
      "ended" after speech ("silence" or "max_length") -> the recorded question (from the start of listening
      to where it ended) -> a voice Question: photo + perception + the question as Opus -> the phone
      "ended" with "no_speech" -> "I did not hear a question."

Listening is bounded twice: by the endpointer's own limits ([wake_word] no_speech_ms, max_question_ms) and by a
watchdog ([wake_word] listen_timeout_s) that ends it even if the microphone stops delivering chunks. A wake word
while a question is being answered is refused with the reason said (there is no recording yet to queue).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.ports import EndpointerPort
from glassbridge.assistant.question import Question
from glassbridge.mcu.events import AudioChunk, CardSpec

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["WakeSkill"]

SAMPLE_RATE = 16000


class WakeSkill:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self.listening = False
        self._number = 0
        self._endpointer: EndpointerPort | None = None
        self._recording = bytearray()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.ctx.ports.wake_word is not None and self.ctx.settings.wake_word.enabled

    def feed(self, chunk: AudioChunk) -> None:
        if self.listening:
            self._listen(chunk.pcm)
            return
        assert self.ctx.ports.wake_word is not None
        detections = self.ctx.ports.wake_word.feed(chunk.pcm)
        if detections:
            self._heard(detections[0])

    def _heard(self, detection: Any) -> None:
        ctx = self.ctx
        number = ctx.next_question()
        probability = float(getattr(detection, "probability", 0.0))
        ctx.timeline.mark("wake_word", question=number, probability=round(probability, 3))
        if ctx.state.busy:  # nothing recorded yet, so nothing to queue: refused, with the reason
            ctx.timeline.mark("question_refused", question=number, source="voice", reason="busy")
            ctx.say_soon("Busy", "I am still answering; say it again in a moment.", question=number)
            return
        self._number = number
        self.listening = True
        self._recording = bytearray()
        self._endpointer = ctx.audio.endpointer(ctx.settings.wake_word)
        ctx.set_state("listening", question=number)
        ctx.spawn(ctx.show(CardSpec(title="Listening", text="Ask your question.", kind="text", icon="mic"),
                           question=number), "listening card")
        limit = ctx.settings.wake_word.listen_timeout_s
        self._watchdog = ctx.spawn(self._guard(number, limit), "listening watchdog", timer=True)

    async def _guard(self, number: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.listening and self._number == number:
            self._finish_without_question(f"I stopped listening after {seconds:g} s.", "timeout")

    def _listen(self, pcm: bytes) -> None:
        assert self._endpointer is not None
        self._recording += pcm
        event = self._endpointer.feed(pcm)
        if event is None:
            return
        kind = getattr(event, "kind", "")
        if kind == "speech_started":
            self.ctx.timeline.mark("speech_started", question=self._number)
        elif kind == "ended":
            reason = getattr(event, "reason", "") or ""
            if reason == "no_speech":
                self._finish_without_question("I did not hear a question.", reason)
            else:
                self._finish(event, reason)

    def _stop_listening(self) -> None:
        self.listening = False
        self._endpointer = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _finish(self, event: Any, reason: str) -> None:
        ctx = self.ctx
        # From the moment listening started (the VAD reports speech 0.2-0.4 s after it really began, so cutting
        # at its speech_start would clip the first word) to where the endpointer ended it.
        end = getattr(event, "sample", None)
        last = len(self._recording) // 2 if end is None else min(int(end), len(self._recording) // 2)
        pcm = bytes(self._recording[:2 * last])
        self._stop_listening()
        number = self._number
        ctx.timeline.mark("question_recorded", question=number, seconds=round(len(pcm) / 2 / SAMPLE_RATE, 3),
                          reason=reason)
        ctx.set_state(ctx.state.base_state)
        ctx.ask(Question.voice(number, ctx.clock(), pcm))

    def _finish_without_question(self, message: str, reason: str) -> None:
        ctx = self.ctx
        number = self._number
        self._stop_listening()
        ctx.timeline.mark("listening_ended", question=number, reason=reason)
        ctx.set_state(ctx.state.base_state)
        ctx.say_soon("Listening", message, icon="mic", question=number)

    def abort(self, reason: str) -> None:
        """Ends listening without a question (a long press, the microphone stopping)."""
        if self.listening:
            number = self._number
            self._stop_listening()
            self.ctx.timeline.mark("listening_ended", question=number, reason=reason)
            self.ctx.settle()
            if self.ctx.ports.wake_word is not None:
                self.ctx.ports.wake_word.reset()

    def cancel(self) -> None:
        """At shutdown."""
        if self.listening:
            self._stop_listening()
