"""A radio timing model for bumble's LocalLink: connection events, LL PDUs, airtime, and a lost link.

bumble's `LocalLink` hands every ACL packet to the peer controller on the next turn of the event loop: a 200 KB
upload takes the same time whether each write is acknowledged or not, so acknowledgement costs nothing and no
throughput figure means anything. `TimedLink` replaces that seam (`send_acl_data`, and `send_ll_control_pdu` so
that LL control PDUs stay in order with the data, as they share the air) with the rules of a BLE connection:

- Each connection has anchor points every `connection_interval_ms`, on a grid that starts 1.25 ms after the
  CONNECT_IND (the smallest transmit window offset). An event runs at an anchor only when something is queued;
  idle events (an empty PDU each way) are not simulated, so they are not counted either.
- In an event the central and the peripheral alternate: central PDU, T_IFS (150 us), peripheral PDU, T_IFS, ...
  A side with nothing queued sends an empty PDU. Each LL data PDU carries at most `ll_payload` bytes of L2CAP
  (27 without the data length extension, 251 with it): an L2CAP PDU longer than that is fragmented.
- Airtime of a PDU = (preamble + access address 4 + LL header 2 + payload + MIC 4 + CRC 3) bytes * 8 / PHY rate,
  with a preamble of 1 byte on LE 1M and 2 bytes on LE 2M; the MIC only once the link is encrypted and only on
  PDUs with a payload (Core spec Vol 6 Part B 2.1 and 2.4).
- The event goes on while either side has more data (the MD bit), for at most `max_pdus_per_event` PDUs each
  way when set, and only while the next exchange (the PDUs queued at that moment) ends within the event length
  (default: the whole interval minus `event_guard_ms`). What is queued later waits for the next anchor.
- An L2CAP PDU reaches the peer's controller at the end of the LL PDU carrying its last fragment; order is kept
  per direction. The sender's controller reports the HCI packets completed (Number Of Completed Packets) only
  then, as a real controller does, so a host that queues faster than the air drains is held back by HCI flow
  control instead of by an unbounded queue (use `TimedController` for that).
- `drop()` models the radio link lost: the queued PDUs vanish, nothing more crosses, and after `silence_ms` (the
  supervision timeout) both controllers report the disconnection with reason CONNECTION_TIMEOUT (0x08), the way
  bumble's controllers report every LE disconnection (`Controller.on_le_disconnected`).

Advertising keeps LocalLink's delivery, with one repair: bumble's controller reports the advertising data a second
time where the scan response belongs, so a name in the scan response (where the companion and most phones put it)
was never seen; the advertiser's scan response now travels with its advertisement and an active scanner's
TimedController reports it (`ScannableAdvInd`, `TimedController.on_advertising_pdu`).

Not modelled: several connections sharing one radio (each connection has the air to itself), retransmissions
(no bit errors), channel hopping, connection parameter, PHY and data length updates (the model's interval, PHY
and LL payload apply, whatever the hosts negotiate). Times are event-loop times (`loop.time()`, seconds) computed from the model, not from when the loop
got around to running a callback, so counters and delivery times do not depend on the machine's load.

`BleTiming.write_without_response_ceiling(att_mtu)`: the most ATT value bytes per second a stream of write
commands can carry under these rules (what a benchmark's goodput is measured against).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bumble import core, hci, ll
from bumble.controller import Connection as ControllerConnection
from bumble.controller import Controller
from bumble.link import LocalLink

__all__ = [
    "CONNECTION_TIMEOUT",
    "T_IFS_US",
    "BleTiming",
    "DirectionCounters",
    "PduRecord",
    "TimedController",
    "TimedLink",
]

log = logging.getLogger(__name__)

#: Inter-frame space between two PDUs of a connection event (Core spec Vol 6 Part B 4.1.1).
T_IFS_US = 150.0
#: HCI reason of a link lost to the supervision timeout (Core spec Vol 1 Part F 2.8).
CONNECTION_TIMEOUT = 0x08
#: Access address (4) + LL data PDU header (2) + CRC (3): bytes every PDU carries besides preamble and payload.
_LL_FIXED_BYTES = 4 + 2 + 3
#: Message integrity check added to every non-empty PDU of an encrypted connection.
MIC_BYTES = 4
#: L2CAP basic header: length (2) + channel id (2).
L2CAP_HEADER = 4
#: ATT write command / write request / notification: opcode (1) + handle (2) before the value.
ATT_WRITE_HEADER = 3
_ATT_CID = 0x0004
_SMP_CID = 0x0006

#: ATT opcodes by name (Core spec Vol 3 Part F 3.4.8), for the counters.
ATT_OPCODES: dict[int, str] = {
    0x01: "error_response",
    0x02: "exchange_mtu_request",
    0x03: "exchange_mtu_response",
    0x04: "find_information_request",
    0x05: "find_information_response",
    0x06: "find_by_type_value_request",
    0x07: "find_by_type_value_response",
    0x08: "read_by_type_request",
    0x09: "read_by_type_response",
    0x0A: "read_request",
    0x0B: "read_response",
    0x0C: "read_blob_request",
    0x0D: "read_blob_response",
    0x0E: "read_multiple_request",
    0x0F: "read_multiple_response",
    0x10: "read_by_group_type_request",
    0x11: "read_by_group_type_response",
    0x12: "write_request",
    0x13: "write_response",
    0x16: "prepare_write_request",
    0x17: "prepare_write_response",
    0x18: "execute_write_request",
    0x19: "execute_write_response",
    0x1B: "notification",
    0x1D: "indication",
    0x1E: "confirmation",
    0x52: "write_command",
    0xD2: "signed_write_command",
}
#: Opcodes whose PDU is opcode + handle + value: their value bytes are counted (what an application moves).
_VALUE_OPCODES = {0x12: 0, 0x52: 0, 0x1B: 0, 0x1D: 0, 0xD2: 12}  # signed write: 12-byte signature after the value


@dataclass
class BleTiming:
    """The radio parameters of the model (see the module docstring for the rules they feed).

    connection_interval_ms: time between anchors, 7.5 ms to 4 s (Core spec: a multiple of 1.25 ms; any value is
        accepted here so that a sweep can use round numbers).
    ll_payload: largest L2CAP fragment per LL PDU: 27 (no data length extension) up to 251.
    phy_mbps: 1 (LE 1M) or 2 (LE 2M).
    event_length_ms: how long an event may last; None = the whole interval minus `event_guard_ms`.
    event_guard_ms: time kept free before the next anchor when event_length_ms is None.
    max_pdus_per_event: cap on the PDUs each side sends in one event (phones often have one), None = no cap.
    """

    connection_interval_ms: float = 15.0
    ll_payload: int = 251
    phy_mbps: int = 2
    event_length_ms: float | None = None
    event_guard_ms: float = 0.15
    max_pdus_per_event: int | None = None

    def __post_init__(self) -> None:
        if not 7.5 <= self.connection_interval_ms <= 4000.0:
            raise ValueError(f"connection_interval_ms={self.connection_interval_ms}: BLE allows 7.5 to 4000 ms")
        if not 27 <= self.ll_payload <= 251:
            raise ValueError(f"ll_payload={self.ll_payload}: an LL data PDU carries 27 to 251 bytes "
                             "(27 without the data length extension)")
        if self.phy_mbps not in (1, 2):
            raise ValueError(f"phy_mbps={self.phy_mbps}: the modelled PHYs are LE 1M (1) and LE 2M (2)")
        if self.event_guard_ms < 0:
            raise ValueError(f"event_guard_ms={self.event_guard_ms} must be >= 0")
        if self.event_length_ms is not None and not 0 < self.event_length_ms <= self.connection_interval_ms:
            raise ValueError(f"event_length_ms={self.event_length_ms} must be > 0 and <= the connection interval "
                             f"({self.connection_interval_ms} ms)")
        if self.max_pdus_per_event is not None and self.max_pdus_per_event < 1:
            raise ValueError(f"max_pdus_per_event={self.max_pdus_per_event} must be >= 1 (or None for no cap)")

    # ---- the rules -----------------------------------------------------------------------------------

    @property
    def event_length_us(self) -> float:
        """How long one event may last, in microseconds."""
        if self.event_length_ms is not None:
            return self.event_length_ms * 1000.0
        return max(0.0, (self.connection_interval_ms - self.event_guard_ms) * 1000.0)

    @property
    def interval_us(self) -> float:
        return self.connection_interval_ms * 1000.0

    def pdu_airtime_us(self, payload: int, *, encrypted: bool) -> float:
        """Time on air of one LL data PDU with `payload` bytes (0 = an empty PDU)."""
        preamble = 1 if self.phy_mbps == 1 else 2
        mic = MIC_BYTES if encrypted and payload > 0 else 0
        return (preamble + _LL_FIXED_BYTES + payload + mic) * 8.0 / self.phy_mbps

    def fragments(self, l2cap_length: int) -> list[int]:
        """LL payload sizes an L2CAP PDU of `l2cap_length` bytes (header included) is cut into."""
        if l2cap_length <= 0:
            raise ValueError(f"an L2CAP PDU has at least its 4-byte header, got {l2cap_length} bytes")
        full, rest = divmod(l2cap_length, self.ll_payload)
        return [self.ll_payload] * full + ([rest] if rest else [])

    def exchange_fits(self, offset_us: float, central: int, peripheral: int, *, encrypted: bool) -> bool:
        """Whether an exchange starting `offset_us` after the anchor, with these payloads, ends within the event."""
        end = (offset_us + self.pdu_airtime_us(central, encrypted=encrypted) + T_IFS_US
               + self.pdu_airtime_us(peripheral, encrypted=encrypted))
        return end <= self.event_length_us

    def write_without_response_ceiling(self, att_mtu: int, *, encrypted: bool = True,
                                       value_size: int | None = None) -> float:
        """Most ATT value bytes per second that write commands (central -> peripheral) carry under the model.

        Each write carries `value_size` (default: the largest, min(att_mtu - 3, 512)) value bytes in an L2CAP PDU
        of value + 3 + 4 bytes, cut into LL
        fragments; the central sends them back to back while the peripheral answers with empty PDUs, and every
        event runs as the rules allow. The fragment a steady stream starts each event with is periodic, so one
        period gives the exact long-run rate (value bytes over the period's events times the interval).
        """
        if att_mtu < 23:
            raise ValueError(f"att_mtu={att_mtu}: the ATT_MTU of LE is at least 23")
        largest = min(att_mtu - ATT_WRITE_HEADER, 512)
        value = largest if value_size is None else value_size
        if not 1 <= value <= largest:
            raise ValueError(f"value_size={value_size}: a write at ATT_MTU {att_mtu} carries 1..{largest} bytes")
        frags = self.fragments(value + ATT_WRITE_HEADER + L2CAP_HEADER)
        start = 0  # index of the fragment the next event begins with
        seen: dict[int, tuple[int, int]] = {}  # fragment index at an event start -> (events, writes) so far
        events = writes = 0
        while start not in seen:
            seen[start] = (events, writes)
            offset = 0.0
            sent = 0
            index = start
            while True:
                # The central's PDU, then the peripheral's empty answer, then T_IFS before the next exchange.
                offset += (self.pdu_airtime_us(frags[index], encrypted=encrypted) + T_IFS_US
                           + self.pdu_airtime_us(0, encrypted=encrypted) + T_IFS_US)
                sent += 1
                if index == len(frags) - 1:
                    writes += 1
                index = (index + 1) % len(frags)
                if self.max_pdus_per_event is not None and sent >= self.max_pdus_per_event:
                    break
                if not self.exchange_fits(offset, frags[index], 0, encrypted=encrypted):
                    break
            events += 1
            start = index
        events0, writes0 = seen[start]
        period_events, period_writes = events - events0, writes - writes0
        return period_writes * value / (period_events * self.connection_interval_ms / 1000.0)

    def best_write_ceiling(self, att_mtu: int, *, encrypted: bool = True) -> tuple[float, int]:
        """The ceiling of write commands at this ATT_MTU with the best value size, and that size.

        Besides the largest value, the candidates are the sizes whose L2CAP PDU fills whole LL PDUs
        (k x ll_payload - 7): a value one byte longer than such a size costs a whole extra exchange for its runt.
        """
        largest = min(att_mtu - ATT_WRITE_HEADER, 512)
        sizes = {largest} | {k * self.ll_payload - ATT_WRITE_HEADER - L2CAP_HEADER
                             for k in range(1, largest // self.ll_payload + 2)}
        best = max((self.write_without_response_ceiling(att_mtu, encrypted=encrypted, value_size=v), v)
                   for v in sizes if 1 <= v <= largest)
        return best

    # ---- (de)serialisation for the ctl socket and the command line -----------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BleTiming:
        """A BleTiming from a dict of its fields; an unknown key is an error naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown timing field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> BleTiming:
        return BleTiming.from_dict({**self.to_dict(), **changes})


# ---- counters -------------------------------------------------------------------------------------------


@dataclass
class DirectionCounters:
    """What crossed the air one way on one connection (only what was transmitted: dropped PDUs do not count)."""

    ll_data_pdus: int = 0
    ll_empty_pdus: int = 0
    ll_control_pdus: int = 0
    ll_payload_bytes: int = 0
    l2cap_pdus: int = 0
    l2cap_bytes: int = 0
    att_pdus: dict[str, int] = field(default_factory=dict)
    att_value_bytes: int = 0
    smp_pdus: int = 0
    dropped_pdus: int = 0

    def count_l2cap(self, pdu: bytes) -> None:
        self.l2cap_pdus += 1
        self.l2cap_bytes += len(pdu)
        if len(pdu) < L2CAP_HEADER + 1:
            return
        cid = int.from_bytes(pdu[2:4], "little")
        if cid == _SMP_CID:
            self.smp_pdus += 1
        if cid != _ATT_CID:
            return
        opcode = pdu[L2CAP_HEADER]
        name = ATT_OPCODES.get(opcode, f"0x{opcode:02x}")
        self.att_pdus[name] = self.att_pdus.get(name, 0) + 1
        if opcode in _VALUE_OPCODES:
            value = len(pdu) - L2CAP_HEADER - ATT_WRITE_HEADER - _VALUE_OPCODES[opcode]
            self.att_value_bytes += max(0, value)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["att_pdus"] = dict(sorted(self.att_pdus.items()))
        return data


@dataclass(frozen=True)
class PduRecord:
    """One LL PDU on the air (kept when TimedLink(trace=True)): for tests that check the timeline."""

    connection: int
    event: int
    anchor: float  # loop time of the event's anchor, seconds
    start: float  # loop time the PDU starts, seconds
    end: float  # loop time the PDU ends (and is delivered), seconds
    direction: str  # "c2p" (central to peripheral) or "p2c"
    kind: str  # "data", "empty" or "control"
    payload: int  # LL payload bytes
    att_opcode: int | None  # the ATT opcode when this PDU completes an ATT PDU


# ---- the link -------------------------------------------------------------------------------------------


@dataclass
class _Pdu:
    """One LL PDU waiting for the air: a fragment of an L2CAP PDU, or an LL control PDU."""

    payload: int
    kind: str  # "data" or "control"
    deliver: Callable[[], None] | None  # on the last fragment: hand the whole thing to the peer
    l2cap: bytes | None = None  # on the last fragment of an L2CAP PDU: the PDU (for the counters)


@dataclass
class _Direction:
    queue: deque[_Pdu] = field(default_factory=deque)
    counters: DirectionCounters = field(default_factory=DirectionCounters)
    encrypted: bool = False

    def head_payload(self) -> int:
        return self.queue[0].payload if self.queue else 0


@dataclass
class _LinkConnection:
    """The timing state of one LE connection (identified by the two addresses it runs between)."""

    id: int
    central: hci.Address
    peripheral: hci.Address
    central_controller: Controller
    anchor_base: float  # loop time: the grid of anchors is anchor_base + k * interval, k >= 1
    c2p: _Direction = field(default_factory=_Direction)
    p2c: _Direction = field(default_factory=_Direction)
    state: str = "open"  # "open", "closed" (disconnected), "lost" (dropped)
    reason: int | None = None
    events: int = 0
    busy: bool = False  # an anchor is armed or an event is running
    handle: asyncio.TimerHandle | None = None
    peripheral_controller_name: str = ""

    @property
    def encrypted(self) -> bool:
        return self.c2p.encrypted or self.p2c.encrypted

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "central": str(self.central),
            "peripheral": str(self.peripheral),
            "central_controller": self.central_controller.name,
            "peripheral_controller": self.peripheral_controller_name,
            "state": self.state,
            "reason": self.reason,
            "encrypted": self.encrypted,
            "events": self.events,
            "c2p": self.c2p.counters.to_dict(),
            "p2c": self.p2c.counters.to_dict(),
        }


