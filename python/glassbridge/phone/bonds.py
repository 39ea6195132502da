"""`BondStore`: the one phone these glasses are bonded with, in a small JSON file.

BlueZ keeps the keys (LTK, IRK) itself; this file keeps what glassbridge needs on top: WHICH device is the phone
(its identity address: BlueZ resolves the phone's rotating private address to it with the IRK), its name, when it
was bonded, what its companion said about itself (ServiceInfo) and hints from the last connection (ATT MTU).

Where (first that applies): the `path` argument; ``$GLASSBRIDGE_STATE_DIR/phone/bond.json``;
``platformdirs.user_data_dir("glassbridge")/phone/bond.json``.

Writes are atomic (a temporary file in the same folder, fsync, rename), so a power cut leaves the old bond or the
new one, never half of each. The file is 0600 and the default folder 0700, tightened (and logged) when an earlier
version left them readable by other users (glassbridge.private); a folder given by the caller is left as it is. A file that exists but does not parse raises BondStoreError naming it: a bond is
never forgotten silently (the glasses would otherwise accept pairing with anything that asks).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glassbridge.phone.errors import BondStoreError
from glassbridge.private import private_dir, tighten, write_private

__all__ = ["Bond", "BondStore", "default_bond_path"]

#: Bumped when the file's meaning changes; a newer file is refused (with its version) rather than misread.
FORMAT_VERSION = 1


def default_bond_path() -> Path:
    """``$GLASSBRIDGE_STATE_DIR/phone/bond.json`` if that variable is set, else under platformdirs' user data dir."""
    state = os.environ.get("GLASSBRIDGE_STATE_DIR", "").strip()
    if state:
        return Path(state) / "phone" / "bond.json"
    import platformdirs

    return Path(platformdirs.user_data_dir("glassbridge")) / "phone" / "bond.json"


@dataclass
class Bond:
    """The bonded phone. `address` is its identity address (upper case, as BlueZ writes it)."""

    address: str
    name: str = ""
    bonded_at: float = field(default_factory=time.time)  # seconds since the epoch
    service_info: dict[str, Any] = field(default_factory=dict)  # the companion's ServiceInfo fields
    last_mtu: int = 0  # ATT_MTU of the last connection (a hint for status; the link re-checks every connection)
    last_connected_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bond:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if not isinstance(known.get("address"), str) or not known["address"]:
            raise ValueError("no 'address'")
        known["address"] = known["address"].upper()
        return cls(**known)


class BondStore:
    """Loads, saves and forgets the bonded phone. Cheap to create; every call reads or writes the file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_bond_path()
        # The default folder is glassbridge's own (tightened to 0700 when wider); a folder named by the caller
        # may be theirs: only the bond file itself is kept 0600 there.
        self._own_folder = path is None

    def __repr__(self) -> str:
        return f"BondStore({str(self.path)!r})"

    def load(self) -> Bond | None:
        """The bonded phone, or None when there is no bond file. BondStoreError when the file is unreadable."""
        try:
            if self._own_folder:
                tighten(self.path.parent)
            tighten(self.path)
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BondStoreError(self.path, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BondStoreError(self.path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(data, dict):
            raise BondStoreError(self.path, f"holds a JSON {type(data).__name__}, not an object")
        version = data.get("format", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BondStoreError(
                self.path, f"has format {version!r}; this glassbridge reads format {FORMAT_VERSION} (update it)"
            )
        phone = data.get("phone")
        if phone is None:
            return None  # written by forget(): explicitly no bond
        if not isinstance(phone, dict):
            raise BondStoreError(self.path, "has a 'phone' entry that is not an object")
        try:
            return Bond.from_dict(phone)
        except (TypeError, ValueError) as exc:
            raise BondStoreError(self.path, f"has an invalid 'phone' entry ({exc})") from exc

    def save(self, bond: Bond) -> None:
        """Writes the bond atomically (creating the folder, mode 0700: the file says which phone to trust)."""
        self._write({"format": FORMAT_VERSION, "phone": bond.to_dict()})

    def update(self, **changes: Any) -> Bond | None:
        """Changes fields of the stored bond (e.g. last_mtu); None when nothing is bonded."""
        bond = self.load()
        if bond is None:
            return None
        for key, value in changes.items():
            if key not in Bond.__dataclass_fields__:
                raise AttributeError(f"Bond has no field {key!r}")
            setattr(bond, key, value)
        self.save(bond)
        return bond

    def forget(self) -> Bond | None:
        """Deletes the bond file and returns what it held (None if nothing, or if the file was corrupt)."""
        try:
            old = self.load()
        except BondStoreError:
            old = None  # forgetting is how a corrupt file is cleared
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BondStoreError(self.path, f"cannot be deleted ({exc.strerror or exc})") from exc
        return old

    def _write(self, data: dict[str, Any]) -> None:
        try:
            if self._own_folder:
                private_dir(self.path.parent)
            write_private(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise BondStoreError(self.path, f"cannot be written ({exc.strerror or exc})") from exc
