"""One device's GATT client: its remote database (discovery, the GATT cache, Service Changed), the objects that
show it on D-Bus, and the ATT requests those objects make.

bluetoothd splits this between src/shared/gatt-client.c (discovery, the Database Hash, Service Changed) and the
parts of src/device.c that keep a device's gatt_db (load_gatt_db/store_gatt_db) and hand it to src/gatt-client.c,
which exports it. Here:

Resolve (after the MTU exchange of Device1.Connect or Pair): for a bonded device with a GATT cache (cache.py)
    whose database has a Database Hash characteristic, one read of the server's hash, and the cached database
    when it matches; otherwise primary service, characteristic and descriptor discovery, then a Database Hash
    read when the server has one (the cache of a bonded device is rewritten) -> Service Changed indications
    enabled (its CCCD written, on every connection, as gatt-client's register_service_changed) -> GATT objects
    exported (gatt.py). A Service Changed indication rediscovers the primary services in its handle range,
    replaces their objects and rewrites the cache.
Requests (gatt_request): every ATT request of the exported objects; on Insufficient Authentication/Encryption the
    device's security (security.py) is raised and the request retried once; the remaining ATT errors are
    mapped to BlueZ's (errors.att_error).
Disconnection: every GATT object is removed. (bluetoothd keeps the objects of a device whose database it caches
    while it is disconnected; here they are exported again from the cache on the next Connect.)

Not modelled: the in-memory cache of unbonded devices ([GATT] Cache = always keeps it while the device object
lives: here an unbonded device is rediscovered on every connection), the Client/Server Supported Features
characteristics (robust caching, EATT) and Database Out Of Sync recovery.

Apart from the D-Bus face of the device (device.py), which decides when to resolve, and from the objects (gatt.py),
which this module creates. It knows its device only through `GattOwner` and the service through `GattHost`: no
import of device.py or service.py.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol, TypeVar

from bumble import att, core, gatt, hci
from bumble.gatt_client import Client, ServiceProxy

from glassbridge_rig.bluez.cache import DATABASE_HASH, SERVICE_CHANGED, GattCache, find_characteristic, snapshot
from glassbridge_rig.bluez.errors import BluezError, att_error, le_connect_error
from glassbridge_rig.bluez.gatt import (
    CCCD_UUID,
    CharacteristicInterface,
    DescriptorInterface,
    GattDevice,
    ServiceInterface1,
)
from glassbridge_rig.bluez.naming import uuid_str
from glassbridge_rig.bluez.security import SECURITY_ERRORS, DeviceSecurity

if TYPE_CHECKING:
    from bumble.device import Connection
    from dbus_fast.service import ServiceInterface

__all__ = ["GattClient", "GattHost", "GattOwner"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class GattHost(Protocol):
    """What the GATT client needs of the service (service.py's BluezService): the cache and the bus."""

    @property
    def gatt_cache(self) -> GattCache | None: ...

    def export(self, path: str, iface: ServiceInterface) -> None: ...

    def unexport(self, path: str) -> None: ...


class GattOwner(GattDevice, Protocol):
    """What the GATT client needs of its device (device.py's BluezDevice), besides what its objects need."""

    @property
    def path(self) -> str: ...

    @property
    def connection(self) -> Connection | None: ...

    def gatt_uuids_changed(self) -> None:
        """The resolved services changed outside Connect/Pair (a Service Changed indication): UUIDs to signal."""


class GattClient:
    """The remote GATT database of one device and the D-Bus objects that show it."""

    def __init__(self, device: GattOwner, host: GattHost, security: DeviceSecurity) -> None:
        self.device = device
        self.host = host
        self.security = security
        self.resolved = False  # ServicesResolved
        self.uuids: list[str] = []  # the resolved primary services' UUIDs
        self._gatt: dict[int, list[tuple[str, ServiceInterface]]] = {}  # exported objects by service handle
        self._services: list[ServiceProxy] = []  # the resolved database of the current connection
        self._db_hash: bytes | None = None
        self._sc_lock = asyncio.Lock()
        self._sc_tasks: set[asyncio.Future[None]] = set()
        self._chars: list[CharacteristicInterface] = []

    @property
    def _cache_identity(self) -> hci.Address | None:
        """The address the device's database is cached under: its identity, once bonded."""
        return self.security.identity if self.security.bonded else None

    def char_interfaces(self) -> list[CharacteristicInterface]:
        return list(self._chars)

    # ------------------------------------------------------------------ the database
    async def resolve(self) -> None:
        """Resolve the remote database: from the GATT cache of a bonded device when the server's Database Hash
        still matches, else by discovery; then register for Service Changed and export the objects (cache.py
        describes bluetoothd's rules). `resolved` and `uuids` are set on success."""
        conn = self.device.require_connected()
        client = conn.gatt_client
        cache = self.host.gatt_cache
        identity = self._cache_identity
        cached = cache.load(identity) if (cache is not None and identity is not None) else None
        services: list[ServiceProxy] | None = None
        db_hash: bytes | None = None
        from_cache = False
        try:
            if cached is not None and cached.has_hash_characteristic:
                db_hash = await self._read_db_hash(client)
                if db_hash is not None and db_hash == cached.db_hash:
                    log.info("%s: DB Hash match: GATT database taken from the cache", self.device.path)
                    services = cached.proxies(client)
                    from_cache = True
                else:
                    log.info("%s: DB Hash differs from the cached one: rediscovering", self.device.path)
            if services is None:
                services = await self._discover(client, 0x0001, 0xFFFF)
                if db_hash is None and find_characteristic(services, DATABASE_HASH) is not None:
                    db_hash = await self._read_db_hash(client)
            await self._register_service_changed(conn, services)
        except att.ATT_Error as exc:
            raise BluezError("Failed", "le-connection-gatt-browsing") from exc
        except (asyncio.CancelledError, core.BaseBumbleError) as exc:
            if self.device.connection is None:
                raise le_connect_error(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR) from exc
            raise
        if self.device.connection is not conn:
            raise le_connect_error(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        self._services = sorted(services, key=lambda s: s.handle)
        self._db_hash = db_hash
        if not from_cache:
            self.store_cache()
        for svc in self._services:
            self._export_service(svc)
        self.uuids = [uuid_str(s.uuid) for s in self._services]
        self.resolved = True

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
            log.info("%s: reading the Database Hash failed: %s", self.device.path, exc)
            return None
        if not values or len(values[0]) != 16:
            return None
        return bytes(values[0])

    def store_cache(self) -> None:
        """Write the current database to the GATT cache (bonded devices only: store_gatt_db)."""
        cache = self.host.gatt_cache
        identity = self._cache_identity
        if cache is None or identity is None:
            return
        cache.save(identity, snapshot(self._services, self._db_hash))

    # ------------------------------------------------------------------ Service Changed
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
            log.warning("%s: enabling Service Changed indications failed: %s", self.device.path, exc)

    def _on_service_changed(self, conn: Connection, value: bytes) -> None:
        if len(value) != 4 or self.device.connection is not conn:
            return
        start, end = struct.unpack("<HH", value)
        if start > end:
            log.info("%s: Service Changed with invalid handles %04x-%04x", self.device.path, start, end)
            return
        log.info("%s: Service Changed %04x-%04x: rediscovering that range", self.device.path, start, end)
        task = asyncio.ensure_future(self._rediscover(conn, start, end))
        self._sc_tasks.add(task)
        task.add_done_callback(self._sc_tasks.discard)

    async def _rediscover(self, conn: Connection, start: int, end: int) -> None:
        """process_service_changed: replace the services in [start, end] with what the server has now."""
        async with self._sc_lock:
            if self.device.connection is not conn or not self.resolved:
                return
            client = conn.gatt_client
            try:
                found = await self._discover(client, start, end)
                hash_char = find_characteristic(
                    [s for s in self._services if not start <= s.handle <= end] + found, DATABASE_HASH)
                db_hash = await self._read_db_hash(client) if hash_char is not None else None
            except (att.ATT_Error, core.BaseBumbleError, asyncio.CancelledError) as exc:
                log.warning("%s: rediscovery after Service Changed failed: %s", self.device.path, exc)
                return
            if self.device.connection is not conn:
                return
            gone = [s for s in self._services if start <= s.handle <= end]
            for svc in gone:
                self._unexport_service(svc)
            self._services = sorted([s for s in self._services if s not in gone] + found, key=lambda s: s.handle)
            self._db_hash = db_hash
            self.store_cache()
            for svc in found:
                self._export_service(svc)
            uuids = [uuid_str(s.uuid) for s in self._services]
            if uuids != self.uuids:
                self.uuids = uuids
                self.device.gatt_uuids_changed()

    # ------------------------------------------------------------------ the objects
    def _export_service(self, svc: ServiceProxy) -> None:
        objs: list[tuple[str, ServiceInterface]] = []
        device_path = self.device.path
        spath = f"{device_path}/service{svc.handle:04x}"
        self._add_gatt(objs, spath, ServiceInterface1(svc, device_path))
        for char in svc.characteristics:
            cpath = f"{spath}/char{char.handle - 1:04x}"  # the declaration handle, as BlueZ names it
            ci = CharacteristicInterface(self.device, char, spath, cpath)
            self._chars.append(ci)
            self._add_gatt(objs, cpath, ci)
            for desc in char.descriptors:
                self._add_gatt(objs, f"{cpath}/desc{desc.handle:04x}", DescriptorInterface(self.device, desc, cpath))
        self._gatt[svc.handle] = objs

    def _unexport_service(self, svc: ServiceProxy) -> None:
        for path, iface in reversed(self._gatt.pop(svc.handle, [])):
            if isinstance(iface, CharacteristicInterface):
                iface.release()
                if iface in self._chars:
                    self._chars.remove(iface)
            self.host.unexport(path)

    def _add_gatt(self, objs: list[tuple[str, ServiceInterface]], path: str, iface: ServiceInterface) -> None:
        self.host.export(path, iface)
        objs.append((path, iface))

    def detach(self) -> bool:
        """The connection is gone: release the characteristics' sockets, remove every object, forget the database.
        Returns whether the services were resolved."""
        for ci in self._chars:
            ci.release()
        self._chars.clear()
        resolved = self.resolved
        self.resolved = False
        for handle in sorted(self._gatt, reverse=True):
            for path, _ in reversed(self._gatt[handle]):
                self.host.unexport(path)
        self._gatt.clear()
        self._services = []
        self._db_hash = None
        return resolved

    # ------------------------------------------------------------------ requests
    async def request(self, factory: Callable[[], Awaitable[_T]]) -> _T:
        """Run one ATT request; on a security error raise security and retry once; map errors to BlueZ's."""
        self.device.require_connected()
        try:
            return await factory()
        except att.ATT_Error as exc:
            if exc.error_code in SECURITY_ERRORS and await self.security.raise_security(exc.error_code):
                try:
                    return await factory()
                except att.ATT_Error as exc2:
                    raise att_error(exc2.error_code) from exc2
                except (asyncio.CancelledError, core.BaseBumbleError) as exc2:
                    raise BluezError("Failed", "Not connected") from exc2
            raise att_error(exc.error_code) from exc
        except (asyncio.CancelledError, core.BaseBumbleError, TimeoutError) as exc:
            if self.device.connection is None:
                raise BluezError("Failed", "Not connected") from exc
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise BluezError("Failed", f"Operation failed: {exc}") from exc
