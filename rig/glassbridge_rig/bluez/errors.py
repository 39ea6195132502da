"""BlueZ's D-Bus error names, and how bumble's failures map onto them the way bluetoothd maps the kernel's.

Clients (bleak in particular) recognise failures by these names and, for some, by the message text, so both are
copied from BlueZ: src/error.c (names, "le-connection-*" strings), src/device.c new_authentication_return() (what
Pair returns), src/gatt-client.c create_gatt_dbus_error() (ATT error codes -> names; bleak's assert_gatt_reply
parses "Operation failed with ATT error: 0x..").
"""

from __future__ import annotations

from bumble import att, hci
from dbus_fast import DBusError

__all__ = [
    "AGENT_REFUSALS",
    "BluezError",
    "ERROR",
    "att_error",
    "auth_error",
    "le_connect_error",
]

#: The prefix of every BlueZ error name.
ERROR = "org.bluez.Error"

#: What an agent answers to refuse a request (BlueZ treats any error reply as a refusal).
AGENT_REFUSALS = (f"{ERROR}.Rejected", f"{ERROR}.Canceled")


class BluezError(DBusError):
    """A D-Bus error reply named org.bluez.Error.<short>; raise it from a method to answer the caller."""

    def __init__(self, short: str, text: str = "") -> None:
        super().__init__(f"{ERROR}.{short}", text or short)
        self.short = short


def att_error(code: int) -> BluezError:
    """The reply for an ATT Error Response to a ReadValue/WriteValue/StartNotify (create_gatt_dbus_error)."""
    if code == att.ErrorCode.READ_NOT_PERMITTED:
        return BluezError("NotPermitted", "Read not permitted")
    if code == att.ErrorCode.WRITE_NOT_PERMITTED:
        return BluezError("NotPermitted", "Write not permitted")
    if code in (
        att.ErrorCode.INSUFFICIENT_AUTHENTICATION,
        att.ErrorCode.INSUFFICIENT_ENCRYPTION,
        att.ErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
    ):
        return BluezError("NotPermitted", "Not paired")
    if code == att.ErrorCode.INVALID_OFFSET:
        return BluezError("InvalidArguments", "Invalid offset")
    if code == att.ErrorCode.INVALID_ATTRIBUTE_LENGTH:
        return BluezError("InvalidArguments", "Invalid Length")
    if code == att.ErrorCode.INSUFFICIENT_AUTHORIZATION:
        return BluezError("NotAuthorized", "Not Authorized")
    if code == att.ErrorCode.REQUEST_NOT_SUPPORTED:
        return BluezError("NotSupported", "Not Supported")
    if code == 0:
        return BluezError("Failed", "Operation failed")
    return BluezError("Failed", f"Operation failed with ATT error: 0x{code:02x}")


def auth_error(kind: str) -> BluezError:
    """Pair's reply for an outcome (new_authentication_return in src/device.c).

    `kind`: "failed", "rejected", "canceled", "timeout", "connect-failed", "already-paired". The kernel reports
    every SMP failure, local or remote (a refused numeric comparison, unmet authentication requirements, a bad
    confirm value), as HCI "authentication failure" (smp_failure -> mgmt_auth_failed), hence "failed".
    """
    table = {
        "failed": ("AuthenticationFailed", "Authentication Failed"),
        "rejected": ("AuthenticationRejected", "Authentication Rejected"),
        "canceled": ("AuthenticationCanceled", "Authentication Canceled"),
        "timeout": ("AuthenticationTimeout", "Authentication Timeout"),
        "connect-failed": ("ConnectionAttemptFailed", "Page Timeout"),
        "already-paired": ("AlreadyExists", "Already Paired"),
    }
    short, text = table[kind]
    return BluezError(short, text)


def le_connect_error(hci_code: int | None) -> BluezError:
    """Connect's reply when the LE link could not be made or kept (btd_error_le_errno's strings).

    Timeouts give "le-connection-timeout"; a missing key (the peer forgot the bond, or an impostor holds the
    address) "le-connection-key-missing"; the peer ending the link "le-connection-abort-by-remote". The text
    "le-connection-abort-by-local" is avoided on purpose: bleak retries forever on it.
    """
    if hci_code is None:
        text = "le-connection-timeout"
    elif hci_code in (hci.HCI_PIN_OR_KEY_MISSING_ERROR, hci.HCI_AUTHENTICATION_FAILURE_ERROR):
        text = "le-connection-key-missing"
    elif hci_code in (
        hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR,
        hci.HCI_CONNECTION_TIMEOUT_ERROR,
        hci.HCI_CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR,
    ):
        text = "le-connection-abort-by-remote"
    else:
        text = "le-connection-unknown"
    return BluezError("Failed", text)
