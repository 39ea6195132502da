"""Errors of the MCU link, each naming what was being waited for and what to do.

Every error the `Mcu` client raises is a `McuError`; none of them is a bare timeout. Catch the subclasses to
react (reconnect, re-send, tell the wearer), or `McuError` to report.
"""

from __future__ import annotations


class McuError(Exception):
    """Base class of everything the MCU client raises."""


class PortError(McuError):
    """The serial port cannot be opened, or it went away and did not come back in time."""


class NotConnectedError(McuError):
    """No handshake with the MCU within the time given: nothing answers on the port, or the baud is wrong."""


class LinkLostError(McuError):
    """The link went down while a request was waiting and did not come back within the patience allowed."""


class McuRebootedError(McuError):
    """The MCU restarted (new link session) while a request was in flight; its state (camera, stream) is reset."""


class VersionMismatchError(McuError):
    """The MCU speaks a link protocol version this glassbridge cannot (or the other way round)."""


class RequestFailedError(McuError):
    """The MCU answered a request with an error code (`code`, e.g. ERROR_CODE_BUSY) and a message."""

    def __init__(self, what: str, code: int, code_name: str, message: str) -> None:
        super().__init__(f"{what}: the MCU answered {code_name}" + (f" ({message})" if message else ""))
        self.code = code
        self.code_name = code_name
        self.mcu_message = message


class TransferError(McuError):
    """A bulk transfer could not be completed (the MCU rejected it, or its SHA-256 did not verify)."""


class LinkStalledError(McuError):
    """The link is up but nothing gets through: no acknowledgement for the stall timeout while messages waited.
    The message says what the line did meanwhile (frames sent again, frames from the MCU with a bad CRC)."""


class CaptureStoppedError(McuError):
    """The MCU switched the camera or the microphone off by itself: its capture fail-safe acted after the link to
    the SoC had been lost for longer than its fail-safe time. Nothing comes back on by itself: ask again."""
