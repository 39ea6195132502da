"""The BLE timing model (glassbridge_rig.ble_airtime's rules on ble_timing's TimedLink) against arithmetic worked
out here, from the Core spec's rules.

Two real bumble Devices (hosts, GATT server, ATT client) talk over a TimedLink in this process. The expected
figures are computed in this file from first principles: LL PDU airtime = (preamble + access address + header +
payload (+ MIC) + CRC) * 8 bits / PHY rate, 150 us between PDUs, the central first, an empty PDU when a side has
nothing, events every connection interval and at most as long as the interval minus the guard. Times come from the
link's trace (model times on the event loop's clock), so the checks hold on a loaded machine.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from bumble.device import Connection, Device, Peer
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from glassbridge_rig.ble_airtime import BleTiming, PduRecord
from glassbridge_rig.ble_timing import TimedController, TimedLink

T = TypeVar("T")

SERVICE = "0f1e0001-0000-4000-8000-00805f9b34fb"
WRITABLE = "0f1e0002-0000-4000-8000-00805f9b34fb"

# ---- the rules, written out independently ------------------------------------------------------------------

IFS_US = 150.0
GUARD_US = 150.0  # BleTiming's default event guard


def airtime_us(payload: int, phy_mbps: int, encrypted: bool = False) -> float:
    preamble = 1 if phy_mbps == 1 else 2
    access_address, header, crc = 4, 2, 3
    mic = 4 if encrypted and payload else 0
    return (preamble + access_address + header + payload + mic + crc) * 8 / phy_mbps


def exchanges_per_event(interval_ms: float, data_payload: int, phy_mbps: int, encrypted: bool = False) -> int:
    """Exchanges (central data PDU + peripheral empty PDU) that fit in one event when all data PDUs are equal."""
    data, empty = airtime_us(data_payload, phy_mbps, encrypted), airtime_us(0, phy_mbps)
    event_us = interval_ms * 1000 - GUARD_US
    first = data + IFS_US + empty  # the first exchange always happens
    period = data + IFS_US + empty + IFS_US  # each further one starts T_IFS after the previous ended
    return 1 + int((event_us - first) // period)


# ---- two devices on a timed link ------------------------------------------------------------------------------


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class Pair:
    """A central and a peripheral (GATT server with one writable characteristic) connected over a TimedLink."""

    def __init__(self, timing: BleTiming) -> None:
        self.link = TimedLink(timing, trace=True)
        self.writes: list[bytes] = []
        self.disconnections: dict[str, int] = {}
        self.central = self._device("central", "F5:F4:F3:F2:F1:F0")
        self.peripheral = self._device("peripheral", "F0:F1:F2:F3:F4:F5")
        char = Characteristic(WRITABLE, Characteristic.Properties.WRITE
                              | Characteristic.Properties.WRITE_WITHOUT_RESPONSE, Characteristic.WRITEABLE,
                              CharacteristicValue(write=lambda _c, value: self.writes.append(bytes(value))))
        self.peripheral.add_service(Service(SERVICE, [char]))
        self.connection: Connection
        self.peripheral_connection: Connection
        self.handle = 0

    def _device(self, name: str, address: str) -> Device:
        controller = TimedController(name, link=self.link)
        return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))

    async def connect(self, mtu: int = 517) -> None:
        await self.peripheral.power_on()
        await self.central.power_on()
        accepted: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self.peripheral.on("connection", lambda c: accepted.done() or accepted.set_result(c))
        await self.peripheral.start_advertising(advertising_interval_min=20, advertising_interval_max=20)
        self.connection = await self.central.connect(self.peripheral.random_address)
        self.peripheral_connection = await accepted
        self.connection.on("disconnection", lambda reason: self.disconnections.setdefault("central", reason))
        self.peripheral_connection.on("disconnection",
                                      lambda reason: self.disconnections.setdefault("peripheral", reason))
        peer = Peer(self.connection)
        await peer.request_mtu(mtu)
        await peer.discover_services()
        await peer.discover_characteristics()
        self.handle = peer.get_characteristics_by_uuid(WRITABLE)[0].handle
        await self.settle()

    async def settle(self) -> None:
        """Let everything queued cross, then forget it: the next measurement starts on an idle connection."""
        await asyncio.sleep(4 * self.link.timing.connection_interval_ms / 1000)
        self.link.reset_counters()
        self.writes.clear()

    def write_commands(self, values: list[bytes]) -> None:
        """ATT write commands (0x52, handle, value) handed to the central's host in one go (no await between)."""
        for value in values:
            self.connection.send_l2cap_pdu(0x0004, bytes([0x52]) + self.handle.to_bytes(2, "little") + value)

    def counters(self) -> dict[str, Any]:
        (conn,) = [c for c in self.link.connections() if c["state"] == "open"]
        return conn

    def records(self, **match: Any) -> list[PduRecord]:
        assert self.link.trace is not None
        return [r for r in self.link.trace if all(getattr(r, k) == v for k, v in match.items())]


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


