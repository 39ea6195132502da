"""The glasses as a BLE central on BlueZ: find the phone, pair with it once, then keep connecting to it alone.

    phones = await scan(5.0)                                   # everyone advertising the glassbridge service
    bond = await pair_phone(BondStore(), TerminalPairingUI())  # numeric comparison through our Agent1
    central = Central(bond, transport, on_state=print)         # the reconnect loop, until close()

Only the bonded identity is connected to. BlueZ resolves the phone's rotating private address with the IRK it
received when bonding and reports the device under its identity address, so a scanned BLEDevice whose address is
not the bonded identity is someone else advertising the service (another phone, an impostor): refused, with one
log line naming it, and never connected to.

Reconnection: forever until closed, exponential backoff with jitter (`ReconnectPolicy`), the first attempt
after a drop at once. Each attempt's BLE connect goes through bleak-retry-connector's `establish_connection`
(4.7.1, evaluated against the rig's BlueZ: it works on BlueZ's D-Bus API alone): it retries transient BlueZ
failures (le-connection-abort-by-local, a device object that vanished, D-Bus hiccups) a few times with its own
short backoffs, reuses a connection BlueZ kept from an earlier run of ours, and raises errors carrying advice.
It is bounded (a few attempts, then it raises) and knows nothing of identity filtering or of the security and
info steps this link needs after connecting, so the loop around it stays ours: scan for the bonded identity,
connect, attach the link, wait for the drop, back off with jitter, repeat. Without bleak-retry-connector
installed, a plain `BleakClient.connect()` is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from glassbridge.phone.agent import PairingAgent, PairingUI
from glassbridge.phone.bonds import Bond, BondStore
from glassbridge.phone.ble import BleLink, acquire_mtu, check_compatible
from glassbridge.phone.errors import (
    BluetoothUnavailable,
    NotBonded,
    PairingFailed,
    PairingRefused,
    PhoneError,
    UnknownDevice,
)
from glassbridge.protocol import gatt
from glassbridge.protocol.errors import PeerError, PeerIncompatible, PeerTimeout

__all__ = ["Central", "FoundPhone", "ReconnectPolicy", "pair_phone", "remove_from_bluez", "scan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundPhone:
    """A device advertising the glassbridge service."""

    address: str
    name: str
    rssi: int
    paired: bool  # BlueZ holds keys for it
    bonded: bool  # it is the phone in our bond store
    device: Any = None  # bleak BLEDevice (not serialised)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "name": self.name, "rssi": self.rssi, "paired": self.paired,
                "bonded": self.bonded}


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff with jitter between failed connection attempts (seconds)."""

    first_delay: float = 0.25
    max_delay: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5  # each delay is scaled by a random factor in [1 - jitter, 1]
    scan_timeout: float = 10.0  # per attempt: how long to look for the bonded phone
    connect_timeout: float = 20.0

    def delay(self, failures: int) -> float:
        """The wait after `failures` consecutive failures (>= 1)."""
        base = min(self.max_delay, self.first_delay * self.factor ** max(0, failures - 1))
        return base * (1.0 - self.jitter * random.random())


def _props(device: Any) -> dict[str, Any]:
    details = getattr(device, "details", None)
    props = details.get("props") if isinstance(details, dict) else None
    return props if isinstance(props, dict) else {}


def _bluez_unavailable(exc: BaseException) -> BluetoothUnavailable:
    return BluetoothUnavailable(
        f"BlueZ cannot be used ({type(exc).__name__}: {exc}): is bluetoothd running with an adapter powered on "
        "(`bluetoothctl show`), and is DBUS_SYSTEM_BUS_ADDRESS right?"
    )


async def scan(
    timeout: float,
    *,
    bond: Bond | None = None,
    stop_when: Callable[[FoundPhone], bool] | None = None,
    adapter: str | None = None,
) -> list[FoundPhone]:
    """Devices advertising the glassbridge service within `timeout` seconds, strongest first.

    `stop_when` ends the scan early at the first device it accepts.
    """
    from bleak import BleakScanner
    from bleak.exc import BleakError

    found: dict[str, FoundPhone] = {}
    done = asyncio.Event()

    def seen(device: Any, adv: Any) -> None:
        if gatt.SERVICE_UUID not in [u.lower() for u in (adv.service_uuids or [])]:
            return
        props = _props(device)
        phone = FoundPhone(
            address=str(device.address).upper(),
            name=adv.local_name or device.name or "",
            rssi=int(adv.rssi if adv.rssi is not None else -127),
            paired=bool(props.get("Paired", False)),
            bonded=bond is not None and str(device.address).upper() == bond.address,
            device=device,
        )
        found[phone.address] = phone
        if stop_when is not None and stop_when(phone):
            done.set()

    kwargs: dict[str, Any] = {"bluez": {"adapter": adapter}} if adapter else {}
    try:
        async with BleakScanner(seen, service_uuids=[gatt.SERVICE_UUID], **kwargs):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
    except (BleakError, OSError, EOFError) as exc:
        raise _bluez_unavailable(exc) from exc
    return sorted(found.values(), key=lambda p: -p.rssi)


