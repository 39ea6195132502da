"""In-memory stand-ins for the assistant loop's ports (glassbridge.assistant.ports), recording what the loop did.

FakeMcu: an event queue the test drives (tap, nod, battery), the display's cards, camera power changes, speaker
audio and a microphone fed by the test. FakePhone: scripted answers, up/down switching with ConnectionChanged
events, every request recorded. FakeCamera: real Frames of tests/data/images/*.png (NV12, as a sensor sends),
and only while FakeMcu has the camera powered (the rig's rule). FakeVoice: records sentences, returns silence of
a length that grows with the text. FakeWakeWord / FakeEndpointer / FakeOpus: deterministic audio stand-ins (the
real ones are exercised in test_assistant_wake.py when their models and libraries are present).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glassbridge._events import Broadcaster, EventStream
from glassbridge.assistant import Assistant, AudioTools, Settings, Timeline
from glassbridge.assistant.config import WakeWordSettings
from glassbridge.camera.files import read_image
from glassbridge.camera.frame import Frame, PixelFormat
from glassbridge.camera.source import CameraError
from glassbridge.mcu.errors import McuError
from glassbridge.mcu.events import (
    AudioChunk,
    BatteryChanged,
    BatteryInfo,
    ButtonPressed,
    CardSpec,
    GestureDetected,
    WakeWordHeard,
)
from glassbridge.phone.events import AnswerPart, CaptionLine, ConnectionChanged, NotificationEvent
from glassbridge.protocol.errors import LinkLost, NotConnected, RequestFailed
from glassbridge.protocol.messages import pb

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
SAMPLE_RATE = 16000


class FakeClock:
    """A clock the test moves: time.monotonic's stand-in for the loop and its timeline."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


# ---- MCU ----------------------------------------------------------------------------------------------------


class FakeMcu:
    def __init__(self) -> None:
        self._events: Broadcaster[Any] = Broadcaster(1024)
        self.camera_powered = False
        self.power_log: list[bool] = []  # every set_camera_power call, in order
        self.cards: list[CardSpec] = []
        self.audio: list[bytes] = []
        self.mic_streaming = False
        self.mic_starts = 0
        self._mic: asyncio.Queue[AudioChunk] = asyncio.Queue()
        self._sample = 0
        self.power_on_delay = 0.0
        self.refuse_power = False
        self._ids = 0

    # what the loop calls
    def events(self) -> EventStream[Any]:
        return self._events.subscribe()

    async def set_camera_power(self, on: bool) -> bool:
        self.power_log.append(on)
        if on and self.refuse_power:
            raise McuError("CameraPower(on=True): the MCU answered ERROR_CODE_BUSY")
        if on and self.power_on_delay:
            await asyncio.sleep(self.power_on_delay)
        self.camera_powered = on
        return on

    async def show_card(self, card: CardSpec, card_id: int | None = None) -> int:
        self._ids += 1
        self.cards.append(card)
        return card_id or self._ids

    async def clear_display(self) -> None:
        self.cards.append(CardSpec(title="", text="", kind="text"))

    async def play_audio(self, pcm: bytes, sample_rate: int = 16000, frame_ms: int = 20) -> None:
        assert sample_rate == SAMPLE_RATE
        self.audio.append(pcm)

    async def microphone(self, frame_ms: int = 20) -> AsyncGenerator[AudioChunk, None]:
        if self.mic_streaming:
            raise McuError("the microphone is already being streamed by another consumer")
        self.mic_streaming = True
        self.mic_starts += 1
        try:
            while True:
                yield await self._mic.get()
        finally:
            self.mic_streaming = False

    # what the test does
    def emit(self, event: Any) -> None:
        self._events.publish(event)

    def press(self, button: str = "main", action: str = "tap") -> None:
        self.emit(ButtonPressed(button, action, 0))

    def gesture(self, gesture: str) -> None:
        self.emit(GestureDetected(gesture, 0, 95))

    def battery(self, percent: int, level: str) -> None:
        self.emit(BatteryChanged(BatteryInfo(percent, 3700, False, level), 0))

    def speak_into_mic(self, pcm: bytes, *, chunk_ms: int = 20, gap_before: bool = False) -> int:
        """Queues `pcm` as microphone chunks; returns how many."""
        step = SAMPLE_RATE * chunk_ms // 1000 * 2
        n = 0
        for start in range(0, len(pcm), step):
            piece = pcm[start:start + step]
            self._mic.put_nowait(AudioChunk(piece, self._sample, SAMPLE_RATE, 1, gap_before and n == 0))
            self._sample += len(piece) // 2
            n += 1
        return n

    def skip_samples(self, samples: int) -> None:
        """Audio lost on the way (an MCU reboot): the next chunk starts later."""
        self._sample += samples

    @property
    def last_card(self) -> CardSpec:
        return self.cards[-1]

    def texts(self) -> list[str]:
        return [f"{c.title} | {c.text}" for c in self.cards]


