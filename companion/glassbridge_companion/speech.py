"""Speech recognition on the phone, offline: pocketsphinx (CMU Sphinx) with the en-us model its wheel carries.

Two jobs, two searches over the same acoustic model:

- `Recogniser.recognise(pcm)`: a spoken question to the assistant. First a JSGF grammar of the questions the
  glasses know ("what am I looking at", "what does this sign say", ...): a closed set is recognised far more
  reliably than free speech (on espeak-ng speech the grammar gets every known question, the general language
  model gets about half of them). A grammar always finds *some* path, so its result is accepted only when it is a
  complete question and its words cover the loud part of the recording (at most `max_uncovered` = 25 % of the
  loud 10 ms frames spent in silence: measured 0-14 % on the known questions, 60-93 % when other sentences were
  forced onto a question); otherwise the general language model (LM) transcribes it freely. A short sentence of
  about a question's length can still be taken for one (espeak-ng's "what time is it" came out as "what am I
  looking at"): the answer quotes what was understood, so the wearer hears the mistake.
- `CaptionStream`: live captions of a microphone stream. pocketsphinx's own endpointer (a VAD over 30 ms frames)
  cuts the stream into utterances at pauses; while one goes on, the words so far come out as partial lines every
  `partial_every_s`, and at the pause the whole utterance is decoded again as the final line.

Utterances are always decoded whole (`full_utt=True`): cepstral mean normalisation over the utterance is much
better than the live estimate on short phrases (measured on espeak-ng speech: live CMN turned "what am I looking
at" into "what are you").

A noise floor is added before decoding (`noise_floor`, RMS in PCM16 units, 30 = about -61 dBFS, seeded so results
are reproducible). Synthetic or gated audio has stretches of exact digital zero that no microphone produces and the
model never saw in training; their log-energy frames drag the normalisation off. Measured on espeak-ng (en-us,
150 wpm): without the floor "the meeting starts at ten tomorrow morning" came out as "the solar done tomorrow
morning", with it as "the meeting starts at noon tomorrow morning". A real microphone's own noise is far above
this floor, so it changes nothing there.

The decoder is not thread-safe and costs about 0.3 s to load (the LM and the dictionary): one `Recogniser` holds one
decoder behind a lock and is shared; callers on asyncio run `recognise` in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COMMAND_QUESTIONS", "SAMPLE_RATE", "CaptionStream", "CaptionText", "Recognition", "Recogniser",
           "SpeechUnavailable"]

SAMPLE_RATE = 16000  # the en-us acoustic model's rate; other rates are resampled by the caller
_FRAME = 160  # 10 ms: pocketsphinx's frame rate is 100 frames per second
#: The questions the glasses' wearer is expected to ask (issue 5's skills), as the command grammar knows them.
#: Phrases that share a long beginning confuse the grammar search (with "what does this sign say" in the set,
#: espeak-ng's "what is this" came out as the unfinished "what does this"), so the set keeps them distinct.
COMMAND_QUESTIONS: tuple[str, ...] = (
    "what am I looking at", "what is in front of me", "who is this", "describe this", "what does this sign say",
    "read this", "read this sign", "how do they feel", "how does he feel", "how does she feel", "translate this",
    "translate this sign",
)


class SpeechUnavailable(RuntimeError):
    """pocketsphinx is missing or its model cannot be loaded; the message says how to install it."""


@dataclass(frozen=True)
class Recognition:
    """What was said. `source`: "command" (the grammar matched a known question), "free" (the language model's
    transcription) or "none" (no speech in the audio). `confidence`: pocketsphinx's posterior 0..1 of the
    hypothesis (low values are common on the LM; treat it as a ranking, not a probability of being right)."""

    text: str
    confidence: float
    source: str
    duration_s: float = 0.0


@dataclass(frozen=True)
class CaptionText:
    """A caption line: `final` False = a partial that the next line replaces. Times in seconds of the stream."""

    text: str
    final: bool
    start_s: float
    end_s: float


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def _jsgf(phrases: Sequence[str]) -> str:
    alternatives = " | ".join(" ".join(_words(p)) for p in phrases)
    return f"#JSGF V1.0;\ngrammar questions;\npublic <question> = {alternatives};\n"


def _as_int16(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    data = bytes(pcm)
    if len(data) % 2:
        raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(data)}: pass int16 little-endian "
                         "mono samples")
    return np.frombuffer(data, dtype="<i2")


class Recogniser:
    """pocketsphinx with a command grammar and the general language model. See the module docstring."""

    def __init__(self, commands: Sequence[str] = COMMAND_QUESTIONS, *, noise_floor: float = 30.0,
                 max_uncovered: float = 0.25, loudness_span_db: float = 35.0) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise SpeechUnavailable("speech recognition needs pocketsphinx (its wheel carries the en-us model): "
                                    "pip install 'pocketsphinx>=5.1'") from exc
        try:
            self._decoder: Any = Decoder(loglevel="FATAL")
        except (RuntimeError, ValueError, OSError) as exc:
            raise SpeechUnavailable(f"pocketsphinx could not load its en-us model ({exc}); reinstall pocketsphinx "
                                    "or set POCKETSPHINX_PATH to a folder holding en-us/") from exc
        self._lm_search: str = self._decoder.current_search()
        self.commands = tuple(commands)
        self._command_set = {" ".join(_words(c)) for c in self.commands}
        missing = sorted({w for c in self._command_set for w in c.split() if self._decoder.lookup_word(w) is None})
        if missing:
            raise ValueError(f"command words not in the pronunciation dictionary: {', '.join(missing)}; "
                             "rephrase those commands with dictionary words")
        if self.commands:
            self._decoder.add_jsgf_string("commands", _jsgf(self.commands))
        self.noise_floor = noise_floor
        self.max_uncovered = max_uncovered
        self.loudness_span_db = loudness_span_db
        self._lock = threading.Lock()

    # ---- the public API -----------------------------------------------------------------------------------

    def recognise(self, pcm: bytes | bytearray | memoryview) -> Recognition:
        """A spoken question (PCM16 mono 16 kHz): a known question exactly, else the LM's transcription."""
        return self._recognise(pcm, commands=True)

    def transcribe(self, pcm: bytes | bytearray | memoryview) -> Recognition:
        """Free speech (PCM16 mono 16 kHz) through the language model only: what captions use."""
        return self._recognise(pcm, commands=False)

    def _recognise(self, pcm: bytes | bytearray | memoryview, *, commands: bool) -> Recognition:
        samples = _as_int16(pcm)
        duration = len(samples) / SAMPLE_RATE
        if not self._has_speech(samples):
            return Recognition("", 0.0, "none", duration)
        audio = self._prepare(samples)
        with self._lock:
            if commands and self.commands:
                text, prob, covered = self._decode("commands", audio, loudness=True)
                if text in self._command_set and covered:
                    return Recognition(self._spelled(text), prob, "command", duration)
            text, prob, _ = self._decode(self._lm_search, audio)
        return Recognition(text, prob, "free" if text else "none", duration)

    # ---- internals ----------------------------------------------------------------------------------------

    def _spelled(self, text: str) -> str:
        """The command as written in `commands` ("what am I looking at", not the dictionary's lower case)."""
        for c in self.commands:
            if " ".join(_words(c)) == text:
                return c
        return text

    def _has_speech(self, samples: np.ndarray) -> bool:
        """Anything louder than -50 dBFS in some 10 ms: below that there is nothing to recognise."""
        n = len(samples) // _FRAME
        if n == 0:
            return False
        frames = samples[: n * _FRAME].astype(np.float64).reshape(n, _FRAME)
        peak_rms = float(np.sqrt((frames ** 2).mean(axis=1)).max())
        return peak_rms > 32768 * 10 ** (-50 / 20)

    def _prepare(self, samples: np.ndarray) -> bytes:
        """Samples plus the noise floor (see the module docstring), padded with 200 ms of floor each side."""
        pad = np.zeros(SAMPLE_RATE // 5)
        x = np.concatenate([pad, samples.astype(np.float64), pad])
        if self.noise_floor > 0:
            x += np.random.default_rng(len(samples)).normal(0.0, self.noise_floor, len(x))
        return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()

    def _decode(self, search: str, audio: bytes, *, loudness: bool = False) -> tuple[str, float, bool]:
        """(hypothesis, posterior, words cover the loud frames) of one whole-utterance decode."""
        d = self._decoder
        d.activate_search(search)
        d.start_utt()
        d.process_raw(audio, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        if hyp is None or not hyp.hypstr:
            return "", 0.0, False
        prob = float(d.get_prob())
        covered = True
        if loudness:
            covered = self._uncovered_share(audio, d.seg()) <= self.max_uncovered
        return str(hyp.hypstr), prob if math.isfinite(prob) else 0.0, covered

    def _uncovered_share(self, audio: bytes, segments: Any) -> float:
        """The share of loud 10 ms frames (within `loudness_span_db` of the loudest) that the hypothesis spends
        in silence or fillers: a grammar forced onto other speech hides the words it cannot match in <sil>."""
        x = np.frombuffer(audio, dtype="<i2").astype(np.float64)
        n = len(x) // _FRAME
        energy = 10 * np.log10((x[: n * _FRAME].reshape(n, _FRAME) ** 2).mean(axis=1) + 1.0)
        loud = energy > energy.max() - self.loudness_span_db
        in_word = np.zeros(n, dtype=bool)
        for seg in segments:
            if not seg.word.startswith(("<", "[")):
                in_word[seg.start_frame: seg.end_frame + 1] = True
        return float((loud & ~in_word).sum()) / max(1, int(loud.sum()))


class CaptionStream:
    """Live captions of one microphone stream: `feed(pcm)` -> partial and final `CaptionText`s; `finish()` at the
    end of the stream gives the final line of speech still going on.

    pocketsphinx's `Endpointer` (30 ms frames, a 0.3 s window) decides where an utterance starts and ends; an
    utterance longer than `max_utterance_s` is cut into several finals so a long talk still scrolls.

    Partials decode the utterance so far, whole: the first after `partial_every_s` of speech, each next one after
    as much new speech as the utterance already holds (1, 2, 4, 8 s). Decoding cost then stays within about twice
    the utterance's length, where a partial every second would grow with its square.
    """

    def __init__(self, recogniser: Recogniser, *, partial_every_s: float = 1.0, max_utterance_s: float = 10.0,
                 window_s: float = 0.3, ratio: float = 0.7, vad_mode: int = 2) -> None:
        from pocketsphinx import Endpointer

        self._recogniser = recogniser
        # A line ends after ~0.2 s of non-speech (7 of 10 frames of 30 ms) judged by the "aggressive" VAD mode:
        # espeak-ng's sentences at 165 wpm are 0.33-0.37 s apart, and the looser defaults (0.27 s in mode 0)
        # heard those pauses as speech and made one line of three sentences.
        self._ep: Any = Endpointer(window=window_s, ratio=ratio, vad_mode=vad_mode, sample_rate=SAMPLE_RATE)
        self._frame_bytes: int = self._ep.frame_bytes
        self.partial_every_s = partial_every_s
        self.max_utterance_s = max_utterance_s
        self._pending = bytearray()  # less than one endpointer frame
        self._speech = bytearray()  # the current utterance
        self._since_partial = 0
        self._last_partial = ""
        self._start_s = 0.0
        self._fed = 0  # samples fed, for times
        self._rng = np.random.default_rng(1)
        self.lines: list[CaptionText] = []  # every line this stream produced

    def feed(self, pcm: bytes | bytearray | memoryview) -> list[CaptionText]:
        samples = _as_int16(pcm)
        self._fed += len(samples)
        # The endpointer gets the same noise floor the decoder will see (exact zeros are not a microphone's).
        self._pending += self._floored(samples)
        out: list[CaptionText] = []
        while len(self._pending) >= self._frame_bytes:
            frame = bytes(self._pending[: self._frame_bytes])
            del self._pending[: self._frame_bytes]
            out += self._on_speech(self._ep.process(frame))
        self.lines += out
        return out

    def finish(self) -> list[CaptionText]:
        """The end of the stream: the final line of an utterance still going on (if any)."""
        out: list[CaptionText] = []
        if self._ep.in_speech:
            rest = self._ep.end_stream(bytes(self._pending[: self._frame_bytes]))
            if rest:
                self._speech += rest
            out += self._final()
        self._pending.clear()
        self.lines += out
        return out

    def _floored(self, samples: np.ndarray) -> bytes:
        x = samples.astype(np.float64)
        if self._recogniser.noise_floor > 0:
            x = x + self._rng.normal(0.0, self._recogniser.noise_floor, len(x))
        return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()

    def _on_speech(self, speech: bytes | None) -> list[CaptionText]:
        if speech is None:
            return []
        if not self._speech:
            self._start_s = float(self._ep.speech_start)
        self._speech += speech
        self._since_partial += len(speech) // 2
        if not self._ep.in_speech:  # the endpointer's last frame of this utterance
            return self._final()
        if len(self._speech) // 2 >= self.max_utterance_s * SAMPLE_RATE:
            return self._final()
        if self._since_partial >= max(self.partial_every_s * SAMPLE_RATE, len(self._speech) // 4):
            self._since_partial = 0
            text = self._recogniser.transcribe(bytes(self._speech)).text
            if text and text != self._last_partial:
                self._last_partial = text
                return [CaptionText(text, False, self._start_s, self._start_s + len(self._speech) / 2 / SAMPLE_RATE)]
        return []

    def _final(self) -> list[CaptionText]:
        pcm, self._speech = bytes(self._speech), bytearray()
        self._since_partial, self._last_partial = 0, ""
        start = self._start_s
        self._start_s = start + len(pcm) / 2 / SAMPLE_RATE
        text = self._recogniser.transcribe(pcm).text
        if not text:
            return []
        return [CaptionText(text, True, start, start + len(pcm) / 2 / SAMPLE_RATE)]
