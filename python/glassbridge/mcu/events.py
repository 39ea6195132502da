"""The MCU link's value types: what `Mcu` (glassbridge.mcu.client) returns and publishes, and the display card it
takes. Frozen dataclasses only, importing nothing of glassbridge but `protocol`, so code that is handed an Mcu as
a port (glassbridge.assistant) can name these types without importing the client or its transport.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from glassbridge.protocol.messages import enum_name, pb
from glassbridge.protocol.transfer import UploadReport

__all__ = [
    "AudioChunk",
    "BatteryChanged",
    "BatteryInfo",
    "ButtonPressed",
    "CaptureFailsafe",
    "CardSpec",
    "GestureDetected",
    "McuConnected",
    "McuDisconnected",
    "McuEvent",
    "McuRebooted",
    "McuStatus",
    "TransferReport",
    "WakeWordHeard",
]


@dataclass(frozen=True)
class BatteryInfo:
    percent: int
    millivolts: int
    charging: bool
    level: str  # "ok", "low", "critical"

    @classmethod
    def from_pb(cls, b: Any) -> BatteryInfo:
        return cls(b.percent, b.millivolts, b.charging, enum_name(pb.BatteryLevel, b.level, "BATTERY_LEVEL_"))


@dataclass(frozen=True)
class McuStatus:
    """What `glassbridge mcu status` prints: the MCU's own report plus what the link knows."""

    firmware_version: str
    board: str
    boot_counter: int
    uptime_ms: int
    battery: BatteryInfo
    buttons_down: int
    imu: dict[str, int]
    camera_powered: bool
    capture_led: bool
    mic_streaming: bool
    card_id: int
    capabilities: list[str]
    uart_rx_overruns: int
    link: dict[str, Any] = field(default_factory=dict)  # the SoC's side of the link (this end's counters)
    mcu_link: dict[str, int] = field(default_factory=dict)  # the MCU's side: how the SoC's frames arrived there
    failsafe_trips: int = 0  # times the MCU's capture fail-safe switched the camera or microphone off
    ignored_messages: int = 0  # the SoC's messages the MCU left unanswered by rule (SPEC.md 10.1): should stay 0
    wake_listening: bool = False  # the MCU listens for the wake word itself (no audio leaves it meanwhile)
    wake_detections: int = 0  # WakeWordEvents since the MCU booted
    wake_invokes: int = 0  # runs of its wake-word model since boot (one per 30 ms of audio while listening)
    wake_late_steps: int = 0  # 10 ms audio steps it skipped because it fell behind (should stay 0)

    @classmethod
    def from_pb(cls, s: Any, link: dict[str, Any]) -> McuStatus:
        caps = [
            enum_name(pb.Capability, v.number, "CAPABILITY_")
            for v in pb.Capability.DESCRIPTOR.values
            if v.number and s.capabilities & v.number
        ]
        imu = {f.name: getattr(s.imu, f.name) for f in s.imu.DESCRIPTOR.fields}
        mcu_link = {f.name: int(getattr(s.link, f.name)) for f in s.link.DESCRIPTOR.fields}
        return cls(
            s.firmware_version, s.board, s.boot_counter, s.uptime_ms, BatteryInfo.from_pb(s.battery), s.buttons_down,
            imu, s.camera_powered, s.capture_led, s.mic_streaming, s.card_id, caps, s.uart_rx_overruns, link,
            mcu_link, s.failsafe_trips, s.ignored_messages, s.wake_listening, s.wake_detections, s.wake_invokes,
            s.wake_late_steps,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ButtonPressed:
    button: str  # "main", "capture"
    action: str  # "tap", "double_tap", "long_press"
    at_ms: int


@dataclass(frozen=True)
class GestureDetected:
    gesture: str  # "nod", "shake"
    at_ms: int
    confidence_pct: int


@dataclass(frozen=True)
class BatteryChanged:
    battery: BatteryInfo
    at_ms: int


@dataclass(frozen=True)
class McuConnected:
    """The link is up (first handshake, or again after a link loss)."""

    firmware_version: str
    boot_counter: int


@dataclass(frozen=True)
class McuDisconnected:
    """The link went down (silence, port gone); the client keeps trying and says McuConnected when back."""

    reason: str


@dataclass(frozen=True)
class McuRebooted:
    """The MCU restarted: camera off, stream stopped, display cleared; unacknowledged messages were dropped."""

    boot_counter: int
    dropped_messages: int


@dataclass(frozen=True)
class CaptureFailsafe:
    """The MCU's capture fail-safe acted while the link was lost: after `link_lost_ms` without the SoC it switched
    the camera (and its LED) off and stopped the microphone stream, whichever was on. Told once the link is back
    (`down_ms`: how long it was lost in all). Nothing comes back on by itself."""

    link_lost_ms: int
    camera_was_on: bool
    mic_was_streaming: bool
    at_ms: int
    down_ms: int


@dataclass(frozen=True)
class WakeWordHeard:
    """The MCU heard the wake word (it listens itself: Mcu.listen_for_wake_word). The microphone stream
    `stream_id` carries the audio from `lookback_sample` on, in AudioChunk.first_sample numbering; the deciding
    30 ms step ended at `detected_sample`, so the question starts after it. Read it with Mcu.wake_stream(event)."""

    stream_id: int
    lookback_sample: int
    detected_sample: int
    probability: float  # the windowed mean that crossed the cut-off (to 1/1000)
    at_ms: int
    heard_sample: int = 0  # where the deciding step ended, counted from the start of listening


McuEvent = (ButtonPressed | GestureDetected | BatteryChanged | McuConnected | McuDisconnected | McuRebooted
            | CaptureFailsafe | WakeWordHeard)


@dataclass(frozen=True)
class AudioChunk:
    """A microphone frame. `gap_before` marks lost audio (MCU reboot, link reset) before `first_sample`."""

    pcm: bytes
    first_sample: int
    sample_rate: int
    stream_id: int
    gap_before: bool


@dataclass(frozen=True)
class CardSpec:
    """A display card (glassbridge.proto DisplayCard). Title <= 47 bytes, text <= 191 bytes of UTF-8."""

    title: str = ""
    text: str = ""
    kind: str = "text"  # text, answer, caption, notification, navigation, payment, pairing
    icon: str = "none"  # none, info, mic, camera, arrow_left, arrow_right, arrow_up, message, pay, warning, bluetooth
    ttl_ms: int = 0


#: What `Mcu.transfer` returns: the report of the one resumable sender (glassbridge.protocol.transfer).
TransferReport = UploadReport
