"""glassbridge.protocol: the wire protocol of the MCU and phone links, with no I/O.

- `glassbridge.protocol.link`: the reliable link (SPEC.md "Link layer"): `Link` wraps the same C engine the
  firmware runs (the extension `glassbridge.protocol._link`, which holds that engine and nothing else: the
  protocol never loads the image kernels); bytes and the time go in, frames, delivered messages and events come
  out. Transports (pyserial, BLE) live elsewhere and drive it.
- `glassbridge.protocol.messages`: the protobuf messages carried on the link's channels.
- `glassbridge.protocol.client`: the client layer the MCU's and the phone's clients share (requests and answers,
  the link's events, the patience rule) over any transport that queues messages; `glassbridge.protocol.transfer`:
  its resumable sender (SPEC.md 10).
- `glassbridge.protocol.errors`: the exceptions of all of them (`PeerError` and its kinds: what a client raises).

The link's names are re-exported here:

    from glassbridge.protocol import Link, Channel, MessageReceived
"""

from __future__ import annotations

from glassbridge.protocol.errors import (
    InvalidChannel,
    LinkConfigError,
    LinkError,
    LinkIncompatible,
    LinkQueueFull,
    MessageTooLarge,
    ProtocolError,
)
from glassbridge.protocol.link import (
    Channel,
    Link,
    LinkDown,
    LinkEvent,
    LinkState,
    LinkStats,
    LinkUp,
    MessageReceived,
    PeerInfo,
    PeerReset,
    Profile,
    Role,
    VersionMismatch,
)

__all__ = [
    "Channel",
    "InvalidChannel",
    "Link",
    "LinkConfigError",
    "LinkDown",
    "LinkError",
    "LinkEvent",
    "LinkIncompatible",
    "LinkQueueFull",
    "LinkState",
    "LinkStats",
    "LinkUp",
    "MessageReceived",
    "MessageTooLarge",
    "PeerInfo",
    "PeerReset",
    "Profile",
    "ProtocolError",
    "Role",
    "VersionMismatch",
]
