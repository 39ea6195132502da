"""org.bluez.Adapter1 at /org/bluez/hci0: the bumble device's address, discovery and RemoveDevice.

Discovery follows src/adapter.c: each D-Bus client has its own discovery session (StartDiscovery twice from
one client -> InProgress; StopDiscovery without one -> Failed "No discovery started"); the radio scans
(actively, duplicates reported) while at least one session exists; a client leaving the bus ends its session.
Advertising reports become Device1 objects (service.py); when discovery stops, RSSI is invalidated.
SetDiscoveryFilter is accepted and remembered per client; the facade does not filter devices by it (bleak
filters on its side). Devices found by discovery stay until RemoveDevice (BlueZ expires unused temporary
devices after 30 s: not modelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dbus_fast import Variant
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method
from glassbridge_rig.bluez.dbustypes import DBusBool, DBusDict, DBusObjectPath, DBusStr, DBusStrList, DBusUInt32

from glassbridge_rig.bluez.errors import BluezError
from glassbridge_rig.bluez.naming import address_str, address_type_str

if TYPE_CHECKING:
    from bumble.device import Device
    from bumble.hci import Address

__all__ = ["AdapterHost", "AdapterInterface"]


class AdapterHost(Protocol):
    """What Adapter1 needs of the service it belongs to (service.py's BluezService, which imports this module:
    the adapter knows it only through this)."""

    @property
    def adapter_path(self) -> str: ...

    @property
    def adapter_address(self) -> Address: ...

    @property
    def device(self) -> Device:
        """The adapter: a bumble Device in the central role."""

    def sender_of(self, path: str, member: str) -> str | None: ...

    async def scanning(self, on: bool) -> None: ...

    async def remove_device(self, path: str) -> None: ...


class AdapterInterface(ServiceInterface):
    """org.bluez.Adapter1."""

    def __init__(self, service: AdapterHost) -> None:
        super().__init__("org.bluez.Adapter1")
        self.service = service
        self.sessions: set[str] = set()
        self.filters: dict[str, dict[str, Any]] = {}
        self.alias: str | None = None

    @property
    def discovering(self) -> bool:
        return bool(self.sessions)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return address_str(self.service.adapter_address)

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return address_type_str(self.service.adapter_address)

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.service.device.name or "glassbridge"

    @dbus_property()
    def Alias(self) -> DBusStr:
        return self.alias or self.service.device.name or "glassbridge"

    @Alias.setter  # type: ignore[no-redef]
    def Alias(self, value: DBusStr) -> None:
        self.alias = value or None

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> DBusUInt32:
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def PowerState(self) -> DBusStr:
        return "on"

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Pairable(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return []

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> DBusStrList:
        return ["central"]

    @method()
    def SetDiscoveryFilter(self, properties: DBusDict):  # type: ignore[no-untyped-def]  # dbustypes.py
        sender = self.service.sender_of(self.service.adapter_path, "SetDiscoveryFilter") or ":unknown"
        known = {"UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern", "AutoConnect"}
        unknown = set(properties) - known
        if unknown:
            raise BluezError("InvalidArguments", f"Invalid arguments in method call: unknown filter {sorted(unknown)}")
        transport = properties.get("Transport", Variant("s", "auto")).value
        if transport not in ("auto", "le", "bredr"):
            raise BluezError("InvalidArguments", f"Invalid arguments in method call: Transport {transport!r}")
        self.filters[sender] = {k: v.value for k, v in properties.items()}

    @method()
    def GetDiscoveryFilters(self) -> DBusStrList:
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @method()
    async def StartDiscovery(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        sender = self.service.sender_of(self.service.adapter_path, "StartDiscovery") or ":unknown"
        if sender in self.sessions:
            raise BluezError("InProgress", "Operation already in progress")
        first = not self.sessions
        self.sessions.add(sender)
        if first:
            await self.service.scanning(True)
            self.emit_properties_changed({"Discovering": True})

    @method()
    async def StopDiscovery(self):  # type: ignore[no-untyped-def]  # dbustypes.py
        sender = self.service.sender_of(self.service.adapter_path, "StopDiscovery") or ":unknown"
        if sender not in self.sessions:
            raise BluezError("Failed", "No discovery started")
        await self.end_session(sender)

    async def end_session(self, sender: str) -> None:
        self.sessions.discard(sender)
        self.filters.pop(sender, None)
        if not self.sessions:
            await self.service.scanning(False)
            self.emit_properties_changed({"Discovering": False})

    @method()
    async def RemoveDevice(self, device: DBusObjectPath):  # type: ignore[no-untyped-def]  # dbustypes.py
        await self.service.remove_device(device)
