"""The pairing dialog on the glasses' own display: the six digits of a numeric comparison shown by the MCU, a
nod or a tap for yes, a shake for no. It joins two devices, the MCU (glassbridge.mcu) and the phone link's pairing
agent (glassbridge.phone.agent.PairingUI), so it lives above both, here, not in either.

    ui = McuPairingUI(mcu, timeout=30)
    bond = await pair_phone(store, ui)        # the wearer sees the digits on the display and nods
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassbridge.mcu.client import Mcu

__all__ = ["McuPairingUI", "pairing_title"]

log = logging.getLogger(__name__)


def pairing_title(device_name: str) -> str:
    """The pairing card's title: who, and how to answer. The text is the six digits alone, which the firmware
    draws large and centred for a PAIRING card; the title line holds 38 characters of the small font."""
    title = f"Pair {device_name}? Nod: yes, shake: no"
    return title if len(title) <= 38 else "Pair phone? Nod: yes, shake: no"


@dataclass(frozen=True)
class _PairingCard:
    """What Mcu.show_card reads (duck-typed glassbridge.mcu.client.CardSpec)."""

    title: str
    text: str
    kind: str = "pairing"
    icon: str = "bluetooth"
    ttl_ms: int = 0


class McuPairingUI:
    """The code on the glasses' display (a DisplayCard of kind PAIRING); a nod or a tap says yes, a shake no,
    silence for `timeout` seconds no. `mcu` is a connected glassbridge.mcu.client.Mcu (or anything with its
    `show_card(card)`, `clear_display()` and `events()` returning objects with `.gesture` / `.action`)."""

    def __init__(self, mcu: Mcu | Any, timeout: float = 30.0) -> None:
        self.mcu: Any = mcu  # duck-typed: the glasses' Mcu client or a test double
        self.timeout = timeout
        self.shown: list[int] = []

    async def confirm(self, code: int, device_name: str) -> bool:
        events = self.mcu.events()
        try:
            # Subscribe before showing the card, so an immediate nod is not missed.
            first = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0)
            await self.mcu.show_card(_PairingCard(title=pairing_title(device_name), text=f"{code:06d}"))
            self.shown.append(code)
            deadline = time.monotonic() + self.timeout
            pending: asyncio.Future[Any] = first
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.info("pairing with %s: no answer on the glasses within %g s: refusing", device_name,
                             self.timeout)
                    pending.cancel()
                    return False
                done, _ = await asyncio.wait({pending}, timeout=left)
                if not done:
                    continue
                event = pending.result()
                gesture = getattr(event, "gesture", None)
                action = getattr(event, "action", None)
                if gesture == "nod" or action == "tap":
                    log.info("pairing with %s: the wearer confirmed (%s)", device_name, gesture or action)
                    return True
                if gesture == "shake":
                    log.info("pairing with %s: the wearer refused (shake)", device_name)
                    return False
                pending = asyncio.ensure_future(events.__anext__())
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()
            with contextlib.suppress(Exception):
                await self.mcu.clear_display()
