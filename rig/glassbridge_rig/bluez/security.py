"""One device's security: its bond (identity, keys' strength), SMP pairing through an agent, and security raised
when the peer asks for it, as bluetoothd runs them in src/device.c (bonding_req, the authentication request and
new_authentication_return) with the agents of src/agent.c (agent.py) and the keys in bumble's keystore (store.py).

Pair (pair_device): SMP with the IO capability of the caller's agent, else the default agent, else
    NoInputNoOutput; LE Secure Connections, MITM and bonding requested (service.py's pairing config); the outcome
    mapped as new_authentication_return() does: AuthenticationFailed for every SMP failure,
    AuthenticationCanceled for CancelPairing or a lost link. Device1.Pair (device.py) makes the link first and
    resolves the services after; this part only runs SMP on a link that is up.
Security raised by the stack (gatt_client.py's request, and a peer's SMP Security Request): a request answered
    with Insufficient Authentication/Encryption (or Encryption Key Size) raises security once - encrypt with the
    bond's key, or pair via the default agent when there is no bond (or the bond's key is not authenticated and
    authentication was asked) - and is retried once by the caller.

Apart from the D-Bus face (device.py) so that the pairing state machine reads on its own, and apart from the GATT
client (gatt_client.py), which only asks it to raise the link's security. It knows its device only through
`SecurityOwner`: no import of device.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from bumble import att, core, hci, smp
from bumble.keys import PairingKeys

from glassbridge_rig.bluez.agent import Agent, AgentDelegate, AgentManager
from glassbridge_rig.bluez.errors import BluezError, auth_error

if TYPE_CHECKING:
    from bumble.device import Connection, Device

__all__ = ["SECURITY_ERRORS", "DeviceSecurity", "SecurityOwner"]

log = logging.getLogger(__name__)

#: ATT errors that make the stack raise the link's security and retry the request once.
SECURITY_ERRORS = (
    att.ErrorCode.INSUFFICIENT_AUTHENTICATION,
    att.ErrorCode.INSUFFICIENT_ENCRYPTION,
    att.ErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
)


class SecurityOwner(Protocol):
    """What a device's security needs of the device (device.py's BluezDevice)."""

    @property
    def path(self) -> str: ...

    @property
    def connection(self) -> Connection | None: ...

    @property
    def operation(self) -> str | None:
        """"connect" or "pair" while Device1.Connect or Pair runs, else None."""

    def require_connected(self) -> Connection: ...

    async def drop(self, reason: int) -> None: ...


class DeviceSecurity:
    """The bond and the pairing of one remote device.

    `stack` is the adapter's bumble Device (SMP, encryption), `agents` the service's AgentManager.
    """

    def __init__(self, device: SecurityOwner, stack: Device, agents: AgentManager) -> None:
        self.device = device
        self.stack = stack
        self.agents = agents
        self.identity: hci.Address | None = None
        self.paired = False
        self.bonded = False
        self.key_authenticated = False
        self.has_irk = False
        self.cancel_requested = False  # CancelPairing was called during the current Pair
        self._delegate: AgentDelegate | None = None
        self._pair_task: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ the bond
    def bond_known(self, identity: hci.Address, keys: PairingKeys) -> None:
        """A bond (restored at start or just made): identity address, Paired/Bonded, key strength."""
        self.identity = identity
        self.has_irk = keys.irk is not None
        self.key_authenticated = bool(keys.ltk and keys.ltk.authenticated) or bool(
            keys.ltk_central and keys.ltk_central.authenticated
        )
        self.paired = True
        self.bonded = True

    # ------------------------------------------------------------------ pairing
    @property
    def pairing(self) -> bool:
        """SMP runs on the link now."""
        return self._pair_task is not None

    async def pair(self, agent: Agent | None) -> None:
        """SMP pairing on the current link with `agent` answering; raises the BlueZ error Pair would return."""
        conn = self.device.require_connected()
        self._delegate = AgentDelegate(self.agents, agent, self.device.path)
        self._pair_task = asyncio.ensure_future(self.stack.pair(conn))
        try:
            await self._pair_task
        except asyncio.CancelledError as exc:
            raise auth_error("canceled") from exc
        except core.ProtocolError as exc:
            log.info("%s: pairing failed: %s", self.device.path, exc)
            raise auth_error("canceled" if self.cancel_requested else "failed") from exc
        except core.BaseBumbleError as exc:
            raise auth_error("canceled" if self.device.connection is None else "failed") from exc
        finally:
            self._pair_task = None
            self._delegate = None
        if self.device.connection is not conn:
            raise auth_error("canceled")

    def cancel(self) -> bool:
        """CancelPairing: refuse through the agent being asked, else fail the SMP exchange. False when neither
        was under way (the caller then cancels the link being made)."""
        self.cancel_requested = True
        if self._delegate is not None and self._delegate.cancel():
            return True  # the agent is being asked: its refusal fails the SMP exchange
        conn = self.device.connection
        if self._pair_task is not None and not self._pair_task.done() and conn is not None:
            session = self.stack.smp_manager.sessions.get(conn.handle)
            if session is not None:
                session.send_pairing_failed(smp.ErrorCode.UNSPECIFIED_REASON)
                return True
        return False

    def abort(self) -> None:
        """The service stops: end a pending agent request."""
        if self._delegate is not None:
            self._delegate.cancel()

    def pairing_delegate(self) -> AgentDelegate:
        """The delegate for an SMP session on this device's link (Pair's, else the default agent's)."""
        if self._delegate is not None:
            return self._delegate
        return AgentDelegate(self.agents, self.agents.default(), self.device.path)

    # ------------------------------------------------------------------ security raised by the stack
    def on_security_request(self, conn: Connection) -> None:
        """The peer sent an SMP Security Request on `conn`."""
        # Pair is pairing already; a bonded Connect encrypts by itself before anything else.
        operation = self.device.operation
        if operation == "pair" or self._pair_task is not None or self.device.connection is not conn:
            return
        if operation == "connect" and self.bonded:
            return
        asyncio.ensure_future(self.raise_security(att.ErrorCode.INSUFFICIENT_AUTHENTICATION))

    async def raise_security(self, code: int) -> bool:
        """Raise the link's security one step for ATT error `code`; True when the request is worth retrying."""
        async with self._lock:
            conn = self.device.connection
            if conn is None:
                return False
            want_auth = code == att.ErrorCode.INSUFFICIENT_AUTHENTICATION
            try:
                if self.bonded and not conn.is_encrypted:
                    await self.stack.encrypt(conn)
                    return True
                if not conn.is_encrypted or (want_auth and not self.key_authenticated):
                    await self.pair(self.agents.default())
                    return True
            except BluezError as exc:
                log.info("%s: raising security failed: %s", self.device.path, exc.text)
            except hci.HCI_Error as exc:
                log.warning("%s: encryption with the stored key failed (%s)", self.device.path, exc)
                await self.device.drop(hci.HCI_AUTHENTICATION_FAILURE_ERROR)
            return False
