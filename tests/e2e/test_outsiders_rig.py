"""What an outsider tries on the simulated rig (issue 11): the companion is started exactly as `glassbridge sim ble`
starts it (a `glassbridge companion` process on the rig's phone slot), the glasses are bleak on the rig's BlueZ,
and the attacker is a bumble central of our own on the rig's second phone slot (a real HCI transport, the radio
timing model in between), as a stranger's phone or laptop next to the wearer would be.

References are outside the code under test: what the attacker's stack received (SMP failures, ATT error
responses, notifications), the companion's key file as bumble wrote it, the glasses' own link (bleak), and, for
another local user, the kernel's permission checks on a process running as `nobody`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("bumble")

from bumble.att import ATT_Error_Response, ATT_Read_Multiple_Request  # noqa: E402
from bumble.core import UUID, AdvertisingData  # noqa: E402
from bumble.device import Connection, Device, Peer  # noqa: E402
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR  # noqa: E402
from bumble.hci import Address  # noqa: E402
from bumble.pairing import PairingConfig, PairingDelegate  # noqa: E402
from bumble.transport import open_transport  # noqa: E402

from glassbridge.phone import BondStore, NotificationEvent, Phone, ReconnectPolicy, pair_phone  # noqa: E402
from glassbridge.protocol import gatt  # noqa: E402
from glassbridge_rig.ble_rig import GLASSES_ADDRESS, BleRig  # noqa: E402
from glassbridge_rig.person import RigWearer  # noqa: E402

T = TypeVar("T")

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon not installed")

POLICY = ReconnectPolicy(first_delay=0.1, max_delay=0.5, scan_timeout=5.0, connect_timeout=10.0)
STRANGER = "E1:E2:E3:E4:E5:E6"
PAIRING_TIMEOUT_S = 3  # the companion's --pairing-timeout here (30 s by default)


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every user may enter (unlike pytest's own tmp folders), so that only the rig's modes protect."""
    path = Path(tempfile.mkdtemp(prefix="gb-outsiders-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def rig(base: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BleRig]:
    with BleRig(base / "rig", slots=2, companion_args=["--pairing-timeout", str(PAIRING_TIMEOUT_S)]) as started:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", started.bus_address)
        yield started


class YesDelegate(PairingDelegate):
    """The stranger's stack: DisplayYesNo, says yes to every comparison, records the digits it was shown."""

    def __init__(self) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
        self.numbers: list[int] = []

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.numbers.append(number)
        return True


class Stranger:
    """A bumble central on the rig's second phone slot."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.delegate = YesDelegate()
        device.pairing_config_factory = lambda _c: PairingConfig(
            sc=True, mitm=True, bonding=True, delegate=self.delegate,
            identity_address_type=PairingConfig.AddressType.RANDOM)  # distributes device.static_address
        self.notifications: list[bytes] = []
        self.connection: Connection | None = None
        self.peer: Peer | None = None

    async def connect(self) -> Connection:
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()

        def on_adv(adv: Any) -> None:
            uuids = adv.data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
            if UUID(gatt.SERVICE_UUID) in uuids and not found.done():
                found.set_result(adv.address)

        self.device.on("advertisement", on_adv)
        await self.device.start_scanning()
        try:
            address = await asyncio.wait_for(found, 10)
        finally:
            self.device.remove_listener("advertisement", on_adv)
            await self.device.stop_scanning()
        self.connection = await self.device.connect(address)
        self.peer = Peer(self.connection)
        await self.peer.request_mtu(517)
        await self.peer.discover_services()
        await self.peer.discover_characteristics()
        client = self.peer.gatt_client
        original = client.on_att_handle_value_notification

        def spy(notification: Any) -> None:  # every notification, subscribed or not
            self.notifications.append(bytes(notification.attribute_value))
            original(notification)

        client.on_att_handle_value_notification = spy
        return self.connection

    def characteristic(self, uuid: str) -> Any:
        assert self.peer is not None
        return self.peer.get_characteristics_by_uuid(uuid)[0]


@contextlib.asynccontextmanager
async def stranger_on(rig: BleRig) -> AsyncIterator[Stranger]:
    path = str(Path(rig.phone_path).with_name("phone1.hci"))
    async with await open_transport(f"unix:{path}") as transport:
        device = Device.with_hci("stranger", Address(STRANGER), transport.source, transport.sink)
        await device.power_on()
        try:
            yield Stranger(device)
        finally:
            with contextlib.suppress(Exception):
                await device.power_off()


async def companion(rig: BleRig, request: dict[str, Any] | None = None) -> dict[str, Any]:
    return await asyncio.to_thread(rig.companion_ctl, request or {"cmd": "status"})


def companion_ltk(rig: BleRig, identity: str) -> str | None:
    db = json.loads((rig.workdir / "companion" / "keys.json").read_text())
    for namespace in db.values():
        if identity in namespace:
            return str(namespace[identity]["ltk"]["value"])
    return None


def test_a_stranger_nearby_gets_no_bond_when_nobody_compares(rig: BleRig) -> None:
    async def body() -> None:
        async with stranger_on(rig) as stranger:
            connection = await stranger.connect()
            with pytest.raises(Exception):
                await asyncio.wait_for(connection.pair(), PAIRING_TIMEOUT_S + 5)
            status = await companion(rig)
            (record,) = status["pairings"]
            assert record["accepted"] is False and "nobody compared" in record["reason"]
            assert record["digits"] == f"{stranger.delegate.numbers[0]:06d}" and record["peer"] == STRANGER
            assert status["bonded"] == [] and status["pending_pairings"] == []
            # Nothing is readable or writable, and nothing is sent to it.
            assert stranger.peer is not None
            with pytest.raises(Exception):
                await stranger.peer.read_value(stranger.characteristic(gatt.INFO_UUID))
            notify = await companion(rig, {"cmd": "notify", "kind": "PAYMENT", "title": "Cafe", "text": "23.50 EUR",
                                           "needs_response": True})
            assert notify["ok"] is False and stranger.notifications == []

    run(body())


def test_a_stranger_with_the_glasses_identity_cannot_take_their_bond(rig: BleRig, base: Path) -> None:
    """The wearer is fooled into confirming the stranger's digits on the phone: the companion still refuses,
    because the stranger hands over the bonded glasses' identity address. The glasses keep their keys and their
    link, and hear what the phone sends; the stranger hears nothing."""
    store = BondStore(base / "bond.json")

    async def body() -> None:
        await pair_phone(store, RigWearer(rig.companion_ctl), name=rig.companion_name, scan_timeout=10.0)
        ltk = companion_ltk(rig, GLASSES_ADDRESS)
        assert ltk is not None
        async with await Phone.open(bonds=store, policy=POLICY) as phone:
            await phone.wait_until_up(20)
            events = phone.events()
            async with stranger_on(rig) as stranger:
                connection = await stranger.connect()
                # After power-on: it connects from its own address, and distributes the glasses' as its identity.
                stranger.device.static_address = Address(GLASSES_ADDRESS, Address.RANDOM_DEVICE_ADDRESS)
                pairing = asyncio.ensure_future(connection.pair())
                loop = asyncio.get_running_loop()
                end = loop.time() + 15
                while not pairing.done() and loop.time() < end:
                    pending = (await companion(rig, {"cmd": "pairing"}))["pending"]
                    if pending:  # the fooled wearer types what the phone shows
                        await companion(rig, {"cmd": "pair-confirm", "digits": pending[0]["digits"]})
                    await asyncio.sleep(0.02)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pairing, 5)
                status = await companion(rig)
                refused = status["pairings"][-1]
                assert refused["accepted"] is False and GLASSES_ADDRESS in refused["reason"], refused
                assert status["bonded"] == [GLASSES_ADDRESS] and companion_ltk(rig, GLASSES_ADDRESS) == ltk
                for _ in range(200):  # the connection the pairing encrypted is dropped by the companion
                    if not any(c["identity"] != GLASSES_ADDRESS for c in (await companion(rig))["connections"]):
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the stranger's connection was not dropped")
                # The glasses are still the ones the phone talks to.
                sent = await companion(rig, {"cmd": "notify", "kind": "MESSAGE", "title": "Ana", "text": "hi"})
                assert sent["ok"] and sent["glasses"] == [GLASSES_ADDRESS], sent
                async for event in events:
                    if isinstance(event, NotificationEvent):
                        assert event.title == "Ana"
                        break
                assert stranger.notifications == []
            assert (await phone.status()).link_state == "up"

    run(body(), timeout=90)


def test_read_multiple_on_protected_attributes_is_answered_with_an_error(rig: BleRig) -> None:
    async def body() -> None:
        async with stranger_on(rig) as stranger:
            await stranger.connect()
            assert stranger.peer is not None
            down = stranger.characteristic(gatt.DOWNLINK_UUID)
            await stranger.peer.discover_descriptors(down)
            cccd = down.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
            handles = [stranger.characteristic(gatt.INFO_UUID).handle, cccd.handle]
            response = await asyncio.wait_for(
                stranger.peer.gatt_client.send_request(ATT_Read_Multiple_Request(set_of_handles=handles)), 5)
            assert isinstance(response, ATT_Error_Response), response
            assert response.error_code == 0x0F and response.attribute_handle_in_error == handles[0]
            # ATT allows one request at a time: an unanswered one would have stuck the bearer. It is not stuck.
            with pytest.raises(Exception) as refused:
                await asyncio.wait_for(stranger.peer.read_value(stranger.characteristic(gatt.INFO_UUID)), 5)
            assert "INSUFFICIENT" in str(refused.value).upper() or "0x0f" in str(refused.value).lower()

    run(body())


_PROBE = r"""
import json, os, socket, sys
out = {}
for kind, path in json.loads(sys.argv[1]):
    try:
        if kind == "socket":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(path)
            s.close()
        else:
            open(path, "rb").read(1)
        out[path] = "open"
    except PermissionError:
        out[path] = "denied"
    except OSError as exc:
        out[path] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_another_local_user_can_reach_no_socket_and_read_no_key(rig: BleRig, base: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the probe as another user (CI runs as root)")
    bond = base / "bond.json"  # in a folder everyone may enter: only the file's own mode protects it
    run(pair_phone(BondStore(bond), RigWearer(rig.companion_ctl), name=rig.companion_name, scan_timeout=10.0))
    python = shutil.which("python3", path="/usr/bin:/bin")
    assert python is not None
    bus_socket = rig.bus_address.split("path=", 1)[1].split(",", 1)[0]
    targets = [("socket", rig.companion_ctl_path), ("socket", rig.ctl_path), ("socket", rig.phone_path),
               ("socket", bus_socket), ("file", str(rig.workdir / "companion" / "keys.json")),
               ("file", str(rig.workdir / "companion" / "identity.json")),
               ("file", str(rig.workdir / "bluez" / "keys.json")), ("file", str(bond))]
    for kind, path in targets:
        assert Path(path).exists(), path
        want = 0o600 if kind == "file" or path != bus_socket else None
        if want is not None:
            assert os.stat(path).st_mode & 0o077 == 0, f"{path} is {oct(os.stat(path).st_mode)}"
        if path != str(bond):
            assert os.stat(Path(path).parent).st_mode & 0o077 == 0, f"{Path(path).parent} is not owner-only"
    probe = subprocess.run([python, "-c", _PROBE, json.dumps(targets)], user=65534, group=65534,
                           capture_output=True, text=True, timeout=30, cwd="/")
    assert probe.returncode == 0, probe.stderr
    results = json.loads(probe.stdout)
    assert results == {path: "denied" for _, path in targets}, results
    # The owner (this process) still reaches everything.
    assert rig.companion_ctl({"cmd": "status"})["ok"] and rig.ctl({"cmd": "ping"})["ok"]
