"""The facade's GATT cache for bonded devices (bluetoothd's [GATT] Cache), checked with bleak against BluezService.

The references are what the peripheral saw: every ATT request its bumble GATT server received is logged (a hook on
the peripheral's server, not in the facade), and the handles bleak is given are compared with the attribute handles
of the peripheral's own database. Discovery PDUs are the requests GATT discovery uses (Read By Group Type, Find
Information, Find By Type Value, Read By Type of the characteristic or include declaration); reading the Database
Hash is a Read By Type of 0x2B2A.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bleak import BleakClient, BleakScanner
from bumble import att
from bumble.gatt import (
    GATT_CHARACTERISTIC_ATTRIBUTE_TYPE,
    GATT_DATABASE_HASH_CHARACTERISTIC,
    GATT_INCLUDE_ATTRIBUTE_TYPE,
    Characteristic,
    CharacteristicDeclaration,
    Service,
)
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from glassbridge_rig.dbus import PrivateBus
from tests.integration.bluez_rig import (
    ECHO,
    INFO,
    INFO_VALUE,
    NOTE,
    PHONE_IDENTITY,
    PHONE_NAME,
    S_READ,
    SECRET,
    Phone,
    Rig,
    agent_on_bus,
    bus,  # noqa: F401 (the fixture)
    close_bleak_manager,
    rig,
)

PATH = f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"
EXTRA_SVC = "6e400020-b5a3-f393-e0a9-e50e24dcca9e"
EXTRA = "6e400021-b5a3-f393-e0a9-e50e24dcca9e"
EXTRA_VALUE = b"added-later"
_DISCOVERY_OPS = {
    att.Opcode.ATT_READ_BY_GROUP_TYPE_REQUEST,
    att.Opcode.ATT_FIND_INFORMATION_REQUEST,
    att.Opcode.ATT_FIND_BY_TYPE_VALUE_REQUEST,
}


class AttLog:
    """Every ATT PDU the peripheral's GATT server received (hooked at the peripheral's bumble server)."""

    def __init__(self, phone: Phone) -> None:
        self.pdus: list[att.ATT_PDU] = []
        server = phone.device.gatt_server
        original = server.on_gatt_pdu

        def hook(bearer: Any, pdu: att.ATT_PDU) -> None:
            self.pdus.append(pdu)
            original(bearer, pdu)

        server.on_gatt_pdu = hook  # type: ignore[method-assign,assignment]

    def discovery(self) -> int:
        n = 0
        for pdu in self.pdus:
            if pdu.op_code in _DISCOVERY_OPS:
                n += 1
            elif pdu.op_code == att.Opcode.ATT_READ_BY_TYPE_REQUEST and getattr(pdu, "attribute_type") in (
                GATT_CHARACTERISTIC_ATTRIBUTE_TYPE, GATT_INCLUDE_ATTRIBUTE_TYPE
            ):
                n += 1
        return n

    def hash_reads(self) -> int:
        """Database Hash reads: Read By Type of 0x2B2A from handle 1 (a procedure goes on from the handle after
        the one found until Attribute Not Found, as bumble's and BlueZ's Read By Type helpers both do)."""
        return len([p for p in self.pdus if p.op_code == att.Opcode.ATT_READ_BY_TYPE_REQUEST
                    and getattr(p, "attribute_type") == GATT_DATABASE_HASH_CHARACTERISTIC
                    and getattr(p, "starting_handle") == 0x0001])

    def mtu_exchanges(self) -> int:
        return len([p for p in self.pdus if p.op_code == att.Opcode.ATT_EXCHANGE_MTU_REQUEST])

    def clear(self) -> None:
        self.pdus.clear()


def run(bus: PrivateBus, tmp_path: Path, body: Callable[[Rig, AttLog], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            async with rig(bus.address, tmp_path / "bluez") as r:
                await asyncio.wait_for(body(r, AttLog(r.phone)), 20)
        finally:
            await close_bleak_manager()

    asyncio.run(main())


async def pair(r: Rig) -> None:
    async with agent_on_bus(r.bus_address) as (agent, _):
        device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=3.0)
        assert device is not None
        async with BleakClient(device, timeout=10, pair=True) as client:
            assert await client.read_gatt_char(S_READ) == SECRET
        assert len(agent.confirmations) == 1


def server_handles(phone: Phone) -> dict[str, int]:
    """Characteristic UUID -> declaration handle in the peripheral's own database (bleak's handle: BlueZ names
    a characteristic's object after its declaration handle)."""
    out: dict[str, int] = {}
    for a in phone.device.gatt_server.attributes:
        if isinstance(a, CharacteristicDeclaration):
            out.setdefault(_uuid128(a.characteristic), a.handle)
    return out


def _uuid128(a: Characteristic) -> str:
    h = a.uuid.to_bytes(force_128=True)[::-1].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def exercise(r: Rig, client: BleakClient) -> None:
    """Reads, writes (request, command, acquired), notifications (StartNotify and AcquireNotify) all work."""
    handles = server_handles(r.phone)
    for char in client.services.characteristics.values():
        assert handles[char.uuid] == char.handle  # the handles bleak uses are the peripheral's
    assert await client.read_gatt_char(INFO) == INFO_VALUE
    assert await client.read_gatt_char(S_READ) == SECRET
    got: asyncio.Queue[bytes] = asyncio.Queue()
    await client.start_notify(NOTE, lambda _c, d: got.put_nowait(bytes(d)))
    await client.write_gatt_char(ECHO, b"req", response=True)
    assert await asyncio.wait_for(got.get(), 3) == b"ack:req"
    await client.write_gatt_char(ECHO, b"cmd", response=False)
    assert await asyncio.wait_for(got.get(), 3) == b"ack:cmd"
    await client.stop_notify(NOTE)
    await client._backend._acquire_mtu()  # type: ignore[attr-defined]  # AcquireWrite
    assert client.mtu_size == 517
    await client.start_notify(NOTE, lambda _c, d: got.put_nowait(bytes(d)), bluez={"use_start_notify": False})
    await client.write_gatt_char(ECHO, b"acq", response=False)
    assert await asyncio.wait_for(got.get(), 3) == b"ack:acq"