# ---- camera -------------------------------------------------------------------------------------------------


class FakeCamera:
    """Frames of a test image, in NV12 as a sensor sends them, only while the MCU has the camera powered."""

    def __init__(self, mcu: FakeMcu, scene: str = "astronaut") -> None:
        self.mcu = mcu
        self.scene = scene
        self.captures = 0
        self.hang = False
        self.fail: str | None = None
        self._cache: dict[str, Frame] = {}

    def frame(self, scene: str | None = None) -> Frame:
        name = scene or self.scene
        if name not in self._cache:
            self._cache[name] = read_image(IMAGES / f"{name}.png", format=PixelFormat.NV12)
        return self._cache[name]

    async def capture(self) -> Frame:
        if self.hang:
            await asyncio.sleep(3600)
        if not self.mcu.camera_powered:
            raise CameraError("the camera is not powered", advice="power it through the MCU first")
        if self.fail:
            raise CameraError(self.fail)
        self.captures += 1
        return self.frame()


# ---- phone --------------------------------------------------------------------------------------------------


@dataclass
class Asked:
    """One ask_stream call as the phone saw it."""

    text: str
    photo: bytes | None
    audio_opus: bytes | None
    audio_wav: bytes | None
    task: str
    language: str
    perception: Any
    queued_ms: int


@dataclass
class Script:
    """What the fake phone answers: parts (texts, the last is final), or hang (never), or raise `error`."""

    parts: Sequence[str] = ("A person in a spacesuit.",)
    hang: bool = False
    error: BaseException | None = None
    delay: float = 0.0


