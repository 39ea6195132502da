"""Errors of the MCU link that only the MCU has, each naming what failed and what to do.

What any peer's client raises (the link lost, a request refused, a transfer failed, a version mismatch, no
handshake) is one family for both links, in glassbridge.protocol.errors: `PeerError` and its kinds, with
`peer == "MCU"` here; none of them is a bare timeout. The MCU's own kinds below derive from `McuError`, itself a
`PeerError`, so `except PeerError` catches everything the `Mcu` client raises and `except McuError` what only the
MCU can raise.
"""

from __future__ import annotations

from glassbridge.protocol.errors import PeerError

__all__ = ["CaptureStoppedError", "McuError", "PortError"]


class McuError(PeerError):
    """Base class of the errors only the MCU link has (and of the MCU client's own refusals)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, peer="MCU")


class PortError(McuError):
    """The serial port cannot be opened, or it went away and did not come back in time."""


class CaptureStoppedError(McuError):
    """The MCU switched the camera or the microphone off by itself: its capture fail-safe acted after the link to
    the SoC had been lost for longer than its fail-safe time. Nothing comes back on by itself: ask again."""
