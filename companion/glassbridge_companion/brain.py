"""The companion's brain: what answers the wearer's questions. Pluggable: offline (here) or an OpenAI-compatible
endpoint (brain_openai.py).

A `Brain` gets a `Question` (the task, the typed or recognised text, the photo and recorded audio that arrived as
verified transfers, the glasses' own `Perception` of the photo, how long the request waited on the glasses) and
yields `AnswerPart`s (streamed text, the last one final). It may translate caption lines (`translate`), and it
hears raw `mic_audio` frames (the older PCM caption path) with `hear`.

`OfflineBrain` has no model and says so. It composes its answer from what the glasses measured and sent: how many
faces and where (left, ahead, right from each box's centre), their emotions when the wearer shares them (and that
they stayed on the glasses when not), the recognised question, the photo's measurable facts (size, brightness,
colour, decoded with Pillow). It reads text offline (READ_TEXT, or a question about text: "what does this sign
say?") with the OCR engine of glassbridge_companion.ocr, whose models ship inside its wheel: "The sign says:
Platform 3 / Exit B." with the lines in reading order, or plainly that it found no readable text. Translating needs
the online brain, and it says that instead of guessing. It never pretends to understand the picture.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from glassbridge.protocol.messages import pb

__all__ = ["AnswerPart", "Brain", "BrainUnavailable", "CaptionLine", "OfflineBrain", "Question", "describe_audio",
           "describe_pcm", "describe_perception", "describe_photo", "preamble", "read_sign", "read_sign_timed",
           "wants_reading", "wants_translation"]


@dataclass(frozen=True)
class Question:
    task: int  # pb.AssistantTask
    text: str  # typed on the glasses, or recognised from the recording (then `spoken`)
    language: str = ""
    photo: bytes | None = None  # a JPEG (TransferKind PHOTO), verified
    audio: bytes | None = None  # the recorded question as PCM16 mono 16 kHz (decoded from WAV or Opus), verified
    perception: pb.Perception | None = None  # the glasses' own findings on the photo (None: not run)
    spoken: bool = False  # `text` is what the recogniser heard in `audio`
    queued_ms: int = 0  # how long the request waited on the glasses for the phone


@dataclass(frozen=True)
class AnswerPart:
    text: str
    final: bool
    source: str
    offline: bool
    ocr_ms: float | None = None  # the offline reading's wall time, on the part whose text it produced (bench e2e)


@dataclass(frozen=True)
class CaptionLine:
    stream_id: int
    kind: int  # pb.CaptionKind
    text: str
    final: bool
    language: str = ""


class BrainUnavailable(RuntimeError):
    """The brain cannot do this (e.g. translation offline); the message is for the wearer."""


class Brain(Protocol):
    """What the companion asks. `capabilities`: pb.Capability bits 16-31 it can honour (ServiceInfo, Hello);
    `online`: it reaches a model beyond the phone (status, the `brain` ctl command)."""

    name: str
    capabilities: int
    online: bool

    def answer(self, question: Question) -> AsyncIterator[AnswerPart]: ...

    async def translate(self, text: str, target: str, source: str = "") -> str:
        """`text` in the language `target` (BCP 47); BrainUnavailable with the reason when it cannot."""
        ...

    def hear(self, stream_id: int, sample_rate: int, first_sample: int, pcm: bytes) -> list[CaptionLine]: ...


# ---- what every brain says first -------------------------------------------------------------------------


def _ago(ms: int) -> str:
    s = ms / 1000
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"


def preamble(question: Question) -> str:
    """The answer's opening: the question quoted when it was spoken (so the wearer hears what was understood) or
    queued (so a late answer says which question it answers); "" for a typed question answered at once."""
    queued = question.queued_ms >= 1000
    ago = f"You asked this {_ago(question.queued_ms)}"
    if question.spoken and not question.text:
        return "I could not make out the question in the recording." + (f" {ago}." if queued else "")
    if queued:
        return f'{ago}: "{question.text}".' if question.text else f"{ago}."
    if question.spoken:
        return f'You asked: "{question.text}".'
    return ""


_READING = re.compile(r"\b(read|sign|say|says|written|translate|text)\b", re.IGNORECASE)


def wants_translation(question: Question) -> bool:
    """The question asks for a translation (task TRANSLATE, or "translate" in its words)."""
    return question.task == pb.ASSISTANT_TASK_TRANSLATE or bool(re.search(r"\btranslat", question.text, re.IGNORECASE))


# The sign's text on the glasses' display and in the spoken answer ([assistant] speak_max_chars is 200 by default).
SIGN_MAX_CHARS = 160


async def read_sign(photo: bytes | None) -> str:
    """The offline answer to "what does this sign say?": the text in reading order, or why there is none."""
    return (await read_sign_timed(photo))[0]


async def read_sign_timed(photo: bytes | None) -> tuple[str, float | None]:
    """read_sign's answer and the OCR's wall time in ms (the worker thread's round trip included; None when no
    reading ran)."""
    from glassbridge_companion import ocr

    if photo is None:
        return "Reading text needs a photo, and none came with the question.", None
    started = time.perf_counter()
    try:
        reading = await asyncio.to_thread(ocr.read_photo, photo)
    except ocr.OcrUnavailable:
        return (f"Offline reading is not installed on the phone: pip install --no-deps {ocr.ENGINE} (with "
                f"glassbridge-companion[ocr]); or {ONLINE_HINT}."), None
    except ocr.OcrError as exc:
        return f"I could not read the photo: {exc}.", (time.perf_counter() - started) * 1000
    ms = (time.perf_counter() - started) * 1000
    text = reading.text
    if not text:
        return "I can't find any readable text in the photo.", ms
    if len(text) > SIGN_MAX_CHARS:
        text = text[:SIGN_MAX_CHARS - 1].rstrip() + "\u2026"
    return f"The sign says: {text}" + ("" if text[-1] in ".!?\u3002\uff01\uff1f\u2026" else "."), ms


def wants_reading(question: Question) -> bool:
    """The question is about text in the picture (a sign, a page) or asks for a translation."""
    return question.task in (pb.ASSISTANT_TASK_READ_TEXT, pb.ASSISTANT_TASK_TRANSLATE) or (
        question.task in (pb.ASSISTANT_TASK_UNSPECIFIED, pb.ASSISTANT_TASK_ASK) and bool(_READING.search(question.text)))


_FEELING = re.compile(r"\b(feel|feels|feeling|mood|emotion|emotions|happy|sad|angry)\b", re.IGNORECASE)

# ---- perception in words ---------------------------------------------------------------------------------

_NUMBERS = ("No one", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
_EMOTION_WORDS = {"neutral": "with a neutral expression", "fear": "looking afraid", "disgust": "looking disgusted",
                  "surprise": "looking surprised", "sadness": "looking sad", "happiness": "looking happy",
                  "anger": "looking angry", "contempt": "looking contemptuous"}


def _where(face: pb.Face) -> str:
    """Left/ahead/right from the box's centre, in thirds of the photo's width (the camera looks where you look)."""
    centre = face.x + face.width / 2
    return "on your left" if centre < 1 / 3 else "on your right" if centre > 2 / 3 else "ahead"


def _emotion(face: pb.Face) -> str:
    label = face.emotion.strip().lower()
    return _EMOTION_WORDS.get(label, f"looking {label}") if label else ""


def describe_perception(perception: pb.Perception) -> str:
    """"One person ahead, looking happy." / "Two people: one on your left; one ahead, looking sad." /
    "No one in view." Faces ordered left to right; emotions only when the glasses sent them."""
    faces = sorted(perception.faces, key=lambda f: f.x + f.width / 2)
    n = len(faces)
    if n == 0:
        return "No one in view."
    count = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    if n == 1:
        feeling = _emotion(faces[0])
        return f"One person {_where(faces[0])}" + (f", {feeling}." if feeling else ".")
    parts = []
    for f in faces:
        feeling = _emotion(f)
        parts.append(f"one {_where(f)}" + (f", {feeling}" if feeling else ""))
    return f"{count} people: " + "; ".join(parts) + "."


def _emotion_note(question: Question, perception: pb.Perception) -> str:
    """What to say about emotions that were not sent (privacy, ARCHITECTURE decision 9)."""
    if not perception.faces:
        return ""
    if perception.emotions_withheld:
        return "Their emotions stayed on your glasses: sharing them with the phone is off."
    if _FEELING.search(question.text) and not any(f.emotion for f in perception.faces):
        return "Emotion recognition is off on your glasses, so I cannot tell how they feel."
    return ""


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

    from glassbridge_companion.ocr import MAX_PIXELS

    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            fmt, (w, h) = img.format or "image", img.size
            if w * h > MAX_PIXELS:  # a few KB can declare a picture of gigabytes: not decoded
                return f"a {w}x{h} {fmt}, too large to look at"
            img.thumbnail((64, 64))  # a JPEG is decoded at 1/8 scale for it
            small = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
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


def describe_pcm(pcm: bytes, rate: int = 16000) -> str:
    """'a 2.4 s recording, sound at -23 dBFS' of PCM16 mono."""
    return f"a {len(pcm) / 2 / rate:.1f} s recording, {_level_text(_level_dbfs(pcm))}"


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
    return describe_pcm(pcm, rate)


# ---- the offline brain ------------------------------------------------------------------------------------

ONLINE_HINT = "start the companion with --brain openai"


@dataclass
class OfflineBrain:
    """Answers from what the glasses measured; says plainly what needs the online brain."""

    name: str = "offline"
    capabilities: int = pb.CAPABILITY_ASSISTANT | pb.CAPABILITY_TRANSCRIPTION
    online: bool = False
    caption_every_s: float = 1.0
    _streams: dict[int, tuple[int, bytearray]] = field(default_factory=dict)

    async def answer(self, question: Question) -> AsyncIterator[AnswerPart]:
        first: list[str] = [p for p in (preamble(question),) if p]
        rest: list[str] = []
        p = question.perception
        reading = wants_reading(question)
        read = False  # the sign's text is in the answer (then the photo's colours are left out)
        ocr_ms: float | None = None
        if reading and wants_translation(question):
            first.append(f"Translating needs the online brain; offline I cannot translate ({ONLINE_HINT}).")
        elif reading:
            said, ocr_ms = await read_sign_timed(question.photo)
            first.append(said)
            read = first[-1].startswith("The sign says:")
        if p is not None:
            (rest if reading else first).append(describe_perception(p))
            note = _emotion_note(question, p)
            if note:
                rest.append(note)
        elif question.task == pb.ASSISTANT_TASK_TRANSCRIBE:
            first.append("The words I heard are above." if question.spoken and question.text else
                         "I heard no words I could transcribe.")
        elif not reading:
            first.append("Offline I cannot understand pictures or answer questions; I can only tell you what your "
                         "glasses measured.")
        if question.text and not question.spoken and question.queued_ms < 1000:
            rest.append(f'(You asked: "{question.text}".)')
        if question.photo is not None and not read:
            rest.append(f"The photo: {describe_photo(question.photo)}.")
        if question.audio is not None and not (question.spoken and question.text):
            rest.append(f"The recording: {describe_pcm(question.audio)}.")
        if question.photo is None and question.audio is None and not question.text and p is None:
            rest.append("The request carried no text, photo, recording or perception.")
        rest.append("(Answered offline on the phone: no cloud assistant is connected.)")
        # Two parts, the first at once: streaming as a cloud brain would, so the glasses show it early.
        yield AnswerPart(" ".join(first), final=False, source=self.name, offline=True, ocr_ms=ocr_ms)
        yield AnswerPart(" " + " ".join(rest), final=True, source=self.name, offline=True)

    async def translate(self, text: str, target: str, source: str = "") -> str:
        raise BrainUnavailable("translation needs the online brain")

    def hear(self, stream_id: int, sample_rate: int, first_sample: int, pcm: bytes) -> list[CaptionLine]:
        """Raw `mic_audio` frames (the PCM path without CaptionControl): one line per `caption_every_s` of audio
        with its level. Live transcription runs on AudioPacket streams started by CaptionControl (captions.py)."""
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
                                     f"[offline: raw audio frames are not transcribed] {_level_text(_level_dbfs(piece))} "
                                     f"at {start / rate:.0f} s", final=False))
        self._streams[stream_id] = (start, buf)
        return lines