# ---- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval_ms", "phy_mbps", "ll_payload", "value_len", "count"),
    [
        (15.0, 2, 251, 244, 25),  # one full 251-byte PDU per write (244 + 3 ATT + 4 L2CAP)
        (30.0, 1, 251, 244, 12),  # LE 1M, a longer interval
        (7.5, 2, 27, 20, 30),  # no data length extension: 20 + 7 = 27, one PDU per write
    ],
)
def test_burst_of_write_commands_takes_the_events_airtime_implies(interval_ms: float, phy_mbps: int,
                                                                   ll_payload: int, value_len: int,
                                                                   count: int) -> None:
    async def body() -> None:
        pair = Pair(BleTiming(connection_interval_ms=interval_ms, ll_payload=ll_payload, phy_mbps=phy_mbps))
        await pair.connect(mtu=247)
        values = [bytes([i]) * value_len for i in range(count)]
        pair.write_commands(values)
        await wait_until(lambda: len(pair.writes) == count, 5, f"{count} writes to arrive")
        assert pair.writes == values  # all of them, in order

        per_event = exchanges_per_event(interval_ms, value_len + 7, phy_mbps)
        events = math.ceil(count / per_event)
        data = pair.records(direction="c2p", kind="data")
        anchors = sorted({r.anchor for r in data})
        assert len(data) == count
        assert len(anchors) == events, f"{count} writes, {per_event} per event -> {events} events"
        for i, anchor in enumerate(anchors):  # back-to-back events, one interval apart
            assert anchor - anchors[0] == pytest.approx(i * interval_ms / 1000, abs=1e-9)
            expected = per_event if i < events - 1 else count - per_event * (events - 1)
            assert sum(1 for r in data if r.anchor == anchor) == expected
        # The last write ends (and is delivered) after its event's earlier exchanges and its own airtime.
        last_in_event = count - per_event * (events - 1)
        exchange_us = airtime_us(value_len + 7, phy_mbps) + IFS_US + airtime_us(0, phy_mbps) + IFS_US
        expected_end = anchors[-1] + ((last_in_event - 1) * exchange_us + airtime_us(value_len + 7, phy_mbps)) / 1e6
        assert data[-1].end == pytest.approx(expected_end, abs=1e-9)
        # The peripheral had nothing to say: one empty PDU answers each data PDU.
        counters = pair.counters()
        assert counters["p2c"]["ll_empty_pdus"] == count and counters["p2c"]["ll_data_pdus"] == 0
        assert counters["c2p"]["att_pdus"] == {"write_command": count}
        assert counters["c2p"]["att_value_bytes"] == count * value_len
        assert counters["events"] == events

    run(body())


def test_notification_waits_for_the_next_event() -> None:
    async def body() -> None:
        interval = 0.020
        pair = Pair(BleTiming(connection_interval_ms=interval * 1000))
        await pair.connect()
        loop = asyncio.get_running_loop()
        pair.write_commands([b"x"])  # one event to learn where the anchor grid is
        await wait_until(lambda: len(pair.writes) == 1, 2, "the first write")
        grid = pair.records(kind="data")[0].anchor
        sent = []
        for delay in (0.003, 0.011, 0.017, 0.029):  # arbitrary moments, not aligned with the grid
            await asyncio.sleep(delay)
            sent.append(loop.time())
            pair.peripheral_connection.send_l2cap_pdu(0x0004, bytes([0x1B, 0x03, 0x00]) + bytes(100))
            await asyncio.sleep(interval * 2)
        notes = pair.records(direction="p2c", att_opcode=0x1B)
        assert len(notes) == 4
        for t_sent, note in zip(sent, notes, strict=True):
            periods = (note.anchor - grid) / interval
            assert periods == pytest.approx(round(periods), abs=1e-6)  # on the connection's anchor grid
            assert 0 <= note.anchor - t_sent <= interval + 0.005  # the first anchor after it was queued
            # The central opens the event (an empty PDU), the notification follows T_IFS later.
            assert note.start - note.anchor == pytest.approx((airtime_us(0, 2) + IFS_US) / 1e6, abs=1e-9)
            assert note.end - note.start == pytest.approx(airtime_us(107, 2) / 1e6, abs=1e-9)

    run(body())


