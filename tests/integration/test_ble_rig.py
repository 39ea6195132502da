"""BleRig (glassbridge_rig.ble_rig): the rig's processes, its faults and its harness.

The checks use observers independent of the code under test where they can: `ps`/kill(pid, 0) for leftover
processes, a bumble host of our own attached to a second phone slot (a real HCI transport over the rig's unix
socket) to see advertisements and disconnection reasons, and bleak's unmodified BlueZ backend through the private
bus for the glasses' side.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Device
from bumble.hci import Address
from bumble.transport import open_transport
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method

from glassbridge.protocol import gatt
from glassbridge_rig.ble_rig import BleRig, BleRigError
from glassbridge_rig.ble_timing import BleTiming

T = TypeVar("T")

NAME = "glassbridge-companion"


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent has not reaped it yet).
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BleRig]:
    """One rig for the tests that do not restart it: bus + rig process + companion, two phone slots."""
    with BleRig(tmp_path_factory.mktemp("rig"), slots=2, timing=BleTiming(connection_interval_ms=15)) as started:
        yield started


def uuids_of(adv: Advertisement) -> list[str]:
    found: list[str] = []
    for kind in (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
        for uuid in adv.data.get_all(kind) or []:
            for one in (uuid if isinstance(uuid, list) else [uuid]):
                found.append(str(one).lower())
    return found


async def with_host(path: str, body: Callable[[Device], Awaitable[T]]) -> T:
    """Our own bumble host on a phone slot of the rig (what a second phone, or a sniffer, would be)."""
    async with await open_transport(f"unix:{path}") as transport:
        device = Device.with_hci("observer", Address("F0:0D:F0:0D:F0:0D"), transport.source, transport.sink)
        await device.power_on()
        try:
            return await body(device)
        finally:
            await device.power_off()


async def scan(device: Device, seconds: float) -> dict[str, tuple[str | None, list[str]]]:
    """address -> (name, service UUIDs) of everything advertising during `seconds`."""
    seen: dict[str, tuple[str | None, list[str]]] = {}

    def on_advertisement(adv: Advertisement) -> None:
        name = adv.data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
        old = seen.get(str(adv.address), (None, []))
        seen[str(adv.address)] = (name if name is not None else old[0], sorted(set(old[1]) | set(uuids_of(adv))))

    device.on("advertisement", on_advertisement)
    await device.start_scanning(active=True)
    await asyncio.sleep(seconds)
    await device.stop_scanning()
    device.remove_listener("advertisement", on_advertisement)
    return seen


def second_slot(rig: BleRig) -> str:
    return str(Path(rig.phone_path).with_name("phone1.hci"))


# ---- the tests --------------------------------------------------------------------------------------------------


def test_rig_starts_and_stops_without_leftovers(tmp_path: Path) -> None:
    rig = BleRig(tmp_path, companion=False)
    with rig:
        pids = rig.pids
        assert len(pids) == 2 and all(alive(p) for p in pids)  # the bus and the rig process
        assert rig.ctl({"cmd": "ping"})["pid"] == rig.info["pid"]
        status = rig.ctl({"cmd": "status"})
        assert status["ok"] and status["slots"][0]["attached"] is False
        assert rig.env["DBUS_SYSTEM_BUS_ADDRESS"] == rig.bus_address
        bad = rig.ctl({"cmd": "no-such-thing"})
        assert bad["ok"] is False and "unknown command" in bad["error"]
        bad = rig.ctl({"cmd": "timing", "set": {"ll_payload": 9}})
        assert bad["ok"] is False and "ll_payload" in bad["error"]
    assert not any(alive(p) for p in pids)
    assert (tmp_path / "rig.log").exists()
    rig.stop()  # idempotent


def test_a_dead_process_is_reported_with_its_log(tmp_path: Path) -> None:
    rig = BleRig(tmp_path, companion=True, companion_args=["--no-such-option"], start_timeout=10)
    with pytest.raises(BleRigError, match="companion exited") as info:
        rig.start()
    assert "--no-such-option" in str(info.value) or "unrecognized" in str(info.value)
    assert rig.pids == []  # everything it had started is gone


def test_companion_attached_and_advertising(rig: BleRig) -> None:
    assert rig.companion_identity
    status = rig.ctl({"cmd": "status"})
    assert status["slots"][0]["attached"] is True and status["slots"][1]["attached"] is False
    assert rig.companion_ctl({"cmd": "status"})["ok"] is True

    async def body(device: Device) -> None:
        seen = await scan(device, 1.0)
        names = {name for name, uuids in seen.values() if gatt.SERVICE_UUID in uuids}
        assert NAME in names, seen

    run(with_host(second_slot(rig), body))


def test_impostor_on_and_off_is_visible_in_a_scan(rig: BleRig) -> None:
    async def body(device: Device) -> None:
        answer = rig.ctl({"cmd": "impostor", "on": True, "mode": "new-address"})
        assert answer["ok"], answer
        address = answer["impostor"]["address"]
        seen = await scan(device, 1.0)
        assert address in {a.split("/")[0] for a in seen}, seen
        match = [v for a, v in seen.items() if a.split("/")[0] == address]
        assert match[0][0] == NAME and gatt.SERVICE_UUID in match[0][1]

        assert rig.ctl({"cmd": "impostor", "on": False})["impostor"]["on"] is False
        seen = await scan(device, 0.6)
        assert address not in {a.split("/")[0] for a in seen}

        identity = rig.companion_identity
        answer = rig.ctl({"cmd": "impostor", "on": True, "mode": "identity", "address": identity})
        assert answer["ok"], answer
        seen = await scan(device, 1.0)
        assert identity in {a.split("/")[0] for a in seen}, seen
        rig.ctl({"cmd": "impostor", "on": False})

    run(with_host(second_slot(rig), body))


def test_drop_disconnects_both_sides_with_a_supervision_timeout(rig: BleRig) -> None:
    async def body(device: Device) -> None:
        seen = await scan(device, 0.8)
        (address,) = [a for a, (name, uuids) in seen.items() if name == NAME and gatt.SERVICE_UUID in uuids]
        connection = await device.connect(Address(address))
        lost: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        connection.on("disconnection", lambda reason: lost.done() or lost.set_result(reason))
        assert rig.ctl({"cmd": "drop", "silence_ms": 100})["dropped"] == 1
        t0 = time.monotonic()
        assert await asyncio.wait_for(lost, 5) == 0x08
        assert time.monotonic() - t0 >= 0.09
        status = rig.ctl({"cmd": "status"})
        assert status["connections"][-1]["state"] == "lost" and status["connections"][-1]["reason"] == 0x08

    run(with_host(second_slot(rig), body))


@pytest.mark.parametrize(("crash", "reason"), [(False, 0x13), (True, 0x08)])
def test_restart_companion_cuts_the_link_and_keeps_its_identity(rig: BleRig, crash: bool, reason: int) -> None:
    identity = rig.companion_identity
    old_pid = rig.companion_process.pid if rig.companion_process else 0

    async def body(device: Device) -> None:
        seen = await scan(device, 0.8)
        (address,) = [a for a, (name, uuids) in seen.items() if name == NAME and gatt.SERVICE_UUID in uuids]
        connection = await device.connect(Address(address))
        lost: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        connection.on("disconnection", lambda reason: lost.done() or lost.set_result(reason))
        # The companion must know the connection before it can say goodbye on it.
        for _ in range(200):
            if rig.companion_ctl({"cmd": "status"})["connections"]:
                break
            await asyncio.sleep(0.01)
        # Graceful: the companion says goodbye (remote user terminated). A crash: its radio just goes quiet.
        await asyncio.to_thread(rig.restart_companion, crash=crash)
        assert await asyncio.wait_for(lost, 5) == reason

    run(with_host(second_slot(rig), body))
    assert not alive(old_pid)
    assert rig.companion_identity == identity  # its state folder kept the identity


def test_bleak_sees_and_connects_to_the_companion(rig: BleRig) -> None:
    if not rig.info.get("bluez"):
        pytest.skip(f"no BlueZ facade in the rig: {rig.info.get('bluez_error')}")

    async def body() -> list[str]:
        from bleak import BleakClient, BleakScanner

        device = await BleakScanner.find_device_by_filter(
            lambda _d, adv: gatt.SERVICE_UUID in [u.lower() for u in adv.service_uuids], timeout=5)
        assert device is not None and device.name == NAME
        async with BleakClient(device) as client:
            uuids = [s.uuid for s in client.services]
            status = rig.ctl({"cmd": "status"})
            assert any(c["state"] == "open" and c["central_controller"] == "glasses" for c in status["connections"])
        return uuids

    previous = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = rig.bus_address
    try:
        assert gatt.SERVICE_UUID in run(body())
    finally:
        if previous is None:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = previous


class ConfirmingAgent(ServiceInterface):
    """The wearer, as an org.bluez.Agent1: types the digits the glasses show into the phone's prompt (which takes
    only its own, sim.person) and says yes on the glasses when the phone took them (and remembers the number)."""

    def __init__(self, rig: BleRig) -> None:
        super().__init__("org.bluez.Agent1")
        self.rig = rig
        self.numbers: list[int] = []

    @method()
    async def RequestConfirmation(self, device: "o", passkey: "u"):  # type: ignore[no-untyped-def]  # noqa: F821, UP037
        from glassbridge_rig.person import confirm_on_phone

        self.numbers.append(passkey)
        await confirm_on_phone(self.rig.companion_ctl, passkey)  # raises (BlueZ then fails the pairing) if not

    @method()
    def Release(self):  # type: ignore[no-untyped-def]  # no return annotation: it would become a reply signature
        pass

    @method()
    def Cancel(self):  # type: ignore[no-untyped-def]
        pass


async def bluez_devices(bus: MessageBus) -> dict[str, dict[str, Any]]:
    """object path -> Device1 properties, read straight from org.bluez's ObjectManager."""
    reply = await bus.call(Message(destination="org.bluez", path="/", interface="org.freedesktop.DBus.ObjectManager",
                                   member="GetManagedObjects"))
    assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply
    objects = reply.body[0]
    return {path: {k: v.value for k, v in ifaces["org.bluez.Device1"].items()}
            for path, ifaces in objects.items() if "org.bluez.Device1" in ifaces}


