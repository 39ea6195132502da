"""Our BlueZ pairing agent (org.bluez.Agent1) and the ways a wearer answers it (PairingUI).

bleak registers no agent: its pair() calls Device1.Pair and BlueZ then asks the *default agent* for the numeric
comparison. So glassbridge exports its own Agent1 on the system bus, registers it with capability
"DisplayYesNo" (the glasses show six digits and take a yes/no: LE Secure Connections numeric comparison) and asks
BlueZ to make it the default agent. BlueZ then calls:

    RequestConfirmation(device, passkey)   -> PairingUI.confirm(code, device_name): True returns (accept),
                                              False raises org.bluez.Error.Rejected
    Cancel()                               -> the pending confirmation is abandoned (the phone gave up)
    Release()                              -> BlueZ dropped us (it is exiting); nothing to clean up

Every other request (PIN codes, passkey entry or display, Just Works authorisation) is legacy or unauthenticated
pairing, which gives no protection against a man in the middle: refused with org.bluez.Error.Rejected and a log
line saying why (SPEC.md 16.2).

PairingUI implementations: TerminalPairingUI here (the code and a y/n prompt); the glasses' display with a nod is
glassbridge.app.pairing.McuPairingUI (it joins the MCU and this agent, so it lives above both). Each shows the code
to a person; none answers by itself: a pairing that accepted without
anyone comparing would be Just Works under another name. The simulated rig answers through a person who compares
both screens (glassbridge_rig.person.RigWearer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, dbus_method

from glassbridge.phone.errors import BluetoothUnavailable, PairingFailed
from glassbridge.terminal import read_line

__all__ = [
    "AGENT_PATH",
    "Comparison",
    "PairingAgent",
    "PairingUI",
    "TerminalPairingUI",
]

log = logging.getLogger(__name__)

#: Where our agent object lives on the system bus.
AGENT_PATH = "/dev/glassbridge/agent"
#: Numeric comparison needs a display and a yes/no input (Core spec Vol 3 Part H 2.3.5.1).
CAPABILITY = "DisplayYesNo"
REJECTED = "org.bluez.Error.Rejected"
CANCELED = "org.bluez.Error.Canceled"

ObjectPath = Annotated[str, DBusSignature("o")]
U32 = Annotated[int, DBusSignature("u")]
U16 = Annotated[int, DBusSignature("q")]
Str = Annotated[str, DBusSignature("s")]
#: "returns nothing": dbus-fast reads a plain `-> None` under `from __future__ import annotations` as a bad signature.
Void = Annotated[None, DBusSignature("")]


class PairingUI(Protocol):
    """Shows the six-digit code to the wearer and returns their answer (True = the same digits, pair)."""

    async def confirm(self, code: int, device_name: str) -> bool: ...


@dataclass(frozen=True)
class Comparison:
    """One numeric comparison the agent handled: for logs and tests (the phone must have shown the same code)."""

    device: str  # BlueZ object path
    device_name: str
    code: int
    accepted: bool | None  # None: cancelled before an answer
    at: float


class TerminalPairingUI:
    """Prints the code and asks y/n on the terminal (stdin), with a timeout that answers no."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout

    async def confirm(self, code: int, device_name: str) -> bool:
        print(f"Pair with {device_name}? Check that the phone shows {code:06d}.", file=sys.stderr)
        print("Same digits? [y/N] ", end="", file=sys.stderr, flush=True)
        try:
            line = await asyncio.wait_for(read_line(), self.timeout)
        except asyncio.TimeoutError:
            print("\nno answer: refusing", file=sys.stderr)
            return False
        return line.strip().lower() in ("y", "yes")


class _Agent1(ServiceInterface):
    """The D-Bus face of PairingAgent (method names and signatures are BlueZ's doc/org.bluez.Agent.rst)."""

    def __init__(self, owner: PairingAgent) -> None:
        super().__init__("org.bluez.Agent1")
        self._owner = owner

    @dbus_method()
    def Release(self) -> Void:  # noqa: N802 - D-Bus names
        log.info("BlueZ released the glassbridge pairing agent")
        self._owner.registered = False

    @dbus_method()
    def RequestPinCode(self, device: ObjectPath) -> Str:  # noqa: N802
        self._owner._refuse(device, "a legacy PIN code")
        return ""

    @dbus_method()
    def DisplayPinCode(self, device: ObjectPath, pincode: Str) -> Void:  # noqa: N802
        self._owner._refuse(device, "a legacy PIN code display")

    @dbus_method()
    def RequestPasskey(self, device: ObjectPath) -> U32:  # noqa: N802
        self._owner._refuse(device, "passkey entry")
        return 0

    @dbus_method()
    def DisplayPasskey(self, device: ObjectPath, passkey: U32, entered: U16) -> Void:  # noqa: N802
        self._owner._refuse(device, "passkey display")

    @dbus_method()
    async def RequestConfirmation(self, device: ObjectPath, passkey: U32) -> Void:  # noqa: N802
        await self._owner._confirm(device, passkey)

    @dbus_method()
    def RequestAuthorization(self, device: ObjectPath) -> Void:  # noqa: N802
        self._owner._refuse(device, "Just Works pairing (no numeric comparison)")

    @dbus_method()
    def AuthorizeService(self, device: ObjectPath, uuid: Str) -> Void:  # noqa: N802
        self._owner._refuse(device, f"a connection to service {uuid}")

    @dbus_method()
    def Cancel(self) -> Void:  # noqa: N802
        self._owner._cancel()