async def _bluez_objects() -> dict[str, dict[str, dict[str, Any]]]:
    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    except (OSError, ValueError) as exc:
        raise _bluez_unavailable(exc) from exc
    try:
        reply = await bus.call(Message(destination="org.bluez", path="/", member="GetManagedObjects",
                                       interface="org.freedesktop.DBus.ObjectManager"))
        if reply is None or reply.message_type == MessageType.ERROR:
            raise BluetoothUnavailable(f"BlueZ is not on the system bus ({getattr(reply, 'error_name', '')})")
        objects: dict[str, dict[str, dict[str, Any]]] = {
            path: {iface: {k: getattr(v, "value", v) for k, v in props.items()} for iface, props in ifaces.items()}
            for path, ifaces in reply.body[0].items()
        }
        return objects
    finally:
        bus.disconnect()


async def remove_from_bluez(address: str) -> bool:
    """Adapter1.RemoveDevice for every BlueZ device object with this address (BlueZ deletes its keys).

    Returns whether one was found. BluetoothUnavailable when BlueZ is not reachable.
    """
    address = address.upper()
    objects = await _bluez_objects()
    targets = [
        (path, ifaces["org.bluez.Device1"].get("Adapter", path.rsplit("/", 1)[0]))
        for path, ifaces in objects.items()
        if str(ifaces.get("org.bluez.Device1", {}).get("Address", "")).upper() == address
    ]
    if not targets:
        return False
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        for path, adapter in targets:
            reply = await bus.call(Message(destination="org.bluez", path=str(adapter), member="RemoveDevice",
                                           interface="org.bluez.Adapter1", signature="o", body=[path]))
            if reply is None or reply.message_type == MessageType.ERROR:
                raise PhoneError(f"BlueZ refused to remove {address} ({path}): "
                                 f"{getattr(reply, 'error_name', 'no reply')} {reply.body if reply else ''}")
            log.info("removed %s (%s) from BlueZ", address, path)
    finally:
        bus.disconnect()
    return True


def _pair_error(exc: BaseException, agent: PairingAgent, address: str) -> PairingFailed:
    """What a failed Device1.Pair means, from what our agent saw."""
    last = agent.comparisons[-1] if agent.comparisons else None
    if last is not None and last.accepted is False:
        return PairingRefused("wearer", f"code {last.code:06d} with {last.device_name}")
    if last is not None and last.accepted:
        return PairingRefused("phone", f"code {last.code:06d} was confirmed here; BlueZ: {exc}")
    if agent.refusals:
        return PairingFailed(
            f"{address} asked for {agent.refusals[-1]}, which glassbridge refuses (no protection against a man in "
            "the middle): the companion must use LE Secure Connections with numeric comparison"
        )
    name = str(getattr(exc, "dbus_error", ""))
    if name.rsplit(".", 1)[-1] in ("AuthenticationFailed", "AuthenticationRejected", "AuthenticationCanceled"):
        # Numeric comparison runs on both ends at once: a phone whose user says no first aborts SMP before (or
        # while) BlueZ asks us, and BlueZ then cancels our question.
        when = "while the glasses were asking the wearer" if last is not None else "before the glasses asked"
        return PairingRefused("phone", f"SMP aborted {when} ({name.rsplit('.', 1)[-1]})")
    return PairingFailed(f"pairing with {address} failed before any numeric comparison: {exc}")


