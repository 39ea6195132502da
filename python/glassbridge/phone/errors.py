"""Errors of the phone link, each naming what failed and what to do.

Everything `glassbridge.phone` raises is a `PhoneError`; none is a bare timeout or a bare BleakError (the
bleak/D-Bus cause is chained with ``from``). Catch the subclasses to react (re-pair, wait, tell the wearer), or
`PhoneError` to report.
"""

from __future__ import annotations

__all__ = [
    "BluetoothUnavailable",
    "BondStoreError",
    "ConnectionLost",
    "IncompatiblePhone",
    "NotBonded",
    "PairingFailed",
    "PairingRefused",
    "PhoneError",
    "PhoneTimeout",
    "RequestFailed",
    "TransferFailed",
    "UnknownDevice",
]


class PhoneError(Exception):
    """Base class of everything glassbridge.phone raises."""


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


class ConnectionLost(PhoneError):
    """The BLE connection to the phone went away while something waited on it, and did not come back in time."""


class PhoneTimeout(PhoneError):
    """Nothing arrived within the time given; the message names what was awaited and what was seen meanwhile."""

    def __init__(self, awaited: str, seconds: float, seen: str = "") -> None:
        super().__init__(f"no {awaited} within {seconds:g} s" + (f" ({seen})" if seen else ""))
        self.awaited = awaited
        self.seconds = seconds


class IncompatiblePhone(PhoneError):
    """The companion speaks link protocol versions these glasses cannot (or the other way round)."""

    def __init__(self, phone_min: int, phone_max: int, ours_min: int, ours_max: int, app_version: str = "") -> None:
        newer = "glassbridge on the glasses" if phone_min > ours_max else "the companion app on the phone"
        app = f" (companion {app_version})" if app_version else ""
        super().__init__(
            f"the phone{app} speaks link protocol versions {phone_min}..{phone_max}, these glasses "
            f"{ours_min}..{ours_max}: update {newer}"
        )
        self.phone_versions = (phone_min, phone_max)
        self.our_versions = (ours_min, ours_max)


class RequestFailed(PhoneError):
    """The phone answered a request with an error code (`code_name`, e.g. "no_such_transfer") and a message."""

    def __init__(self, what: str, code: int, code_name: str, message: str) -> None:
        super().__init__(f"{what}: the phone answered {code_name}" + (f" ({message})" if message else ""))
        self.code = code
        self.code_name = code_name
        self.phone_message = message


class TransferFailed(PhoneError):
    """An upload was refused by the phone, or its SHA-256 did not verify there."""
