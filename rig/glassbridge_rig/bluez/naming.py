"""How BlueZ names things on D-Bus: object paths, UUID strings, address strings, advertising data properties.

- Device: <adapter>/dev_AA_BB_CC_DD_EE_FF (the address as the device was first known, upper case).
- GATT: <device>/serviceXXXX/charYYYY/descZZZZ with the attribute handles in 4 lower-case hex digits (service
  start handle, characteristic declaration handle, descriptor handle); bleak reads the handles back from them.
- UUIDs: always the full 128-bit lower-case form, also for 16-bit SIG UUIDs.
"""

from __future__ import annotations

import struct
import uuid as _uuid
from typing import Any

from bumble import core, hci
from dbus_fast import Variant

__all__ = [
    "address_str",
    "address_type_str",
    "advertising_properties",
    "device_path",
    "uuid_str",
]


def uuid_str(value: core.UUID) -> str:
    """A bumble UUID in BlueZ's form: "0000180a-0000-1000-8000-00805f9b34fb"."""
    return str(_uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


def address_str(address: hci.Address) -> str:
    """"AA:BB:CC:DD:EE:FF" without bumble's "/P" qualifier."""
    return address.to_string(with_type_qualifier=False)


def address_type_str(address: hci.Address) -> str:
    """BlueZ's AddressType: "public" or "random" (identity or not)."""
    return "public" if address.is_public else "random"


def device_path(adapter_path: str, address: str) -> str:
    """The Device1 object path for an address string."""
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


def _uuid_from_le(raw: bytes) -> str:
    return uuid_str(core.UUID.from_bytes(raw))


def advertising_properties(ad: core.AdvertisingData) -> dict[str, Any]:
    """The Device1 properties one advertising report carries (Name, UUIDs, ServiceData, ManufacturerData, TxPower).

    Values are plain Python values of the property's D-Bus type; ServiceData and ManufacturerData hold Variants
    of "ay" as BlueZ's a{sv} / a{qv} do (the spike found that wrong types there break bleak).
    """
    props: dict[str, Any] = {}
    uuids: list[str] = []
    service_data: dict[str, Variant] = {}
    manufacturer: dict[int, Variant] = {}
    T = core.AdvertisingData
    sizes = {
        T.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        T.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
        T.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        T.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
        T.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
        T.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    }
    data_sizes = {T.SERVICE_DATA_16_BIT_UUID: 2, T.SERVICE_DATA_32_BIT_UUID: 4, T.SERVICE_DATA_128_BIT_UUID: 16}
    for ad_type, data in ad.ad_structures:
        if ad_type in sizes:
            n = sizes[ad_type]
            uuids.extend(_uuid_from_le(data[i : i + n]) for i in range(0, len(data) - n + 1, n))
        elif ad_type in data_sizes:
            n = data_sizes[ad_type]
            if len(data) >= n:
                service_data[_uuid_from_le(data[:n])] = Variant("ay", bytes(data[n:]))
        elif ad_type == T.MANUFACTURER_SPECIFIC_DATA and len(data) >= 2:
            manufacturer[struct.unpack_from("<H", data)[0]] = Variant("ay", bytes(data[2:]))
        elif ad_type == T.COMPLETE_LOCAL_NAME or (ad_type == T.SHORTENED_LOCAL_NAME and "Name" not in props):
            props["Name"] = bytes(data).decode("utf-8", errors="replace")
        elif ad_type == T.TX_POWER_LEVEL and data:
            props["TxPower"] = struct.unpack("b", data[:1])[0]
    if uuids:
        props["UUIDs"] = list(dict.fromkeys(uuids))
    if service_data:
        props["ServiceData"] = service_data
    if manufacturer:
        props["ManufacturerData"] = manufacturer
    return props