class PairingAgent:
    """Our org.bluez.Agent1, registered as BlueZ's default agent while open.

        async with PairingAgent(TerminalPairingUI()) as agent:
            await client.pair()            # BlueZ calls agent.RequestConfirmation -> ui.confirm
            agent.comparisons[-1].code     # what the wearer was shown

    The agent uses its own connection to the system bus (DBUS_SYSTEM_BUS_ADDRESS, as bleak does).
    """

    def __init__(self, ui: PairingUI, *, path: str = AGENT_PATH, confirm_timeout: float = 90.0) -> None:
        self.ui = ui
        self.path = path
        self.confirm_timeout = confirm_timeout
        self.comparisons: list[Comparison] = []
        self.refusals: list[str] = []
        self.registered = False
        self._bus: MessageBus | None = None
        self._iface = _Agent1(self)
        self._pending: asyncio.Task[bool] | None = None

    async def __aenter__(self) -> PairingAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Exports the agent and makes it BlueZ's default. BluetoothUnavailable when BlueZ is not on the bus."""
        try:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, ValueError) as exc:
            raise BluetoothUnavailable(f"cannot reach the system D-Bus for the pairing agent: {exc}") from exc
        self._bus.export(self.path, self._iface)
        try:
            await self._call("RegisterAgent", "os", [self.path, CAPABILITY])
            self.registered = True
            await self._call("RequestDefaultAgent", "o", [self.path])
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Unregisters (best effort: BlueZ may be gone) and leaves the bus."""
        if self._pending is not None:
            self._pending.cancel()
        bus, self._bus = self._bus, None
        if bus is None:
            return
        if self.registered:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._call("UnregisterAgent", "o", [self.path], bus=bus), 2.0)
            self.registered = False
        with contextlib.suppress(Exception):
            bus.unexport(self.path, self._iface)
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 2.0)  # type: ignore[no-untyped-call]

    async def _call(self, member: str, signature: str, body: list[Any], *, bus: MessageBus | None = None) -> None:
        bus = bus or self._bus
        assert bus is not None
        reply = await bus.call(
            Message(destination="org.bluez", path="/org/bluez", interface="org.bluez.AgentManager1",
                    member=member, signature=signature, body=body)
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            err = getattr(reply, "error_name", "no reply")
            text = reply.body[0] if reply is not None and reply.body else ""
            if err in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.UnknownObject"):
                raise BluetoothUnavailable(f"BlueZ (org.bluez) is not on the system bus: {text or err}; is "
                                           "bluetoothd running?")
            raise PairingFailed(f"BlueZ refused AgentManager1.{member} for the glassbridge agent: {err} {text}")

    async def _device_name(self, device: str) -> str:
        """The device's Alias (BlueZ: its name, else its address), or the address taken from the path."""
        fallback = device.rsplit("/dev_", 1)[-1].replace("_", ":")
        if self._bus is None:
            return fallback
        with contextlib.suppress(Exception):
            reply = await asyncio.wait_for(self._bus.call(Message(
                destination="org.bluez", path=device, interface="org.freedesktop.DBus.Properties",
                member="Get", signature="ss", body=["org.bluez.Device1", "Alias"])), 2.0)
            if reply is not None and reply.message_type == MessageType.METHOD_RETURN:
                value = reply.body[0]
                return str(value.value if isinstance(value, Variant) else value) or fallback
        return fallback

    def _refuse(self, device: str, what: str) -> None:
        self.refusals.append(what)
        log.warning("refusing %s requested for %s: glassbridge pairs only with LE Secure Connections numeric "
                    "comparison (no protection against a man in the middle otherwise)", what, device)
        raise DBusError(REJECTED, f"glassbridge refuses {what}: numeric comparison only")

    def _cancel(self) -> None:
        log.info("BlueZ cancelled the pending pairing confirmation")
        if self._pending is not None:
            self._pending.cancel()

    async def _confirm(self, device: str, passkey: int) -> None:
        name = await self._device_name(device)
        code = passkey % 1_000_000
        log.info("numeric comparison with %s (%s): %06d", name, device, code)
        async def ask() -> bool:  # the UI's coroutine is made inside the task: a Cancel before it runs leaks none
            return await asyncio.wait_for(self.ui.confirm(code, name), self.confirm_timeout)

        self._pending = asyncio.ensure_future(ask())
        accepted: bool | None
        try:
            accepted = bool(await self._pending)
        except asyncio.CancelledError:
            accepted = None
        except asyncio.TimeoutError:
            accepted = False
        except Exception as exc:  # a broken UI must answer "no", never leave BlueZ hanging
            log.error("the pairing UI failed (%s): refusing", exc)
            accepted = False
        finally:
            self._pending = None
        self.comparisons.append(Comparison(device, name, code, accepted, time.time()))
        if accepted is None:
            raise DBusError(CANCELED, "the pairing was cancelled")
        if not accepted:
            raise DBusError(REJECTED, f"the wearer refused pairing code {code:06d}")
