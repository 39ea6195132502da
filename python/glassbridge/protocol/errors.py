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


# ---- peer errors (glassbridge.protocol.client: what a client of the MCU or of the phone raises) ----


class PeerError(ProtocolError):
    """Base class of what a client of a peer raises (glassbridge.protocol.client under `Mcu` and `Phone`).

    `peer` names the other end ("MCU", "phone"), so one family serves both links: `except LinkLost` catches a
    lost link to either, `exc.peer` says which. The peers' own kinds (a serial port that cannot be opened, a
    pairing refused) derive from the peer's base class, McuError or PhoneError, which derive from this one.
    """

    def __init__(self, message: str, *, peer: str) -> None:
        super().__init__(message)
        self.peer = peer


class LinkLost(PeerError):
    """The link to the peer went down while something waited on it and did not come back within the patience
    allowed (or the client was closed)."""


class PeerRestarted(LinkLost):
    """The peer restarted (a new link session: the MCU rebooted, the companion restarted its link) while requests
    were in flight; what it had not acknowledged was dropped. Send the request again."""


class PeerTimeout(PeerError):
    """Nothing arrived within the time given while the link was up; the message names what was awaited and what
    was seen meanwhile (`awaited`, `seconds`)."""

    def __init__(self, awaited: str, seconds: float, seen: str = "", *, peer: str) -> None:
        super().__init__(f"no {awaited} within {seconds:g} s" + (f" ({seen})" if seen else ""), peer=peer)
        self.awaited = awaited
        self.seconds = seconds


class NotConnected(PeerTimeout):
    """No link to the peer within the time given (no handshake: nothing answers on the port, a wrong baud; the
    phone out of reach). The message says what was seen meanwhile."""


class PeerIncompatible(PeerError):
    """The peer speaks link protocol versions this glassbridge cannot (or the other way round). `peer_versions`
    and `our_versions` are (oldest, newest); the message says which side to update."""

    def __init__(self, message: str, *, peer: str, peer_versions: tuple[int, int],
                 our_versions: tuple[int, int]) -> None:
        super().__init__(message, peer=peer)
        self.peer_versions = peer_versions
        self.our_versions = our_versions


class RequestFailed(PeerError):
    """The peer answered a request with an error code (`code`; `code_name`, e.g. "busy") and its message
    (`peer_message`)."""

    def __init__(self, what: str, code: int, code_name: str, message: str, *, peer: str) -> None:
        super().__init__(f"{what}: the {peer} answered {code_name}" + (f" ({message})" if message else ""), peer=peer)
        self.code = code
        self.code_name = code_name
        self.peer_message = message


class TransferFailed(PeerError):
    """A transfer could not be completed: the peer refused it, its SHA-256 did not verify there, or the peer
    answered what no transfer can be (an offset beyond the size)."""


class TransferStalled(TransferFailed, PeerTimeout):
    """A transfer made no progress (the peer confirmed no more of it) for its stall timeout, whatever the answers;
    the message says what was confirmed and what went wrong meanwhile."""

    def __init__(self, message: str, seconds: float, *, peer: str) -> None:
        PeerError.__init__(self, message, peer=peer)
        self.awaited = "progress"
        self.seconds = seconds


class LinkStalled(PeerError):
    """The link is up but nothing gets through: no acknowledgement for the stall timeout while messages waited.
    The message says what the line did meanwhile (frames sent again, frames with a bad CRC)."""