def cache_file(r: Rig) -> Path:
    return r.state_dir / "cache" / PHONE_IDENTITY


async def gatt_uuids(address: str) -> set[str]:
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(Message(destination="org.bluez", path="/",
                                       interface="org.freedesktop.DBus.ObjectManager", member="GetManagedObjects"))
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
        return {i["org.bluez.GattCharacteristic1"]["UUID"].value for p, i in reply.body[0].items()
                if "org.bluez.GattCharacteristic1" in i and p.startswith(PATH + "/")}
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


def add_extra_service(phone: Phone) -> Service:
    svc = Service(EXTRA_SVC, [Characteristic(EXTRA, Characteristic.Properties.READ, Characteristic.READABLE,
                                             EXTRA_VALUE)])
    phone.device.add_service(svc)
    return svc


# ---------------------------------------------------------------------------------------------- tests


def test_bonded_reconnection_skips_discovery(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        await pair(r)
        assert log.discovery() > 5 and log.hash_reads() == 1  # discovered, then the hash read for the cache
        assert cache_file(r).exists()
        for _ in range(2):
            log.clear()
            async with BleakClient(PHONE_IDENTITY, timeout=10) as client:
                assert log.discovery() == 0
                assert log.hash_reads() == 1 and log.mtu_exchanges() == 1
                conn = r.svc.devices[PATH].connection
                assert conn is not None and conn.is_encrypted
                await exercise(r, client)
            assert log.discovery() == 0
        assert r.phone.writes == [b"req", b"cmd", b"acq"] * 2

    run(bus, tmp_path, body)


def test_cache_survives_bluez_restart(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        await pair(r)
        await r.restart_bluez()
        log.clear()
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:
            assert log.discovery() == 0 and log.hash_reads() == 1
            await exercise(r, client)

    run(bus, tmp_path, body)


def test_changed_database_hash_triggers_rediscovery(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        await pair(r)
        await r.restart_bluez()
        add_extra_service(r.phone)  # the peripheral's database (and so its Database Hash) changed meanwhile
        log.clear()
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:
            assert log.discovery() > 5
            assert await client.read_gatt_char(EXTRA) == EXTRA_VALUE
            await exercise(r, client)
        log.clear()
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:  # the rewritten cache is used again
            assert log.discovery() == 0 and log.hash_reads() == 1
            assert await client.read_gatt_char(EXTRA) == EXTRA_VALUE

    run(bus, tmp_path, body)


def test_service_changed_rediscovers_the_range(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        await pair(r)
        async with BleakClient(PHONE_IDENTITY, timeout=10):
            assert EXTRA not in await gatt_uuids(r.bus_address)
            log.clear()
            svc = add_extra_service(r.phone)
            assert r.phone.device.gatt_service is not None
            sc = r.phone.device.gatt_service.service_changed_characteristic
            assert sc is not None
            # the facade enabled Service Changed indications on this connection: the indication is confirmed
            await asyncio.wait_for(r.phone.device.indicate_subscribers(
                sc, struct.pack("<HH", svc.handle, svc.end_group_handle)), 3)
            for _ in range(100):
                if EXTRA in await gatt_uuids(r.bus_address):
                    break
                await asyncio.sleep(0.02)
            assert EXTRA in await gatt_uuids(r.bus_address)
            # only the indicated range was rediscovered: every Read By Group Type started inside it
            groups = [p for p in log.pdus if p.op_code == att.Opcode.ATT_READ_BY_GROUP_TYPE_REQUEST]
            assert groups and all(getattr(p, "starting_handle") >= svc.handle for p in groups)
        log.clear()
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:  # the cache holds the new service
            assert log.discovery() == 0 and log.hash_reads() == 1
            assert await client.read_gatt_char(EXTRA) == EXTRA_VALUE

    run(bus, tmp_path, body)


def test_remove_device_deletes_the_cache(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        await pair(r)
        assert cache_file(r).exists()
        device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=3.0)
        assert device is not None
        client = BleakClient(device, timeout=10)
        await client.connect()
        await client.unpair()  # Adapter1.RemoveDevice
        await client.disconnect()
        assert not cache_file(r).exists()
        await r.phone.forget_bonds()
        log.clear()
        device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=3.0)
        assert device is not None
        async with BleakClient(device, timeout=10) as client:
            assert log.discovery() > 5
            assert await client.read_gatt_char(INFO) == INFO_VALUE

    run(bus, tmp_path, body)


def test_unbonded_device_is_always_rediscovered(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig, log: AttLog) -> None:
        device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=3.0)
        assert device is not None
        for _ in range(2):
            log.clear()
            async with BleakClient(device, timeout=10) as client:
                assert log.discovery() > 5
                assert await client.read_gatt_char(INFO) == INFO_VALUE
        assert not (r.state_dir / "cache").exists() or not any((r.state_dir / "cache").iterdir())

    run(bus, tmp_path, body)
