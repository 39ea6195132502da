"""org.bluez.GattService1 / GattCharacteristic1 / GattDescriptor1 for a connected device's remote GATT database.

Every method is real ATT through bumble's GATT client on the device's connection. The device runs each request
through `gatt_request` (gatt_client.py's `GattClient.request`), which raises security and retries once when the
peer answers Insufficient Authentication/Encryption, and maps the remaining ATT errors to BlueZ's names
(errors.att_error). The objects are made and removed by the device's GattClient, and know their device only
through `GattDevice`: no import of device.py.

Modelled on BlueZ's src/gatt-client.c:
- Flags come from the characteristic properties (and extended properties) only: a client cannot discover a
  remote attribute's permissions, so BlueZ never reports "encrypt-*" flags for remote characteristics (those
  exist only for local, application-registered ones).
- WriteValue: option "type" ("request", "command", "reliable"); without it, a write request when the
  characteristic has "write", else a command. A command longer than ATT_MTU - 3 cannot be sent ("Failed to
  initiate write"); a request longer than that becomes a long write (Prepare/Execute).
- StartNotify/StopNotify: one session per D-Bus client (sender); the CCCD is written when the first session
  starts and cleared when the last ends; values arrive as PropertiesChanged of "Value".
- AcquireWrite / AcquireNotify: a SOCK_SEQPACKET socket and the connection's ATT_MTU. Datagrams written to an
  acquired write socket go out as Write Commands; notifications of an acquired notify socket go to the socket
  (not to "Value"). Closing the socket releases it (WriteAcquired/NotifyAcquired back to false).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol, TypeVar

from bumble import gatt
from bumble.gatt_client import CharacteristicProxy, Client, DescriptorProxy, ServiceProxy
from dbus_fast import Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method
from glassbridge_rig.bluez.dbustypes import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusFdMtu,
    DBusObjectPath,
    DBusPathList,
    DBusStr,
    DBusStrList,
    DBusUInt16,
)

from glassbridge_rig.bluez.errors import BluezError
from glassbridge_rig.bluez.naming import uuid_str

if TYPE_CHECKING:
    from bumble.device import Connection

__all__ = ["CharacteristicInterface", "DescriptorInterface", "GattDevice", "ServiceInterface1", "char_flags"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_P = gatt.Characteristic.Properties
_FLAG_NAMES = [
    (_P.BROADCAST, "broadcast"),
    (_P.READ, "read"),
    (_P.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (_P.WRITE, "write"),
    (_P.NOTIFY, "notify"),
    (_P.INDICATE, "indicate"),
    (_P.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (_P.EXTENDED_PROPERTIES, "extended-properties"),
]
_EXT_RELIABLE_WRITE = 0x0001
_EXT_WRITABLE_AUX = 0x0002
CCCD_UUID = gatt.GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR


class GattDevice(Protocol):
    """What the GATT objects need of their device (device.py's BluezDevice): its link, its ATT_MTU, its requests."""

    @property
    def mtu(self) -> int: ...

    @property
    def connected(self) -> bool: ...

    def require_connected(self) -> Connection: ...

    def gatt_client(self) -> Client: ...

    async def gatt_request(self, factory: Callable[[], Awaitable[_T]]) -> _T: ...

    def sender_of(self, path: str, member: str) -> str | None: ...


def char_flags(properties: int, ext_properties: int = 0) -> list[str]:
    """BlueZ's Flags for a remote characteristic (properties, then extended properties)."""
    flags = [name for bit, name in _FLAG_NAMES if properties & bit]
    if ext_properties & _EXT_RELIABLE_WRITE:
        flags.append("reliable-write")
    if ext_properties & _EXT_WRITABLE_AUX:
        flags.append("writable-auxiliaries")
    return flags


def _option(options: dict[str, Variant], name: str, default: Any) -> Any:
    v = options.get(name)
    return default if v is None else v.value


class ServiceInterface1(ServiceInterface):
    """org.bluez.GattService1."""

    def __init__(self, proxy: ServiceProxy, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.proxy = proxy
        self.device_path = device_path

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return uuid_str(self.proxy.uuid)

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self.device_path

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> DBusPathList:
        return []

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self.proxy.handle


class _Acquired:
    """One acquired socket: our end, registered with the event loop."""

    def __init__(self, sock: socket.socket, on_data: Callable[[bytes], None] | None, on_close: Callable[[], None]):
        self.sock = sock
        self._on_data = on_data
        self._on_close = on_close
        self._loop = asyncio.get_running_loop()
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._readable)
        self.closed = False

    def _readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        if self._on_data is not None:
            self._on_data(data)

    def hung_up(self) -> bool:
        """True (and released) when the client closed its end, even if the loop has not noticed yet."""
        if self.closed:
            return True
        try:
            if self.sock.recv(1, socket.MSG_PEEK) == b"":
                self.close()
                return True
        except BlockingIOError:
            return False
        except OSError:
            self.close()
            return True
        return False

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except (BlockingIOError, OSError) as exc:
            log.warning("acquired notify socket dropped a %d-byte value: %s", len(data), exc)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._loop.remove_reader(self.sock.fileno())
        except (ValueError, RuntimeError):
            pass
        self.sock.close()
        self._on_close()


class CharacteristicInterface(ServiceInterface):
    """org.bluez.GattCharacteristic1 of one remote characteristic."""

    def __init__(self, device: GattDevice, proxy: CharacteristicProxy[bytes], service_path: str, path: str,
                 ext_properties: int = 0) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.device = device
        self.proxy = proxy
        self.service_path = service_path
        self.path = path
        self.ext_properties = ext_properties
        self.value = b""
        self.notify_sessions: set[str] = set()
        self.write_io: _Acquired | None = None
        self.notify_io: _Acquired | None = None
        self._subscribed = False

    # -- properties --
    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return uuid_str(self.proxy.uuid)

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self.proxy.handle

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return bool(self.notify_sessions) or self.notify_io is not None

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:
        return char_flags(self.proxy.properties, self.ext_properties)

    @dbus_property(access=PropertyAccess.READ)
    def WriteAcquired(self) -> DBusBool:
        return self.write_io is not None

    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> DBusBool:
        return self.notify_io is not None

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return self.device.mtu

    # -- methods --
    @method()
    async def ReadValue(self, options: DBusDict) -> DBusBytes:
        offset = int(_option(options, "offset", 0))
        value = await self.device.gatt_request(lambda: self.device.gatt_client().read_value(self.proxy.handle))
        value = bytes(value)
        if offset:
            if offset > len(value):
                raise BluezError("InvalidArguments", "Invalid offset")
            value = value[offset:]
        self.value = value
        self.emit_properties_changed({"Value": self.value})
        return value

    @method()
    async def WriteValue(self, value: DBusBytes, options: DBusDict):  # type: ignore[no-untyped-def]  # dbustypes.py
        value = bytes(value)
        if self.write_io is not None and not self.write_io.hung_up():
            raise BluezError("NotPermitted", "Write acquired")
        kind = str(_option(options, "type", "")).lower()
        offset = int(_option(options, "offset", 0))
        props = self.proxy.properties
        if kind == "reliable" or (not kind and self.ext_properties & _EXT_RELIABLE_WRITE):
            kind = "request"  # bumble has no reliable write; a (long) write request is the closest real ATT
        if kind == "request" or (not kind and props & _P.WRITE):
            if offset:
                raise BluezError("NotSupported", "Operation is not supported: write with offset")
            await self.device.gatt_request(
                lambda: self.device.gatt_client().write_value(self.proxy.handle, value, with_response=True)
            )
            return
        if (kind and kind != "command") or offset or (not kind and not props & _P.WRITE_WITHOUT_RESPONSE):
            raise BluezError("NotSupported", "Operation is not supported")
        self.device.require_connected()
        if len(value) > self.device.mtu - 3:
            # bt_att refuses to encode a PDU longer than the MTU; BlueZ answers "Failed to initiate write".
            raise BluezError("Failed", "Failed to initiate write")
        await self.device.gatt_client().write_value(self.proxy.handle, value, with_response=False)

    @method()
    async def StartNotify(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if not self.proxy.properties & (_P.NOTIFY | _P.INDICATE):
            raise BluezError("NotSupported", "Operation is not supported")
        if self.notify_io is not None:
            raise BluezError("NotPermitted", "Notify acquired")
        sender = self.device.sender_of(self.path, "StartNotify") or ":unknown"
        if sender in self.notify_sessions:
            return
        await self._subscribe()
        self.notify_sessions.add(sender)
        self.emit_properties_changed({"Notifying": True})

    @method()
    async def StopNotify(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self.notify_io is not None:
            self.notify_io.close()
            return
        sender = self.device.sender_of(self.path, "StopNotify") or ":unknown"
        if sender not in self.notify_sessions:
            raise BluezError("Failed", "No notify session started")
        self.notify_sessions.discard(sender)
        if not self.notify_sessions:
            await self._unsubscribe()
            self.emit_properties_changed({"Notifying": False})

    @method()
    def AcquireWrite(self, options: DBusDict) -> DBusFdMtu:
        raise BluezError("Failed", "answered by BluezService's message filter")  # see acquire()

    @method()
    def AcquireNotify(self, options: DBusDict) -> DBusFdMtu:
        raise BluezError("Failed", "answered by BluezService's message filter")  # see acquire()

    async def acquire(self, member: str) -> tuple[socket.socket, int]:
        """AcquireWrite / AcquireNotify: the client's end of a new socket and the ATT_MTU.

        BluezService sends the reply itself and closes its copy of the client's end once the reply is written:
        if we kept it, the client closing its fd would never hang the socket up (bleak's _acquire_mtu closes
        it at once, then writes with WriteValue, which must not meet "Write acquired").
        """
        props = self.proxy.properties
        if member == "AcquireWrite":
            if not props & _P.WRITE_WITHOUT_RESPONSE:
                raise BluezError("NotSupported", "Operation is not supported")
            if self.write_io is not None and not self.write_io.hung_up():
                raise BluezError("NotPermitted", "Write acquired")
            self.device.require_connected()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

            def on_data(data: bytes) -> None:
                if len(data) > self.device.mtu - 3 or not self.device.connected:
                    log.warning("acquired write: %d bytes do not fit ATT_MTU %d: dropped", len(data), self.device.mtu)
                    return
                asyncio.ensure_future(self._write_command(data))

            self.write_io = _Acquired(ours, on_data, self._write_released)
            self.emit_properties_changed({"WriteAcquired": True})
            return theirs, self.device.mtu
        if not props & (_P.NOTIFY | _P.INDICATE):
            raise BluezError("NotSupported", "Operation is not supported")
        if self.notify_io is not None and not self.notify_io.hung_up():
            raise BluezError("NotPermitted", "Notify acquired")
        if self.notify_sessions:
            raise BluezError("InProgress", "In Progress")
        await self._subscribe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.notify_io = _Acquired(ours, None, self._notify_released)
        self.emit_properties_changed({"NotifyAcquired": True, "Notifying": True})
        return theirs, self.device.mtu

    # -- internals --
    async def _write_command(self, data: bytes) -> None:
        try:
            await self.device.gatt_client().write_value(self.proxy.handle, data, with_response=False)
        except Exception as exc:  # the link went away under the socket
            log.warning("acquired write failed: %s", exc)

    def _write_released(self) -> None:
        self.write_io = None
        self.emit_properties_changed({"WriteAcquired": False})

    def _notify_released(self) -> None:
        self.notify_io = None
        self.emit_properties_changed({"NotifyAcquired": False, "Notifying": bool(self.notify_sessions)})
        if self.device.connected:
            asyncio.ensure_future(self._unsubscribe())

    def _on_value(self, value: bytes) -> None:
        value = bytes(value)
        if self.notify_io is not None:
            self.notify_io.send(value)
            return
        self.value = value
        self.emit_properties_changed({"Value": value})

    async def _subscribe(self) -> None:
        if self._subscribed:
            return
        cccd = self.proxy.get_descriptor(CCCD_UUID)
        if cccd is None:
            raise BluezError("NotSupported", "Operation is not supported: no CCCD")
        bits = 0x0001 if self.proxy.properties & _P.NOTIFY else 0x0002
        client = self.device.gatt_client()
        table = client.notification_subscribers if bits == 1 else client.indication_subscribers
        table.setdefault(self.proxy.handle, set()).add(self._on_value)
        try:
            await self.device.gatt_request(
                lambda: self.device.gatt_client().write_value(cccd.handle, struct.pack("<H", bits), with_response=True)
            )
        except BaseException:
            table.get(self.proxy.handle, set()).discard(self._on_value)
            raise
        self._subscribed = True

    async def _unsubscribe(self) -> None:
        if not self._subscribed:
            return
        self._subscribed = False
        try:
            client = self.device.gatt_client()
        except BluezError:
            return
        for table in (client.notification_subscribers, client.indication_subscribers):
            table.get(self.proxy.handle, set()).discard(self._on_value)
        cccd = self.proxy.get_descriptor(CCCD_UUID)
        if cccd is not None:
            try:
                await client.write_value(cccd.handle, b"\x00\x00", with_response=True)
            except Exception as exc:
                log.info("clearing CCCD of %s failed: %s", self.path, exc)

    def end_session(self, sender: str) -> None:
        """`sender` left the bus: its notify session ends (the CCCD is cleared when it was the last)."""
        if sender not in self.notify_sessions:
            return
        self.notify_sessions.discard(sender)
        if not self.notify_sessions and self.notify_io is None:
            asyncio.ensure_future(self._unsubscribe())
            self.emit_properties_changed({"Notifying": False})

    def release(self) -> None:
        """The connection is gone: close acquired sockets."""
        self._subscribed = False
        self.notify_sessions.clear()
        for io in (self.write_io, self.notify_io):
            if io is not None:
                io.close()


class DescriptorInterface(ServiceInterface):
    """org.bluez.GattDescriptor1 of one remote descriptor."""

    def __init__(self, device: GattDevice, proxy: DescriptorProxy, char_path: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.device = device
        self.proxy = proxy
        self.char_path = char_path
        self.value = b""

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return uuid_str(self.proxy.type)

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> DBusObjectPath:
        return self.char_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self.proxy.handle

    @method()
    async def ReadValue(self, options: DBusDict) -> DBusBytes:
        value = await self.device.gatt_request(lambda: self.device.gatt_client().read_value(self.proxy.handle))
        self.value = bytes(value)
        self.emit_properties_changed({"Value": self.value})
        return self.value

    @method()
    async def WriteValue(self, value: DBusBytes, options: DBusDict):  # type: ignore[no-untyped-def]  # dbustypes.py
        if self.proxy.type == CCCD_UUID:
            # BlueZ refuses direct CCCD writes: notifications go through StartNotify/AcquireNotify.
            raise BluezError("NotPermitted", "Write not permitted")
        data = bytes(value)
        await self.device.gatt_request(
            lambda: self.device.gatt_client().write_value(self.proxy.handle, data, with_response=True)
        )