def _key(a: hci.Address, b: hci.Address) -> frozenset[bytes]:
    # Address equality includes the public/random flag, which the two ends do not always agree on; the six
    # address bytes are what identifies a device on the air.
    return frozenset((bytes(a.address_bytes), bytes(b.address_bytes)))


class TimedLink(LocalLink):
    """A bumble LocalLink whose LE connections run on connection events (see the module docstring).

    `timing` may be replaced at any time (`link.timing = ...`): the next event uses it. `trace=True` keeps a
    PduRecord of every PDU in `link.trace`. Classic (BR/EDR) traffic and advertising keep LocalLink's behaviour.
    """

    def __init__(self, timing: BleTiming | None = None, *, trace: bool = False, history: int = 64) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # bumble's LocalLink.__init__ is unannotated
        self.timing = timing or BleTiming()
        self.trace: list[PduRecord] | None = [] if trace else None
        self._connections: dict[frozenset[bytes], _LinkConnection] = {}
        self._closed: deque[_LinkConnection] = deque(maxlen=history)
        # Connections whose radio link is lost but whose supervision timeout has not expired yet: whatever the
        # hosts send on them meanwhile goes nowhere (it must not reach the peer by LocalLink's direct path).
        self._silenced: dict[frozenset[bytes], _LinkConnection] = {}
        self._next_id = 1

    # ---- what the controllers call ------------------------------------------------------------------

    def send_advertising_pdu(self, sender_controller: Controller, packet: ll.AdvertisingPdu) -> None:
        if isinstance(packet, ll.ConnectInd):
            # A new connection: its anchor grid starts now + 1.25 ms (the earliest transmit window).
            self._open(sender_controller, packet.initiator_address, packet.advertiser_address)
        super().send_advertising_pdu(sender_controller, _with_scan_response(sender_controller, packet))

    def send_acl_data(self, sender_controller: Controller, destination_address: hci.Address,
                      transport: core.PhysicalTransport, data: bytes) -> None:
        if transport != core.PhysicalTransport.LE:
            super().send_acl_data(sender_controller, destination_address, transport, data)
            return
        own = sender_controller.le_connections.get(destination_address)
        key = _key(own.self_address, destination_address) if own else None
        if key is not None and key in self._silenced:
            return  # the link is lost: nothing crosses any more
        conn = self._connections.get(key) if key is not None else None
        if own is None or conn is None:
            log.warning("LE data from %s to %s on no connection the link knows: dropped", sender_controller.name,
                        destination_address)
            return
        completion = (sender_controller.take_unsent(own) if isinstance(sender_controller, TimedController)
                      else None)
        # The source is the address this connection runs on, not the controller's current random address: a
        # device rotating its private address while connected keeps the connection (LocalLink would lose it).
        source = own.self_address

        def deliver() -> None:
            destination = self.find_le_controller(destination_address)
            if destination is not None:
                destination.on_link_acl_data(source, transport, data)
            if completion is not None:
                completion()

        direction = conn.c2p if own.role == hci.Role.CENTRAL else conn.p2c
        if conn.state != "open":
            direction.counters.dropped_pdus += len(self.timing.fragments(len(data)))
            return
        sizes = self.timing.fragments(len(data))
        for i, size in enumerate(sizes):
            last = i == len(sizes) - 1
            direction.queue.append(_Pdu(size, "data", deliver if last else None, data if last else None))
        self._kick(conn)

    def send_ll_control_pdu(self, sender_address: hci.Address, receiver_address: hci.Address,
                            packet: ll.ControlPdu) -> None:
        key = _key(sender_address, receiver_address)
        if key in self._silenced:
            return  # the link is lost: an LL_TERMINATE_IND sent now never arrives either
        conn = self._connections.get(key)
        if conn is None:
            super().send_ll_control_pdu(sender_address, receiver_address, packet)
            return
        direction = conn.c2p if bytes(sender_address.address_bytes) == bytes(conn.central.address_bytes) else conn.p2c
        if conn.state != "open":
            direction.counters.dropped_pdus += 1
            return
        if isinstance(packet, ll.StartEncRsp):
            # From here on both sides encrypt: every later non-empty PDU carries a MIC.
            conn.c2p.encrypted = conn.p2c.encrypted = True

        def deliver() -> None:
            receiver = self.find_le_controller(receiver_address)
            if receiver is not None:
                receiver.on_ll_control_pdu(sender_address, packet)
            if isinstance(packet, ll.TerminateInd):
                self._close(conn, "closed", packet.error_code)

        # An LL control PDU: opcode (1) + CtrData; bumble's PDUs are not the spec's bytes, so use the opcode's
        # largest common size class: 1 byte for the small ones is close enough for a handful per connection.
        direction.queue.append(_Pdu(_control_size(packet), "control", deliver))
        self._kick(conn)

    # ---- faults and inspection ---------------------------------------------------------------------

    def drop(self, address: hci.Address | None = None, *, silence_ms: float = 0.0) -> int:
        """The radio link is lost: every open connection (or those with `address` at either end).

        Queued PDUs vanish and nothing more crosses; after `silence_ms` (the supervision timeout) both
        controllers report the disconnection with reason CONNECTION_TIMEOUT. Returns how many connections dropped.
        """
        victims = [c for c in self._connections.values() if c.state == "open" and (
            address is None or bytes(address.address_bytes) in _key(c.central, c.peripheral))]
        for conn in victims:
            self._close(conn, "lost", CONNECTION_TIMEOUT)
            key = _key(conn.central, conn.peripheral)
            self._silenced[key] = conn

            def report(conn: _LinkConnection = conn, key: frozenset[bytes] = key) -> None:
                if self._silenced.get(key) is conn:
                    del self._silenced[key]
                for controller in list(self.controllers):
                    for peer, connection in list(controller.le_connections.items()):
                        if _key(connection.self_address, peer) == _key(conn.central, conn.peripheral):
                            controller.on_le_disconnected(connection, CONNECTION_TIMEOUT)

            asyncio.get_running_loop().call_later(max(0.0, silence_ms) / 1000.0, report)
        return len(victims)

    def connections(self) -> list[dict[str, Any]]:
        """Counters of the open connections, then of the last closed ones (oldest first)."""
        return [c.to_dict() for c in self._closed] + [c.to_dict() for c in self._connections.values()]

    def reset_counters(self) -> None:
        self._closed.clear()
        for conn in self._connections.values():
            conn.c2p.counters = DirectionCounters()
            conn.p2c.counters = DirectionCounters()
            conn.events = 0
        if self.trace is not None:
            self.trace.clear()

    # ---- the scheduler -----------------------------------------------------------------------------

    def _open(self, central_controller: Controller, central: hci.Address, peripheral: hci.Address) -> None:
        key = _key(central, peripheral)
        self._silenced.pop(key, None)  # a new connection between the same two: the old one is gone
        old = self._connections.get(key)
        if old is not None:
            self._close(old, "closed", None)
        loop = asyncio.get_running_loop()
        first_anchor = loop.time() + 0.00125
        conn = _LinkConnection(self._next_id, central, peripheral, central_controller,
                               anchor_base=first_anchor - self.timing.interval_us / 1e6)
        self._next_id += 1
        self._connections[key] = conn

    def _close(self, conn: _LinkConnection, state: str, reason: int | None) -> None:
        if conn.state != "open":
            return
        conn.state, conn.reason = state, reason
        for direction in (conn.c2p, conn.p2c):
            direction.counters.dropped_pdus += len(direction.queue)
            direction.queue.clear()
        if conn.handle is not None:
            conn.handle.cancel()
            conn.handle = None
        conn.busy = False
        key = _key(conn.central, conn.peripheral)
        if self._connections.get(key) is conn:
            del self._connections[key]
        self._closed.append(conn)

    def _kick(self, conn: _LinkConnection, now: float | None = None) -> None:
        """Something was queued: arm the next anchor unless an event is already armed or running.

        `now` is the model time when an event just closed with data left: its next anchor follows on the grid
        even if the loop runs late (reading the clock there would skip anchors on a busy machine).
        """
        if conn.busy or conn.state != "open":
            return
        loop = asyncio.get_running_loop()
        interval = self.timing.interval_us / 1e6
        t = loop.time() if now is None else now
        k = max(1, math.ceil((t - conn.anchor_base) / interval - 1e-9))
        anchor = conn.anchor_base + k * interval
        conn.busy = True
        conn.handle = loop.call_at(anchor, self._event, conn, anchor)

    def _event(self, conn: _LinkConnection, anchor: float) -> None:
        conn.events += 1
        conn.anchor_base = anchor
        self._exchange(conn, anchor, anchor, 0)

    def _exchange(self, conn: _LinkConnection, anchor: float, start: float, sent: int) -> None:
        """The central's PDU of one exchange: what it has queued now, or an empty PDU."""
        pdu = conn.c2p.queue.popleft() if conn.c2p.queue else None
        end = start + self._airtime(pdu, conn.c2p) / 1e6
        conn.handle = asyncio.get_running_loop().call_at(end, self._central_sent, conn, anchor, start, end, pdu, sent)

    def _central_sent(self, conn: _LinkConnection, anchor: float, start: float, end: float, pdu: _Pdu | None,
                      sent: int) -> None:
        self._on_air(conn, "c2p", anchor, start, end, pdu)
        if conn.state != "open":
            return
        answer = conn.p2c.queue.popleft() if conn.p2c.queue else None
        p_start = end + T_IFS_US / 1e6
        p_end = p_start + self._airtime(answer, conn.p2c) / 1e6
        conn.handle = asyncio.get_running_loop().call_at(
            p_end, self._peripheral_sent, conn, anchor, p_start, p_end, answer, sent + 1)

    def _peripheral_sent(self, conn: _LinkConnection, anchor: float, start: float, end: float, pdu: _Pdu | None,
                         sent: int) -> None:
        self._on_air(conn, "p2c", anchor, start, end, pdu)
        if conn.state != "open":
            return
        timing = self.timing
        following = end + T_IFS_US / 1e6
        more = bool(conn.c2p.queue or conn.p2c.queue)
        capped = timing.max_pdus_per_event is not None and sent >= timing.max_pdus_per_event
        fits = timing.exchange_fits((following - anchor) * 1e6, conn.c2p.head_payload(), conn.p2c.head_payload(),
                                    encrypted=conn.encrypted)
        if more and not capped and fits:
            self._exchange(conn, anchor, following, sent)
            return
        conn.busy = False
        conn.handle = None
        if more:
            self._kick(conn, now=end)

    def _airtime(self, pdu: _Pdu | None, direction: _Direction) -> float:
        return self.timing.pdu_airtime_us(pdu.payload if pdu else 0, encrypted=direction.encrypted)

    def _on_air(self, conn: _LinkConnection, name: str, anchor: float, start: float, end: float,
                pdu: _Pdu | None) -> None:
        """A PDU has been sent: count it and, when it completes something, hand that to the peer."""
        direction = conn.c2p if name == "c2p" else conn.p2c
        counters = direction.counters
        opcode = None
        if pdu is None:
            counters.ll_empty_pdus += 1
        elif pdu.kind == "control":
            counters.ll_control_pdus += 1
            counters.ll_payload_bytes += pdu.payload
        else:
            counters.ll_data_pdus += 1
            counters.ll_payload_bytes += pdu.payload
            if pdu.l2cap is not None:
                counters.count_l2cap(pdu.l2cap)
                if len(pdu.l2cap) > L2CAP_HEADER and int.from_bytes(pdu.l2cap[2:4], "little") == _ATT_CID:
                    opcode = pdu.l2cap[L2CAP_HEADER]
        if self.trace is not None:
            self.trace.append(PduRecord(conn.id, conn.events, anchor, start, end, name,
                                        "empty" if pdu is None else pdu.kind, pdu.payload if pdu else 0, opcode))
        if pdu is not None and pdu.deliver is not None:
            pdu.deliver()


