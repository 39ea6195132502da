"""BleLink (the transport around the C engine) against a fake bleak client whose far end is the companion's
PyLink: an independent implementation of the link from SPEC.md. Checks what the transport itself decides:
nothing written while disconnected, the session kept across reconnections (and replaced when frames shrink),
malformed notifications counted and dropped, incompatible companions refused before any frame."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from glassbridge_companion.link import PyLink
from glassbridge.phone.ble import Attached, BleLink, Detached, LinkReplaced, now_ms
from glassbridge.protocol.errors import PeerIncompatible
from glassbridge.protocol import gatt
from glassbridge.protocol.link import Channel, LinkUp, MessageReceived, PeerReset, Role


class _Char:
    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        self.max_write_without_response_size = 20


class _Services:
    def __init__(self) -> None:
        self.chars = {u: _Char(u) for u in (gatt.UPLINK_UUID, gatt.DOWNLINK_UUID, gatt.INFO_UUID)}

    def get_characteristic(self, uuid: str) -> _Char | None:
        return self.chars.get(uuid)


class FakePhone:
    """The companion's link (PyLink) on the far side of one pretend GATT connection at a time."""

    def __init__(self, info: gatt.ServiceInfoData | None = None) -> None:
        self.link: PyLink | None = None
        self.info = info or gatt.ServiceInfoData(1, 1, 0, "fake 1", 512)
        self.client: FakeClient | None = None
        self.received: list[bytes] = []
        self.writes = 0
        self._task: asyncio.Task[None] | None = None

    def connect(self, mtu: int) -> FakeClient:
        self.client = FakeClient(self, mtu)
        return self.client

    def drop(self) -> None:
        self.client = None  # the radio is gone: writes fail, nothing is notified

    def uplink(self, frame: bytes, mtu: int) -> None:
        assert len(frame) <= gatt.frame_limit(mtu), "a frame larger than the connection allows"
        self.writes += 1
        if self.link is None:  # SPEC 16.4: the phone creates its link on the first frame
            self.link = PyLink(profile="packet", role=Role.PHONE, max_frame=gatt.frame_limit(mtu),
                               **gatt.LINK_SETTINGS)
        self.link.receive(frame, now_ms())

    async def pump(self) -> None:
        while True:
            if self.link is not None:
                now = now_ms()
                for event in self.link.poll_events():
                    if isinstance(event, MessageReceived):
                        self.received.append(event.data)
                while (frame := self.link.poll_tx(now)) is not None:
                    if self.client is not None and self.client.notify is not None:
                        self.client.notify(None, bytearray(frame))
            await asyncio.sleep(0.002)


class FakeClient:
    def __init__(self, phone: FakePhone, mtu: int) -> None:
        self.phone = phone
        self.mtu_size = 23
        self._mtu = mtu
        self.services = _Services()
        self.notify: Any = None
        self._backend = self

    async def _acquire_mtu(self) -> None:
        self.mtu_size = self._mtu

    async def read_gatt_char(self, uuid: str) -> bytearray:
        return bytearray(gatt.encode_service_info(self.phone.info))

    async def start_notify(self, uuid: str, callback: Any) -> None:
        self.notify = callback

    async def write_gatt_char(self, char: Any, data: bytes, response: bool) -> None:
        if self.phone.client is not self:
            raise OSError("not connected")
        self.phone.uplink(bytes(data), self._mtu)


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.005)


def _transport(events: list[Any]) -> BleLink:
    t = BleLink(events.append)
    t.use_write_socket = False  # no BlueZ here: frames go through write_gatt_char
    t.start()
    return t


@contextlib.asynccontextmanager
async def _session() -> AsyncIterator[tuple[list[Any], FakePhone, BleLink]]:
    """A fake phone pumping its link, and a transport recording its events; both ended whatever happens."""
    events: list[Any] = []
    phone = FakePhone()
    pump = asyncio.create_task(phone.pump())
    t = _transport(events)
    try:
        yield events, phone, t
    finally:
        await t.close()
        pump.cancel()


def test_session_survives_a_drop_and_nothing_is_written_meanwhile() -> None:
    async def body() -> None:
        async with _session() as (events, phone, t):
            await t.attach(phone.connect(247), "AA")
            await _until(lambda: any(isinstance(e, LinkUp) for e in events))
            session = t.link.session  # type: ignore[union-attr]
            for i in range(20):
                await t.send(Channel.BULK, bytes([i]) * 3000)
            phone.drop()
            t.detach("test drop")
            writes = phone.writes
            for i in range(20, 30):
                await t.send(Channel.BULK, bytes([i]) * 3000)  # queued in the engine, not written
            await asyncio.sleep(0.3)
            assert phone.writes == writes
            await t.attach(phone.connect(517), "AA")  # larger MTU: the session keeps its frame size
            assert t.link.session == session and t.links_replaced == 0  # type: ignore[union-attr]
            await _until(lambda: len(phone.received) == 30, 10)
            assert phone.received == [bytes([i]) * 3000 for i in range(30)]  # all, in order, once
            assert isinstance(events[0], Attached) and any(isinstance(e, Detached) for e in events)

    asyncio.run(asyncio.wait_for(body(), 20))


def test_smaller_frames_start_a_new_session_that_the_phone_sees_as_a_restart() -> None:
    async def body() -> None:
        async with _session() as (events, phone, t):
            await t.attach(phone.connect(517), "AA")
            await _until(lambda: any(isinstance(e, LinkUp) for e in events))
            old = t.link.session  # type: ignore[union-attr]
            phone.drop()
            t.detach("drop")
            await t.attach(phone.connect(185), "AA")
            replaced = [e for e in events if isinstance(e, LinkReplaced)]
            assert len(replaced) == 1 and replaced[0].old_session == old != t.link.session  # type: ignore[union-attr]
            assert t.link.config["max_frame"] == gatt.frame_limit(185)  # type: ignore[union-attr]
            await t.send(Channel.CONTROL, b"after")
            await _until(lambda: phone.received[-1:] == [b"after"])
            assert phone.link is not None and phone.link.stats.peer_resets == 1  # the phone saw our restart

    asyncio.run(asyncio.wait_for(body(), 20))


def test_malformed_notifications_are_counted_and_dropped() -> None:
    async def body() -> None:
        async with _session() as (events, phone, t):
            client = phone.connect(247)
            await t.attach(client, "AA")
            await _until(lambda: any(isinstance(e, LinkUp) for e in events))
            for junk in (b"", b"\x01", b"\xff" * 9, bytes(600), b"\x04\x00" + bytes(8) + b"not a hello"):
                client.notify(None, bytearray(junk))
            await t.send(Channel.CONTROL, b"still fine")
            await _until(lambda: phone.received[-1:] == [b"still fine"])
            stats = t.stats()
            assert stats["framing_errors"] >= 4 and not any(isinstance(e, PeerReset) for e in events)

    asyncio.run(asyncio.wait_for(body(), 20))


def test_incompatible_companion_is_refused_before_any_frame() -> None:
    async def body() -> None:
        phone = FakePhone(gatt.ServiceInfoData(9, 7, 0, "future 9", 512))
        t = _transport([])
        try:
            with pytest.raises(PeerIncompatible) as info:
                await t.attach(phone.connect(247), "AA")
            assert "7..9" in str(info.value) and "1..1" in str(info.value) and "glassbridge on the glasses" in str(
                info.value)
            assert phone.writes == 0 and not t.connected
        finally:
            await t.close()

    asyncio.run(asyncio.wait_for(body(), 10))
