"""org.bluez.AgentManager1 and the bridge from bumble's SMP to the application's org.bluez.Agent1.

As in BlueZ (src/agent.c): an application registers an agent object (RegisterAgent(o path, s capability)), one per
D-Bus connection, and may make it the default (RequestDefaultAgent). Pair() uses the caller's own agent if it has
one, else the default agent; with no agent at all, pairing runs with IO capability NoInputNoOutput (Just Works),
which a peer requiring MITM protection refuses. Security raised by the stack itself (an ATT "insufficient
authentication" answer, a peer's Security Request) always uses the default agent. UnregisterAgent calls the
agent's Release; an agent whose connection leaves the bus is dropped silently.

During pairing bumble asks its PairingDelegate; AgentDelegate turns that into Agent1 calls:
numeric comparison -> RequestConfirmation(o device, u passkey) (a reply accepts; any error, e.g.
org.bluez.Error.Rejected or .Canceled, refuses); passkey input -> RequestPasskey(o) -> u; passkey display ->
DisplayPasskey(o, u, q); Just Works is accepted without asking (BlueZ auto-accepts when it initiated the bonding).
An agent that does not answer within `timeout` gets Agent1.Cancel and the pairing is refused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from bumble.pairing import PairingDelegate
from dbus_fast import Message, MessageType
from dbus_fast.service import ServiceInterface, method
from glassbridge_rig.bluez.dbustypes import DBusObjectPath, DBusStr

from glassbridge_rig.bluez.errors import BluezError

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

__all__ = ["AGENT_IFACE", "Agent", "AgentDelegate", "AgentManager", "AgentManagerInterface", "CAPABILITIES"]

log = logging.getLogger(__name__)

AGENT_IFACE = "org.bluez.Agent1"
AGENT_MANAGER_IFACE = "org.bluez.AgentManager1"

IoCap = PairingDelegate.IoCapability
#: BlueZ capability strings -> SMP IO capability ("" means KeyboardDisplay, as in mgmt_parse_io_capability).
CAPABILITIES: dict[str, IoCap] = {
    "DisplayOnly": IoCap.DISPLAY_OUTPUT_ONLY,
    "DisplayYesNo": IoCap.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
    "KeyboardOnly": IoCap.KEYBOARD_INPUT_ONLY,
    "NoInputNoOutput": IoCap.NO_OUTPUT_NO_INPUT,
    "KeyboardDisplay": IoCap.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT,
    "": IoCap.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT,
}


@dataclass(frozen=True)
class Agent:
    """A registered agent: the D-Bus unique name that owns it, its object path, its IO capability."""

    owner: str
    path: str
    capability: str

    @property
    def io_capability(self) -> IoCap:
        return CAPABILITIES[self.capability]


class AgentManager:
    """The agents known to the service, keyed by owner, and the default-agent stack."""

    def __init__(self, bus_getter: Callable[[], MessageBus | None], timeout: float = 60.0) -> None:
        self._bus = bus_getter
        self.timeout = timeout
        self.agents: dict[str, Agent] = {}
        self._defaults: list[Agent] = []  # head = default

    # -- AgentManager1, called with the sender's unique name (see service.py: dbus-fast hides the sender) --
    def register(self, sender: str, path: str, capability: str) -> None:
        if sender in self.agents:
            raise BluezError("AlreadyExists", "Already Exists")
        if capability not in CAPABILITIES:
            choices = sorted(c for c in CAPABILITIES if c)
            raise BluezError("InvalidArguments", f"Invalid capability {capability!r}: use one of {choices}")
        self.agents[sender] = Agent(sender, path, capability)

    def unregister(self, sender: str, path: str) -> None:
        agent = self.agents.get(sender)
        if agent is None or agent.path != path:
            raise BluezError("DoesNotExist", "Does Not Exist")
        self._remove(agent)
        self._send(agent, "Release", "", [])

    def request_default(self, sender: str, path: str) -> None:
        agent = self.agents.get(sender)
        if agent is None or agent.path != path:
            raise BluezError("DoesNotExist", "Does Not Exist")
        if agent in self._defaults:
            self._defaults.remove(agent)
        self._defaults.insert(0, agent)

    def owner_gone(self, name: str) -> None:
        """The connection `name` left the bus: forget its agent (no Release: nobody is there to receive it)."""
        agent = self.agents.get(name)
        if agent is not None:
            self._remove(agent)

    def _remove(self, agent: Agent) -> None:
        self.agents.pop(agent.owner, None)
        if agent in self._defaults:
            self._defaults.remove(agent)

    # -- lookup --
    def default(self) -> Agent | None:
        return self._defaults[0] if self._defaults else None

    def for_sender(self, sender: str | None) -> Agent | None:
        """The caller's own agent, else the default agent (agent_get in BlueZ)."""
        if sender is not None and sender in self.agents:
            return self.agents[sender]
        return self.default()

    def release_all(self) -> None:
        for agent in list(self.agents.values()):
            self._send(agent, "Release", "", [])
        self.agents.clear()
        self._defaults.clear()

    # -- calls to agents --
    def _send(self, agent: Agent, member: str, signature: str, body: list[object]) -> None:
        bus = self._bus()
        if bus is None or not bus.connected:
            return
        msg = Message(
            destination=agent.owner, path=agent.path, interface=AGENT_IFACE, member=member,
            signature=signature, body=body, flags=1,  # NO_REPLY_EXPECTED
        )
        asyncio.ensure_future(bus.send(msg))

    async def call(self, agent: Agent, member: str, signature: str, body: list[object]) -> list[object] | None:
        """Call an Agent1 method; the reply's body, or None when the agent refused, failed or timed out."""
        bus = self._bus()
        if bus is None:
            return None
        msg = Message(destination=agent.owner, path=agent.path, interface=AGENT_IFACE, member=member,
                      signature=signature, body=body)
        try:
            reply = await asyncio.wait_for(bus.call(msg), self.timeout)
        except asyncio.TimeoutError:
            log.warning("agent %s %s did not answer %s within %.0f s: cancelling", agent.owner, agent.path,
                        member, self.timeout)
            self._send(agent, "Cancel", "", [])
            return None
        except asyncio.CancelledError:
            self._send(agent, "Cancel", "", [])  # CancelPairing while the agent is asked
            raise
        except Exception as exc:  # the bus went away (service stopping): nobody can answer
            log.info("agent %s %s failed: %s", agent.owner, member, exc)
            return None
        if reply is None or reply.message_type == MessageType.ERROR:
            log.info("agent %s refused %s: %s", agent.owner, member, reply.error_name if reply else "no reply")
            return None
        return list(reply.body)


