"""The phone link's value types: what `Phone` (glassbridge.phone.client) returns and publishes. Dataclasses only,
importing nothing of glassbridge, so code that is handed a Phone as a port (glassbridge.assistant) can name these
types without importing the client, its BLE transport or bleak.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "AnswerPart",
    "Card",
    "CaptionLine",
    "ConnectionChanged",
    "NotificationEvent",
    "PhoneEvent",
    "PhoneStatus",
]


@dataclass(frozen=True)
class AnswerPart:
    """A piece of an assistant answer; parts of one request concatenate, the last has final=True."""

    request_id: int
    text: str
    final: bool
    source: str
    offline: bool


@dataclass(frozen=True)
class Answer:
    """A complete assistant answer."""

    request_id: int
    text: str
    source: str
    offline: bool
    parts: int
    seconds: float


@dataclass(frozen=True)
class NotificationEvent:
    """Something the phone wants the wearer to see (a message, a call, a turn, a payment prompt)."""

    notification_id: int
    kind: str  # message, call, navigation, payment, other
    app: str
    title: str
    text: str
    icon: str
    needs_response: bool = False  # the phone waits for respond(notification_id, confirm) (payment, call)
    timeout_ms: int = 0  # how long it waits (0: the phone's default, 30 s); then the prompt counts as dismissed


@dataclass(frozen=True)
class CaptionLine:
    """A transcription or translation line for the audio stream `stream_id`; final=False lines get replaced."""

    stream_id: int
    kind: str  # transcription, translation
    text: str
    final: bool
    language: str


@dataclass(frozen=True)
class Card:
    """A display card the phone asks the glasses to show (glassbridge.proto DisplayCard)."""

    card_id: int
    kind: str
    icon: str
    title: str
    text: str
    ttl_ms: int


@dataclass(frozen=True)
class ConnectionChanged:
    """The phone link's state changed: "scanning", "connecting", "connected" (BLE up, link handshaking), "up"
    (messages flow), "disconnected", "incompatible", "closed"."""

    state: str
    detail: str = ""


PhoneEvent = AnswerPart | NotificationEvent | CaptionLine | Card | ConnectionChanged


@dataclass
class PhoneStatus:
    """What `glassbridge phone status` prints."""

    bonded: dict[str, Any] | None
    state: str
    connected: bool
    mtu: int
    link_state: str
    link: dict[str, Any] = field(default_factory=dict)
    companion: dict[str, Any] | None = None
    connections: int = 0
    reconnect_failures: int = 0
    last_error: str = ""
    refused: dict[str, str] = field(default_factory=dict)
    events_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
