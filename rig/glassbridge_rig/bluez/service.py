"""BluezService: org.bluez on a D-Bus bus, driven by a bumble Device, for clients that speak BlueZ (bleak).

    svc = BluezService(device, state_dir=path)       # device: a bumble Device (central) on any controller
    await svc.start()                                  # connects to DBUS_SYSTEM_BUS_ADDRESS, owns org.bluez
    ...                                                # bleak / agents use it as they would use bluetoothd
    await svc.stop()

Objects: "/" ObjectManager (dbus-fast answers GetManagedObjects for any path and signals InterfacesAdded/
Removed on export/unexport), /org/bluez AgentManager1, <adapter_path> Adapter1, Device1 under it, and GATT
objects under connected devices. Everything runs on the event loop that calls start(): run the service in the
same loop as the bumble device (and, in tests, as bleak: all traffic goes through the dbus-daemon's socket).

dbus-fast hides a method call's sender from the method, but BlueZ scopes agents, discovery and notify sessions
by sender; a message filter records the sender of each call before dispatch (`sender_of`) and answers
AgentManager1 itself. It also answers AcquireWrite/AcquireNotify, whose unix fd must be closed on our side once
the reply is written (dbus-fast would keep it open, and the client closing its copy would never hang up).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.device import Advertisement, Connection, Device
from bumble.keys import PairingKeys
from bumble.pairing import PairingConfig
from dbus_fast import BusType, DBusError, Message, MessageType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface

from glassbridge_rig.bluez.adapter import AdapterInterface
from glassbridge_rig.bluez.agent import AGENT_MANAGER_IFACE, AgentDelegate, AgentManager, AgentManagerInterface
from glassbridge_rig.bluez.cache import GattCache
from glassbridge_rig.bluez.device import BluezDevice
from glassbridge_rig.bluez.errors import BluezError
from glassbridge_rig.bluez.gatt import CharacteristicInterface
from glassbridge_rig.bluez.naming import address_str, device_path
from glassbridge_rig.bluez.store import DeviceInfo, DeviceStore

__all__ = ["BUS_NAME", "BluezService"]

log = logging.getLogger(__name__)

BUS_NAME = "org.bluez"


class BluezService:
    """The BlueZ-compatible D-Bus service of one adapter (a bumble Device in the central role).

    `state_dir`: where bonds and device settings persist (store.py). `bus_address`: the bus to use (default:
    DBUS_SYSTEM_BUS_ADDRESS). `connect_timeout`: how long Connect/Pair wait for the LE link (s).
    `agent_timeout`: how long an agent may take to answer (BlueZ: 60 s).
    """

    def __init__(
        self,
        device: Device,
        *,
        state_dir: str | os.PathLike[str],
        adapter_path: str = "/org/bluez/hci0",
        bus_address: str | None = None,
        connect_timeout: float = 10.0,
        agent_timeout: float = 60.0,
    ) -> None:
        self.device = device
        self.state_dir = Path(state_dir)
        self.adapter_path = adapter_path
        self.bus_address = bus_address
        self.connect_timeout = connect_timeout
        self.bus: MessageBus | None = None
        self.agents = AgentManager(lambda: self.bus, agent_timeout)
        self.adapter = AdapterInterface(self)
        self.store: DeviceStore | None = None
        self.gatt_cache: GattCache | None = None
        self.devices: dict[str, BluezDevice] = {}  # by object path
        self._by_address: dict[str, BluezDevice] = {}  # by identity (bonded) or on-air address string
        self._by_handle: dict[int, BluezDevice] = {}
        self._senders: dict[tuple[str, str], str] = {}
        self._chars: dict[str, CharacteristicInterface] = {}
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def adapter_address(self) -> hci.Address:
        """The address the adapter connects from and gives as its SMP identity: its static random address if
        it has one, else its public one. The two must agree: a peer stores our keys under the identity we
        distribute and looks them up by the address we connect from."""
        if self.device.static_address not in (hci.Address.ANY_RANDOM, hci.Address.ANY):
            return self.device.static_address
        return self.device.public_address

    @property
    def own_address_type(self) -> hci.OwnAddressType:
        """What LE Create Connection uses as our address (matching adapter_address)."""
        if self.adapter_address.is_public:
            return hci.OwnAddressType.PUBLIC
        return hci.OwnAddressType.RANDOM

    async def start(self) -> None:
        """Power the device if needed, load bonds, connect to the bus, export the objects, own org.bluez."""
        if self._started:
            return
        if not self.device.powered_on:
            await self.device.power_on()
        self.store = DeviceStore(self.state_dir, address_str(self.adapter_address))
        self.device.keystore = self.store.keystore
        self.gatt_cache = GattCache(self.state_dir)
        await self.device.refresh_resolving_list()
        self.device.pairing_config_factory = self._pairing_config
        self.device.on("advertisement", self._on_advertisement)
        address = self.bus_address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        kwargs: dict[str, Any] = {"negotiate_unix_fd": True}
        if address:
            kwargs["bus_address"] = address
        else:
            kwargs["bus_type"] = BusType.SYSTEM
        bus = MessageBus(**kwargs)
        try:
            try:
                await bus.connect()
            except OSError as exc:
                raise ConnectionError(
                    f"cannot connect to the D-Bus bus {address or '(system bus)'}: {exc}; start a private bus "
                    "(glassbridge_rig.dbus.PrivateBus) and pass its address or set DBUS_SYSTEM_BUS_ADDRESS"
                ) from exc
            self.bus = bus
            bus.add_message_handler(self._filter)
            await self._add_match(
                "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                "member='NameOwnerChanged'"
            )
            bus.export("/org/bluez", AgentManagerInterface())
            bus.export(self.adapter_path, self.adapter)
            for bond in await self.store.bonds():
                self._restore(bond.identity, bond.keys)
            reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
            if reply != RequestNameReply.PRIMARY_OWNER:
                raise RuntimeError(f"cannot own {BUS_NAME} on {address or 'the system bus'} ({reply.name}): "
                                   "another BlueZ (or BluezService) runs there; stop it first")
        except BaseException:
            self.bus = None
            bus.disconnect()
            self.device.remove_listener("advertisement", self._on_advertisement)
            raise
        self._started = True
        log.info("org.bluez up on %s (adapter %s, %d bonded devices)", address, self.adapter_address,
                 len(self.devices))

    async def stop(self) -> None:
        """Disconnect every device, stop scanning, release agents and the bus name. Idempotent."""
        if not self._started:
            return
        self._started = False
        for dev in list(self.devices.values()):
            dev.abort_pending()
            await dev.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        for _ in range(3):  # let the failed calls' replies go out while the bus is still there
            await asyncio.sleep(0)
        if self.adapter.sessions:
            self.adapter.sessions.clear()
            await self.scanning(False)
        self.agents.release_all()
        self.device.remove_listener("advertisement", self._on_advertisement)
        bus, self.bus = self.bus, None
        if bus is not None:
            try:
                await bus.release_name(BUS_NAME)
            except Exception as exc:  # the bus may be gone already
                log.debug("release_name: %s", exc)
            bus.disconnect()
            try:
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
            except Exception as exc:  # already broken: nothing left to close
                log.debug("wait_for_disconnect: %s", exc)
        self.devices.clear()
        self._by_address.clear()
        self._by_handle.clear()

    async def __aenter__(self) -> BluezService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ bus plumbing
    async def _add_match(self, rule: str) -> None:
        assert self.bus is not None
        reply = await self.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                            interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                                            body=[rule]))
        if reply is None or reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"AddMatch {rule!r} failed: {reply.body if reply else 'no reply'}")

    def export(self, path: str, iface: ServiceInterface) -> None:
        if isinstance(iface, CharacteristicInterface):
            self._chars[path] = iface
        if self.bus is not None:
            self.bus.export(path, iface)

    def unexport(self, path: str) -> None:
        self._chars.pop(path, None)
        for key in [k for k in self._senders if k[0] == path]:
            del self._senders[key]
        if self.bus is not None:
            self.bus.unexport(path)

    def sender_of(self, path: str, member: str) -> str | None:
        """The unique name of the last caller of `member` on `path` (recorded before dispatch)."""
        return self._senders.get((path, member))

    def _filter(self, msg: Message) -> Message | bool | None:
        if msg.message_type == MessageType.METHOD_CALL:
            if msg.sender and msg.path and msg.member:
                self._senders[(msg.path, msg.member)] = msg.sender
            if msg.path == "/org/bluez" and msg.interface == AGENT_MANAGER_IFACE:
                return self._agent_manager_call(msg)
            if msg.interface == "org.bluez.GattCharacteristic1" and msg.member in ("AcquireWrite", "AcquireNotify"):
                char = self._chars.get(msg.path or "")
                if char is not None:
                    asyncio.ensure_future(self._acquire(char, msg))
                    return True
            return None
        if (msg.message_type == MessageType.SIGNAL and msg.member == "NameOwnerChanged"
                and msg.sender == "org.freedesktop.DBus" and len(msg.body) == 3 and not msg.body[2]):
            self._client_gone(msg.body[0])
        return None

    async def _acquire(self, char: CharacteristicInterface, msg: Message) -> None:
        """Answer AcquireWrite/AcquireNotify with a unix fd, and close our copy once it has been sent."""
        bus = self.bus
        if bus is None:
            return
        try:
            sock, mtu = await char.acquire(msg.member or "")
        except DBusError as exc:
            await bus.send(Message.new_error(msg, exc.type, exc.text))
            return
        except Exception as exc:  # report, never leave the caller waiting
            log.exception("%s %s failed", msg.path, msg.member)
            await bus.send(Message.new_error(msg, "org.bluez.Error.Failed", str(exc)))
            return
        try:
            await bus.send(Message.new_method_return(msg, "hq", [0, mtu], unix_fds=[sock.fileno()]))
        finally:
            sock.close()

    def _agent_manager_call(self, msg: Message) -> Message:
        sender = msg.sender or ""
        body = list(msg.body)
        if msg.member == "RegisterAgent" and msg.signature == "os":
            self.agents.register(sender, body[0], body[1])
        elif msg.member == "UnregisterAgent" and msg.signature == "o":
            self.agents.unregister(sender, body[0])
        elif msg.member == "RequestDefaultAgent" and msg.signature == "o":
            self.agents.request_default(sender, body[0])
        else:
            raise DBusError("org.freedesktop.DBus.Error.UnknownMethod",
                            f"{msg.member}({msg.signature}) is not a method of {AGENT_MANAGER_IFACE}")
        return Message.new_method_return(msg)

    def _client_gone(self, name: str) -> None:
        """A D-Bus client left: its agent, discovery session and notify sessions end (BlueZ's disconnect watches)."""
        self.agents.owner_gone(name)
        if name in self.adapter.sessions:
            asyncio.ensure_future(self.adapter.end_session(name))
        for dev in self.devices.values():
            for ci in dev.gatt.char_interfaces():
                ci.end_session(name)

    # ------------------------------------------------------------------ discovery
    async def scanning(self, on: bool) -> None:
        if on:
            if not self.device.is_scanning:
                await self.device.start_scanning(active=True, filter_duplicates=False)
        else:
            if self.device.is_scanning:
                await self.device.stop_scanning()
            for dev in self.devices.values():
                dev.clear_rssi()

    def _on_advertisement(self, adv: Advertisement) -> None:
        if not self.adapter.discovering or self.bus is None:
            return
        try:
            raw = adv.address
            shown = raw
            if raw.is_resolvable and self.device.address_resolver is not None:
                resolved = self.device.address_resolver.resolve(raw)
                if resolved is not None:
                    shown = resolved
            dev = self._by_address.get(address_str(shown))
            if dev is None:
                dev = BluezDevice(self, device_path(self.adapter_path, address_str(shown)), shown)
                if dev.path in self.devices:  # an old object at this path was re-keyed: reuse it
                    dev = self.devices[dev.path]
                else:
                    dev.le_address = raw
                    dev.update_from_advertisement(raw, adv.rssi, adv.data)
                    self._add_device(dev, shown)
                    return
            dev.update_from_advertisement(raw, adv.rssi, adv.data)
        except Exception:  # a bad report must not kill the scan
            log.exception("advertisement from %s could not be processed", adv.address)

    def _add_device(self, dev: BluezDevice, address: hci.Address) -> None:
        self.devices[dev.path] = dev
        self._by_address[address_str(address)] = dev
        self.export(dev.path, dev)

    def _restore(self, identity: hci.Address, keys: PairingKeys) -> None:
        dev = BluezDevice(self, device_path(self.adapter_path, address_str(identity)), identity)
        dev.set_bond(identity, keys, announce=False)
        assert self.store is not None
        info = self.store.info(identity)
        dev.remote_name = info.name or None
        dev.trusted = info.trusted
        self._add_device(dev, identity)

    # ------------------------------------------------------------- device bookkeeping (DeviceHost: device.py calls)
    def connection_attached(self, dev: BluezDevice, conn: Connection) -> None:
        self._by_handle[conn.handle] = dev
        conn.on(conn.EVENT_PAIRING, lambda keys: dev.on_paired(conn.peer_address, keys))

    def connection_detached(self, dev: BluezDevice, conn: Connection) -> None:
        if self._by_handle.get(conn.handle) is dev:
            del self._by_handle[conn.handle]

    def identity_known(self, dev: BluezDevice, identity: hci.Address) -> None:
        self._by_address[address_str(identity)] = dev

    def save_info(self, dev: BluezDevice) -> None:
        identity = dev.security.identity
        if self.store is not None and identity is not None:
            self.store.set_info(identity, DeviceInfo(name=dev.remote_name or "", trusted=dev.trusted))

    def _pairing_config(self, conn: Connection) -> PairingConfig:
        dev = self._by_handle.get(conn.handle)
        if dev is not None:
            delegate = dev.security.pairing_delegate()
        else:
            delegate = AgentDelegate(self.agents, self.agents.default(), "")
        identity_type = (PairingConfig.AddressType.PUBLIC if self.adapter_address.is_public
                         else PairingConfig.AddressType.RANDOM)
        return PairingConfig(sc=True, mitm=True, bonding=True, delegate=delegate,
                             identity_address_type=identity_type)

    async def remove_device(self, path: str) -> None:
        """Adapter1.RemoveDevice: disconnect, forget the bond and settings, remove the object."""
        dev = self.devices.get(path)
        if dev is None:
            raise BluezError("DoesNotExist", "Does Not Exist")
        await dev.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        assert self.store is not None
        for addr in {dev.security.identity, dev.address} - {None}:
            assert addr is not None
            await self.store.forget(addr)
            if self.gatt_cache is not None:
                self.gatt_cache.delete(addr)
        await self.device.refresh_resolving_list()
        del self.devices[path]
        for key in [k for k, v in self._by_address.items() if v is dev]:
            del self._by_address[key]
        self.unexport(path)
