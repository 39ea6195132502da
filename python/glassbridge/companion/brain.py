"""The companion's brain: what answers the wearer's questions. Pluggable; the one shipped here is honest and offline.

A `Brain` gets a `Question` (the task, the typed or transcribed text, the photo and recorded audio that arrived
as verified transfers) and yields `AnswerPart`s (streamed text, the last one final). It also hears live
microphone audio and may return `CaptionLine`s. A cloud brain would call a model here; the companion's
protocol work (transfers, resumption, answers on the link) does not change.

`OfflineBrain` has no model and says so: it reports what it can measure itself (the photo's size, brightness and
dominant colour, decoded with Pillow; the recording's length and level), echoes the question, and states that no
cloud assistant is reachable. It never pretends to understand the picture.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from glassbridge.protocol.messages import pb

__all__ = ["AnswerPart", "Brain", "CaptionLine", "OfflineBrain", "Question", "describe_photo", "describe_audio"]


@dataclass(frozen=True)
class Question:
    task: int  # pb.AssistantTask
    text: str
    language: str = ""
    photo: bytes | None = None  # a JPEG (TransferKind PHOTO), verified
    audio: bytes | None = None  # a WAV, PCM16 mono 16 kHz (TransferKind AUDIO), verified


@dataclass(frozen=True)
class AnswerPart:
    text: str
    final: bool
    source: str
    offline: bool


@dataclass(frozen=True)
class CaptionLine:
    stream_id: int
    kind: int  # pb.CaptionKind
    text: str
    final: bool
    language: str = ""


class Brain(Protocol):
    """What the companion asks. `capabilities`: pb.Capability bits 16-31 it can honour (ServiceInfo, Hello)."""

    name: str
    capabilities: int

    def answer(self, question: Question) -> AsyncIterator[AnswerPart]: ...

    def hear(self, stream_id: int, sample_rate: int, first_sample: int, pcm: bytes) -> list[CaptionLine]: ...


# ---- what can be measured without a model ---------------------------------------------------------------

_COLOURS = {
    "black": (20, 20, 20), "white": (235, 235, 235), "grey": (128, 128, 128), "red": (200, 30, 30),
    "orange": (230, 130, 30), "yellow": (225, 210, 40), "green": (40, 160, 60), "teal": (30, 140, 140),
    "blue": (40, 70, 200), "purple": (120, 50, 160), "pink": (230, 130, 170), "brown": (120, 80, 40),
}


def _colour_name(rgb: tuple[int, int, int]) -> str:
    return min(_COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(rgb, _COLOURS[n])))


def describe_photo(jpeg: bytes) -> str:
    """'1280x720 JPEG, dim (mean brightness 31%), mostly blue (#2a4a9c)', or why it could not be decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            fmt, (w, h) = img.format or "image", img.size
            small = img.convert("RGB")
            small.thumbnail((64, 64))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return f"the photo ({len(jpeg)} bytes) could not be decoded ({exc})"
    raw = small.tobytes()  # RGB triples (getdata() is deprecated in Pillow 12)
    pixels = [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]
    luma = sum(0.299 * r + 0.587 * g + 0.114 * b for r, g, b in pixels) / len(pixels)
    # Dominant colour: the most populated cell of a 4x4x4 grid of the RGB cube, averaged.
    cells: dict[tuple[int, int, int], list[tuple[int, int, int]]] = {}
    for p in pixels:
        cells.setdefault((p[0] >> 6, p[1] >> 6, p[2] >> 6), []).append(p)
    top = max(cells.values(), key=len)
    avg = tuple(sum(c[i] for c in top) // len(top) for i in range(3))
    rgb = (avg[0], avg[1], avg[2])
    share = 100 * len(top) // len(pixels)
    light = "dark" if luma < 50 else "dim" if luma < 100 else "bright" if luma > 180 else "evenly lit"
    return (f"{w}x{h} {fmt}, {light} (mean brightness {100 * luma / 255:.0f}%), mostly {_colour_name(rgb)} "
            f"(#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}, {share}% of the picture)")


def _level_dbfs(pcm: bytes) -> float:
    n = len(pcm) // 2
    if n == 0:
        return -math.inf
    total = 0
    for i in range(0, n * 2, 2):
        s = int.from_bytes(pcm[i:i + 2], "little", signed=True)
        total += s * s
    rms = math.sqrt(total / n)
    return -math.inf if rms == 0 else 20 * math.log10(rms / 32768)


def _level_text(db: float) -> str:
    return "silence" if db < -60 else f"sound at {db:.0f} dBFS"


def describe_audio(wav: bytes) -> str:
    """'a 2.4 s recording, sound at -23 dBFS', or why it is not the expected WAV."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as w:
            rate, width, channels, frames = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
            pcm = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        return f"the recording ({len(wav)} bytes) is not a WAV file ({exc})"
    if width != 2 or channels != 1:
        return f"the recording is {channels}-channel {8 * width}-bit; expected PCM16 mono"
    return f"a {frames / rate:.1f} s recording, {_level_text(_level_dbfs(pcm))}"


# ---- the offline brain ------------------------------------------------------------------------------------

_CANNOT: dict[int, str] = {
    pb.ASSISTANT_TASK_READ_TEXT: "reading text needs a text recogniser",
    pb.ASSISTANT_TASK_TRANSLATE: "translating needs a translation model",
    pb.ASSISTANT_TASK_TRANSCRIBE: "transcribing needs a speech recogniser",
}


@dataclass
class OfflineBrain:
    """Answers from what it can measure; says plainly that no cloud assistant is reachable."""

    name: str = "offline"
    capabilities: int = pb.CAPABILITY_ASSISTANT
    caption_every_s: float = 1.0
    _streams: dict[int, tuple[int, bytearray]] = field(default_factory=dict)

    async def answer(self, question: Question) -> AsyncIterator[AnswerPart]:
        head = "offline: no cloud assistant is connected, so I cannot understand pictures or speech."
        parts = [head]
        if question.task in _CANNOT:
            parts.append(f"({_CANNOT[question.task]}, which this phone does not have.)")
        if question.text:
            parts.append(f'You asked: "{question.text}".')
        if question.photo is not None:
            parts.append(f"The photo: {describe_photo(question.photo)}.")
        if question.audio is not None:
            parts.append(f"The recording: {describe_audio(question.audio)}.")
        if question.photo is None and question.audio is None and not question.text:
            parts.append("The request carried no text, photo or recording.")
        # Two parts: the note first (it arrives at once), then what was measured: streaming as a cloud brain would.
        yield AnswerPart(parts[0], final=False, source=self.name, offline=True)
        yield AnswerPart(" " + " ".join(parts[1:]), final=True, source=self.name, offline=True)

    def hear(self, stream_id: int, sample_rate: int, first_sample: int, pcm: bytes) -> list[CaptionLine]:
        """One caption line per `caption_every_s` of audio: its level, and that it cannot be transcribed here."""
        rate = sample_rate or 16000
        start, buf = self._streams.get(stream_id, (first_sample, bytearray()))
        if len(self._streams) > 8 and stream_id not in self._streams:
            self._streams.pop(next(iter(self._streams)))  # old streams: keep memory bounded
        buf += pcm
        lines: list[CaptionLine] = []
        chunk = int(rate * self.caption_every_s) * 2
        while len(buf) >= chunk:
            piece, buf = bytes(buf[:chunk]), buf[chunk:]
            start += chunk // 2
            lines.append(CaptionLine(stream_id, pb.CAPTION_KIND_TRANSCRIPTION,
                                     f"[offline: no speech recognition] {_level_text(_level_dbfs(piece))} "
                                     f"at {start / rate:.0f} s", final=False))
        self._streams[stream_id] = (start, buf)
        return lines
