"""The wake word: "okay nabu", then the wearer's question, then the same path as a tap with the recording.

    mic chunk -> WakeWord.feed -> detection -> listening (card "Listening...") -> Endpointer.feed per chunk
      "ended" after speech ("silence" or "max_length") -> the recorded question (from the start of listening
      to where it ended) -> a voice Question: photo + perception + the question as Opus -> the phone
      "ended" with "no_speech" -> "I did not hear a question."

Where it listens ([wake_word] where): "auto" has the MCU listen when its firmware can (CAPABILITY_WAKE_WORD): the
microphone then does not stream while nobody speaks to the glasses (no audio on the UART, the capture LED off), and
a WakeWordHeard event brings the stream the MCU starts, from lookback_ms before the detection; listening takes its
audio after the detected sample, exactly as it takes the chunks after a detection on the SoC. "soc" streams the
microphone to the SoC's own detector (any firmware); "mcu" uses the MCU or nothing, said on the display.

Listening is bounded twice: by the endpointer's own limits ([wake_word] no_speech_ms, max_question_ms) and by a
watchdog ([wake_word] listen_timeout_s) that ends it even if the microphone stops delivering chunks. A wake word
while a question is being answered is refused with the reason said (there is no recording yet to queue).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.ports import EndpointerPort, McuWakePort, WakeStreamPort
from glassbridge.protocol.errors import PeerError
from glassbridge.assistant.question import Question
from glassbridge.mcu.errors import McuError
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
        self._mcu_listening = False  # what the MCU was last told (forgotten when it reboots or the link drops)
        self._mcu_sync: asyncio.Task[None] | None = None
        self._mcu_reader: asyncio.Task[Any] | None = None
        self._mcu_unsupported_said = False

    @property
    def place(self) -> str:
        """Where the wake word listens now: "mcu", "soc", or "none" (where = "mcu" with a firmware that cannot)."""
        where = self.ctx.settings.wake_word.where
        mcu = self.ctx.ports.mcu
        mcu_can = where != "soc" and isinstance(mcu, McuWakePort) and mcu.listens_for_wake_word
        if mcu_can:
            return "mcu"
        return "none" if where == "mcu" else "soc"

    @property
    def enabled(self) -> bool:
        if not self.ctx.settings.wake_word.enabled:
            return False
        place = self.place
        return place == "mcu" or (place == "soc" and self.ctx.ports.wake_word is not None)

    @property
    def on_soc(self) -> bool:
        """The SoC's detector listens: the microphone streams for it."""
        return self.enabled and self.place == "soc"

    # ---- the MCU's own listening -----------------------------------------------------------------------------

    def mcu_forget(self) -> None:
        """The MCU rebooted or the link dropped: it listens no more until told again."""
        self._mcu_listening = False

    def sync_mcu(self) -> None:
        """Tells the MCU to listen or not, to match the settings, the battery and the firmware (called whenever
        the microphone's users change and when the MCU (re)connects)."""
        ctx = self.ctx
        if ctx.settings.wake_word.enabled and self.place == "none" and not self._mcu_unsupported_said:
            self._mcu_unsupported_said = True
            ctx.say_soon("Wake word", "This MCU cannot listen for the wake word ([wake_word] where = \"mcu\"): "
                         "it is off.", icon="warning")
        if self._mcu_sync is None or self._mcu_sync.done():
            self._mcu_sync = ctx.spawn(self._sync_mcu(), "wake word on the MCU")

    async def _sync_mcu(self) -> None:
        ctx = self.ctx
        mcu = ctx.ports.mcu
        if not isinstance(mcu, McuWakePort):
            return
        while True:
            state = ctx.state
            want = self.enabled and self.place == "mcu" and state.streaming_allowed and not state.stopping
            if want == self._mcu_listening:
                return
            cutoff = ctx.settings.wake_word.cutoff or None
            try:
                await mcu.listen_for_wake_word(want, cutoff=cutoff)
            except PeerError as exc:
                ctx.timeline.mark("wake_word_mcu_failed", listen=want, reason=str(exc))
                return  # the next connection or change tries again
            self._mcu_listening = want
            ctx.timeline.mark("wake_word_mcu", listening=want)

    async def stop_mcu(self) -> None:
        """At shutdown: the MCU stops listening (a detection would start a stream nobody reads)."""
        mcu = self.ctx.ports.mcu
        if self._mcu_listening and isinstance(mcu, McuWakePort):
            self._mcu_listening = False
            await mcu.listen_for_wake_word(False)

    def heard_on_mcu(self, event: Any) -> None:
        """A WakeWordHeard: the phrase was heard on the MCU; its stream brings the question."""
        ctx = self.ctx
        mcu = ctx.ports.mcu
        assert isinstance(mcu, McuWakePort)
        if ctx.state.captions_active:
            # Captions own the microphone (the SoC path does not listen during them either): the MCU's event names
            # the caption stream, which goes on; nothing to read here.
            ctx.timeline.mark("wake_word_ignored", reason="captions")
            return
        try:
            stream = mcu.wake_stream(event)
        except McuError as exc:
            ctx.timeline.mark("wake_word_ignored", reason=str(exc))
            return
        if self.listening or not self.enabled:
            ctx.spawn(_close(stream), "wake stream close")
            return
        self._heard(event)
        if not self.listening:  # refused (busy): the stream stops at once
            ctx.spawn(_close(stream), "wake stream close")
            return
        self._mcu_reader = ctx.spawn(self._read_mcu_stream(stream, self._number, int(event.detected_sample)),
                                     "wake stream")

    async def _read_mcu_stream(self, stream: WakeStreamPort, number: int, detected: int) -> None:
        try:
            async for chunk in stream:
                if not self.listening or self._number != number:
                    break
                start = chunk.first_sample
                end = start + len(chunk.pcm) // 2
                if end <= detected:
                    continue  # the lookback and the phrase itself: the question comes after
                pcm = chunk.pcm[2 * max(0, detected - start):]
                self._listen(pcm)
        except PeerError as exc:
            if self.listening and self._number == number:
                self._finish_without_question(f"The microphone stopped: {exc}", "mic_failed")
        finally:
            await _close(stream)

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
        # The MCU's stream ends with listening even if it delivers nothing more (the watchdog's case): the reader
        # waits for chunks, so it is cancelled here, and its finally stops the stream on the MCU.
        reader, self._mcu_reader = self._mcu_reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()

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


async def _close(stream: WakeStreamPort) -> None:
    try:
        await stream.aclose()
    except PeerError:
        pass  # a link that is gone has no stream left to stop