async def pair_phone(
    bonds: BondStore,
    ui: PairingUI,
    *,
    name: str | None = None,
    address: str | None = None,
    scan_timeout: float = 10.0,
    connect_timeout: float = 30.0,
    adapter: str | None = None,
    agent_out: list[PairingAgent] | None = None,
) -> Bond:
    """Finds a phone running the companion (by `name` or `address` if given, else the first one seen), pairs with
    LE Secure Connections numeric comparison through our Agent1 (the wearer confirms via `ui`), reads its
    ServiceInfo and saves the bond. Replaces a previous bond (its device is removed from BlueZ)."""
    from bleak import BleakClient
    from bleak.exc import BleakDBusError, BleakError

    def wanted(p: FoundPhone) -> bool:
        if address is not None:
            return p.address == address.upper()
        if name is not None:
            return p.name == name
        return True

    phones = await scan(scan_timeout, stop_when=wanted, adapter=adapter)
    matches = [p for p in phones if wanted(p)]
    if not matches:
        what = f"named {name!r}" if name else (f"at {address}" if address else "")
        seen = ", ".join(f"{p.address} ({p.name})" for p in phones) or "none"
        raise PeerTimeout(f"phone {what} advertising the glassbridge service".replace("  ", " "), scan_timeout,
                          f"seen: {seen}; is the companion app open and near?", peer="phone")
    phone = matches[0]
    if phone.paired:
        # BlueZ would skip the comparison for a device it already holds keys for: the wearer asked to pair, so
        # start from scratch.
        log.info("BlueZ already holds keys for %s: removing them to pair afresh", phone.address)
        await remove_from_bluez(phone.address)
        again = await scan(scan_timeout, stop_when=lambda p: p.name == phone.name, adapter=adapter)
        matches = [p for p in again if p.name == phone.name]
        if not matches:
            raise PeerTimeout(f"{phone.name or phone.address} to advertise again", scan_timeout, peer="phone")
        phone = matches[0]
    previous = bonds.load()
    async with PairingAgent(ui) as agent:
        if agent_out is not None:
            agent_out.append(agent)
        client = BleakClient(phone.device, timeout=connect_timeout)
        try:
            try:
                await client.connect()
            except (BleakError, asyncio.TimeoutError) as exc:
                raise PairingFailed(f"cannot connect to {phone.address} ({phone.name}): {exc}") from exc
            try:
                await client.pair()
            except (BleakDBusError, BleakError) as exc:
                raise _pair_error(exc, agent, phone.address) from exc
            if not agent.comparisons or not agent.comparisons[-1].accepted:
                # Paired without asking us: Just Works or legacy pairing, which has no MITM protection.
                with contextlib.suppress(Exception):
                    await client.disconnect()
                with contextlib.suppress(PhoneError):
                    await remove_from_bluez(client.address)
                raise PairingFailed(
                    f"{phone.address} paired without a numeric comparison (Just Works or legacy pairing): refused "
                    "and removed from BlueZ; the companion must declare a display with yes/no (SPEC.md 16.2)"
                )
            identity = str(client.address).upper()
            mtu = await acquire_mtu(client)
            info = gatt.decode_service_info(bytes(await client.read_gatt_char(gatt.INFO_UUID)))
            check_compatible(info)
            bond = Bond(address=identity, name=phone.name, service_info=_info_dict(info), last_mtu=mtu,
                        last_connected_at=time.time())
            bonds.save(bond)
            log.info("bonded with %s (%s), identity %s, companion %s", phone.name, phone.address, identity,
                     info.app_version)
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()
    if previous is not None and previous.address != bond.address:
        log.info("replacing the previous bond with %s (%s)", previous.name, previous.address)
        with contextlib.suppress(PhoneError):
            await remove_from_bluez(previous.address)
    return bond


def _info_dict(info: gatt.ServiceInfoData) -> dict[str, Any]:
    return {"protocol_version": info.protocol_version, "min_protocol_version": info.min_protocol_version,
            "capabilities": info.capabilities, "app_version": info.app_version, "max_frame": info.max_frame}


