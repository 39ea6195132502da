"""The person on the rig: holds the glasses and the phone, and compares the six digits on both, honestly.

Pairing by numeric comparison protects only when somebody compares. The rig therefore never switches that off:
the companion waits for an answer to every pairing as it would on a phone, and this module plays the person who
gives it. It reads what the glasses show (the code their PairingUI was handed, or the card on the MCU's display)
and what the phone shows (the companion's pending pairing on its control socket), and

- tells the phone the digits the glasses show (`pair-confirm`): the companion itself accepts only its own digits;
- answers the glasses yes only when the phone shows the same digits, no otherwise.

A pairing nobody answers times out on the companion and is refused, on the rig as on a real phone.

    wearer = RigWearer(rig.companion_ctl)               # a PairingUI for glassbridge.phone.pair_phone
    bond = await pair_phone(store, wearer, name=rig.companion_name)
    await confirm_on_phone(rig.companion_ctl, code)     # with another UI (McuPairingUI): the phone's half
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["CompanionCtl", "PhoneMismatch", "RigWearer", "confirm_on_phone", "phone_pending"]

log = logging.getLogger(__name__)

#: One request to the companion's control socket, answered synchronously (BleRig.companion_ctl).
CompanionCtl = Callable[[dict[str, Any]], dict[str, Any]]


class PhoneMismatch(RuntimeError):
    """The phone showed no pairing, or other digits than the glasses (the person refused on both)."""


async def phone_pending(ctl: CompanionCtl, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The pairings the phone shows (looking at its screen until one appears); [] after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await asyncio.to_thread(ctl, {"cmd": "pairing"})
        pending: list[dict[str, Any]] = list(answer.get("pending", []))
        if pending or time.monotonic() >= deadline:
            return pending
        await asyncio.sleep(0.02)


async def confirm_on_phone(ctl: CompanionCtl, code: int, *, timeout: float = 10.0) -> dict[str, Any]:
    """The phone's half of a comparison: the person types the digits the glasses show into the phone's prompt.

    Returns the pairing the phone showed. PhoneMismatch (after refusing it on the phone) when the phone shows
    other digits, or nothing within `timeout`."""
    digits = f"{code:06d}"
    pending = await phone_pending(ctl, timeout)
    if not pending:
        raise PhoneMismatch(f"the glasses show {digits} but the phone shows no pairing request within {timeout:g} s")
    same = [p for p in pending if p.get("digits") == digits]
    if not same:
        await asyncio.to_thread(ctl, {"cmd": "pair-refuse"})
        shown = ", ".join(str(p.get("digits")) for p in pending)
        raise PhoneMismatch(f"the glasses show {digits}, the phone {shown}: refused on both")
    answer = await asyncio.to_thread(ctl, {"cmd": "pair-confirm", "digits": digits, "peer": same[0]["peer"]})
    if not answer.get("ok"):
        raise PhoneMismatch(f"the phone did not take {digits}: {answer.get('error')}")
    return same[0]


class RigWearer:
    """A PairingUI (glassbridge.phone.agent) for the glasses that looks at both screens.

    `confirm(code, name)` waits for the phone's pairing request, answers the phone with the glasses' digits and
    returns True only when the phone showed the same ones. `codes` keeps what the glasses showed."""

    def __init__(self, ctl: CompanionCtl, *, timeout: float = 10.0) -> None:
        self.ctl = ctl
        self.timeout = timeout
        self.codes: list[int] = []

    async def confirm(self, code: int, device_name: str) -> bool:
        self.codes.append(code)
        try:
            await confirm_on_phone(self.ctl, code, timeout=self.timeout)
        except PhoneMismatch as exc:
            log.warning("pairing with %s refused by the person: %s", device_name, exc)
            return False
        log.info("pairing with %s: the glasses and the phone both show %06d: yes on both", device_name, code)
        return True
