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

Bonds cannot be stolen. bumble stores a pairing's keys under the identity address the peer distributes (SMP
Identity Address Information), merging them into whatever entry is there: a stranger that pairs and hands over
the bonded glasses' identity address (or their IRK) would overwrite their keys and be taken for them. So a
pairing is refused (Pairing Failed, then the connection is dropped) when the peer connects from a bonded
identity (or from an address that resolves to one), or distributes an IRK or an identity address that is bonded
already. The owner forgets that bond first (`forget` on the control socket); then the glasses pair anew.

`CompanionPairingDelegate` hands the six digits to `decide` (the person comparing them: companion.py) and refuses
Just Works confirmation requests outright (defence in depth: StrictSession refuses them earlier).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bumble import smp
from bumble.device import Connection
from bumble.pairing import PairingConfig, PairingDelegate

__all__ = ["BondGuard", "CompanionPairingDelegate", "Decide", "Refused", "StrictSession", "pairing_config"]

log = logging.getLogger(__name__)

#: decide(connection, number, method) -> accepted. `method` is "numeric_comparison" or "passkey_display".
Decide = Callable[[Connection, int, str], Awaitable[bool]]
#: refused(connection, reason): a pairing refused before anyone was asked (recorded, reported).
Refused = Callable[[Connection, str], None]


class BondGuard(Protocol):
    """Which bonded identity an address or an IRK belongs to (server.BondBook)."""

    def holder(self, *, address: str | None = None, irk: bytes | None = None) -> str | None: ...

_KEYS = PairingDelegate.KeyDistribution.DISTRIBUTE_ENCRYPTION_KEY | PairingDelegate.KeyDistribution.DISTRIBUTE_IDENTITY_KEY
_AUTHENTICATED_METHODS = (smp.PairingMethod.NUMERIC_COMPARISON, smp.PairingMethod.PASSKEY)


class CompanionPairingDelegate(PairingDelegate):
    """IO capability DisplayYesNo: the phone shows the number and its user says yes or no."""

    def __init__(self, connection: Connection, decide: Decide, guard: BondGuard, refused: Refused,
                 accepting: Callable[[], bool] = lambda: True) -> None:
        super().__init__(
            io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
            local_initiator_key_distribution=_KEYS,
            local_responder_key_distribution=_KEYS,
        )
        self.connection = connection
        self.guard = guard
        self.refused = refused
        self.accepting = accepting  # False: the companion takes no new glasses (policy refuse)
        self._decide = decide

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return await self._decide(self.connection, number, "numeric_comparison")

    async def display_number(self, number: int, digits: int) -> None:
        # Passkey entry with a KeyboardOnly central: we display, the wearer types it on the glasses (the person
        # compares by typing; a stranger cannot see this screen). Nothing to confirm here; recorded.
        await self._decide(self.connection, number, "passkey_display")

    async def confirm(self, auto: bool = False) -> bool:
        log.warning("pairing with %s: Just Works confirmation requested; refused (no MITM protection)",
                    self.connection.peer_address)
        return False

    async def get_number(self) -> int | None:
        return None  # the companion never types a passkey (it has no keyboard role): refuse


class StrictSession(smp.Session):
    """An SMP session that refuses, before answering, every pairing that would not give an authenticated bond,
    and, during key distribution, every pairing that would replace another device's bond."""

    @property
    def _delegate(self) -> CompanionPairingDelegate:
        delegate = self.pairing_config.delegate
        assert isinstance(delegate, CompanionPairingDelegate)
        return delegate

    def _refuse(self, reason: str, error: smp.ErrorCode) -> None:
        log.warning("pairing with %s refused: %s", self.connection.peer_address, reason)
        self._delegate.refused(self.connection, reason)
        self.send_pairing_failed(error)
        # Keys may already encrypt this link (LE SC encrypts before key distribution): the connection goes.
        if self.connection.is_encrypted:
            self.connection.cancel_on_disconnection(self._drop())

    async def _drop(self) -> None:
        try:
            await self.connection.disconnect()
        except Exception as exc:  # already gone
            log.debug("disconnect after a refused pairing: %s", exc)

    def _collision(self, *, address: str | None = None, irk: bytes | None = None, what: str) -> bool:
        holder = self._delegate.guard.holder(address=address, irk=irk)
        if holder is None:
            return False
        self._refuse(f"{what} belongs to the bonded glasses {holder}: a pairing would replace their bond (forget "
                     "it on the companion first)", smp.ErrorCode.UNSPECIFIED_REASON)
        return True

    def refusal(self, command: smp.SMP_Pairing_Request_Command) -> str | None:
        """Why this Pairing Request is refused, or None when it leads to an authenticated LE SC bond."""
        if not self._delegate.accepting():
            return "the companion takes no new glasses (policy refuse)"
        holder = self._delegate.guard.holder(address=str(self.connection.peer_address))
        if holder is not None:
            return (f"the central connects as the bonded glasses {holder} without their keys: a pairing would "
                    "replace their bond (forget it on the companion first)")
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
            self._refuse(reason, smp.ErrorCode.AUTHENTICATION_REQUIREMENTS)
            return
        await super().on_smp_pairing_request_command_async(command)

    # The checks come before bumble records the distributed key: refused, the key distribution never completes,
    # so the keys are never stored.
    def on_smp_identity_information_command(self, command: smp.SMP_Identity_Information_Command) -> None:
        if not self._collision(irk=bytes(command.identity_resolving_key), what="the IRK it distributed"):
            super().on_smp_identity_information_command(command)

    def on_smp_identity_address_information_command(
            self, command: smp.SMP_Identity_Address_Information_Command) -> None:
        if not self._collision(address=str(command.bd_addr), what=f"the identity address {command.bd_addr}"):
            super().on_smp_identity_address_information_command(command)


def pairing_config(connection: Connection, decide: Decide, guard: BondGuard, refused: Refused,
                   accepting: Callable[[], bool] = lambda: True) -> PairingConfig:
    """LE SC, MITM, bonding; identity = our static random address (not a dongle's public one)."""
    return PairingConfig(
        sc=True,
        mitm=True,
        bonding=True,
        delegate=CompanionPairingDelegate(connection, decide, guard, refused, accepting),
        identity_address_type=PairingConfig.AddressType.RANDOM,
    )