class AgentDelegate(PairingDelegate):
    """bumble's pairing questions for one pairing, answered by an Agent1 (or by policy when there is none)."""

    def __init__(self, manager: AgentManager, agent: Agent | None, device_path: str) -> None:
        super().__init__(
            io_capability=agent.io_capability if agent else IoCap.NO_OUTPUT_NO_INPUT,
            local_initiator_key_distribution=PairingDelegate.DEFAULT_KEY_DISTRIBUTION,
            local_responder_key_distribution=PairingDelegate.DEFAULT_KEY_DISTRIBUTION,
        )
        self.manager = manager
        self.agent = agent
        self.device_path = device_path
        #: What the agent was asked and answered, for logs and tests: (method, number, accepted).
        self.asked: list[tuple[str, int | None, bool]] = []
        self._pending: asyncio.Future[list[object] | None] | None = None

    async def accept(self) -> bool:
        return True

    async def confirm(self, auto: bool = False) -> bool:
        # Just Works: bluetoothd auto-accepts a bonding it initiated (device_confirm_passkey, confirm_hint).
        return True

    async def _ask(self, agent: Agent, member: str, signature: str, body: list[object]) -> list[object] | None:
        self._pending = asyncio.ensure_future(self.manager.call(agent, member, signature, body))
        try:
            return await self._pending
        except asyncio.CancelledError:
            if self._pending is not None and self._pending.cancelled():
                return None  # CancelPairing: the agent got Cancel, the pairing is refused
            raise
        finally:
            self._pending = None

    def cancel(self) -> bool:
        """Cancel a pending agent request (CancelPairing); False when none is pending."""
        if self._pending is None or self._pending.done():
            return False
        self._pending.cancel()
        return True

    async def compare_numbers(self, number: int, digits: int) -> bool:
        if self.agent is None:
            return False
        reply = await self._ask(self.agent, "RequestConfirmation", "ou", [self.device_path, number])
        self.asked.append(("RequestConfirmation", number, reply is not None))
        return reply is not None

    async def get_number(self) -> int | None:
        if self.agent is None:
            return None
        reply = await self._ask(self.agent, "RequestPasskey", "o", [self.device_path])
        value = reply[0] if reply else None
        self.asked.append(("RequestPasskey", value if isinstance(value, int) else None, reply is not None))
        return value if isinstance(value, int) else None

    async def display_number(self, number: int, digits: int) -> None:
        if self.agent is not None:
            self.manager._send(self.agent, "DisplayPasskey", "ouq", [self.device_path, number, 0])
            self.asked.append(("DisplayPasskey", number, True))


class AgentManagerInterface(ServiceInterface):
    """org.bluez.AgentManager1 at /org/bluez, for introspection and GetManagedObjects.

    The calls themselves are answered by BluezService's message filter, which knows the caller's unique name
    (agents belong to D-Bus connections); these methods only run if that filter is bypassed.
    """

    def __init__(self) -> None:
        super().__init__(AGENT_MANAGER_IFACE)

    @method()
    def RegisterAgent(self, agent: DBusObjectPath, capability: DBusStr):  # type: ignore[no-untyped-def]  # dbustypes.py
        raise BluezError("Failed", "sender unknown")

    @method()
    def UnregisterAgent(self, agent: DBusObjectPath):  # type: ignore[no-untyped-def]  # dbustypes.py
        raise BluezError("Failed", "sender unknown")

    @method()
    def RequestDefaultAgent(self, agent: DBusObjectPath):  # type: ignore[no-untyped-def]  # dbustypes.py
        raise BluezError("Failed", "sender unknown")
