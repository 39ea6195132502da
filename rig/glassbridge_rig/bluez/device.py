"""org.bluez.Device1: one remote LE device, its connection, pairing and security, as bluetoothd runs them.

Connect (src/device.c dev_connect, with the kernel's part done by bumble on the adapter's controller):
    LE connection -> Connected=true -> (bonded: encrypt with the stored LTK; the peer has no key -> the link is
    dropped and Connect fails with "le-connection-key-missing") -> ATT MTU exchange asking 517 -> the remote
    database: for a bonded device with a GATT cache (cache.py) whose database has a Database Hash
    characteristic, one read of the server's hash, and the cached database when it matches; otherwise primary
    service, characteristic and descriptor discovery, then a Database Hash read when the server has one (the
    cache of a bonded device is rewritten) -> Service Changed indications enabled (its CCCD written, on every
    connection, as gatt-client's register_service_changed) -> GATT objects exported -> ServicesResolved=true
    -> reply. A Service Changed indication rediscovers the primary services in its handle range, replaces
    their objects and rewrites the cache.
Pair (pair_device): InProgress while a Connect/Pair runs; AlreadyExists when bonded; connects first if needed
    (and drops that link again if pairing fails); SMP with the IO capability of the caller's agent, else the
    default agent, else NoInputNoOutput; LE Secure Connections, MITM and bonding requested; the outcome mapped
    as new_authentication_return() does (AuthenticationFailed for every SMP failure, AuthenticationCanceled
    for CancelPairing or a lost link, ConnectionAttemptFailed when the link could not be made). On success:
    Paired/Bonded=true, and when the peer distributed its identity (IRK + identity address) the Address and
    AddressType properties become the identity address (the object path stays), then services are resolved.
Security raised by the stack (gatt_request): a request answered with Insufficient Authentication/Encryption
    (or Encryption Key Size) raises security once - encrypt with the bond's key, or pair via the default agent
    when there is no bond (or the bond's key is not authenticated and authentication was asked) - and is
    retried once; a peer's SMP Security Request does the same.
Disconnection: every GATT object is removed, ServicesResolved and Connected become false. (bluetoothd keeps
    the objects of a device whose database it caches while it is disconnected; here they are exported again
    from the cache on the next Connect.)

Not modelled: BR/EDR, auto-connect of bonded devices, temporary-device expiry after discovery, Appearance,
Icon, Class, ConnectProfile/DisconnectProfile, the in-memory cache of unbonded devices ([GATT] Cache = always
keeps it while the device object lives: here an unbonded device is rediscovered on every connection), the
Client/Server Supported Features characteristics (robust caching, EATT) and Database Out Of Sync recovery.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from bumble import att, core, gatt, hci, smp
from bumble.device import Connection
from bumble.gatt_client import Client, ServiceProxy
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

from glassbridge_rig.bluez.agent import Agent, AgentDelegate
from glassbridge_rig.bluez.errors import BluezError, att_error, auth_error, le_connect_error
from glassbridge_rig.bluez.cache import DATABASE_HASH, SERVICE_CHANGED, find_characteristic, snapshot
from glassbridge_rig.bluez.gatt import CCCD_UUID, CharacteristicInterface, DescriptorInterface, ServiceInterface1
from glassbridge_rig.bluez.naming import address_str, address_type_str, advertising_properties, uuid_str

if TYPE_CHECKING:
    from glassbridge_rig.bluez.service import BluezService

__all__ = ["BluezDevice", "REQUESTED_MTU"]

log = logging.getLogger(__name__)

#: BlueZ's default GATT MTU (main.conf [GATT] ExchangeMTU = 517).
REQUESTED_MTU = 517
_SECURITY_ERRORS = (
    att.ErrorCode.INSUFFICIENT_AUTHENTICATION,
    att.ErrorCode.INSUFFICIENT_ENCRYPTION,
    att.ErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
)
_T = TypeVar("_T")


class BluezDevice(ServiceInterface):
    """One org.bluez.Device1 object and the state behind it."""

    def __init__(self, service: BluezService, path: str, address: hci.Address) -> None:
        super().__init__("org.bluez.Device1")
        self.service = service
        self.path = path
        self.address = address  # what Address shows: the identity once known
        self.le_address: hci.Address | None = None  # the last address heard on air (an RPA for private peers)
        self.identity: hci.Address | None = None
        self.remote_name: str | None = None
        self.alias: str | None = None
        self.rssi: int | None = None
        self.tx_power: int | None = None
        self.adv_uuids: list[str] = []
        self.gatt_uuids: list[str] = []
        self.service_data: dict[str, Variant] = {}
        self.manufacturer_data: dict[int, Variant] = {}
        self.paired = False
        self.bonded = False
        self.trusted = False
        self.key_authenticated = False
        self.has_irk = False
        self.connection: Connection | None = None
        self.services_resolved = False
        self.mtu = 23
        self._gatt: dict[int, list[tuple[str, ServiceInterface]]] = {}  # exported objects by service handle
        self._services: list[ServiceProxy] = []  # the resolved database of the current connection
        self._db_hash: bytes | None = None
        self._sc_lock = asyncio.Lock()
        self._sc_tasks: set[asyncio.Future[None]] = set()
        self._chars: list[CharacteristicInterface] = []
        self._op: str | None = None  # "connect" or "pair" while one runs
        self._connect_task: asyncio.Future[Connection] | None = None
        self._delegate: AgentDelegate | None = None
        self._pair_task: asyncio.Future[None] | None = None
        self._cancel_pairing = False
        self._security_lock = asyncio.Lock()
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
        return self.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self.bonded

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
        return self.services_resolved

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
    def uuids(self) -> list[str]:
        return list(dict.fromkeys(self.adv_uuids + self.gatt_uuids))

    def require_connected(self) -> Connection:
        if self.connection is None:
            raise BluezError("Failed", "Not connected")
        return self.connection

    def gatt_client(self) -> Client:
        return self.require_connected().gatt_client

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
        self.identity = identity
        self.has_irk = keys.irk is not None
        self.key_authenticated = bool(keys.ltk and keys.ltk.authenticated) or bool(
            keys.ltk_central and keys.ltk_central.authenticated
        )
        changed: dict[str, Any] = {}
        if identity != self.address:
            self.address = identity
            changed["Address"] = address_str(identity)
            changed["AddressType"] = address_type_str(identity)
        if not self.paired:
            self.paired = True
            changed["Paired"] = True
        if not self.bonded:
            self.bonded = True
            changed["Bonded"] = True
        if announce and changed:
            self.emit_properties_changed(changed)

    # ------------------------------------------------------------------ Device1 methods
    @method()
    async def Connect(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self._op is not None:
            raise BluezError("InProgress", "In Progress")
        if self.connected and self.services_resolved:
            raise BluezError("AlreadyConnected", "Already Connected")
        self._op = "connect"
        try:
            if not self.connected:
                await self._establish()
            elif not self.services_resolved:
                await self._resolve_services()
        finally:
            self._op = None

    @method()
    async def Disconnect(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()  # Disconnect cancels a pending Connect, as in BlueZ
        await self.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    @method()
    async def Pair(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        sender = self.service.sender_of(self.path, "Pair")
        if self._op is not None or self._pair_task is not None:
            raise BluezError("InProgress", "In Progress")
        if self.bonded:
            raise BluezError("AlreadyExists", "Already Exists")
        agent = self.service.agents.for_sender(sender)
        self._op = "pair"
        self._cancel_pairing = False
        created = False
        try:
            if not self.connected:
                try:
                    await self._link_up(encrypt=False)
                except BluezError as exc:
                    if self._cancel_pairing:
                        raise auth_error("canceled") from exc
                    raise auth_error("connect-failed") from exc
                created = True
            try:
                await self._pair(agent)
            except BluezError:
                if created and self.connected:
                    await self.drop(hci.HCI_AUTHENTICATION_FAILURE_ERROR)
                raise
            if not self.services_resolved:
                await self._resolve_services()
        finally:
            self._op = None

    @method()
    async def CancelPairing(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self._op != "pair":
            raise BluezError("DoesNotExist", "Does Not Exist")
        self._cancel_pairing = True
        if self._delegate is not None and self._delegate.cancel():
            return  # the agent is being asked: its refusal fails the SMP exchange
        if self._pair_task is not None and not self._pair_task.done() and self.connection is not None:
            session = self.service.device.smp_manager.sessions.get(self.connection.handle)
            if session is not None:
                session.send_pairing_failed(smp.ErrorCode.UNSPECIFIED_REASON)
                return
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()

    # ------------------------------------------------------------------ connection
    async def _establish(self) -> None:
        """Connect: link, encryption when bonded, MTU, services; a failure after the link is up drops it
        (BlueZ disconnects a device whose GATT browsing failed)."""
        await self._link_up(encrypt=self.bonded)
        try:
            await self._resolve_services()
        except BaseException:
            await self.drop(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
            raise

    async def _link_up(self, *, encrypt: bool) -> None:
        # A bonded peer with an IRK may have rotated its RPA since it was last heard: connect by identity, which
        # bumble resolves by scanning with the IRK (BlueZ puts the IRK in the controller's resolving list).
        if self.identity is not None and self.has_irk:
            target = self.identity
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
        conn.on(conn.EVENT_SECURITY_REQUEST, lambda auth_req: self._on_security_request(conn))
        self.service.connection_attached(self, conn)
        self.emit_properties_changed({"Connected": True})

    async def _resolve_services(self) -> None:
        """Resolve the remote database: from the GATT cache of a bonded device when the server's Database Hash
        still matches, else by discovery; then register for Service
        Changed and export the objects (cache.py describes bluetoothd's rules)."""
        conn = self.require_connected()
        client = conn.gatt_client
        cache = self.service.gatt_cache
        cached = cache.load(self.identity) if (cache is not None and self.bonded and self.identity) else None
        services: list[ServiceProxy] | None = None
        db_hash: bytes | None = None
        from_cache = False
        try:
            if cached is not None and cached.has_hash_characteristic:
                db_hash = await self._read_db_hash(client)
                if db_hash is not None and db_hash == cached.db_hash:
                    log.info("%s: DB Hash match: GATT database taken from the cache", self.path)
                    services = cached.proxies(client)
                    from_cache = True
                else:
                    log.info("%s: DB Hash differs from the cached one: rediscovering", self.path)
            if services is None:
                services = await self._discover(client, 0x0001, 0xFFFF)
                if db_hash is None and find_characteristic(services, DATABASE_HASH) is not None:
                    db_hash = await self._read_db_hash(client)
            await self._register_service_changed(conn, services)
        except att.ATT_Error as exc:
            raise BluezError("Failed", "le-connection-gatt-browsing") from exc
        except (asyncio.CancelledError, core.BaseBumbleError) as exc:
            if self.connection is None:
                raise le_connect_error(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR) from exc
            raise
        if self.connection is not conn:
            raise le_connect_error(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        self._services = sorted(services, key=lambda s: s.handle)
        self._db_hash = db_hash
        if not from_cache:
            self._store_cache()
        for svc in self._services:
            self._export_service(svc)
        self.gatt_uuids = [uuid_str(s.uuid) for s in self._services]
        self.services_resolved = True
        self.emit_properties_changed({"UUIDs": self.uuids, "ServicesResolved": True})

    async def _discover(self, client: Client, start: int, end: int) -> list[ServiceProxy]:
        """Primary services in [start, end] (Read By Group Type), their characteristics and descriptors."""
        services: list[ServiceProxy] = []
        handle = start
        while handle <= end:
            rsp = await client.send_request(att.ATT_Read_By_Group_Type_Request(
                starting_handle=handle, ending_handle=end,
                attribute_group_type=gatt.GATT_PRIMARY_SERVICE_ATTRIBUTE_TYPE))
            if rsp is None:
                break
            if rsp.op_code == att.Opcode.ATT_ERROR_RESPONSE:
                if rsp.error_code != att.ErrorCode.ATTRIBUTE_NOT_FOUND:
                    raise att.ATT_Error(rsp.error_code, message="primary service discovery failed")
                break
            if not rsp.attributes:
                break
            for attr_handle, end_group, value in rsp.attributes:
                if attr_handle < handle or end_group < attr_handle:
                    raise att.ATT_Error(att.ErrorCode.INVALID_HANDLE, message="bogus service handles")
                services.append(ServiceProxy(  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
                    client, attr_handle, end_group, core.UUID.from_bytes(value), True))
            last = rsp.attributes[-1][1]
            if last >= 0xFFFF:
                break
            handle = last + 1
        for svc in services:
            await client.discover_characteristics([], svc)
            for char in svc.characteristics:
                await client.discover_descriptors(char)
        return services

    async def _read_db_hash(self, client: Client) -> bytes | None:
        """The server's Database Hash (Read By Type 0x2B2A over the whole range); None when unreadable."""
        try:
            values = await client.read_characteristics_by_uuid(DATABASE_HASH, None)
        except att.ATT_Error as exc:
            log.info("%s: reading the Database Hash failed: %s", self.path, exc)
            return None
        if not values or len(values[0]) != 16:
            return None
        return bytes(values[0])

    async def _register_service_changed(self, conn: Connection, services: list[ServiceProxy]) -> None:
        """Enable Service Changed indications (BlueZ's register_service_changed, on every connection)."""
        sc = find_characteristic(services, SERVICE_CHANGED)
        if sc is None:
            return
        cccd = sc.get_descriptor(CCCD_UUID)
        if cccd is None:
            return
        client = conn.gatt_client
        client.indication_subscribers.setdefault(sc.handle, set()).add(
            lambda value: self._on_service_changed(conn, bytes(value)))
        try:
            await client.write_value(cccd.handle, struct.pack("<H", 0x0002), with_response=True)
        except att.ATT_Error as exc:  # BlueZ logs "Failed to register handler for Service Changed"
            log.warning("%s: enabling Service Changed indications failed: %s", self.path, exc)

    def _on_service_changed(self, conn: Connection, value: bytes) -> None:
        if len(value) != 4 or self.connection is not conn:
            return
        start, end = struct.unpack("<HH", value)
        if start > end:
            log.info("%s: Service Changed with invalid handles %04x-%04x", self.path, start, end)
            return
        log.info("%s: Service Changed %04x-%04x: rediscovering that range", self.path, start, end)
        task = asyncio.ensure_future(self._rediscover(conn, start, end))
        self._sc_tasks.add(task)
        task.add_done_callback(self._sc_tasks.discard)

    async def _rediscover(self, conn: Connection, start: int, end: int) -> None:
        """process_service_changed: replace the services in [start, end] with what the server has now."""
        async with self._sc_lock:
            if self.connection is not conn or not self.services_resolved:
                return
            client = conn.gatt_client
            try:
                found = await self._discover(client, start, end)
                hash_char = find_characteristic(
                    [s for s in self._services if not start <= s.handle <= end] + found, DATABASE_HASH)
                db_hash = await self._read_db_hash(client) if hash_char is not None else None
            except (att.ATT_Error, core.BaseBumbleError, asyncio.CancelledError) as exc:
                log.warning("%s: rediscovery after Service Changed failed: %s", self.path, exc)
                return
            if self.connection is not conn:
                return
            gone = [s for s in self._services if start <= s.handle <= end]
            for svc in gone:
                self._unexport_service(svc)
            self._services = sorted([s for s in self._services if s not in gone] + found, key=lambda s: s.handle)
            self._db_hash = db_hash
            self._store_cache()
            for svc in found:
                self._export_service(svc)
            uuids = [uuid_str(s.uuid) for s in self._services]
            if uuids != self.gatt_uuids:
                self.gatt_uuids = uuids
                self.emit_properties_changed({"UUIDs": self.uuids})

    def _store_cache(self) -> None:
        """Write the current database to the GATT cache (bonded devices only: store_gatt_db)."""
        cache = self.service.gatt_cache
        if cache is None or not self.bonded or self.identity is None:
            return
        cache.save(self.identity, snapshot(self._services, self._db_hash))

    def _export_service(self, svc: ServiceProxy) -> None:
        objs: list[tuple[str, ServiceInterface]] = []
        spath = f"{self.path}/service{svc.handle:04x}"
        self._add_gatt(objs, spath, ServiceInterface1(svc, self.path))
        for char in svc.characteristics:
            cpath = f"{spath}/char{char.handle - 1:04x}"  # the declaration handle, as BlueZ names it
            ci = CharacteristicInterface(self, char, spath, cpath)
            self._chars.append(ci)
            self._add_gatt(objs, cpath, ci)
            for desc in char.descriptors:
                self._add_gatt(objs, f"{cpath}/desc{desc.handle:04x}", DescriptorInterface(self, desc, cpath))
        self._gatt[svc.handle] = objs

    def _unexport_service(self, svc: ServiceProxy) -> None:
        for path, iface in reversed(self._gatt.pop(svc.handle, [])):
            if isinstance(iface, CharacteristicInterface):
                iface.release()
                if iface in self._chars:
                    self._chars.remove(iface)
            self.service.unexport(path)

    def _add_gatt(self, objs: list[tuple[str, ServiceInterface]], path: str, iface: ServiceInterface) -> None:
        self.service.export(path, iface)
        objs.append((path, iface))

    def _on_disconnection(self, conn: Connection, reason: int) -> None:
        if self.connection is not conn:
            return
        log.info("%s disconnected (reason 0x%02x)", self.path, reason)
        self.connection = None
        for ci in self._chars:
            ci.release()
        self._chars.clear()
        resolved = self.services_resolved
        self.services_resolved = False
        for handle in sorted(self._gatt, reverse=True):
            for path, _ in reversed(self._gatt[handle]):
                self.service.unexport(path)
        self._gatt.clear()
        self._services = []
        self._db_hash = None
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
        if self._delegate is not None:
            self._delegate.cancel()

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

    # ------------------------------------------------------------------ pairing and security
    async def _pair(self, agent: Agent | None) -> None:
        """SMP pairing on the current link with `agent` answering; raises the BlueZ error Pair would return."""
        conn = self.require_connected()
        self._delegate = AgentDelegate(self.service.agents, agent, self.path)
        self._pair_task = asyncio.ensure_future(self.service.device.pair(conn))
        try:
            await self._pair_task
        except asyncio.CancelledError as exc:
            raise auth_error("canceled") from exc
        except core.ProtocolError as exc:
            log.info("%s: pairing failed: %s", self.path, exc)
            raise auth_error("canceled" if self._cancel_pairing else "failed") from exc
        except core.BaseBumbleError as exc:
            raise auth_error("canceled" if self.connection is None else "failed") from exc
        finally:
            self._pair_task = None
            self._delegate = None
        if self.connection is not conn:
            raise auth_error("canceled")

    def pairing_delegate(self) -> AgentDelegate:
        """The delegate for an SMP session on this device's link (Pair's, else the default agent's)."""
        if self._delegate is not None:
            return self._delegate
        return AgentDelegate(self.service.agents, self.service.agents.default(), self.path)

    def on_paired(self, identity: hci.Address, keys: PairingKeys) -> None:
        """SMP finished with keys (bumble stored them under `identity`)."""
        self.set_bond(identity, keys)
        self.service.identity_known(self, identity)
        self.service.save_info(self)
        if self.services_resolved:  # bonded while connected: the database resolved so far is cached now
            self._store_cache()

    def _on_security_request(self, conn: Connection) -> None:
        # Pair is pairing already; a bonded Connect encrypts by itself before anything else.
        if self._op == "pair" or self._pair_task is not None or self.connection is not conn:
            return
        if self._op == "connect" and self.bonded:
            return
        asyncio.ensure_future(self._raise_security(att.ErrorCode.INSUFFICIENT_AUTHENTICATION))

    async def _raise_security(self, code: int) -> bool:
        """Raise the link's security one step for ATT error `code`; True when the request is worth retrying."""
        async with self._security_lock:
            conn = self.connection
            if conn is None:
                return False
            want_auth = code == att.ErrorCode.INSUFFICIENT_AUTHENTICATION
            try:
                if self.bonded and not conn.is_encrypted:
                    await self.service.device.encrypt(conn)
                    return True
                if not conn.is_encrypted or (want_auth and not self.key_authenticated):
                    await self._pair(self.service.agents.default())
                    return True
            except BluezError as exc:
                log.info("%s: raising security failed: %s", self.path, exc.text)
            except hci.HCI_Error as exc:
                log.warning("%s: encryption with the stored key failed (%s)", self.path, exc)
                await self.drop(hci.HCI_AUTHENTICATION_FAILURE_ERROR)
            return False

    async def gatt_request(self, factory: Callable[[], Awaitable[_T]]) -> _T:
        """Run one ATT request; on a security error raise security and retry once; map errors to BlueZ's."""
        self.require_connected()
        try:
            return await factory()
        except att.ATT_Error as exc:
            if exc.error_code in _SECURITY_ERRORS and await self._raise_security(exc.error_code):
                try:
                    return await factory()
                except att.ATT_Error as exc2:
                    raise att_error(exc2.error_code) from exc2
                except (asyncio.CancelledError, core.BaseBumbleError) as exc2:
                    raise BluezError("Failed", "Not connected") from exc2
            raise att_error(exc.error_code) from exc
        except (asyncio.CancelledError, core.BaseBumbleError, TimeoutError) as exc:
            if self.connection is None:
                raise BluezError("Failed", "Not connected") from exc
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise BluezError("Failed", f"Operation failed: {exc}") from exc

    def char_interfaces(self) -> list[CharacteristicInterface]:
        return list(self._chars)


def _variant_dict_differs(new: dict[Any, Variant], old: dict[Any, Variant]) -> bool:
    return any(k not in old or old[k].value != v.value for k, v in new.items())