@dataclass
class ScannableAdvInd(ll.AdvInd):
    """A legacy ADV_IND with the advertiser's scan response (what an active scanner's SCAN_REQ would get back)."""

    scan_response: bytes = b""


@dataclass
class ScannableAdvExtInd(ll.AdvExtInd):
    """An extended advertisement with the advertising set's scan response."""

    scan_response: bytes = b""


def _with_scan_response(sender: Controller, packet: ll.AdvertisingPdu) -> ll.AdvertisingPdu:
    """The PDU with the sender's scan response data attached, when it has some.

    bumble's LocalLink carries no SCAN_REQ/SCAN_RSP, and its controller reports the advertising data a second
    time as the scan response: a name put in the scan response (where most phones put it) is never seen. The
    scan response travels with the advertisement instead, and TimedController reports it as a scanner would.
    """
    if type(packet) is ll.AdvInd:
        advertiser = sender.le_legacy_advertiser
        if advertiser.scan_response_data and advertiser.address == packet.advertiser_address:
            return ScannableAdvInd(packet.advertiser_address, packet.data, bytes(advertiser.scan_response_data))
    elif type(packet) is ll.AdvExtInd:
        for advertising_set in sender.advertising_sets.values():
            if advertising_set.scan_response_data and advertising_set.address == packet.advertiser_address:
                return ScannableAdvExtInd(packet.advertiser_address, packet.data, packet.target_address,
                                          packet.adi, packet.sid, packet.tx_power, packet.periodic_advertising_data,
                                          bytes(advertising_set.scan_response_data))
    return packet


