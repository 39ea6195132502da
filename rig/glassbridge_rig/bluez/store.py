"""What bluetoothd keeps in /var/lib/bluetooth/<adapter>/: bonds and per-device settings, here in a state_dir.

Both are owner-only (folder 0700, files 0600; PrivateKeyStore and glassbridge.private), as bluetoothd keeps them.

- keys.json: bumble's JsonKeyStore format (LTK, IRK, identity address per bonded peer), namespaced by the adapter's
  address; bumble's SMP writes it when a pairing completes and reads it to encrypt and to resolve RPAs.
- devices.json: what BlueZ stores next to the keys and bumble does not: Name, Trusted.
- cache/<identity>: the GATT cache of each bonded device (cache.py); RemoveDevice deletes it with the bond.

A new BluezService on the same state_dir restores its bonded devices from both files, as bluetoothd does at
start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from bumble import hci
from bumble.keys import PairingKeys

from glassbridge_companion.keystore import PrivateKeyStore
from glassbridge.private import private_dir, tighten, write_private

__all__ = ["Bond", "DeviceInfo", "DeviceStore"]


@dataclass
class DeviceInfo:
    """Per-device settings kept across restarts."""

    name: str = ""
    trusted: bool = False


@dataclass
class Bond:
    """A bonded peer: its identity address and keys."""

    identity: hci.Address
    keys: PairingKeys


class DeviceStore:
    """Keys (bumble keystore) and device settings in `state_dir`, for the adapter with address `adapter`."""

    def __init__(self, state_dir: str | os.PathLike[str], adapter: str) -> None:
        # bluetoothd keeps /var/lib/bluetooth 0700 and its files 0600: the keys are the bonds.
        self.dir = private_dir(state_dir)
        self.keystore = PrivateKeyStore(namespace=adapter, filename=str(self.dir / "keys.json"))
        self._info_path = self.dir / "devices.json"
        self._info: dict[str, DeviceInfo] = {}
        if self._info_path.exists():
            tighten(self._info_path)
            try:
                raw = json.loads(self._info_path.read_text())
                self._info = {k: DeviceInfo(**v) for k, v in raw.items()}
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{self._info_path}: unreadable device settings ({exc}); fix or delete the file"
                ) from exc

    async def bonds(self) -> list[Bond]:
        """Every bonded peer in the keystore."""
        out = []
        for name, keys in await self.keystore.get_all():
            out.append(Bond(hci.Address(name), keys))
        return out

    async def keys(self, identity: hci.Address) -> PairingKeys | None:
        return await self.keystore.get(str(identity))

    async def forget(self, identity: hci.Address) -> None:
        """Delete the bond and settings (Adapter1.RemoveDevice)."""
        try:
            await self.keystore.delete(str(identity))
        except KeyError:
            pass
        if self._info.pop(str(identity), None) is not None:
            self._save()

    def info(self, identity: hci.Address) -> DeviceInfo:
        return self._info.get(str(identity), DeviceInfo())

    def set_info(self, identity: hci.Address, info: DeviceInfo) -> None:
        self._info[str(identity)] = info
        self._save()

    def _save(self) -> None:
        write_private(self._info_path, json.dumps({k: asdict(v) for k, v in self._info.items()}, indent=1))
