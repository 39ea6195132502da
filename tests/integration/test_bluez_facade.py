"""bleak's unmodified BlueZ backend against BluezService, with a bumble GATT peripheral on a LocalLink.

The references are independent of the facade: bleak decides what BlueZ behaviour it needs (D-Bus types, signals,
errors), the peripheral's own bumble SMP computes the numeric comparison value that the agent must be shown, the
peripheral's GATT server records what really arrived over ATT. Each test runs in its own event loop (bleak keeps
one BlueZ manager per loop) on one private dbus-daemon for the module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDBusError, BleakError
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from glassbridge_rig.dbus import PrivateBus
from tests.integration.bluez_rig import (
    DROP,
    ECHO,
    INFO,
    INFO_VALUE,
    NOTE,
    OPEN_SVC,
    PHONE_IDENTITY,
    PHONE_NAME,
    S_NOTE,
    S_READ,
    S_WRITE,
    SECRET,
    Rig,
    agent_on_bus,
    bus,  # noqa: F401 (the fixture)
    close_bleak_manager,
    rig,
)


def run(bus: PrivateBus, tmp_path: Path, body: Callable[[Rig], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        try:
            async with rig(bus.address, tmp_path / "bluez", **kw) as r:
                await asyncio.wait_for(body(r), 20)
        finally:
            await close_bleak_manager()

    asyncio.run(main())


async def find(timeout: float = 3.0) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=timeout)
    assert device is not None, "the peripheral was not discovered"
    return device


async def bluez_objects(address: str) -> dict[str, dict[str, dict[str, Any]]]:
    """GetManagedObjects at "/" from a fresh connection, values unpacked."""
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(Message(destination="org.bluez", path="/",
                                       interface="org.freedesktop.DBus.ObjectManager", member="GetManagedObjects"))
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
        return {p: {i: {k: v.value for k, v in props.items()} for i, props in ifaces.items()}
                for p, ifaces in reply.body[0].items()}
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


async def call_device(address: str, path: str, member: str) -> Message:
    """One Device1 method call from a fresh connection; the reply (or error) message."""
    bus = await MessageBus(bus_address=address).connect()
    try:
        reply = await bus.call(Message(destination="org.bluez", path=path, interface="org.bluez.Device1",
                                       member=member))
        assert reply is not None
        return reply
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


def device_props(objects: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {p: i["org.bluez.Device1"] for p, i in objects.items() if "org.bluez.Device1" in i}


# ---------------------------------------------------------------------------------------------- GATT, no security


def test_scan_connect_read_write_notify_mtu_517(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        seen: dict[str, Any] = {"reports": 0}

        def on_adv(device: BLEDevice, adv: Any) -> None:
            if adv.local_name == PHONE_NAME:
                seen["adv"] = adv
                seen["reports"] += 1

        async with BleakScanner(on_adv):
            for _ in range(100):
                if seen["reports"] >= 3:  # re-advertisements keep being reported (RSSI PropertiesChanged)
                    break
                await asyncio.sleep(0.02)
        assert seen["reports"] >= 3
        adv = seen["adv"]
        # advertising data arrives with BlueZ's D-Bus types, as bleak decodes them
        assert OPEN_SVC in adv.service_uuids
        assert adv.manufacturer_data == {0x05F1: b"gb"}
        assert adv.service_data == {"0000feaa-0000-1000-8000-00805f9b34fb": b"\x01\x02"}
        assert adv.rssi == -50  # what bumble's controller reports

        device = await find()
        got: asyncio.Queue[bytes] = asyncio.Queue()
        async with BleakClient(device, timeout=10) as client:
            assert await client.read_gatt_char(INFO) == INFO_VALUE
            flags = client.services.get_characteristic(ECHO).properties
            assert flags == ["write-without-response", "write"]
            note = client.services.get_characteristic(NOTE)
            assert note.properties == ["notify"]
            assert [d.uuid for d in note.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]  # the CCCD
            await client.start_notify(NOTE, lambda _c, data: got.put_nowait(bytes(data)))
            await client.write_gatt_char(ECHO, b"with-response", response=True)
            assert await asyncio.wait_for(got.get(), 3) == b"ack:with-response"
            await client.write_gatt_char(ECHO, b"command", response=False)
            assert await asyncio.wait_for(got.get(), 3) == b"ack:command"
            await client._backend._acquire_mtu()  # type: ignore[attr-defined]  # AcquireWrite: fd + real MTU
            assert client.mtu_size == 517
            limit = client.services.get_characteristic(ECHO).max_write_without_response_size
            assert limit == 514
            # the largest attribute value is 512 bytes (ATT_MAX_VALUE): a 512-byte command arrives whole, and its
            # 516-byte echo is cut to MTU - 3 by the peripheral's bumble
            await client.write_gatt_char(ECHO, b"x" * 512, response=False)
            assert await asyncio.wait_for(got.get(), 3) == (b"ack:" + b"x" * 512)[:514]
            await client.stop_notify(NOTE)
        assert r.phone.writes == [b"with-response", b"command", b"x" * 512]
        props = device_props(await bluez_objects(r.bus_address))
        dev = props[f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"]
        assert dev["Connected"] is False and dev["ServicesResolved"] is False and dev["Paired"] is False

    run(bus, tmp_path, body)


def test_mtu_185_limits_commands_and_acquire_notify(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        got: asyncio.Queue[bytes] = asyncio.Queue()
        async with BleakClient(await find(), timeout=10) as client:
            await client._backend._acquire_mtu()  # type: ignore[attr-defined]
            assert client.mtu_size == 185  # the peripheral's limit, negotiated over ATT
            # AcquireNotify: values come through the socket bleak reads
            await client.start_notify(NOTE, lambda _c, d: got.put_nowait(bytes(d)), bluez={"use_start_notify": False})
            await client.write_gatt_char(ECHO, b"y" * 182, response=False)
            assert await asyncio.wait_for(got.get(), 3) == b"ack:" + b"y" * 178  # bumble cuts at MTU - 3
            with pytest.raises(BleakDBusError) as err:
                await client.write_gatt_char(ECHO, b"z" * 183, response=False)
            assert err.value.dbus_error == "org.bluez.Error.Failed"
            # a write request longer than MTU - 3 becomes a long write and arrives whole
            await client.write_gatt_char(ECHO, b"w" * 300, response=True)
        assert r.phone.writes == [b"y" * 182, b"w" * 300]

    run(bus, tmp_path, body, mtu=185)


def test_peer_disconnect_tears_down_and_reconnect_works(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        device = await find()
        lost = asyncio.Event()
        client = BleakClient(device, timeout=10, disconnected_callback=lambda _c: lost.set())
        await client.connect()
        try:
            path = f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"
            gatt_paths = [p for p in await bluez_objects(r.bus_address) if p.startswith(path + "/")]
            assert any("/service" in p and "/char" in p and "/desc" in p for p in gatt_paths)
            with pytest.raises(BleakDBusError) as err:  # the link is lost while a write request waits
                await client.write_gatt_char(DROP, b"bye", response=True)
            assert err.value.dbus_error == "org.bluez.Error.Failed"
            await asyncio.wait_for(lost.wait(), 3)
            objects = await bluez_objects(r.bus_address)
            assert not [p for p in objects if p.startswith(path + "/")]  # GATT objects removed
            assert objects[path]["org.bluez.Device1"]["Connected"] is False
        finally:
            await client.disconnect()
        async with BleakClient(device, timeout=10) as again:
            assert await again.read_gatt_char(INFO) == INFO_VALUE

    run(bus, tmp_path, body)


# ---------------------------------------------------------------------------------------------- pairing


def test_pair_numeric_comparison(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, _):
            device = await find()
            async with BleakClient(device, timeout=10) as client:
                await client.pair()
                # the agent was shown exactly the number the peripheral's own SMP computed
                assert len(agent.confirmations) == 1 and len(r.phone.numbers) == 1
                path, passkey = agent.confirmations[0]
                assert path == f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"
                assert passkey == r.phone.numbers[0]
                assert 0 <= passkey <= 999999
                assert await client.read_gatt_char(S_READ) == SECRET
                got: asyncio.Queue[bytes] = asyncio.Queue()
                await client.start_notify(S_NOTE, lambda _c, d: got.put_nowait(bytes(d)))
                await r.phone.notify(b"secure-note", secure=True)
                assert await asyncio.wait_for(got.get(), 3) == b"secure-note"
                await client.write_gatt_char(S_WRITE, b"secure-write", response=True)
            assert r.phone.secure_writes == [b"secure-write"]
            props = device_props(await bluez_objects(r.bus_address))[path]
            assert props["Paired"] is True and props["Bonded"] is True and props["Trusted"] is True
            keys = json.loads((r.state_dir / "keys.json").read_text())
            assert any(PHONE_IDENTITY in name for ns in keys.values() for name in ns)

    run(bus, tmp_path, body)


@pytest.mark.parametrize("refuser", ["agent", "agent-canceled", "peripheral"])
def test_pairing_refused(bus: PrivateBus, tmp_path: Path, refuser: str) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, _):
            if refuser == "agent":
                agent.accept = False
            elif refuser == "agent-canceled":
                agent.accept, agent.refusal = False, "org.bluez.Error.Canceled"
            else:
                r.phone.accept = False
            client = BleakClient(await find(), timeout=10, pair=True)
            with pytest.raises(BleakDBusError) as err:
                await client.connect()  # bleak: Trusted=true, then Device1.Pair (which connects)
            assert err.value.dbus_error == "org.bluez.Error.AuthenticationFailed"
            assert len(agent.confirmations) == 1
            props = device_props(await bluez_objects(r.bus_address))
            (dev,) = props.values()
            assert dev["Paired"] is False and dev["Bonded"] is False
            assert dev["Connected"] is False  # the link Pair made is dropped again
            assert await r.phone.device.keystore.get_all() == []

    run(bus, tmp_path, body)


def test_pair_without_agent_fails_as_bluez_does(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        client = BleakClient(await find(), timeout=10, pair=True)
        with pytest.raises(BleakDBusError) as err:
            await client.connect()
        # no agent: IO capability NoInputNoOutput -> Just Works, which the peripheral refuses (SPEC 16.2)
        assert err.value.dbus_error == "org.bluez.Error.AuthenticationFailed"
        assert r.phone.numbers == []

    run(bus, tmp_path, body)


def test_security_raised_on_att_insufficient_authentication(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, _):
            async with BleakClient(await find(), timeout=10) as client:
                # the peer answers Insufficient Authentication; the facade pairs via the default agent, retries
                assert await client.read_gatt_char(S_READ) == SECRET
                assert len(agent.confirmations) == 1
                assert agent.confirmations[0][1] == r.phone.numbers[0]
                assert (await bluez_objects(r.bus_address))  # still there
            async with BleakClient(await find(), timeout=10) as client:
                got: asyncio.Queue[bytes] = asyncio.Queue()
                await client.start_notify(S_NOTE, lambda _c, d: got.put_nowait(bytes(d)))  # encrypted on connect
                await r.phone.notify(b"n", secure=True)
                assert await asyncio.wait_for(got.get(), 3) == b"n"
            assert len(agent.confirmations) == 1  # bonded: no second pairing

    run(bus, tmp_path, body)


def test_security_refused_maps_to_not_paired(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, _):
            agent.accept = False
            async with BleakClient(await find(), timeout=10) as client:
                with pytest.raises(BleakDBusError) as err:
                    await client.read_gatt_char(S_READ)
                assert err.value.dbus_error == "org.bluez.Error.NotPermitted"
                assert err.value.dbus_error_details == "Not paired"
                with pytest.raises(BleakError):
                    await client.start_notify(S_NOTE, lambda _c, d: None)
                assert await client.read_gatt_char(INFO) == INFO_VALUE  # the link still works

    run(bus, tmp_path, body)


# ---------------------------------------------------------------------------------------------- bonds


async def pair_once(r: Rig) -> str:
    """Pair through bleak's connect(pair=True): Trusted=true, then Device1.Pair, which connects and resolves."""
    async with agent_on_bus(r.bus_address) as (agent, _):
        async with BleakClient(await find(), timeout=10, pair=True) as client:
            assert await client.read_gatt_char(S_READ) == SECRET
        assert len(agent.confirmations) == 1
        return agent.confirmations[0][0]


