"""The companion's Bluetooth identity, created once and kept in its state folder.

A phone is known to its bonded glasses by an **identity address** and finds them again behind a **resolvable
private address** (RPA) that changes every few minutes, so that nobody else can follow it around. Both come
from two secrets generated on first start and then never changed (changing them breaks every bond):

    identity.json   {"address": "C4:..:..", "irk": "<32 hex digits>"}   static random address + random IRK
    keys.json       bumble's JsonKeyStore: one entry per bonded glasses (LTK, their IRK, address type)

bumble's default IRK is 16 zero bytes, which anyone can resolve (SPEC.md 16.2, spikes/README.md): the IRK here
comes from `secrets`. The folder is private (0700, tightened if it existed wider), identity.json and keys.json are
0600 (written atomically; tightened at start when an earlier version left them readable: glassbridge.private).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from glassbridge.private import private_dir, tighten, write_private

__all__ = ["Identity", "IdentityError", "load_or_create_identity", "keystore_path", "default_state_dir"]

IDENTITY_FILE = "identity.json"
KEYS_FILE = "keys.json"


class IdentityError(ValueError):
    """identity.json exists but cannot be used (the text says which field and what to do)."""


@dataclass(frozen=True)
class Identity:
    """address: static random address "XX:XX:XX:XX:XX:XX" (two top bits set); irk: 16 random bytes."""

    address: str
    irk: bytes


def default_state_dir() -> Path:
    """platformdirs' user data folder for the companion (e.g. ~/.local/share/glassbridge/companion)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("glassbridge")) / "companion"


def keystore_path(state_dir: Path) -> Path:
    return Path(state_dir) / KEYS_FILE


def _new_static_random_address() -> str:
    # Core Vol 6 Part B 1.3.2.1: a static random address has its two most significant bits set, and the other
    # 46 bits are neither all zero nor all one.
    while True:
        raw = bytearray(secrets.token_bytes(6))
        raw[0] |= 0xC0
        rest = int.from_bytes(raw, "big") & ((1 << 46) - 1)
        if rest not in (0, (1 << 46) - 1):
            return ":".join(f"{b:02X}" for b in raw)


def _check(path: Path, data: object) -> Identity:
    if not isinstance(data, dict):
        raise IdentityError(f"{path}: expected a JSON object with 'address' and 'irk'")
    address, irk_hex = data.get("address"), data.get("irk")
    parts = address.split(":") if isinstance(address, str) else []
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise IdentityError(f"{path}: 'address' must look like C4:12:34:56:78:9A, got {address!r}; fix or delete "
                            "the file (deleting it makes a new identity: every bonded glasses must pair again)")
    try:
        first = int(parts[0], 16)
        irk = bytes.fromhex(irk_hex) if isinstance(irk_hex, str) else b""
    except ValueError as exc:
        raise IdentityError(f"{path}: bad hex in 'address' or 'irk' ({exc})") from exc
    if first & 0xC0 != 0xC0:
        raise IdentityError(f"{path}: 'address' {address} is not a static random address (top two bits must be 1)")
    if len(irk) != 16 or irk == bytes(16):
        raise IdentityError(f"{path}: 'irk' must be 32 hex digits and not all zero (an all-zero IRK lets anyone "
                            "resolve the private address)")
    return Identity(str(address).upper(), irk)


def load_or_create_identity(state_dir: Path) -> Identity:
    """The identity kept in state_dir/identity.json, created (random) when the file does not exist."""
    state_dir = private_dir(state_dir)
    path = state_dir / IDENTITY_FILE
    tighten(keystore_path(state_dir))
    if path.exists():
        tighten(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise IdentityError(f"{path}: cannot read the companion identity ({exc}); fix or delete the file") from exc
        return _check(path, data)
    identity = Identity(_new_static_random_address(), secrets.token_bytes(16))
    write_private(path, json.dumps({"address": identity.address, "irk": identity.irk.hex()}, indent=2) + "\n")
    return identity
