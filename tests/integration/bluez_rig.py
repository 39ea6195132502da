"""Test rig for the BlueZ facade: a bumble LocalLink with the glasses' adapter (BluezService) and a bumble GATT
peripheral written here (not the companion), plus a dbus-fast Agent1 for pairing.

Everything runs in the test's own event loop (asyncio.run per test): bumble's LocalLink delivers with call_soon,
BluezService exports on its bus connection, bleak and the test agent have their own connections; all D-Bus traffic
goes through the private dbus-daemon's socket, so the loop sharing changes nothing a real bluetoothd would see.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.att import ATT_Error
from bumble.controller import Controller
from bumble.core import AdvertisingData, UUID
from bumble.device import Device
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    CharacteristicValue,
    Descriptor,
    Service,
)
from bumble.host import Host
from bumble.keys import MemoryKeyStore
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink
import pytest
from dbus_fast import DBusError
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method
from glassbridge_rig.bluez.dbustypes import DBusObjectPath, DBusUInt32

from glassbridge_rig.bluez import BluezService
from glassbridge_rig.dbus import PrivateBus

GLASSES_ADDRESS = "F5:F4:F3:F2:F1:F0"
# The glasses' controller also has a public address (as the rig's does): the facade must distribute, as its SMP
# identity, the address it really connects from, or the peer cannot find the bond on reconnection.
GLASSES_PUBLIC = "00:1B:DC:60:0B:01"
PHONE_IDENTITY = "C6:01:02:03:04:05"  # static random
PHONE_NAME = "Pixel-Test"

_BASE = "-b5a3-f393-e0a9-e50e24dcca9e"
OPEN_SVC = f"6e400001{_BASE}"
ECHO = f"6e400002{_BASE}"  # write + write without response; each value is echoed as a notification on NOTE
NOTE = f"6e400003{_BASE}"  # notify, open CCCD
INFO = f"6e400004{_BASE}"  # read
SECURE_SVC = f"6e400010{_BASE}"
S_WRITE = f"6e400011{_BASE}"  # write (with response) requiring an authenticated link
S_NOTE = f"6e400012{_BASE}"  # notify; its CCCD requires authentication (SPEC 16.2)
S_READ = f"6e400013{_BASE}"  # read requiring an authenticated link
DROP = f"6e400005{_BASE}"  # write: the peripheral ends the link instead of answering (a radio loss mid-request)
FAIL = f"6e400006{_BASE}"  # read/write: answered with the ATT error in Phone.fail_with
INFO_VALUE = b"phone-1.0"
SECRET = b"secret-info"


def bumble_device(link: LocalLink, name: str, address: str, public_address: str | None = None) -> Device:
    """A bumble host on `link` with static random `address` (and, if given, a controller public address)."""
    controller = Controller(name, link=link, public_address=public_address)
    device = Device(name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller)))
    device.keystore = MemoryKeyStore()
    return device


class PhoneDelegate(PairingDelegate):
    """The peripheral's side of numeric comparison: records the number its own SMP computed, answers by policy."""

    def __init__(self, phone: Phone) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
        self.phone = phone

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.phone.numbers.append(number)
        return self.phone.accept

    async def confirm(self, auto: bool = False) -> bool:
        return self.phone.accept_just_works


@dataclass
class Phone:
    """The bumble GATT peripheral and what happened on it."""

    device: Device
    numbers: list[int] = field(default_factory=list)  # numeric comparison values its SMP computed
    writes: list[bytes] = field(default_factory=list)
    secure_writes: list[bytes] = field(default_factory=list)
    accept: bool = True
    accept_just_works: bool = False  # SPEC 16.2: Just Works refused
    note: Characteristic | None = None
    s_note: Characteristic | None = None
    mtu: int = 517
    fail_with: int = 0x0E  # the ATT error FAIL answers

    async def notify(self, value: bytes, *, secure: bool = False) -> None:
        char = self.s_note if secure else self.note
        assert char is not None
        await self.device.notify_subscribers(char, value)

    async def forget_bonds(self) -> None:
        for name, _ in await self.device.keystore.get_all():
            await self.device.keystore.delete(name)

    async def advertise(self) -> None:
        # 20 ms, the shortest legal interval: bumble's default is 1 s and the LocalLink has no timing model
        await self.device.start_advertising(auto_restart=True, advertising_interval_min=20, advertising_interval_max=20)

    async def rotate_rpa(self) -> hci.Address:
        """Advertise from a fresh resolvable private address (same IRK)."""
        await self.device.stop_advertising()
        self.device.random_address = hci.Address.generate_private_address(self.device.irk)
        await self.device.send_command(hci.HCI_LE_Set_Random_Address_Command(random_address=self.device.random_address))
        await self.advertise()
        return self.device.random_address


