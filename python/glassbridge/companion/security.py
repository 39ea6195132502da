"""Pairing rules of the companion (SPEC.md 16.2): LE Secure Connections with MITM protection and bonding, or nothing.

bumble's SMP responder pairs with whatever the central proposes: legacy pairing, Just Works, no bonding. And once
a link is encrypted bumble calls it `authenticated` whatever the key (Device.on_pairing and the LE encryption
change both set the flag), so its READ/WRITE_REQUIRES_AUTHENTICATION permissions only prove encryption. The
companion therefore decides itself, at two points:

- `StrictSession` (bumble's `smp.Session` with the request checked first) answers a Pairing Request that is not
  LE Secure Connections, does not bond, asks for out-of-band data, or whose IO capabilities can only give Just
  Works with Pairing Failed (Authentication Requirements), before any key is made. With our DisplayYesNo, a
  DisplayYesNo or KeyboardDisplay central gets numeric comparison, a KeyboardOnly one passkey entry (we display).
- `BondBook` (server.py) remembers which bonded identities hold an authenticated key; a connection counts as
  secure only when it is encrypted AND its peer is in that book (see server.py `is_secure`).

`CompanionPairingDelegate` shows (records) the six digits and asks the confirmation policy; Just Works
confirmation requests are refused outright (defence in depth: StrictSession refuses them earlier).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bumble import smp
from bumble.pairing import PairingConfig, PairingDelegate

__all__ = ["CompanionPairingDelegate", "Decide", "StrictSession", "pairing_config"]

log = logging.getLogger(__name__)

#: decide(peer, number, method) -> accepted. `method` is "numeric_comparison" or "passkey_display".
Decide = Callable[[str, int, str], Awaitable[bool]]

_KEYS = PairingDelegate.KeyDistribution.DISTRIBUTE_ENCRYPTION_KEY | PairingDelegate.KeyDistribution.DISTRIBUTE_IDENTITY_KEY
_AUTHENTICATED_METHODS = (smp.PairingMethod.NUMERIC_COMPARISON, smp.PairingMethod.PASSKEY)


class CompanionPairingDelegate(PairingDelegate):
    """IO capability DisplayYesNo: the phone shows the number and its user says yes or no."""

    def __init__(self, peer: str, decide: Decide) -> None:
        super().__init__(
            io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
            local_initiator_key_distribution=_KEYS,
            local_responder_key_distribution=_KEYS,
        )
        self._peer = peer
        self._decide = decide

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return await self._decide(self._peer, number, "numeric_comparison")

    async def display_number(self, number: int, digits: int) -> None:
        # Passkey entry with a KeyboardOnly central: we display, the wearer types it on the glasses. Nothing to
        # confirm here; recorded so the number can be compared with what the glasses got.
        await self._decide(self._peer, number, "passkey_display")

    async def confirm(self, auto: bool = False) -> bool:
        log.warning("pairing with %s: Just Works confirmation requested; refused (no MITM protection)", self._peer)
        return False

    async def get_number(self) -> int | None:
        return None  # the companion never types a passkey (it has no keyboard role): refuse


class StrictSession(smp.Session):
    """An SMP session that refuses, before answering, every pairing that would not give an authenticated bond."""

    def refusal(self, command: smp.SMP_Pairing_Request_Command) -> str | None:
        """Why this Pairing Request is refused, or None when it leads to an authenticated LE SC bond."""
        auth = smp.AuthReq(command.auth_req)
        if not auth & smp.AuthReq.SC:
            return "legacy pairing (the central did not offer LE Secure Connections)"
        if not auth & smp.AuthReq.BONDING:
            return "pairing without bonding (the glasses must keep the key to reconnect)"
        if command.oob_data_flag:
            return "out-of-band pairing (the companion has no out-of-band channel)"
        saved_sc, saved_method = self.sc, self.pairing_method
        self.sc = True
        self.decide_pairing_method(command.auth_req, command.io_capability, self.io_capability)
        method = self.pairing_method
        self.sc, self.pairing_method = saved_sc, saved_method
        if method not in _AUTHENTICATED_METHODS:
            cap = smp.IoCapability(command.io_capability).name
            return f"{method.name} pairing (the central's IO capability {cap} gives no MITM protection)"
        return None

    async def on_smp_pairing_request_command_async(self, command: smp.SMP_Pairing_Request_Command) -> None:
        reason = self.refusal(command)
        if reason is not None:
            log.warning("pairing with %s refused: %s", self.connection.peer_address, reason)
            self.send_pairing_failed(smp.ErrorCode.AUTHENTICATION_REQUIREMENTS)
            return
        await super().on_smp_pairing_request_command_async(command)


def pairing_config(peer: str, decide: Decide) -> PairingConfig:
    """LE SC, MITM, bonding; identity = our static random address (not a dongle's public one)."""
    return PairingConfig(
        sc=True,
        mitm=True,
        bonding=True,
        delegate=CompanionPairingDelegate(peer, decide),
        identity_address_type=PairingConfig.AddressType.RANDOM,
    )