def test_write_request_is_answered_one_event_later() -> None:
    async def body() -> None:
        pair = Pair(BleTiming(connection_interval_ms=15.0))
        await pair.connect()
        peer = Peer(pair.connection)
        char = peer.get_characteristics_by_uuid(WRITABLE)[0]
        for _ in range(3):
            await peer.write_value(char, b"ack me", with_response=True)
        requests = pair.records(direction="c2p", att_opcode=0x12)
        responses = pair.records(direction="p2c", att_opcode=0x13)
        assert len(requests) == len(responses) == 3
        for request, response in zip(requests, responses, strict=True):
            # The response is queued after the request arrived; the event had closed (nothing more to send):
            # it waits for the next anchor. An acknowledged write costs at least one interval.
            assert response.anchor - request.anchor == pytest.approx(0.015, abs=1e-9)

    run(body())


@pytest.mark.parametrize("value_len", [20, 21, 100, 244, 509])
def test_27_byte_payload_fragments_each_att_pdu(value_len: int) -> None:
    async def body() -> None:
        pair = Pair(BleTiming(ll_payload=27))
        await pair.connect(mtu=517)
        pair.write_commands([bytes(value_len)])
        await wait_until(lambda: len(pair.writes) == 1, 3, "the write")
        l2cap = value_len + 3 + 4  # ATT opcode + handle, L2CAP length + channel
        sizes = [r.payload for r in pair.records(direction="c2p", kind="data")]
        assert len(sizes) == math.ceil(l2cap / 27)
        assert sum(sizes) == l2cap and all(s == 27 for s in sizes[:-1])
        assert pair.counters()["c2p"]["ll_data_pdus"] == math.ceil(l2cap / 27)
        # Only the PDU with the last fragment completes the ATT PDU.
        assert [r.att_opcode for r in pair.records(direction="c2p", kind="data")][-1] == 0x52

    run(body())


def test_drop_loses_queued_pdus_and_both_sides_see_a_supervision_timeout() -> None:
    async def body() -> None:
        pair = Pair(BleTiming(connection_interval_ms=30.0))
        await pair.connect()
        loop = asyncio.get_running_loop()
        # Right after an event the next anchor is ~30 ms away: queue writes and drop the link before it comes.
        pair.write_commands([b"marker"])
        await wait_until(lambda: len(pair.writes) == 1, 2, "the marker write")
        pair.writes.clear()
        pair.write_commands([bytes(200)] * 5)
        for _ in range(5):  # the host hands the packets to its controller, which queues them on the link
            await asyncio.sleep(0)
        dropped_at = loop.time()
        assert pair.link.drop(silence_ms=60) == 1
        pair.write_commands([bytes(10)])  # sent into the silence: goes nowhere
        await wait_until(lambda: len(pair.disconnections) == 2, 3, "both sides to see the disconnection")
        assert loop.time() - dropped_at >= 0.060  # after the supervision timeout
        assert pair.disconnections == {"central": 0x08, "peripheral": 0x08}
        assert pair.writes == []
        (conn,) = pair.link.connections()
        assert conn["state"] == "lost" and conn["reason"] == 0x08
        assert conn["c2p"]["dropped_pdus"] >= 5  # the five writes were queued, and vanished
        assert conn["c2p"]["att_pdus"] == {"write_command": 1}  # only the marker crossed

    run(body())


