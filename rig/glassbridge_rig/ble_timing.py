"""The BLE timing model applied to bumble: `TimedLink` (a LocalLink on connection events) and `TimedController`.

bumble's `LocalLink` hands every ACL packet to the peer controller on the next turn of the event loop: a 200 KB
upload takes the same time whether each write is acknowledged or not, so acknowledgement costs nothing and no
throughput figure means anything. `TimedLink` replaces that seam (`send_acl_data`, and `send_ll_control_pdu` so
that LL control PDUs stay in order with the data, as they share the air) with the rules of a BLE connection,
whose arithmetic (anchors, fragments, airtime, how long an event lasts, the write ceiling) is
`glassbridge_rig.ble_airtime`'s, kept apart from these subclasses of bumble's internals so that it can be read
and tested without them. What this module adds is the scheduling on the event loop:

- An event runs at an anchor only when something is queued; idle events (an empty PDU each way) are not
  simulated, so they are not counted either. The central's PDU (or an empty one) goes first, the peripheral
  answers T_IFS later, and the event goes on while the rules allow.
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
and LL payload apply, whatever the hosts negotiate). Times are event-loop times (`loop.time()`, seconds) computed
from the model, not from when the loop got around to running a callback, so counters and delivery times do not
depend on the machine's load.

BleTiming, DirectionCounters, PduRecord and T_IFS_US are re-exported from ble_airtime for the callers that
import them from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bumble import core, hci, ll
from bumble.controller import Connection as ControllerConnection
from bumble.controller import Controller
from bumble.link import LocalLink

from glassbridge_rig.ble_airtime import (
    ATT_CID,
    FIRST_ANCHOR_S,
    L2CAP_HEADER,
    T_IFS_US,
    BleTiming,
    DirectionCounters,
    PduRecord,
    control_pdu_size,
    next_anchor,
)

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

#: HCI reason of a link lost to the supervision timeout (Core spec Vol 1 Part F 2.8).
CONNECTION_TIMEOUT = 0x08


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
        direction.queue.append(_Pdu(control_pdu_size(type(packet).__name__), "control", deliver))
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
        first_anchor = loop.time() + FIRST_ANCHOR_S
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
        anchor = next_anchor(conn.anchor_base, loop.time() if now is None else now, self.timing.interval_us / 1e6)
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
                if len(pdu.l2cap) > L2CAP_HEADER and int.from_bytes(pdu.l2cap[2:4], "little") == ATT_CID:
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
