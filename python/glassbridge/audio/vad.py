"""Voice activity per 10 ms (pymicro-vad) and an endpointer on top: "listen until the wearer stops talking".

`Vad` wraps pymicro-vad's `MicroVad`, a small speech/non-speech model on 10 ms frames of 16 kHz PCM16. The model
needs 76 frames (760 ms) of context before its first answer and reports -1 until then; `Vad` primes it with that
much silence when it is made or reset, so the first frame the caller feeds already gets a real answer (speech
right at the start is detected like speech after a pause). Its judgement spans that context, so it lags the
audio: the probability rises 0.25-0.45 s after speech begins and stays up for `VAD_HANGOVER_MS` and more (measured
460-670 ms on espeak-ng speech followed by digital silence) after speech ends.

`Endpointer` turns the per-frame decisions into events on a timeline that starts at the first sample fed:

- ``speech_started``: `min_speech_ms` of speech frames in a row (shorter blips, a cough, a click, are ignored);
  `sample` is where that run of VAD frames began, 0.25-0.45 s after the real onset: record from the start of
  listening, not from this sample, to keep the first syllable.
- ``ended``/``silence``: after speech started, the wearer has been quiet for about `silence_ms`. Because the VAD
  itself holds on for ~`VAD_HANGOVER_MS` after speech, the endpointer waits for `silence_ms - VAD_HANGOVER_MS`
  (at least `MIN_VAD_SILENCE_MS`) of non-speech frames: the event then comes `silence_ms` +-
  `ENDPOINT_TOLERANCE_MS` after the last spoken sample (tests check this on espeak-ng speech). A `silence_ms`
  below the hangover cannot be honoured: such an endpointer ends ~0.55-0.75 s after speech.
  Pauses between words shorter than the VAD's hangover never end the utterance.
- ``ended``/``max_length``: `max_ms` of audio fed in all (a wearer who never pauses, or a noisy room).
- ``ended``/``no_speech``: `no_speech_ms` passed without speech starting (a false wake, or nobody spoke).

After ``ended`` the endpointer is done: it ignores further audio until `reset()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from glassbridge.audio.wav import SAMPLE_RATE, check_pcm

__all__ = ["Vad", "Endpointer", "EndpointEvent", "FRAME_SAMPLES", "VAD_HANGOVER_MS", "MIN_VAD_SILENCE_MS",
           "ENDPOINT_TOLERANCE_MS", "VAD_WARMUP_FRAMES"]

FRAME_SAMPLES = SAMPLE_RATE // 100  # pymicro-vad consumes exactly 10 ms per call
_FRAME_BYTES = 2 * FRAME_SAMPLES
# pymicro-vad answers -1 for its first 76 frames after creation or reset (measured on pymicro-vad 2.1.0).
VAD_WARMUP_FRAMES = 76
# How long the VAD's probability stays above 0.5 after the last spoken sample: its 760 ms context still holds
# speech. Measured 460-670 ms on the espeak-ng questions and meeting of speech_samples; the lower end is used so
# the endpointer never ends early on a slow fade.
VAD_HANGOVER_MS = 500
# Non-speech frames the endpointer always waits for after the VAD drops: one dip of the probability is not a pause.
MIN_VAD_SILENCE_MS = 100
# The spread of the VAD's hangover around VAD_HANGOVER_MS (see above), plus a frame: "ended" comes within
# silence_ms - 100 ms .. silence_ms + 300 ms of the last spoken sample.
ENDPOINT_TOLERANCE_MS = 300


class Vad:
    """Speech or not, per 10 ms frame of 16 kHz PCM16 mono. Feed any length; remainders carry over."""

    def __init__(self, *, threshold: float = 0.5) -> None:
        from pymicro_vad import MicroVad  # imported here: `import glassbridge.audio` stays light

        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
        self.threshold = threshold
        self._vad = MicroVad()
        self._pending = bytearray()
        self.last_probability = 0.0
        self._prime()

    def _prime(self) -> None:
        silence = bytes(_FRAME_BYTES)
        for _ in range(VAD_WARMUP_FRAMES):
            self._vad.process_10ms(silence)

    def reset(self) -> None:
        """Forget the audio so far (the model is primed with silence again; remainders are dropped)."""
        self._vad.reset()
        self._pending.clear()
        self.last_probability = 0.0
        self._prime()

    def probabilities(self, pcm: bytes | bytearray | memoryview) -> list[float]:
        """Speech probability (0..1) of each complete 10 ms frame, the remainder kept for the next call."""
        check_pcm(pcm)
        self._pending += pcm
        usable = len(self._pending) - len(self._pending) % _FRAME_BYTES
        out: list[float] = []
        view = memoryview(self._pending)
        try:
            for offset in range(0, usable, _FRAME_BYTES):
                p = self._vad.process_10ms(bytes(view[offset:offset + _FRAME_BYTES]))
                out.append(max(0.0, float(p)))  # -1 ("not yet known") cannot happen after priming; 0 if it did
        finally:
            view.release()
        del self._pending[:usable]
        if out:
            self.last_probability = out[-1]
        return out

    def feed(self, pcm: bytes | bytearray | memoryview) -> list[bool]:
        """Speech (probability > threshold) or not, per complete 10 ms frame."""
        return [p > self.threshold for p in self.probabilities(pcm)]


EndpointKind = Literal["speech_started", "ended"]
EndpointReason = Literal["silence", "max_length", "no_speech"]


@dataclass(frozen=True)
class EndpointEvent:
    """What the endpointer decided, and where (sample indices from the first sample fed)."""

    kind: EndpointKind
    sample: int  # where the event happened: the start of speech, or the frame that ended listening
    reason: EndpointReason | None = None  # for "ended"
    speech_start: int | None = None  # first sample of the speech run that started the utterance, if any
    # End of the last VAD speech frame (for "ended" after speech): ~VAD_HANGOVER_MS after the real end of speech.
    speech_end: int | None = None

    @property
    def seconds(self) -> float:
        return self.sample / SAMPLE_RATE


class Endpointer:
    """Listen until the wearer stops talking; see the module docstring for the events and their timing."""

    def __init__(self, silence_ms: int = 700, max_ms: int = 8000, min_speech_ms: int = 200, *,
                 no_speech_ms: int = 3000, threshold: float = 0.5) -> None:
        for name, value in (("silence_ms", silence_ms), ("max_ms", max_ms), ("min_speech_ms", min_speech_ms),
                            ("no_speech_ms", no_speech_ms)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive number of milliseconds, got {value!r}")
        self.silence_ms = silence_ms
        self.max_ms = max_ms
        self.min_speech_ms = min_speech_ms
        self.no_speech_ms = no_speech_ms
        self.vad = Vad(threshold=threshold)
        self._silence_frames = -(-max(silence_ms - VAD_HANGOVER_MS, MIN_VAD_SILENCE_MS) // 10)
        self._speech_frames = -(-min_speech_ms // 10)
        self._max_frames = max_ms // 10
        self._no_speech_frames = no_speech_ms // 10
        self._clear()

    def _clear(self) -> None:
        self._frame = 0  # frames processed
        self._run_start: int | None = None  # frame where the current speech run began
        self._speech_start: int | None = None  # frame where the utterance began (once speech_started)
        self._last_speech_end = 0  # frame after the latest speech frame
        self._silent = 0  # non-speech frames in a row since the latest speech frame
        self.result: EndpointEvent | None = None  # the "ended" event once listening is over

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def speaking(self) -> bool:
        """True between speech_started and ended."""
        return self._speech_start is not None and self.result is None

    def reset(self) -> None:
        """Start a new listening session: a fresh timeline and a fresh VAD."""
        self.vad.reset()
        self._clear()

    def feed(self, pcm: bytes | bytearray | memoryview) -> EndpointEvent | None:
        """Process audio; return the latest event it produced (``ended`` wins over ``speech_started`` when one
        chunk holds both), or None. `feed_events` returns them all."""
        events = self.feed_events(pcm)
        return events[-1] if events else None

    def feed_events(self, pcm: bytes | bytearray | memoryview) -> list[EndpointEvent]:
        """Process audio; return every event it produced, in order."""
        if self.result is not None:
            check_pcm(pcm)
            return []
        events: list[EndpointEvent] = []
        for speech in self.vad.feed(pcm):
            event = self._on_frame(speech)
            if event is not None:
                events.append(event)
                if event.kind == "ended":
                    break  # listening is over; the rest of the chunk is not part of the question
        return events

    def _on_frame(self, speech: bool) -> EndpointEvent | None:
        frame = self._frame
        self._frame += 1
        event: EndpointEvent | None = None
        if speech:
            if self._run_start is None:
                self._run_start = frame
            self._silent = 0
            self._last_speech_end = frame + 1
            if self._speech_start is None and frame + 1 - self._run_start >= self._speech_frames:
                self._speech_start = self._run_start
                event = EndpointEvent("speech_started", self._run_start * FRAME_SAMPLES,
                                      speech_start=self._run_start * FRAME_SAMPLES)
        else:
            self._run_start = None
            self._silent += 1
            if self._speech_start is not None and self._silent >= self._silence_frames:
                return self._end("silence")
        if self._frame >= self._max_frames:
            return self._end("max_length")
        if self._speech_start is None and self._frame >= self._no_speech_frames:
            return self._end("no_speech")
        return event

    def _end(self, reason: EndpointReason) -> EndpointEvent:
        started = self._speech_start is not None
        self.result = EndpointEvent(
            "ended", self._frame * FRAME_SAMPLES, reason,
            speech_start=self._speech_start * FRAME_SAMPLES if self._speech_start is not None else None,
            speech_end=self._last_speech_end * FRAME_SAMPLES if started else None,
        )
        return self.result
