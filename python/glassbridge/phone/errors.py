"""Errors of the phone link that only the phone has, each naming what failed and what to do.

What any peer's client raises (the link lost, a request refused, a timeout, a transfer failed, incompatible
versions) is one family for both links, in glassbridge.protocol.errors: `PeerError` and its kinds, with
`peer == "phone"` here. The phone's own kinds below (Bluetooth, bonds, pairing) derive from `PhoneError`, itself a
`PeerError`, so `except PeerError` catches everything `glassbridge.phone` raises; none is a bare timeout or a bare
BleakError (the bleak/D-Bus cause is chained with ``from``).
"""

from __future__ import annotations

from glassbridge.protocol.errors import PeerError, PeerIncompatible

__all__ = [
    "BluetoothUnavailable",
    "BondStoreError",
    "NotBonded",
    "PairingFailed",
    "PairingRefused",
    "PhoneError",
    "UnknownDevice",
    "incompatible_phone",
]


class PhoneError(PeerError):
    """Base class of the errors only the phone link has (bonds, pairing, BlueZ, the companion's GATT service)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, peer="phone")


class BluetoothUnavailable(PhoneError):
    """BlueZ cannot be reached on the system D-Bus (no bluetoothd, no adapter, or a wrong DBUS_SYSTEM_BUS_ADDRESS)."""


class NotBonded(PhoneError):
    """No phone is bonded yet (or the bond was forgotten): pair first with `glassbridge phone pair`."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "no phone is bonded with these glasses" + (f" ({detail})" if detail else "")
            + ": run `glassbridge phone pair` with the companion app open on the phone"
        )


class BondStoreError(PhoneError):
    """The bond file exists but cannot be read or written. The bond is NOT forgotten silently: the message names
    the file; fix or delete it (`glassbridge phone forget` deletes it and removes the device from BlueZ)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(
            f"the phone bond file {path} {reason}: fix it, or run `glassbridge phone forget` and pair again"
        )
        self.path = path


class PairingFailed(PhoneError):
    """Pairing did not complete (no numeric comparison was offered, the link dropped, BlueZ reported an error)."""


class PairingRefused(PairingFailed):
    """Pairing was refused: `by` is "wearer" (a shake, a "no", a timeout on the glasses) or "phone" (its user
    declined, or the six digits did not match on its side)."""

    def __init__(self, by: str, detail: str = "") -> None:
        who = "the wearer refused the pairing on the glasses" if by == "wearer" else (
            "the phone refused the pairing (its user declined, or the digits did not match)"
        )
        super().__init__(who + (f": {detail}" if detail else "") + "; run `glassbridge phone pair` to try again")
        self.by = by


class UnknownDevice(PhoneError):
    """A device offered the glassbridge service but is not the bonded phone: refused, never connected to."""

    def __init__(self, address: str, name: str, bonded: str) -> None:
        super().__init__(
            f"refused {address} ({name or 'no name'}): it advertises the glassbridge service but is not the bonded "
            f"phone {bonded}; to switch phones run `glassbridge phone forget` then `glassbridge phone pair`"
        )
        self.address = address
        self.name = name


def incompatible_phone(phone_min: int, phone_max: int, ours_min: int, ours_max: int,
                       app_version: str = "") -> PeerIncompatible:
    """The error for a companion whose link protocol versions these glasses cannot speak (or the other way round),
    from its ServiceInfo or its Hello: both ranges, and which side to update."""
    newer = "glassbridge on the glasses" if phone_min > ours_max else "the companion app on the phone"
    app = f" (companion {app_version})" if app_version else ""
    return PeerIncompatible(
        f"the phone{app} speaks link protocol versions {phone_min}..{phone_max}, these glasses "
        f"{ours_min}..{ours_max}: update {newer}",
        peer="phone", peer_versions=(phone_min, phone_max), our_versions=(ours_min, ours_max))