@pytest.mark.parametrize("encrypted", [False, True])
@pytest.mark.parametrize(("att_mtu", "interval_ms", "phy"), [(247, 15.0, 2), (185, 15.0, 2), (247, 30.0, 1)])
def test_ceiling_of_single_pdu_writes(att_mtu: int, interval_ms: float, phy: int, encrypted: bool) -> None:
    value = att_mtu - 3
    assert value + 7 <= 251  # one PDU per write: the closed form below holds
    per_event = exchanges_per_event(interval_ms, value + 7, phy, encrypted)
    expected = per_event * value / (interval_ms / 1000)
    timing = BleTiming(connection_interval_ms=interval_ms, phy_mbps=phy)
    assert timing.write_without_response_ceiling(att_mtu, encrypted=encrypted) == pytest.approx(expected)


def test_ceiling_of_fragmented_writes_matches_a_measured_stream() -> None:
    """MTU 517: 512-byte values in 519-byte L2CAP PDUs (251 + 251 + 17): the stream measured on the link."""

    async def body() -> None:
        timing = BleTiming(connection_interval_ms=15.0)
        pair = Pair(timing)
        await pair.connect(mtu=517)
        count = 60
        pair.write_commands([bytes(512)] * count)
        await wait_until(lambda: len(pair.writes) == count, 10, "the stream")
        writes = pair.records(direction="c2p", att_opcode=0x52)
        anchors = sorted({r.anchor for r in pair.records(direction="c2p", kind="data")})
        # Whole events in the middle of the stream (the first and last events are partial).
        middle = anchors[1:-1]
        done = sum(1 for r in writes if middle[0] <= r.anchor <= middle[-1])
        measured = done * 512 / (len(middle) * 0.015)
        ceiling = timing.write_without_response_ceiling(517, encrypted=False)
        assert measured == pytest.approx(ceiling, rel=0.05)
        # And by hand: 3 PDUs per write, a PDU of 251 takes 262 * 4 us on LE 2M, of 17 bytes 28 * 4 us.
        pdus_per_write_us = (2 * (airtime_us(251, 2) + IFS_US) + airtime_us(17, 2) + IFS_US
                             + 3 * (airtime_us(0, 2) + IFS_US))
        upper_bound = 512 / (pdus_per_write_us / 1e6)  # an event with no end
        assert ceiling < upper_bound

    run(body())


def test_a_connection_survives_the_peripheral_changing_its_random_address() -> None:
    """A phone rotates its private address while connected; the connection runs on the address it started with."""

    async def body() -> None:
        pair = Pair(BleTiming())
        await pair.connect()
        peripheral_controllers = [c for c in pair.link.controllers if c.name == "peripheral"]
        assert len(peripheral_controllers) == 1
        # What HCI LE Set Random Address does inside the controller (a new resolvable private address).
        peripheral_controllers[0].random_address = Address("4A:11:22:33:44:55")
        pair.write_commands([b"after the change"])
        await wait_until(lambda: len(pair.writes) == 1, 2, "a write after the address change")
        pair.peripheral_connection.send_l2cap_pdu(0x0004, bytes([0x1B, 0x03, 0x00]) + b"and back")
        await wait_until(lambda: bool(pair.records(direction="p2c", att_opcode=0x1B)), 2, "the notification")
        assert pair.writes == [b"after the change"]

    run(body())


def test_bad_timing_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="ll_payload"):
        BleTiming(ll_payload=300)
    with pytest.raises(ValueError, match="phy"):
        BleTiming(phy_mbps=3)
    with pytest.raises(ValueError, match="7.5"):
        BleTiming(connection_interval_ms=5)
    with pytest.raises(ValueError, match="unknown timing field"):
        BleTiming.from_dict({"interval": 15})


def test_the_best_write_size_fills_whole_ll_pdus() -> None:
    """At MTU 517 with LL payload 251 a 512-byte value needs 519 bytes of L2CAP: 251 + 251 + a 17-byte runt that
    costs a whole exchange; 495 bytes (502 of L2CAP) fill two PDUs exactly and carry more per second."""
    timing = BleTiming(connection_interval_ms=15, ll_payload=251, phy_mbps=2)
    best, size = timing.best_write_ceiling(517)
    assert size == 2 * 251 - 7
    assert best == timing.write_without_response_ceiling(517, value_size=495) > timing.write_without_response_ceiling(517)
    assert timing.best_write_ceiling(247) == (timing.write_without_response_ceiling(247), 244)  # 251 already
