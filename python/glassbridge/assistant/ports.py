"""What the assistant loop needs from the world, as typing.Protocols: the real clients fit, and so do fakes.

The loop never constructs an Mcu, a Phone or a camera: it is handed objects with these methods, so the same code
runs on glasses (glassbridge.mcu.Mcu over the UART, glassbridge.phone.Phone over BLE, a V4L2 camera), on the
simulated rig (the host-port firmware, the BLE rig, sim.camera.RigCamera) and in unit tests (in-memory fakes).
Each Protocol lists only what the loop calls; the docstrings say what the loop relies on. `Ports` bundles the
devices the skills use directly (the voice is not among them: skills speak through SkillContext.speak, whose
lock keeps sentences whole).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from glassbridge.camera.frame import Frame
from glassbridge.mcu.events import AudioChunk, CardSpec
from glassbridge.phone.events import AnswerPart
from glassbridge.protocol.messages import pb

__all__ = [
    "CameraPort",
    "EndpointerPort",
    "EventSource",
    "McuPort",
    "OpusEncoderPort",
    "Perceiver",
    "PhonePort",
    "McuWakePort",
    "WakeStreamPort",
    "Ports",
    "Voice",
    "WakeWordPort",
]


class EventSource(Protocol):
    """A live subscription (glassbridge._events.EventStream): async-iterable, ended by aclose()."""

    def __aiter__(self) -> AsyncIterator[Any]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class McuPort(Protocol):
    """The glasses' microcontroller (glassbridge.mcu.client.Mcu).

    events(): ButtonPressed, GestureDetected, BatteryChanged, McuConnected/Disconnected/Rebooted, subscribed from
    the call on. set_camera_power(True) powers the camera and its LED together and returns the new state.
    microphone(): an async generator of AudioChunk; closing it stops the stream (and the LED)."""

    def events(self) -> EventSource: ...

    async def set_camera_power(self, on: bool) -> bool: ...

    async def show_card(self, card: CardSpec, card_id: int | None = None) -> int: ...

    async def clear_display(self) -> None: ...

    async def play_audio(self, pcm: bytes, sample_rate: int = 16000, frame_ms: int = 20) -> None: ...

    def microphone(self, frame_ms: int = 20) -> AsyncIterator[AudioChunk]: ...


class WakeStreamPort(Protocol):
    """The stream a detection on the MCU started: AudioChunks; aclose() stops it, read or not."""

    def __aiter__(self) -> AsyncIterator[AudioChunk]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class McuWakePort(Protocol):
    """An MCU whose firmware may listen for the wake word itself (glassbridge.mcu.client.Mcu): checked with
    isinstance, so an McuPort without these methods simply has the SoC listen. listens_for_wake_word: its Hello
    declared the capability. listen_for_wake_word(listen, cutoff=...): start or stop listening; its WakeWordHeard
    events come through events(); wake_stream(event): the audio from the lookback on, closing it stops it."""

    @property
    def listens_for_wake_word(self) -> bool: ...

    async def listen_for_wake_word(self, listen: bool = True, *, cutoff: float | None = None) -> None: ...

    def wake_stream(self, event: Any) -> WakeStreamPort: ...


@runtime_checkable
class PhonePort(Protocol):
    """The bonded phone's companion (glassbridge.phone.Phone). Requests raise the PeerErrors of
    glassbridge.protocol.errors (peer "phone"): LinkLost (the phone went away: the loop answers offline and
    queues), PeerTimeout, RequestFailed (the phone said no, with its reason)."""

    @property
    def up(self) -> bool: ...

    async def wait_until_up(self, timeout: float) -> None: ...

    def events(self) -> EventSource: ...

    def ask_stream(
        self,
        text: str,
        *,
        photo: bytes | None = None,
        audio_wav: bytes | None = None,
        audio_opus: bytes | None = None,
        task: str = "unspecified",
        language: str = "",
        perception: pb.Perception | None = None,
        queued_ms: int = 0,
    ) -> AsyncIterator[AnswerPart]: ...

    async def start_captions(self, stream_id: int, kind: str = "transcription", language: str = "",
                             source_language: str = "") -> None: ...

    async def stop_captions(self, stream_id: int) -> None: ...

    async def send_audio_packet(self, stream_id: int, first_sample: int, data: bytes, *, codec: str = "opus",
                                frame_samples: int = 320, gap_before: bool = False) -> None: ...

    async def media(self, action: str) -> None: ...

    async def respond(self, notification_id: int, confirm: bool) -> str: ...


class CameraPort(Protocol):
    """One frame on demand, taken while the MCU has the camera powered (the loop powers it around the call).
    Raises glassbridge.camera.source.CameraError when it cannot deliver."""

    async def capture(self) -> Frame: ...


class Perceiver(Protocol):
    """Local perception of one frame (CPU work: the loop runs it in a thread). With emotions=False no expression
    may be computed at all (glassbridge.assistant.perception.FacePerceiver never runs the classifier then)."""

    def perceive(self, frame: Frame, *, emotions: bool) -> Any: ...  # -> perception.LocalPerception


class Voice(Protocol):
    """Text to speech: PCM16 mono at 16 kHz (glassbridge.audio.EspeakVoice)."""

    async def synthesize(self, text: str) -> bytes: ...


class WakeWordPort(Protocol):
    """Streaming wake word (glassbridge.audio.WakeWord): feed 16 kHz PCM16, get the detections it completed."""

    def feed(self, pcm: bytes) -> Sequence[Any]: ...

    def reset(self) -> None: ...


class EndpointerPort(Protocol):
    """"Listen until the wearer stops talking" (glassbridge.audio.Endpointer): feed PCM16, get None or an event
    whose kind is "speech_started" or "ended" (with reason "silence", "max_length" or "no_speech")."""

    def feed(self, pcm: bytes) -> Any: ...


class OpusEncoderPort(Protocol):
    """glassbridge.audio.OpusEncoder: one packet per 20 ms of PCM16 fed (the remainder waits), flush() the rest."""

    def encode(self, pcm: bytes) -> list[bytes]: ...

    def flush(self) -> list[bytes]: ...


@dataclass(frozen=True)
class Ports:
    """The devices a skill talks to itself (SkillContext.ports); the Assistant holds the same objects."""

    mcu: McuPort
    phone: PhonePort
    camera: CameraPort
    perceiver: Perceiver
    wake_word: WakeWordPort | None  # None: no wake word (disabled in the settings, or not given)