def make_phone(link: LocalLink, *, mtu: int = 517, private: bool = False, address: str = PHONE_IDENTITY) -> Phone:
    device = bumble_device(link, PHONE_NAME, address)
    phone = Phone(device, mtu=mtu)
    device.irk = os.urandom(16)
    device.le_privacy_enabled = private
    device.le_rpa_timeout = 0  # rotated by the test, not by a timer
    device.gatt_server.max_mtu = mtu

    def on_echo(connection: object, value: bytes) -> None:
        phone.writes.append(bytes(value))
        asyncio.get_running_loop().create_task(phone.notify(b"ack:" + bytes(value)))

    def on_secure(connection: object, value: bytes) -> None:
        phone.secure_writes.append(bytes(value))

    note = Characteristic(NOTE, Characteristic.Properties.NOTIFY, Characteristic.READABLE, b"")
    echo = Characteristic(
        ECHO,
        Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
        Characteristic.WRITEABLE,
        CharacteristicValue(write=on_echo),
    )
    info = Characteristic(INFO, Characteristic.Properties.READ, Characteristic.READABLE, INFO_VALUE)

    async def on_drop(connection: Any, value: bytes) -> None:
        await connection.disconnect()

    drop = Characteristic(DROP, Characteristic.Properties.WRITE, Characteristic.WRITEABLE,
                          CharacteristicValue(write=on_drop))
    auth_rw = Characteristic.READ_REQUIRES_AUTHENTICATION | Characteristic.WRITE_REQUIRES_AUTHENTICATION
    s_write = Characteristic(S_WRITE, Characteristic.Properties.WRITE, Characteristic.WRITE_REQUIRES_AUTHENTICATION,
                             CharacteristicValue(write=on_secure))
    s_read = Characteristic(S_READ, Characteristic.Properties.READ, Characteristic.READ_REQUIRES_AUTHENTICATION, SECRET)
    s_note = Characteristic(S_NOTE, Characteristic.Properties.NOTIFY, Characteristic.READ_REQUIRES_AUTHENTICATION, b"")
    # An authenticated CCCD: bumble's default one is open (spikes/README: it leaks notifications).
    s_note.descriptors = [Descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, auth_rw,
                                     device.gatt_server.make_descriptor_value(s_note))]
    def fail(connection: Any, value: bytes | None = None) -> bytes:
        raise ATT_Error(phone.fail_with)

    failing = Characteristic(FAIL, Characteristic.Properties.READ | Characteristic.Properties.WRITE,
                             Characteristic.READABLE | Characteristic.WRITEABLE,
                             CharacteristicValue(read=fail, write=fail))
    device.add_service(Service(OPEN_SVC, [echo, note, info, drop, failing]))
    device.add_service(Service(SECURE_SVC, [s_write, s_note, s_read]))
    phone.note, phone.s_note = note, s_note
    device.advertising_data = bytes(AdvertisingData([
        (AdvertisingData.FLAGS, b"\x06"),
        (AdvertisingData.COMPLETE_LOCAL_NAME, PHONE_NAME.encode()),
        (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, UUID(OPEN_SVC).to_bytes()),
        (AdvertisingData.SERVICE_DATA_16_BIT_UUID, struct.pack("<H", 0xFEAA) + b"\x01\x02"),
        (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, struct.pack("<H", 0x05F1) + b"gb"),
    ]))
    delegate = PhoneDelegate(phone)
    config = PairingConfig(sc=True, mitm=True, bonding=True, delegate=delegate)
    device.pairing_config_factory = lambda connection: config
    return phone


