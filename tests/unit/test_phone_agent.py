"""The pairing agent over a real (private) dbus-daemon: BlueZ's side is played by a stand-in AgentManager1 that
records the registration and then calls the agent the way bluetoothd does (org.bluez.Agent1 method calls)."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, dbus_method

from glassbridge.app import McuPairingUI
from glassbridge.phone.agent import AGENT_PATH, PairingAgent
from glassbridge_rig.dbus import PrivateBus

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon not installed")

Obj = Annotated[str, DBusSignature("o")]
Str = Annotated[str, DBusSignature("s")]
Void = Annotated[None, DBusSignature("")]



class ScriptedAnswer:
    """A PairingUI double for the agent's D-Bus behaviour: answers `accept` and records the codes it was shown
    (the package has no answer-by-itself UI: the rig's person compares both screens, sim.person)."""

    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.codes: list[int] = []

    async def confirm(self, code: int, device_name: str) -> bool:
        self.codes.append(code)
        return self.accept

class FakeAgentManager(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.bluez.AgentManager1")
        self.calls: list[tuple[str, ...]] = []

    @dbus_method()
    def RegisterAgent(self, agent: Obj, capability: Str) -> Void:  # noqa: N802
        self.calls.append(("RegisterAgent", agent, capability))

    @dbus_method()
    def RequestDefaultAgent(self, agent: Obj) -> Void:  # noqa: N802
        self.calls.append(("RequestDefaultAgent", agent))

    @dbus_method()
    def UnregisterAgent(self, agent: Obj) -> Void:  # noqa: N802
        self.calls.append(("UnregisterAgent", agent))


async def _with_bluez(body: Any) -> Any:
    with PrivateBus() as bus:
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        try:
            bluez = await MessageBus(bus_type=BusType.SYSTEM).connect()
            manager = FakeAgentManager()
            bluez.export("/org/bluez", manager)
            await bluez.request_name("org.bluez")
            try:
                return await body(bluez, manager)
            finally:
                bluez.disconnect()
        finally:
            if old is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old


async def _call_agent(bluez: MessageBus, owner: str, member: str, signature: str, body: list[Any]) -> Message:
    reply = await bluez.call(Message(destination=owner, path=AGENT_PATH, interface="org.bluez.Agent1",
                                     member=member, signature=signature, body=body))
    assert reply is not None
    return reply


def _owner(agent: PairingAgent) -> str:
    assert agent._bus is not None and agent._bus.unique_name is not None
    return agent._bus.unique_name


def test_registers_as_default_and_answers_numeric_comparison() -> None:
    async def body(bluez: MessageBus, manager: FakeAgentManager) -> None:
        yes = ScriptedAnswer(True)
        async with PairingAgent(yes) as agent:
            assert manager.calls == [("RegisterAgent", AGENT_PATH, "DisplayYesNo"),
                                     ("RequestDefaultAgent", AGENT_PATH)]
            reply = await _call_agent(bluez, _owner(agent), "RequestConfirmation", "ou",
                                      ["/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF", 123456])
            assert reply.message_type == MessageType.METHOD_RETURN
            assert yes.codes == [123456] and agent.comparisons[-1].accepted is True
            # Device has no Alias on this fake BlueZ: the name falls back to the address from the path.
            assert agent.comparisons[-1].device_name == "AA:BB:CC:DD:EE:FF"
            agent.ui = ScriptedAnswer(False)
            reply = await _call_agent(bluez, _owner(agent), "RequestConfirmation", "ou",
                                      ["/org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF", 7])
            assert reply.message_type == MessageType.ERROR and reply.error_name == "org.bluez.Error.Rejected"
            assert agent.comparisons[-1].code == 7 and agent.comparisons[-1].accepted is False
        assert manager.calls[-1] == ("UnregisterAgent", AGENT_PATH)

    asyncio.run(asyncio.wait_for(_with_bluez(body), 20))


def test_legacy_and_just_works_requests_are_rejected() -> None:
    async def body(bluez: MessageBus, manager: FakeAgentManager) -> None:
        async with PairingAgent(ScriptedAnswer(True)) as agent:
            dev = "/org/bluez/hci0/dev_11_22_33_44_55_66"
            for member, sig, args in (("RequestPinCode", "o", [dev]), ("RequestPasskey", "o", [dev]),
                                      ("DisplayPasskey", "ouq", [dev, 1234, 0]),
                                      ("DisplayPinCode", "os", [dev, "0000"]),
                                      ("RequestAuthorization", "o", [dev])):
                reply = await _call_agent(bluez, _owner(agent), member, sig, args)
                assert reply.message_type == MessageType.ERROR, member
                assert reply.error_name == "org.bluez.Error.Rejected", member
            assert len(agent.refusals) == 5 and not agent.comparisons

    asyncio.run(asyncio.wait_for(_with_bluez(body), 20))


@dataclass
class _Nod:
    gesture: str


class FakeMcu:
    """Stands in for glassbridge.mcu.client.Mcu: records cards, plays a scripted gesture after the card shows."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.cards: list[Any] = []
        self.cleared = 0
        self._queues: list[asyncio.Queue[Any]] = []

    async def show_card(self, card: Any) -> int:
        self.cards.append(card)
        if self.answer is not None:
            for q in self._queues:
                q.put_nowait(self.answer)
        return 1

    async def clear_display(self) -> None:
        self.cleared += 1

    async def events(self) -> Any:
        q: asyncio.Queue[Any] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)


@pytest.mark.parametrize("event, expected", [(_Nod("nod"), True), (_Nod("shake"), False), (None, False)])
def test_mcu_pairing_ui_shows_the_code_and_reads_the_head(event: Any, expected: bool) -> None:
    mcu = FakeMcu(event)
    ui = McuPairingUI(mcu, timeout=0.3)
    assert asyncio.run(ui.confirm(42, "Pixel 9")) is expected
    card = mcu.cards[0]
    assert card.kind == "pairing" and card.text == "000042" and "Pixel 9" in card.title and "Nod" in card.title
    assert mcu.cleared == 1


@pytest.mark.parametrize("typed, expected", [(b"y\n", True), (b"no\n", False), (None, False)])
def test_terminal_pairing_ui(typed: bytes | None, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.phone.agent import TerminalPairingUI

    read_end, write_end = os.pipe()
    if typed is not None:
        os.write(write_end, typed)
    with os.fdopen(read_end) as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        assert asyncio.run(TerminalPairingUI(timeout=0.2).confirm(654321, "Pixel")) is expected
    os.close(write_end)
