"""Errors of glassbridge.protocol (messages and link)."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error glassbridge.protocol raises."""


class MessageDecodeError(ProtocolError):
    """Bytes that are not a valid glassbridge Message (malformed protobuf, bad UTF-8, a field over its limit).

    The text says why and shows the start of the bytes.
    """


class MessageLimitError(ProtocolError, ValueError):
    """A string or bytes field the MCU cannot hold: longer than its `limit:` in glassbridge.proto (the size of
    the MCU's buffer), or a string with a NUL character (a C string ends there; the MCU refuses it).

    `field` is the path of the field (e.g. ``Message.card.text``), `size` its length in bytes, `limit` the limit.
    """

    def __init__(self, field: str, size: int, limit: int, reason: str | None = None) -> None:
        super().__init__(
            f"{field}: {reason}"
            if reason
            else f"{field} is {size} bytes, over its limit of {limit} bytes (glassbridge.proto `limit:`, the "
            "MCU's buffer): shorten it, or split the data over several messages"
        )
        self.field = field
        self.size = size
        self.limit = limit


# ---- link errors (glassbridge.protocol.link; the codes of gb_status in protocol/c/include/glassbridge/link.h) ----


class LinkError(ProtocolError):
    """Base class of the errors glassbridge.protocol.link raises when a message cannot be queued."""


class LinkConfigError(LinkError, ValueError):
    """A Link configuration the engine refuses (the text names the rule: e.g. window 1..32)."""


class LinkQueueFull(LinkError):
    """Backpressure: the transmit queue has no room for this message now. Retry once the peer has acknowledged
    more (`Link.tx_free` grows), or give the Link a larger `tx_queue_bytes`. `needed` and `free` are in bytes."""

    def __init__(self, needed: int, free: int) -> None:
        super().__init__(
            f"link transmit queue full: the message needs {needed} bytes (its length + 4), {free} are free; "
            "wait for acknowledgements and retry"
        )
        self.needed = needed
        self.free = free


class MessageTooLarge(LinkError, ValueError):
    """The message exceeds the smaller of our and the peer's max_message (the peer's reassembly buffer)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"message of {size} bytes exceeds the link's max_message of {limit} bytes (the smaller of both ends' "
            "limits): split it, e.g. as a transfer in chunks"
        )
        self.size = size
        self.limit = limit


class InvalidChannel(LinkError, ValueError):
    """Applications send on channels 1 (control), 2 (audio) and 3 (bulk); channel 0 belongs to the link."""

    def __init__(self, channel: int) -> None:
        super().__init__(f"channel {channel} is not an application channel: use 1 (control), 2 (audio) or 3 (bulk)")
        self.channel = channel


class LinkIncompatible(LinkError):
    """The peer speaks a link protocol version this end cannot (a VersionMismatch event said so): nothing can be
    sent until one side is updated."""