class RecordingAgent(ServiceInterface):
    """An org.bluez.Agent1 on its own bus connection: numeric comparison answered by `accept`."""

    def __init__(self) -> None:
        super().__init__("org.bluez.Agent1")
        self.confirmations: list[tuple[str, int]] = []
        self.accept = True
        self.refusal = "org.bluez.Error.Rejected"
        self.released = asyncio.Event()
        self.cancelled = 0
        self.hold: asyncio.Event | None = None  # when set, RequestConfirmation waits for it

    @method()
    async def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32):
        self.confirmations.append((device, passkey))
        if self.hold is not None:
            await self.hold.wait()
        if not self.accept:
            raise DBusError(self.refusal, "refused by the test agent")

    @method()
    def Release(self):  # type: ignore[no-untyped-def]  # no "-> None": dbus-fast would read it as a reply signature
        self.released.set()

    @method()
    def Cancel(self):  # type: ignore[no-untyped-def]  # no "-> None": dbus-fast would read it as a reply signature
        self.cancelled += 1


AGENT_PATH = "/test/agent"


@asynccontextmanager
async def agent_on_bus(
    address: str, capability: str = "DisplayYesNo", *, default: bool = True
) -> AsyncIterator[tuple[RecordingAgent, MessageBus]]:
    """A RecordingAgent registered (and by default made the default agent) from its own bus connection."""
    bus = await MessageBus(bus_address=address).connect()
    agent = RecordingAgent()
    bus.export(AGENT_PATH, agent)
    manager = (await bus.introspect("org.bluez", "/org/bluez"))
    proxy = bus.get_proxy_object("org.bluez", "/org/bluez", manager).get_interface("org.bluez.AgentManager1")
    await proxy.call_register_agent(AGENT_PATH, capability)  # type: ignore[attr-defined]
    if default:
        await proxy.call_request_default_agent(AGENT_PATH)  # type: ignore[attr-defined]
    try:
        yield agent, bus
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


@dataclass
class Rig:
    link: LocalLink
    glasses: Device
    phone: Phone
    svc: BluezService
    bus_address: str
    state_dir: Path

    async def restart_bluez(self) -> None:
        """A new BluezService (and a new glasses host on the same link, as after a reboot) on the same state_dir."""
        await self.svc.stop()
        await self.glasses.power_off()
        self.glasses = bumble_device(self.link, "glasses", GLASSES_ADDRESS, GLASSES_PUBLIC)
        self.svc = BluezService(self.glasses, state_dir=self.state_dir, bus_address=self.bus_address)
        await self.svc.start()


@asynccontextmanager
async def rig(bus_address: str, state_dir: Path, *, mtu: int = 517, private: bool = False) -> AsyncIterator[Rig]:
    link = LocalLink()
    glasses = bumble_device(link, "glasses", GLASSES_ADDRESS, GLASSES_PUBLIC)
    phone = make_phone(link, mtu=mtu, private=private)
    await phone.device.power_on()
    await phone.advertise()
    svc = BluezService(glasses, state_dir=state_dir, bus_address=bus_address, connect_timeout=5.0)
    await svc.start()
    r = Rig(link, glasses, phone, svc, bus_address, state_dir)
    try:
        yield r
    finally:
        await r.svc.stop()
        await phone.device.power_off()


@pytest.fixture(scope="module")
def bus() -> Iterator[PrivateBus]:
    """A private dbus-daemon for the module, as DBUS_SYSTEM_BUS_ADDRESS (bleak finds "the system bus" there)."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian: apt-get install dbus-daemon)")
    old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    with PrivateBus() as b:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = b.address
        try:
            yield b
        finally:
            if old is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old


async def close_bleak_manager() -> None:
    """Close the bus of bleak's per-loop BlueZ manager before the loop ends (bleak would only drop it lazily,
    leaving an unclosed socket for the garbage collector to complain about during a later test)."""
    from bleak.backends.bluezdbus import manager as bleak_manager

    instance = bleak_manager._global_instances.pop(asyncio.get_running_loop(), None)
    bus = instance._bus if instance is not None else None
    if bus is not None:
        bus.disconnect()
        await bus.wait_for_disconnect()