def _control_size(packet: ll.ControlPdu) -> int:
    """Payload bytes of an LL control PDU (opcode + CtrData, Core spec Vol 6 Part B 2.4.2)."""
    sizes = {"TerminateInd": 2, "EncReq": 23, "EncRsp": 13, "StartEncReq": 1, "StartEncRsp": 1,
             "RejectExtInd": 3, "FeatureReq": 9, "FeatureRsp": 9, "PeripheralFeatureReq": 9, "VersionInd": 6,
             "ConnectionUpdateInd": 12, "LengthReq": 9, "LengthRsp": 9}
    return sizes.get(type(packet).__name__, 9)


class TimedController(Controller):
    """A bumble Controller that reports HCI ACL packets completed only once the air has carried them.

    bumble's Controller answers every HCI ACL packet with Number Of Completed Packets at once, so its host never
    waits. On a TimedLink that would let a host pile up any amount of data in the link's queue; a real
    controller frees a buffer when the PDU is acknowledged, and its host (HCI flow control) waits for a free one.
    It also reports LE ACL buffers of 251 bytes (a controller with the data length extension) instead of 27.
    """

    le_acl_data_packet_length = 251
    total_num_le_acl_data_packets = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: dict[int, int] = {}  # connection handle -> HCI packets taken but not yet on the air

    def on_hci_acl_data_packet(self, packet: hci.HCI_AclDataPacket) -> None:
        connection = self.find_connection_by_handle(packet.connection_handle)
        if connection is None or connection.transport != core.PhysicalTransport.LE or not isinstance(
                self.link, TimedLink):
            super().on_hci_acl_data_packet(packet)
            return
        self._unsent[connection.handle] = self._unsent.get(connection.handle, 0) + 1
        connection.assembler.feed_packet(packet)  # a complete L2CAP PDU goes to the link (take_unsent)

    def take_unsent(self, connection: ControllerConnection) -> Callable[[], None]:
        """The HCI packets of the L2CAP PDU just assembled: a callback reporting them completed once sent."""
        count = self._unsent.pop(connection.handle, 0)

        def completed() -> None:
            # Only if that very connection still exists: after a disconnection the host forgets the handle.
            if count and self.find_le_connection_by_handle(connection.handle) is connection:
                self.send_hci_packet(hci.HCI_Number_Of_Completed_Packets_Event(
                    connection_handles=[connection.handle], num_completed_packets=[count]))

        return completed

    def on_le_disconnected(self, connection: ControllerConnection, reason: int) -> None:
        self._unsent.pop(connection.handle, None)
        super().on_le_disconnected(connection, reason)

    def on_advertising_pdu(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        """Advertising reports with the real scan response (see _with_scan_response), then bumble's handling."""
        scan_response = getattr(pdu, "scan_response", None)
        if scan_response is None or not self.le_scan_enable:
            super().on_advertising_pdu(pdu)
            return
        self._report(pdu, pdu.data, scan_response=False)
        if self.le_scan_type == 1:  # active scanning: the scanner asked for the scan response and got it
            self._report(pdu, scan_response, scan_response=True)
        # bumble's own handling without its reports (periodic sync, a pending connection to this advertiser).
        self.le_scan_enable = False
        try:
            super().on_advertising_pdu(pdu)
        finally:
            self.le_scan_enable = True

    def on_hci_le_set_extended_scan_parameters_command(
            self, command: hci.HCI_LE_Set_Extended_Scan_Parameters_Command) -> hci.HCI_StatusReturnParameters:
        # bumble keeps only the legacy command's scan type; active or passive decides whether scan responses come.
        self.le_scan_type = 1 if any(t == 1 for t in command.scan_types) else 0
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    def _report(self, pdu: ll.AdvInd | ll.AdvExtInd, data: bytes, *, scan_response: bool) -> None:
        if self.le_features & hci.LeFeatureMask.LE_EXTENDED_ADVERTISING:
            # Event type bits (Core spec Vol 4 Part E 7.7.65.13): connectable 0, scannable 1, scan response 3,
            # legacy PDU 4: an ADV_IND is 0x13, the SCAN_RSP to it 0x1B.
            report = hci.HCI_LE_Extended_Advertising_Report_Event.Report(
                event_type=0x1B if scan_response else 0x13,
                address_type=pdu.advertiser_address.address_type, address=pdu.advertiser_address,
                primary_phy=hci.Phy.LE_1M, secondary_phy=hci.Phy.LE_1M, advertising_sid=0, tx_power=0, rssi=-50,
                periodic_advertising_interval=0, direct_address_type=0, direct_address=hci.Address.ANY, data=data)
            self.send_hci_packet(hci.HCI_LE_Extended_Advertising_Report_Event([report]))
        else:
            legacy = hci.HCI_LE_Advertising_Report_Event.EventType
            self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([hci.HCI_LE_Advertising_Report_Event.Report(
                event_type=legacy.SCAN_RSP if scan_response else legacy.ADV_IND,
                address_type=pdu.advertiser_address.address_type, address=pdu.advertiser_address, data=data,
                rssi=-50)]))