def test_restart_bluez_keeps_the_bond(tmp_path: Path) -> None:
    """Pair through bleak, restart the rig process: BlueZ still knows the bond, and reconnecting encrypts at once."""
    with BleRig(tmp_path) as rig:
        if not rig.info.get("bluez"):
            pytest.skip(f"no BlueZ facade in the rig: {rig.info.get('bluez_error')}")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = rig.bus_address
        try:
            async def pair() -> list[int]:
                from bleak import BleakClient, BleakScanner

                bus = await MessageBus(bus_address=rig.bus_address).connect()
                agent = ConfirmingAgent(rig)
                bus.export("/rigtest/agent", agent)
                node = await bus.introspect("org.bluez", "/org/bluez")
                agents = bus.get_proxy_object("org.bluez", "/org/bluez", node).get_interface(
                    "org.bluez.AgentManager1")
                await agents.call_register_agent("/rigtest/agent", "DisplayYesNo")  # type: ignore[attr-defined]
                await agents.call_request_default_agent("/rigtest/agent")  # type: ignore[attr-defined]
                try:
                    device = await BleakScanner.find_device_by_filter(
                        lambda _d, adv: gatt.SERVICE_UUID in [u.lower() for u in adv.service_uuids], timeout=5)
                    assert device is not None
                    async with BleakClient(device) as client:
                        await client.pair()
                    return agent.numbers
                finally:
                    bus.disconnect()

            numbers = run(pair())
            assert len(numbers) == 1  # one numeric comparison happened
            accepted = [p for p in rig.companion_ctl({"cmd": "status"})["pairings"] if p.get("accepted")]
            assert accepted and accepted[-1]["number"] == numbers[0]  # both ends compared the same number
            # The phone stores the keys after the comparison (bumble's key store, then its bond book): restart it
            # only once they are kept, as a person would not pull the phone's battery mid-pairing.
            deadline = time.monotonic() + 10
            while not rig.companion_ctl({"cmd": "status"})["bonded"]:
                assert time.monotonic() < deadline, "the companion never stored the bond"
                time.sleep(0.05)

            old_pid = rig.info["pid"]
            rig.restart_bluez()
            assert rig.info["pid"] != old_pid and not alive(old_pid)

            async def after_restart() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
                from bleak import BleakClient, BleakScanner

                bus = await MessageBus(bus_address=rig.bus_address).connect()
                try:
                    devices = await bluez_devices(bus)
                finally:
                    bus.disconnect()
                # No agent now: if the bond were lost, pairing could not happen and nothing would be encrypted.
                device = await BleakScanner.find_device_by_address(str(rig.companion_identity), timeout=5)
                assert device is not None
                async with BleakClient(device) as client:
                    await client.read_gatt_char(gatt.INFO_UUID)  # needs an authenticated, encrypted link
                    connections = rig.companion_ctl({"cmd": "status"})["connections"]
                return devices, connections

            devices, connections = run(after_restart())
            bonded = [d for d in devices.values() if d.get("Bonded") or d.get("Paired")]
            assert [d["Address"] for d in bonded] == [rig.companion_identity], devices
            assert connections and connections[0]["encrypted"] and connections[0]["authenticated"], connections
        finally:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]


def test_restart_bluez_keeps_its_state(tmp_path: Path) -> None:
    with BleRig(tmp_path, companion=False) as rig:
        state = tmp_path / "bluez"
        before = rig.info["pid"]
        marker = state / "kept-across-restarts"  # whatever BlueZ keeps lives in this folder, which survives
        marker.write_text("x")
        rig.restart_bluez()
        assert rig.info["pid"] != before and not alive(before)
        assert marker.read_text() == "x"
        assert rig.ctl({"cmd": "ping"})["ok"]