class Central:
    """Keeps the glasses connected to the bonded phone: scan for its identity, connect, attach the link, wait for
    the drop, back off, repeat; forever until `close()`. `on_state(state, detail)` hears every change:
    "scanning", "connecting", "connected", "disconnected", "incompatible", "closed"."""

    def __init__(
        self,
        bond: Bond,
        transport: BleLink,
        *,
        policy: ReconnectPolicy = ReconnectPolicy(),
        on_state: Callable[[str, str], None] | None = None,
        bonds: BondStore | None = None,
        adapter: str | None = None,
    ) -> None:
        self.bond = bond
        self.transport = transport
        self.policy = policy
        self.bonds = bonds
        self.adapter = adapter
        self._on_state = on_state or (lambda state, detail: None)
        self.refused: dict[str, str] = {}  # address -> name of devices refused (logged once each)
        self.connections = 0
        self.failures = 0
        self.last_error: BaseException | None = None
        self.fatal: PeerError | None = None
        self._client: Any = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="glassbridge-phone-central")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5.0)
        self.transport.detach("closed")
        self._on_state("closed", "")

    async def disconnect(self) -> None:
        """Drops the current connection (the loop reconnects): for tests and `status --reconnect`."""
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            lost = asyncio.Event()
            try:
                await self._connect_once(lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is retried; the state says why
                failures += 1
                self.failures += 1
                self.last_error = exc
                await self._drop_client()
                if isinstance(exc, PeerIncompatible):
                    self.fatal = exc
                    self._on_state("incompatible", str(exc))
                    delay = self.policy.max_delay
                else:
                    delay = self.policy.delay(failures)
                    why = _describe(exc)
                    if why.startswith("refused"):
                        log.warning("%s", why)
                    self._on_state("disconnected", f"{why}; retrying in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.fatal = None
            await lost.wait()
            self.transport.detach("the phone disconnected")
            await self._drop_client()
            if not self._closed:
                self._on_state("disconnected", "connection lost; reconnecting")

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5.0)

    async def _find(self) -> Any:
        """The bonded phone's BLEDevice; logs (once each) every other device offering the service."""
        bond = self.bond

        def accept(p: FoundPhone) -> bool:
            if p.address == bond.address:
                return True
            if p.address not in self.refused:  # one log line per device, not one per advertisement
                self.refused[p.address] = p.name
                log.warning("%s", UnknownDevice(p.address, p.name, f"{bond.address} ({bond.name})"))
            return False

        phones = await scan(self.policy.scan_timeout, bond=bond, stop_when=accept, adapter=self.adapter)
        for p in phones:
            if p.address == bond.address:
                if not p.paired:
                    raise NotBonded(f"BlueZ holds no keys for {bond.address} any more")
                return p.device
        raise PeerTimeout(f"advertisement from the bonded phone {bond.name} ({bond.address})",
                          self.policy.scan_timeout, f"{len(phones)} other device(s) with the service seen",
                          peer="phone")

    async def _connect_once(self, lost: asyncio.Event) -> None:
        self._on_state("scanning", f"looking for {self.bond.name} ({self.bond.address})")
        device = await self._find()
        self._on_state("connecting", f"{self.bond.address}")

        def on_disconnect(_client: Any) -> None:
            lost.set()

        client = await _connect(device, on_disconnect, self.policy.connect_timeout)
        self._client = client
        if str(client.address).upper() != self.bond.address:  # cannot happen with BlueZ; refuse loudly if it does
            raise PhoneError(f"connected device reports {client.address}, not the bonded {self.bond.address}")
        info = await self.transport.attach(client, self.bond.address)
        self.connections += 1
        if self.bonds is not None:
            with contextlib.suppress(PhoneError):
                self.bonds.update(last_mtu=self.transport.mtu, last_connected_at=time.time(),
                                  service_info=_info_dict(info))
        self._on_state("connected", f"{self.bond.address}, ATT MTU {self.transport.mtu}")
        if not client.is_connected:
            lost.set()


async def _connect(device: Any, on_disconnect: Callable[[Any], None], timeout: float) -> Any:
    """A connected BleakClient for `device` (see the module docstring for bleak-retry-connector's part)."""
    from bleak import BleakClient

    try:
        from bleak_retry_connector import establish_connection
    except ImportError:
        client = BleakClient(device, disconnected_callback=on_disconnect, timeout=timeout)
        await client.connect()
        return client
    return await establish_connection(BleakClient, device, "glassbridge phone", disconnected_callback=on_disconnect,
                                      max_attempts=2, use_services_cache=False)


def _describe(exc: BaseException) -> str:
    text = " ".join((str(exc) or type(exc).__name__).split())
    if "key-missing" in text:
        # SPEC.md 16.2: encryption with the bond's key comes before any GATT operation; a device that cannot
        # do it gets nothing from us.
        return ("refused: the device at the bonded identity could not encrypt with the bond's key (an impostor "
                "using the phone's address, or the phone forgot the bond: then run `glassbridge phone pair`) "
                f"[{text}]")
    return text