class FakePhone:
    def __init__(self, *, up: bool = True) -> None:
        self._events: Broadcaster[Any] = Broadcaster(256)
        self._up = up
        self._up_event = asyncio.Event()
        if up:
            self._up_event.set()
        self.asked: list[Asked] = []
        self.scripts: list[Script] = []
        self.default = Script()
        self.captions: list[tuple[str, int, str, str, str]] = []
        self.caption_refusal: str | None = None
        self.packets: list[tuple[int, int, bytes, str, int, bool]] = []
        self.media_actions: list[str] = []
        self.responses: list[tuple[int, bool]] = []
        self.outcome = "paid 23.50 EUR to Cafe Lumen"
        self._rid = 0

    @property
    def up(self) -> bool:
        return self._up

    def set_up(self, up: bool) -> None:
        self._up = up
        if up:
            self._up_event.set()
        else:
            self._up_event.clear()
        self._events.publish(ConnectionChanged("up" if up else "disconnected", "fake"))

    async def wait_until_up(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._up_event.wait(), timeout)
        except asyncio.TimeoutError:
            raise NotConnected("link to the fake phone", timeout, "state disconnected", peer="phone") from None

    def events(self) -> EventStream[Any]:
        return self._events.subscribe()

    async def ask_stream(self, text: str, *, photo: bytes | None = None, audio_wav: bytes | None = None,
                         audio_opus: bytes | None = None, task: str = "unspecified", language: str = "",
                         perception: Any = None, queued_ms: int = 0) -> AsyncGenerator[AnswerPart, None]:
        if not self._up:
            raise LinkLost("waiting for the fake answer: the phone link is down", peer="phone")
        copy = None
        if perception is not None:  # what goes over the wire: serialise and parse it back, as the link does
            copy = pb.Perception()
            copy.ParseFromString(perception.SerializeToString())
        self.asked.append(Asked(text, photo, audio_opus, audio_wav, task, language, copy, queued_ms))
        script = self.scripts.pop(0) if self.scripts else self.default
        self._rid += 1
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.hang:
            await asyncio.sleep(3600)
        if script.error is not None:
            raise script.error
        for i, part in enumerate(script.parts):
            if not self._up:
                raise LinkLost("the fake phone went away mid-answer", peer="phone")
            yield AnswerPart(self._rid, part, i == len(script.parts) - 1, "offline", True)

    async def start_captions(self, stream_id: int, kind: str = "transcription", language: str = "",
                             source_language: str = "") -> None:
        self.captions.append(("start", stream_id, kind, language, source_language))
        if self.caption_refusal:
            raise RequestFailed("CaptionControl", pb.ERROR_CODE_NOT_SUPPORTED, "not_supported", self.caption_refusal,
                                peer="phone")

    async def stop_captions(self, stream_id: int) -> None:
        self.captions.append(("stop", stream_id, "", "", ""))

    async def send_audio_packet(self, stream_id: int, first_sample: int, data: bytes, *, codec: str = "opus",
                                frame_samples: int = 320, gap_before: bool = False) -> None:
        if not self._up:
            raise LinkLost("audio packet: the phone link is down", peer="phone")
        self.packets.append((stream_id, first_sample, data, codec, frame_samples, gap_before))

    async def media(self, action: str) -> None:
        self.media_actions.append(action)

    async def respond(self, notification_id: int, confirm: bool) -> str:
        self.responses.append((notification_id, confirm))
        return self.outcome if confirm else "declined"

    # what the test does
    def notify(self, notification_id: int, kind: str, *, app: str = "", title: str = "", text: str = "",
               icon: str = "none", needs_response: bool = False, timeout_ms: int = 0) -> None:
        self._events.publish(NotificationEvent(notification_id, kind, app, title, text, icon, needs_response,
                                               timeout_ms))

    def caption(self, stream_id: int, text: str, *, final: bool, kind: str = "transcription") -> None:
        self._events.publish(CaptionLine(stream_id, kind, text, final, "en"))


# ---- voice and audio ----------------------------------------------------------------------------------------


class FakeVoice:
    def __init__(self) -> None:
        self.said: list[str] = []
        self.fail = False

    async def synthesize(self, text: str) -> bytes:
        if self.fail:
            raise RuntimeError("espeak-ng: not installed (apt-get install espeak-ng)")
        self.said.append(text)
        return bytes(2 * 160 * max(1, len(text.split())))  # 10 ms of silence per word

    def heard(self, fragment: str) -> bool:
        return any(fragment in s for s in self.said)


#: A sample value the fake wake word listens for (a real recording would be the spoken "okay nabu").
WAKE_MARK = 12345


class _FakeWakeStream:
    """Like glassbridge.mcu.client.WakeStream: aclose() counts as stopping the stream, read or not."""

    def __init__(self, mcu: FakeWakeMcu, stream_id: int) -> None:
        self.mcu, self.stream_id, self.closed = mcu, stream_id, False

    def __aiter__(self) -> _FakeWakeStream:
        return self

    async def __anext__(self) -> AudioChunk:
        while not self.closed:
            chunk = await self.mcu._wake.get()
            if chunk.stream_id == self.stream_id:
                return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.mcu.wake_streams_closed += 1


