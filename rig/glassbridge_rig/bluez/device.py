"""org.bluez.Device1: one remote LE device on D-Bus, and its connection, as bluetoothd's src/device.c runs them.

The device's two other parts are apart, as bluetoothd keeps them apart from the btd_device: its GATT client
(gatt_client.py: the remote database, the cache, Service Changed, the GATT objects and their requests, bluetoothd's
src/shared/gatt-client.c and the gatt_db parts of src/device.c) and its security (security.py: the bond, SMP
pairing through an agent, security raised by the stack: the bonding and authentication requests of src/device.c).
This module is the D-Bus face (the Device1 properties and methods) and the link under it; it drives the other
two and signals what they change.

Connect (dev_connect, with the kernel's part done by bumble on the adapter's controller):
    LE connection -> Connected=true -> (bonded: encrypt with the stored LTK; the peer has no key -> the link is
    dropped and Connect fails with "le-connection-key-missing") -> ATT MTU exchange asking 517 -> the remote
    database resolved (gatt_client.py) -> ServicesResolved=true -> reply. A failure after the link is up drops
    it (BlueZ disconnects a device whose GATT browsing failed).
Pair (pair_device): InProgress while a Connect/Pair runs; AlreadyExists when bonded; connects first if needed
    (and drops that link again if pairing fails); then SMP (security.py: agent, IO capability, the errors as
    new_authentication_return() maps them, and ConnectionAttemptFailed here when the link could not be made).
    On success: Paired/Bonded=true, and when the peer distributed its identity (IRK + identity address) the
    Address and AddressType properties become the identity address (the object path stays), then services are
    resolved.
Disconnection: every GATT object is removed, ServicesResolved and Connected become false.

Not modelled: BR/EDR, auto-connect of bonded devices, temporary-device expiry after discovery, Appearance,
Icon, Class, ConnectProfile/DisconnectProfile.

The service is reached through `DeviceHost` (no import of service.py), so that service.py, which makes the
devices, is the only one of the two to import the other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol, TypeVar

from bumble import att, core, hci
from bumble.device import Connection
from bumble.gatt_client import Client
from bumble.keys import PairingKeys
from dbus_fast import Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method
from glassbridge_rig.bluez.dbustypes import (
    DBusBool,
    DBusDict,
    DBusInt16,
    DBusManufacturerData,
    DBusObjectPath,
    DBusStr,
    DBusStrList,
)

from glassbridge_rig.bluez.agent import AgentManager
from glassbridge_rig.bluez.errors import BluezError, auth_error, le_connect_error
from glassbridge_rig.bluez.gatt_client import GattClient, GattHost
from glassbridge_rig.bluez.naming import address_str, address_type_str, advertising_properties
from glassbridge_rig.bluez.security import DeviceSecurity

if TYPE_CHECKING:
    from bumble.device import Device

__all__ = ["REQUESTED_MTU", "BluezDevice", "DeviceHost"]

log = logging.getLogger(__name__)

#: BlueZ's default GATT MTU (main.conf [GATT] ExchangeMTU = 517).
REQUESTED_MTU = 517
_T = TypeVar("_T")


class DeviceHost(GattHost, Protocol):
    """What a device needs of the service it belongs to (service.py's BluezService)."""

    @property
    def adapter_path(self) -> str: ...

    @property
    def device(self) -> Device:
        """The adapter: a bumble Device in the central role."""

    @property
    def agents(self) -> AgentManager: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def own_address_type(self) -> hci.OwnAddressType: ...

    def sender_of(self, path: str, member: str) -> str | None: ...

    def save_info(self, dev: BluezDevice) -> None: ...

    def identity_known(self, dev: BluezDevice, identity: hci.Address) -> None: ...

    def connection_attached(self, dev: BluezDevice, conn: Connection) -> None: ...

    def connection_detached(self, dev: BluezDevice, conn: Connection) -> None: ...


class BluezDevice(ServiceInterface):
    """One org.bluez.Device1 object and the state behind it."""

    def __init__(self, service: DeviceHost, path: str, address: hci.Address) -> None:
        super().__init__("org.bluez.Device1")
        self.service = service
        self.path = path
        self.address = address  # what Address shows: the identity once known
        self.le_address: hci.Address | None = None  # the last address heard on air (an RPA for private peers)
        self.remote_name: str | None = None
        self.alias: str | None = None
        self.rssi: int | None = None
        self.tx_power: int | None = None
        self.adv_uuids: list[str] = []
        self.service_data: dict[str, Variant] = {}
        self.manufacturer_data: dict[int, Variant] = {}
        self.trusted = False
        self.connection: Connection | None = None
        self.mtu = 23
        self.operation: str | None = None  # "connect" or "pair" while one runs
        self.security = DeviceSecurity(self, service.device, service.agents)
        self.gatt = GattClient(self, service, self.security)
        self._connect_task: asyncio.Future[Connection] | None = None
        self._disconnected: asyncio.Event = asyncio.Event()
        self._disconnected.set()

    # ------------------------------------------------------------------ properties
    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return address_str(self.address)

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return address_type_str(self.address)

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        # BlueZ omits Name while unknown; dbus-fast cannot omit one object's property, so it is "" then
        # (bleak derives the name from Alias, which follows BlueZ).
        return self.remote_name or ""

    @dbus_property()
    def Alias(self) -> DBusStr:
        return self.shown_alias

    @Alias.setter  # type: ignore[no-redef]
    def Alias(self, value: DBusStr) -> None:
        self.alias = value or None  # "" resets to the remote name, as in BlueZ
        self.emit_properties_changed({"Alias": self.shown_alias})

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return self.service.adapter_path

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return self.security.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self.security.bonded

    @dbus_property()
    def Trusted(self) -> DBusBool:
        return self.trusted

    @Trusted.setter  # type: ignore[no-redef]
    def Trusted(self, value: DBusBool) -> None:
        if bool(value) != self.trusted:
            self.trusted = bool(value)
            self.service.save_info(self)
            self.emit_properties_changed({"Trusted": self.trusted})

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self.rssi if self.rssi is not None else -127  # BlueZ omits it when unknown; 127 = unavailable

    @dbus_property(access=PropertyAccess.READ)
    def TxPower(self) -> DBusInt16:
        return self.tx_power if self.tx_power is not None else 127

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self.gatt.resolved

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return self.uuids

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> DBusManufacturerData:
        return self.manufacturer_data

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:
        return self.service_data

    # ------------------------------------------------------------------ state helpers
    @property
    def shown_alias(self) -> str:
        """Alias as BlueZ shows it: set alias, else the remote name, else the address with dashes."""
        return self.alias or self.remote_name or address_str(self.address).replace(":", "-")

    @property
    def connected(self) -> bool:
        return self.connection is not None

    @property
    def services_resolved(self) -> bool:
        return self.gatt.resolved

    @property
    def uuids(self) -> list[str]:
        return list(dict.fromkeys(self.adv_uuids + self.gatt.uuids))

    def require_connected(self) -> Connection:
        if self.connection is None:
            raise BluezError("Failed", "Not connected")
        return self.connection

    def gatt_client(self) -> Client:
        return self.require_connected().gatt_client

    async def gatt_request(self, factory: Callable[[], Awaitable[_T]]) -> _T:
        """One ATT request of a GATT object: security raised and the request retried once, errors mapped."""
        return await self.gatt.request(factory)

    def sender_of(self, path: str, member: str) -> str | None:
        """The unique name of the last caller of `member` on `path` (service.py records it)."""
        return self.service.sender_of(path, member)

    def update_from_advertisement(self, raw: hci.Address, rssi: int, ad: core.AdvertisingData) -> None:
        """A report heard while discovering: remember where the device is, update the advertised properties.

        RSSI is signalled on every report (DuplicateData=false, the delta threshold 0), other properties when
        they change, as BlueZ's device_set_rssi_with_delta / device_add_eir_uuids do.
        """
        self.le_address = raw
        changed: dict[str, Any] = {}
        props = advertising_properties(ad)
        if "Name" in props and props["Name"] != self.remote_name:
            self.remote_name = props["Name"]
            changed["Name"] = self.remote_name
            if self.alias is None:
                changed["Alias"] = self.remote_name
        if "UUIDs" in props:
            new = [u for u in props["UUIDs"] if u not in self.adv_uuids]
            if new:
                self.adv_uuids += new
                changed["UUIDs"] = self.uuids
        if "ServiceData" in props and _variant_dict_differs(props["ServiceData"], self.service_data):
            self.service_data = {**self.service_data, **props["ServiceData"]}
            changed["ServiceData"] = self.service_data
        if "ManufacturerData" in props and _variant_dict_differs(props["ManufacturerData"], self.manufacturer_data):
            self.manufacturer_data = {**self.manufacturer_data, **props["ManufacturerData"]}
            changed["ManufacturerData"] = self.manufacturer_data
        if "TxPower" in props and props["TxPower"] != self.tx_power:
            self.tx_power = props["TxPower"]
            changed["TxPower"] = self.tx_power
        self.rssi = rssi
        changed["RSSI"] = rssi
        self.emit_properties_changed(changed)

    def clear_rssi(self) -> None:
        """Discovery stopped: the RSSI is no longer known."""
        if self.rssi is not None:
            self.rssi = None
            self.emit_properties_changed({}, ["RSSI"])

    def set_bond(self, identity: hci.Address, keys: PairingKeys, *, announce: bool = True) -> None:
        """Known bond (restored at start or just made): identity address, Paired/Bonded, key strength."""
        paired, bonded = self.security.paired, self.security.bonded
        self.security.bond_known(identity, keys)
        changed: dict[str, Any] = {}
        if identity != self.address:
            self.address = identity
            changed["Address"] = address_str(identity)
            changed["AddressType"] = address_type_str(identity)
        if not paired:
            changed["Paired"] = True
        if not bonded:
            changed["Bonded"] = True
        if announce and changed:
            self.emit_properties_changed(changed)

    def on_paired(self, identity: hci.Address, keys: PairingKeys) -> None:
        """SMP finished with keys (bumble stored them under `identity`)."""
        self.set_bond(identity, keys)
        self.service.identity_known(self, identity)
        self.service.save_info(self)
        if self.gatt.resolved:  # bonded while connected: the database resolved so far is cached now
            self.gatt.store_cache()

    def gatt_uuids_changed(self) -> None:
        self.emit_properties_changed({"UUIDs": self.uuids})

    # ------------------------------------------------------------------ Device1 methods
    @method()
    async def Connect(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self.operation is not None:
            raise BluezError("InProgress", "In Progress")
        if self.connected and self.services_resolved:
            raise BluezError("AlreadyConnected", "Already Connected")
        self.operation = "connect"
        try:
            if not self.connected:
                await self._establish()
            elif not self.services_resolved:
                await self._resolve_services()
        finally:
            self.operation = None

    @method()
    async def Disconnect(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()  # Disconnect cancels a pending Connect, as in BlueZ
        await self.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    @method()
    async def Pair(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        sender = self.service.sender_of(self.path, "Pair")
        if self.operation is not None or self.security.pairing:
            raise BluezError("InProgress", "In Progress")
        if self.security.bonded:
            raise BluezError("AlreadyExists", "Already Exists")
        agent = self.service.agents.for_sender(sender)
        self.operation = "pair"
        self.security.cancel_requested = False
        created = False
        try:
            if not self.connected:
                try:
                    await self._link_up(encrypt=False)
                except BluezError as exc:
                    if self.security.cancel_requested:
                        raise auth_error("canceled") from exc
                    raise auth_error("connect-failed") from exc
                created = True
            try:
                await self.security.pair(agent)
            except BluezError:
                if created and self.connected:
                    await self.drop(hci.HCI_AUTHENTICATION_FAILURE_ERROR)
                raise
            if not self.services_resolved:
                await self._resolve_services()
        finally:
            self.operation = None

    @method()
    async def CancelPairing(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self.operation != "pair":
            raise BluezError("DoesNotExist", "Does Not Exist")
        if self.security.cancel():
            return
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()

    # ------------------------------------------------------------------ connection
    async def _establish(self) -> None:
        """Connect: link, encryption when bonded, MTU, services; a failure after the link is up drops it
        (BlueZ disconnects a device whose GATT browsing failed)."""
        await self._link_up(encrypt=self.security.bonded)
        try:
            await self._resolve_services()
        except BaseException:
            await self.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
            raise

    async def _link_up(self, *, encrypt: bool) -> None:
        # A bonded peer with an IRK may have rotated its RPA since it was last heard: connect by identity, which
        # bumble resolves by scanning with the IRK (BlueZ puts the IRK in the controller's resolving list).
        if self.security.identity is not None and self.security.has_irk:
            target = self.security.identity
        else:
            target = self.le_address or self.address
        dev = self.service.device
        self._connect_task = asyncio.ensure_future(
            asyncio.wait_for(
                dev.connect(target, transport=core.PhysicalTransport.LE,
                            own_address_type=self.service.own_address_type),
                self.service.connect_timeout,
            )
        )
        try:
            conn = await self._connect_task
        except core.ConnectionError as exc:
            raise le_connect_error(exc.error_code) from exc
        except (asyncio.TimeoutError, core.TimeoutError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and not self._connect_task.cancelled():
                raise
            await self._cancel_pending_connection()
            raise le_connect_error(None) from exc
        except hci.HCI_Error as exc:
            raise le_connect_error(exc.error_code) from exc
        except core.InvalidStateError as exc:  # bumble makes one LE connection at a time
            raise BluezError("Failed", "le-connection-busy") from exc
        finally:
            self._connect_task = None
        self._attach(conn)
        try:
            if encrypt:
                try:
                    await dev.encrypt(conn)
                except hci.HCI_Error as exc:
                    log.warning("%s: encryption with the stored key failed (%s): the peer has no bond for us "
                                "(it forgot it, or it is an impostor)", self.path, exc)
                    await self.drop(hci.HCI_AUTHENTICATION_FAILURE_ERROR)
                    raise le_connect_error(exc.error_code) from exc
            try:
                self.mtu = await conn.gatt_client.request_mtu(REQUESTED_MTU)
            except att.ATT_Error as exc:  # a peer without Exchange MTU: BlueZ goes on with the default 23
                log.info("%s: MTU exchange refused (%s): ATT_MTU stays 23", self.path, exc)
        except BluezError:
            raise
        except (asyncio.CancelledError, core.BaseBumbleError) as exc:
            if self.connection is None:
                raise le_connect_error(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR) from exc
            if isinstance(exc, asyncio.CancelledError):
                raise
            await self.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
            raise le_connect_error(None if isinstance(exc, core.TimeoutError) else -1) from exc

    async def _cancel_pending_connection(self) -> None:
        try:
            if self.service.device.is_le_connecting:
                await self.service.device.cancel_connection()  # type: ignore[no-untyped-call]
        except Exception as exc:  # already gone
            log.debug("cancel_connection: %s", exc)

    def _attach(self, conn: Connection) -> None:
        self.connection = conn
        self._disconnected.clear()
        conn.on(conn.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(conn, reason))
        conn.on(conn.EVENT_SECURITY_REQUEST, lambda auth_req: self.security.on_security_request(conn))
        self.service.connection_attached(self, conn)
        self.emit_properties_changed({"Connected": True})

    async def _resolve_services(self) -> None:
        """The remote database (gatt_client.py), then ServicesResolved."""
        await self.gatt.resolve()
        self.emit_properties_changed({"UUIDs": self.uuids, "ServicesResolved": True})

    def _on_disconnection(self, conn: Connection, reason: int) -> None:
        if self.connection is not conn:
            return
        log.info("%s disconnected (reason 0x%02x)", self.path, reason)
        self.connection = None
        resolved = self.gatt.detach()
        self.mtu = 23
        changed: dict[str, Any] = {"Connected": False}
        if resolved:
            changed = {"ServicesResolved": False, "Connected": False}
        self.emit_properties_changed(changed)
        self._disconnected.set()
        self.service.connection_detached(self, conn)

    def abort_pending(self) -> None:
        """The service stops: end a pending connection attempt and agent request."""
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        self.security.abort()

    async def drop(self, reason: int) -> None:
        """Disconnect (if connected) and wait until the disconnection has been processed."""
        conn = self.connection
        if conn is None:
            return
        try:
            await conn.disconnect(reason)
        except Exception as exc:  # the link may already be going away
            log.debug("disconnect: %s", exc)
        try:
            await asyncio.wait_for(self._disconnected.wait(), 5.0)
        except asyncio.TimeoutError:
            self._on_disconnection(conn, hci.HCI_CONNECTION_TIMEOUT_ERROR)


def _variant_dict_differs(new: dict[Any, Variant], old: dict[Any, Variant]) -> bool:
    return any(k not in old or old[k].value != v.value for k, v in new.items())