def test_bond_survives_bluez_restart_and_reencrypts(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        path = await pair_once(r)
        await r.restart_bluez()
        props = device_props(await bluez_objects(r.bus_address))
        assert props[path]["Paired"] is True and props[path]["Bonded"] is True and props[path]["Trusted"] is True
        assert props[path]["Connected"] is False
        numbers = list(r.phone.numbers)
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:  # no scan needed: BlueZ knows the bond
            assert await client.read_gatt_char(S_READ) == SECRET
            conn = r.svc.devices[path].connection
            assert conn is not None and conn.is_encrypted
        assert r.phone.numbers == numbers  # no new pairing
        again = await call_device(r.bus_address, path, "Pair")
        assert again.error_name == "org.bluez.Error.AlreadyExists"

    run(bus, tmp_path, body)


def test_peer_forgot_the_bond_fails_loudly(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        path = await pair_once(r)
        await r.phone.forget_bonds()
        client = BleakClient(await find(), timeout=10)
        with pytest.raises(BleakDBusError) as err:
            await client.connect()
        assert err.value.dbus_error == "org.bluez.Error.Failed"
        assert err.value.dbus_error_details == "le-connection-key-missing"
        props = device_props(await bluez_objects(r.bus_address))[path]
        assert props["Connected"] is False and props["Paired"] is True  # BlueZ keeps the bond until removed

    run(bus, tmp_path, body)


def test_remove_device_forgets_the_bond(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        path = await pair_once(r)
        client = BleakClient(await find(), timeout=10)
        await client.connect()
        await client.unpair()  # Adapter1.RemoveDevice: disconnect, forget keys, remove the object
        await client.disconnect()  # bleak's unpair leaves the client's own bus open; this releases it
        assert path not in await bluez_objects(r.bus_address)
        keys = json.loads((r.state_dir / "keys.json").read_text())
        assert not any(PHONE_IDENTITY in name for ns in keys.values() for name in ns)
        await r.restart_bluez()
        assert device_props(await bluez_objects(r.bus_address)) == {}

    run(bus, tmp_path, body)


# ---------------------------------------------------------------------------------------------- privacy


def test_rpa_resolved_to_identity_after_bonding(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        rpa = r.phone.device.random_address
        assert rpa.is_resolvable
        device = await find()
        assert device.address == str(rpa)
        rpa_path = f"/org/bluez/hci0/dev_{str(rpa).replace(':', '_')}"
        async with agent_on_bus(r.bus_address) as (agent, _):
            async with BleakClient(device, timeout=10) as client:
                await client.pair()
                assert client.address == PHONE_IDENTITY  # BlueZ shows the identity once the IRK is known
        props = device_props(await bluez_objects(r.bus_address))
        assert props[rpa_path]["Address"] == PHONE_IDENTITY and props[rpa_path]["AddressType"] == "random"
        new_rpa = await r.phone.rotate_rpa()
        assert new_rpa != rpa
        async with BleakScanner() as scanner:  # the new RPA maps onto the same Device1
            await asyncio.sleep(0.3)
            seen = scanner.discovered_devices_and_advertisement_data
        assert set(device_props(await bluez_objects(r.bus_address))) == {rpa_path}
        assert PHONE_IDENTITY in seen
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:
            assert await client.read_gatt_char(S_READ) == SECRET  # connected to the rotated RPA, encrypted
        assert len(agent.confirmations) == 1
        # after a restart bluetoothd knows the device by its identity; the peer rotates again meanwhile
        await r.restart_bluez()
        await r.phone.rotate_rpa()
        identity_path = f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"
        assert set(device_props(await bluez_objects(r.bus_address))) == {identity_path}
        async with BleakClient(PHONE_IDENTITY, timeout=10) as client:
            assert await client.read_gatt_char(S_READ) == SECRET

    run(bus, tmp_path, body, private=True)


# ---------------------------------------------------------------------------------------------- agents, bus


def test_agent_manager_rules(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, agent_bus):
            manager = agent_bus.get_proxy_object(
                "org.bluez", "/org/bluez", await agent_bus.introspect("org.bluez", "/org/bluez")
            ).get_interface("org.bluez.AgentManager1")
            from dbus_fast import DBusError

            with pytest.raises(DBusError) as err:  # one agent per connection
                await manager.call_register_agent("/test/other", "DisplayYesNo")  # type: ignore[attr-defined]
            assert err.value.type == "org.bluez.Error.AlreadyExists"
            with pytest.raises(DBusError) as err:
                await manager.call_unregister_agent("/not/mine")  # type: ignore[attr-defined]
            assert err.value.type == "org.bluez.Error.DoesNotExist"
            await manager.call_unregister_agent("/test/agent")  # type: ignore[attr-defined]
            await asyncio.wait_for(agent.released.wait(), 2)  # Release is called
            assert r.svc.agents.default() is None
            with pytest.raises(DBusError) as err:
                await manager.call_register_agent("/test/agent", "Telepathy")  # type: ignore[attr-defined]
            assert err.value.type == "org.bluez.Error.InvalidArguments"
        # an agent whose connection leaves the bus is dropped
        async with agent_on_bus(r.bus_address):
            assert r.svc.agents.default() is not None
        for _ in range(50):
            if r.svc.agents.default() is None:
                break
            await asyncio.sleep(0.01)
        assert r.svc.agents.default() is None

    run(bus, tmp_path, body)


def test_cancel_pairing_while_the_agent_is_asked(bus: PrivateBus, tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        async with agent_on_bus(r.bus_address) as (agent, agent_bus):
            agent.hold = asyncio.Event()
            device = await find()
            path = f"/org/bluez/hci0/dev_{PHONE_IDENTITY.replace(':', '_')}"
            call = agent_bus.call(Message(destination="org.bluez", path=path, interface="org.bluez.Device1",
                                          member="Pair"))
            pair = asyncio.ensure_future(call)
            for _ in range(200):
                if agent.confirmations:
                    break
                await asyncio.sleep(0.01)
            assert agent.confirmations
            busy = await agent_bus.call(Message(destination="org.bluez", path=path, interface="org.bluez.Device1",
                                                member="Connect"))
            assert busy is not None and busy.error_name == "org.bluez.Error.InProgress"
            reply = await agent_bus.call(Message(destination="org.bluez", path=path, interface="org.bluez.Device1",
                                                 member="CancelPairing"))
            assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
            result = await asyncio.wait_for(pair, 5)
            assert result is not None and result.error_name == "org.bluez.Error.AuthenticationCanceled"
            assert agent.cancelled == 1
            agent.hold.set()
            del device

    run(bus, tmp_path, body)


def test_private_bus_stops_without_leftovers(tmp_path: Path) -> None:
    b = PrivateBus(tmp_path / "bus").start()
    pid = b.pid
    assert b.address.startswith("unix:path=")
    b.stop()
    b.stop()  # idempotent
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    with pytest.raises(RuntimeError):
        _ = b.address