class FakeWakeMcu(FakeMcu):
    """An MCU whose firmware listens for the wake word itself (glassbridge.assistant.ports.McuWakePort): records
    what it is told, and plays a detection's stream (lookback, phrase, then the question) when the test says."""

    def __init__(self, capable: bool = True) -> None:
        super().__init__()
        self.capable = capable
        self.listen_calls: list[tuple[bool, float | None]] = []
        self.listening = False
        self.wake_streams_closed = 0
        self._wake: asyncio.Queue[AudioChunk] = asyncio.Queue()
        self._stream_id = 100

    @property
    def listens_for_wake_word(self) -> bool:
        return self.capable

    async def listen_for_wake_word(self, listen: bool = True, *, cutoff: float | None = None) -> None:
        self.listen_calls.append((listen, cutoff))
        self.listening = listen

    def wake_stream(self, event: Any) -> _FakeWakeStream:
        return _FakeWakeStream(self, event.stream_id)

    def hear_wake_word(self, before: bytes, after: bytes, chunk_ms: int = 20) -> WakeWordHeard:
        """A detection at the end of `before` (the lookback and the phrase); its stream carries before + after."""
        self._stream_id += 1
        pcm = before + after
        step = SAMPLE_RATE * chunk_ms // 1000 * 2
        event = WakeWordHeard(self._stream_id, 0, len(before) // 2, 0.97, 0, 5000 + len(before) // 2)
        self.emit(event)
        for start in range(0, len(pcm), step):
            self._wake.put_nowait(AudioChunk(pcm[start:start + step], start // 2, SAMPLE_RATE, self._stream_id,
                                             False))
        return event


def tone(ms: int, amplitude: int = 3000, freq: float = 440.0) -> bytes:
    import numpy as np

    t = np.arange(SAMPLE_RATE * ms // 1000) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(2 * SAMPLE_RATE * ms // 1000)


def wake_chunk() -> bytes:
    return struct.pack("<h", WAKE_MARK) * 320


class FakeWakeWord:
    """Detects a chunk that carries WAKE_MARK samples."""

    def __init__(self) -> None:
        self.fed = 0
        self.resets = 0

    def feed(self, pcm: bytes) -> list[Any]:
        self.fed += len(pcm) // 2
        if struct.pack("<h", WAKE_MARK) * 4 in pcm:
            return [(self.fed, 0.97)]
        return []

    def reset(self) -> None:
        self.resets += 1


@dataclass
class _Event:
    kind: str
    sample: int
    reason: str | None = None
    speech_start: int | None = None


@dataclass
class FakeEndpointer:
    """Speech = any non-zero sample; ends after `silence_ms` of zeros following speech, or with no_speech."""

    silence_ms: int
    no_speech_ms: int
    samples: int = 0
    speech_start: int | None = None
    quiet: int = 0
    done: bool = False

    def feed(self, pcm: bytes) -> _Event | None:
        if self.done:
            return None
        start = self.samples
        self.samples += len(pcm) // 2
        loud = any(pcm)
        if loud:
            self.quiet = 0
            if self.speech_start is None:
                self.speech_start = start
                return _Event("speech_started", start, speech_start=start)
            return None
        self.quiet += len(pcm) // 2
        if self.speech_start is not None and self.quiet >= self.silence_ms * 16:
            self.done = True
            return _Event("ended", self.samples, "silence", self.speech_start)
        if self.speech_start is None and self.samples >= self.no_speech_ms * 16:
            self.done = True
            return _Event("ended", self.samples, "no_speech")
        return None


class FakeEncoder:
    """One "packet" per 20 ms: a 4-byte header with the packet's index, then its first 8 bytes of PCM."""

    def __init__(self) -> None:
        self.pending = b""
        self.count = 0

    def encode(self, pcm: bytes) -> list[bytes]:
        self.pending += pcm
        out = []
        while len(self.pending) >= 640:
            out.append(struct.pack("<I", self.count) + self.pending[:8])
            self.pending = self.pending[640:]
            self.count += 1
        return out

    def flush(self) -> list[bytes]:
        if not self.pending:
            return []
        self.pending += bytes(640 - len(self.pending))
        return self.encode(b"")


def fake_audio_tools() -> AudioTools:
    def pack(packets: Sequence[bytes]) -> bytes:
        return b"".join(struct.pack("<H", len(p)) + p for p in packets)

    def endpointer(w: WakeWordSettings) -> FakeEndpointer:
        return FakeEndpointer(w.silence_ms, w.no_speech_ms)

    return AudioTools(encoder=lambda bitrate: FakeEncoder(), pack=pack, endpointer=endpointer)


# ---- perception without models ------------------------------------------------------------------------------


class CountingPerceiver:
    """Wraps a Perceiver and records the emotions flag of every call (the privacy tests read it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[bool] = []

    def perceive(self, frame: Frame, *, emotions: bool) -> Any:
        self.calls.append(emotions)
        return self.inner.perceive(frame, emotions=emotions)


class NoFaces:
    """A Perceiver that sees nobody (tests that are not about perception skip the models)."""

    def perceive(self, frame: Frame, *, emotions: bool) -> Any:
        from glassbridge.assistant.perception import LocalPerception

        return LocalPerception((), frame.width, frame.height, emotions, 0.0)


# ---- the whole loop -----------------------------------------------------------------------------------------


def fast_settings(**sections: dict[str, Any]) -> Settings:
    """Defaults with small waits, so a timeout test takes a fraction of a second; override per section."""
    from glassbridge.assistant.config import settings_from_dict

    base: dict[str, dict[str, Any]] = {
        "assistant": {"answer_timeout_s": 0.5, "phone_wait_s": 0.0, "capture_timeout_s": 0.3,
                      "speak_timeout_s": 1.0},
        "wake_word": {"listen_timeout_s": 2.0},
        "power": {"low_min_interval_s": 0.0},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return settings_from_dict(base, source="test")


@dataclass
class Rig:
    assistant: Assistant
    mcu: FakeMcu
    phone: FakePhone
    camera: FakeCamera
    voice: FakeVoice
    clock: FakeClock
    perceiver: Any
    wake: FakeWakeWord | None = None
    task: asyncio.Task[None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def timeline(self) -> Timeline:
        return self.assistant.timeline

    async def settle(self, timeout: float = 5.0) -> None:
        """Lets queued events reach the loop and everything they started finish."""
        for _ in range(3):
            await asyncio.sleep(0)
        await self.assistant.idle(timeout)
        for _ in range(3):
            await asyncio.sleep(0)
        await self.assistant.idle(timeout)

    def states(self) -> list[str]:
        return [e.detail["state"] for e in self.timeline.events if e.kind == "state"]


async def start_rig(settings: Settings | None = None, *, perceiver: Any = None, phone_up: bool = True,
                    wake: bool = False, scene: str = "astronaut", audio: AudioTools | None = None,
                    wake_word: Any = None, mcu: FakeMcu | None = None) -> Rig:
    mcu = mcu if mcu is not None else FakeMcu()
    phone = FakePhone(up=phone_up)
    camera = FakeCamera(mcu, scene)
    voice = FakeVoice()
    clock = FakeClock()
    wake_word = wake_word if wake_word is not None else FakeWakeWord() if wake else None
    perceiver = perceiver if perceiver is not None else NoFaces()
    assistant = Assistant(settings or fast_settings(), mcu, phone, camera, perceiver, voice, wake_word=wake_word,
                          audio=audio or fake_audio_tools(), clock=clock)
    rig = Rig(assistant, mcu, phone, camera, voice, clock, perceiver,
              wake_word if isinstance(wake_word, FakeWakeWord) else None)
    rig.task = asyncio.create_task(assistant.run())
    await rig.timeline.wait_for("started", timeout=5)
    return rig


async def stop_rig(rig: Rig) -> None:
    rig.assistant.stop()
    assert rig.task is not None
    await asyncio.wait_for(rig.task, 10)


def run(test: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Run an async test body, bounded: a hang fails after `timeout` seconds instead of holding the suite."""
    return asyncio.run(asyncio.wait_for(test(), timeout))


@pytest.fixture(scope="module")
def perceiver() -> Any:
    """The glasses' real FacePerceiver (BlazeFace full range, LiteRT): import this fixture into a test module."""
    from glassbridge.assistant.perception import FacePerceiver

    try:
        return FacePerceiver()
    except Exception as exc:  # models not fetched: `make setup`
        pytest.skip(f"face models unavailable: {exc}")


async def ask_and_stop(settings: Settings, perceiver: Any, questions: int = 1) -> Rig:
    """A rig with `perceiver`, `questions` taps each answered on the display, then stopped."""
    rig = await start_rig(settings, perceiver=perceiver)
    for n in range(1, questions + 1):
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=n, timeout=10)
        await rig.settle()
    await stop_rig(rig)
    return rig
