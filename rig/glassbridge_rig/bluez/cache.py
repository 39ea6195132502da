"""bluetoothd's GATT cache (/var/lib/bluetooth/<adapter>/cache/<device>), here <state_dir>/cache/<identity>.

What BlueZ does (src/device.c, src/shared/gatt-client.c, main.conf [GATT] Cache, default "always"):
- The remote database found by discovery (services with their handle ranges, characteristics with declaration
  and value handles and properties, descriptors with handles, all UUIDs) is stored per device
  (store_gatt_db), together with the value of the server's Database Hash characteristic (0x2B2A), which
  gatt-client reads once discovery completes (discovery_op_complete -> read_db_hash).
- On a later connection the stored database is loaded; after the MTU exchange gatt_client_init reads the
  server's Database Hash (Read By Type 0x2B2A over 0x0001-0xFFFF) if the cached database has that
  characteristic: equal -> "DB Hash match: skipping discovery"; different (or unreadable) -> full discovery,
  and the cache is rewritten. A cached database WITHOUT a Database Hash characteristic is rediscovered on
  every connection (discover_all): caching then only keeps the objects, never the air time.
- A Service Changed indication (0x2A05, whose CCCD the client writes on every connection) makes the client
  rediscover the primary services in the indicated handle range (process_service_changed) and store the
  result.
- RemoveDevice deletes the file (device_remove_stored).

This facade keeps the cache for BONDED devices only (as bluetoothd does for devices that outlive their
connection; unbonded devices here are always rediscovered). The file is JSON, not BlueZ's key file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.core import UUID
from bumble.gatt import GATT_DATABASE_HASH_CHARACTERISTIC, GATT_SERVICE_CHANGED_CHARACTERISTIC
from bumble.gatt_client import CharacteristicProxy, Client, DescriptorProxy, ServiceProxy

from glassbridge.private import write_private
from glassbridge_rig.bluez.naming import address_str

__all__ = ["DATABASE_HASH", "SERVICE_CHANGED", "CachedDb", "GattCache", "find_characteristic", "snapshot"]

log = logging.getLogger(__name__)

DATABASE_HASH = GATT_DATABASE_HASH_CHARACTERISTIC  # 0x2B2A
SERVICE_CHANGED = GATT_SERVICE_CHANGED_CHARACTERISTIC  # 0x2A05

_VERSION = 1


def _uuid_out(uuid: UUID) -> str:
    return uuid.to_bytes().hex()  # keeps the UUID's size (16, 32 or 128 bits) exactly


def _uuid_in(text: str) -> UUID:
    return UUID.from_bytes(bytes.fromhex(text))


def find_characteristic(services: list[ServiceProxy], uuid: UUID) -> CharacteristicProxy[bytes] | None:
    """The first characteristic with `uuid` in handle order (gatt_db_find_by_type ... get_first_attribute)."""
    for svc in services:
        for char in svc.characteristics:
            if char.uuid == uuid:
                return char
    return None


@dataclass
class CachedDb:
    """One device's cached database: the JSON form, and bumble proxies built from it on demand."""

    data: dict[str, Any]

    @property
    def db_hash(self) -> bytes | None:
        h = self.data.get("db_hash")
        return bytes.fromhex(h) if h else None

    @property
    def has_hash_characteristic(self) -> bool:
        return any(
            _uuid_in(c["uuid"]) == DATABASE_HASH
            for s in self.data["services"]
            for c in s["characteristics"]
        )

    def proxies(self, client: Client) -> list[ServiceProxy]:
        """bumble client-side proxies with the cached handles, bound to `client` (no ATT traffic)."""
        services: list[ServiceProxy] = []
        for s in self.data["services"]:
            # bumble 0.0.236 leaves ServiceProxy.__init__ unannotated.
            svc = ServiceProxy(client, s["handle"], s["end"], _uuid_in(s["uuid"]), True)  # type: ignore[no-untyped-call]
            chars = []
            for c in s["characteristics"]:
                char = CharacteristicProxy[bytes](client, c["value_handle"], c["end"], _uuid_in(c["uuid"]),
                                                  c["properties"])
                char.descriptors = [DescriptorProxy(client, d["handle"], _uuid_in(d["uuid"]))
                                    for d in c["descriptors"]]
                char.descriptors_discovered = True
                chars.append(char)
            svc.characteristics = chars
            services.append(svc)
        return services


def _validate(data: dict[str, Any]) -> None:
    """Raise ValueError/KeyError/TypeError unless `data` is a well-formed cached database."""
    if data.get("db_hash") is not None:
        bytes.fromhex(data["db_hash"])
    for s in data["services"]:
        int(s["handle"]), int(s["end"]), _uuid_in(s["uuid"])
        for c in s["characteristics"]:
            int(c["value_handle"]), int(c["end"]), int(c["properties"]), _uuid_in(c["uuid"])
            for d in c["descriptors"]:
                int(d["handle"]), _uuid_in(d["uuid"])


def snapshot(services: list[ServiceProxy], db_hash: bytes | None) -> CachedDb:
    """The cacheable form of a discovered database."""
    return CachedDb({
        "version": _VERSION,
        "db_hash": db_hash.hex() if db_hash else None,
        "services": [
            {
                "handle": s.handle,
                "end": s.end_group_handle,
                "uuid": _uuid_out(s.uuid),
                "characteristics": [
                    {
                        "declaration_handle": c.handle - 1,
                        "value_handle": c.handle,
                        "end": c.end_group_handle,
                        "uuid": _uuid_out(c.uuid),
                        "properties": int(c.properties),
                        "descriptors": [{"handle": d.handle, "uuid": _uuid_out(d.type)} for d in c.descriptors],
                    }
                    for c in s.characteristics
                ],
            }
            for s in sorted(services, key=lambda s: s.handle)
        ],
    })


class GattCache:
    """<state_dir>/cache/<identity address>: one file per bonded device."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir) / "cache"

    def path(self, identity: hci.Address) -> Path:
        return self.dir / address_str(identity)

    def load(self, identity: hci.Address) -> CachedDb | None:
        path = self.path(identity)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            _validate(data)
            return CachedDb(data)
        except (ValueError, KeyError, TypeError) as exc:
            # bluetoothd warns "Error loading db from cache" and discovers again
            log.warning("%s: unusable GATT cache (%s): discarded, the database will be rediscovered", path, exc)
            self.delete(identity)
            return None

    def save(self, identity: hci.Address, db: CachedDb) -> None:
        write_private(self.path(identity), json.dumps(db.data, indent=1))  # create_file(filename, 0600)

    def delete(self, identity: hci.Address) -> None:
        try:
            self.path(identity).unlink()
        except FileNotFoundError:
            pass

