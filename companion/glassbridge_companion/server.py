"""The companion's Bluetooth side: a bumble peripheral hosting the glassbridge GATT service (SPEC.md 16.1-16.3).

    service  ee700001-...   advertised (complete list of 128-bit UUIDs), name in the scan response
    uplink   ee700002-...   write without response + write: one link frame from the glasses per value
    downlink ee700003-...   notify (its CCCD is ours, closed like the values): one frame to the glasses per value
    info     ee700004-...   read: ServiceInfo

Security (SPEC 16.2). Every value and the downlink CCCD carry bumble's encryption + authentication permissions
(an unencrypted link gets Insufficient Encryption, 0x0F) AND a check of our own, because bumble marks every
encrypted LE link `authenticated`: a connection is **secure** when it is encrypted and its peer is in the
`BondBook`, the identities whose stored LTK came from an authenticated (numeric comparison / passkey) LE Secure
Connections pairing; otherwise the request gets Insufficient Authentication (0x05). Notifications go only to
secure connections that subscribed, never larger than the connection's ATT_MTU - 3 (bumble would truncate them
silently: a frame that does not fit is dropped and counted instead).

Privacy: the device's identity is a static random address; it advertises from a resolvable private address made
from a random IRK (identity.py), a new one every `rpa_timeout` seconds. bumble's own rotation is not used: it
skips rotation while advertising (the companion always is) and sets the old address in the controller.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bumble import hci
from bumble.att import (
    ATT_INSUFFICIENT_AUTHENTICATION_ERROR,
    ATT_INSUFFICIENT_ENCRYPTION_ERROR,
    ATT_READ_NOT_PERMITTED_ERROR,
    ATT_Error,
    ATT_Handle_Value_Notification,
    Attribute,
    AttributeValue,
    AttributeValueV2,
)
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device, DeviceConfiguration
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, Characteristic, Descriptor, Service
from bumble.host import Host
from bumble.keys import KeyStore, PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate

from glassbridge_companion.identity import Identity
from glassbridge_companion.keystore import PrivateKeyStore
from glassbridge_companion.security import BondGuard, Decide, StrictSession, pairing_config
from glassbridge.protocol.gatt import DOWNLINK_UUID, INFO_UUID, MIN_ATT_MTU, SERVICE_UUID, UPLINK_UUID, frame_limit

__all__ = ["BondBook", "CompanionServer", "ConnectionState"]

log = logging.getLogger(__name__)

ADVERTISING_INTERVAL_MS = 100.0

_SECURE = (Attribute.Permissions.READ_REQUIRES_ENCRYPTION | Attribute.Permissions.READ_REQUIRES_AUTHENTICATION
           | Attribute.Permissions.WRITE_REQUIRES_ENCRYPTION | Attribute.Permissions.WRITE_REQUIRES_AUTHENTICATION)


class _QuietRefusals(logging.Filter):
    """bumble logs a traceback for every write command an attribute refuses (it cannot answer one): those are
    our deliberate refusals (unpaired writers, injected failures), counted in frames_dropped instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (record.getMessage().startswith("!!! ignoring exception") and isinstance(exc, ATT_Error))


logging.getLogger("bumble.gatt_server").addFilter(_QuietRefusals())


class BondBook:
    """The bonds, kept in memory so the security check on every ATT request is synchronous: identity address ->
    whether its LTK is authenticated (MITM-protected LE SC), a fingerprint of that LTK (which bond, not merely
    which address: a link session belongs to the bond that created it) and the peer's IRK. Loaded from the key
    store and updated on pairing and on forget."""

    def __init__(self) -> None:
        self._bonds: dict[str, tuple[bool, str, bytes | None]] = {}

    async def load(self, keystore: KeyStore) -> None:
        for name, keys in await keystore.get_all():
            self.learn(name, keys)

    def learn(self, identity: str, keys: PairingKeys) -> None:
        # Only an LE Secure Connections LTK (keys.ltk) counts; legacy keys (ltk_central/peripheral) never do.
        ltk = keys.ltk
        fingerprint = hashlib.sha256(ltk.value).hexdigest()[:16] if ltk is not None else ""
        irk = bytes(keys.irk.value) if keys.irk is not None else None
        self._bonds[identity.upper()] = (bool(ltk is not None and ltk.authenticated), fingerprint, irk)

    def forget(self, identity: str) -> bool:
        return self._bonds.pop(identity.upper(), None) is not None

    def authenticated(self, identity: str) -> bool:
        entry = self._bonds.get(identity.upper())
        return entry is not None and entry[0]

    def fingerprint(self, identity: str) -> str:
        """Which key the bond of `identity` holds ("" when none): changes only when the bond is replaced."""
        entry = self._bonds.get(identity.upper())
        return entry[1] if entry is not None else ""

    def holder(self, *, address: str | None = None, irk: bytes | None = None) -> str | None:
        """The bonded identity that this address or IRK belongs to, if any (a pairing that would replace it)."""
        if address is not None and address.upper() in self._bonds:
            return address.upper()
        if irk is not None and any(irk):  # an all-zero IRK is the "no privacy" of many stacks: it names nobody
            for identity, (_, _, known) in self._bonds.items():
                if known is not None and known == irk:
                    return identity
        return None

    def identities(self) -> list[str]:
        return sorted(i for i, (ok, _, _) in self._bonds.items() if ok)


@dataclass
class ConnectionState:
    connection: Connection
    subscribed: bool = False

    @property
    def identity(self) -> str:
        return str(self.connection.peer_address)


class CompanionServer:
    """The bumble Device, its GATT service, advertising and connections. The link logic lives elsewhere: frames
    arriving on a secure connection go to `on_frame(state, frame)`; `on_subscribed(state, bool)` says when the
    glasses can receive notifications; `send_frame(state, frame)` notifies one."""

    def __init__(
        self,
        identity: Identity,
        hci_source: Any,
        hci_sink: Any,
        *,
        keystore_file: str,
        name: str,
        max_mtu: int,
        rpa_timeout: float,
        decide: Decide,
        service_info: Callable[[int], bytes],
        on_frame: Callable[[ConnectionState, bytes], None],
        on_subscribed: Callable[[ConnectionState, bool], None],
        on_disconnected: Callable[[ConnectionState], None],
        on_refused: Callable[[Connection, str], None] | None = None,
        accepting: Callable[[], bool] = lambda: True,
    ) -> None:
        if not MIN_ATT_MTU <= max_mtu <= 517:
            raise ValueError(f"--mtu {max_mtu}: the link needs an ATT_MTU of {MIN_ATT_MTU}..517 (SPEC.md 16.3)")
        self.identity = identity
        self.name = name
        self.rpa_timeout = rpa_timeout
        self.bonds = BondBook()
        self.connections: dict[int, ConnectionState] = {}
        self.frames_dropped = 0  # uplink values refused before the link (unsecured, injected failures)
        self.notifications_dropped = 0  # downlink frames that did not fit or had nowhere to go
        self.refused = {"read": 0, "write": 0, "subscribe": 0}
        self.fail_writes = 0
        self.fail_error = 0x0E
        self.rpa_history: list[str] = []
        self._rotation_due = False
        self._stopping = False
        self._decide = decide
        self._service_info = service_info
        self._on_frame = on_frame
        self._on_subscribed = on_subscribed
        self._on_disconnected = on_disconnected
        self._on_refused = on_refused or (lambda _c, _r: None)
        self._accepting = accepting
        self._adv_lock = asyncio.Lock()
        self._rpa_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

        config = DeviceConfiguration(
            name=name,
            address=hci.Address(identity.address, hci.Address.RANDOM_DEVICE_ADDRESS),
            irk=identity.irk,
            io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
            identity_address_type=PairingConfig.AddressType.RANDOM,
            # 100 ms: glasses coming back into range find the phone within a few advertising events (bumble's
            # default, 1 s, makes every reconnection wait about a second).
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )
        self.device = Device(config=config, host=Host(controller_source=hci_source, controller_sink=hci_sink))
        # Keys in the state folder, under a namespace that does not depend on the dongle's public address.
        self.device.keystore = PrivateKeyStore(namespace=identity.address, filename=keystore_file)
        self.device.smp_manager.session_proxy = StrictSession
        self.device.smp_manager.pairing_config_factory = self._pairing_config
        self.device.gatt_server.max_mtu = max_mtu
        self.device.on("connection", self._on_connection)
        self._build_service()
        _answer_read_multiple_errors(self.device.gatt_server)

    # ---- GATT ---------------------------------------------------------------------------------------------

    def _build_service(self) -> None:
        props = Characteristic.Properties
        perms = Attribute.Permissions
        # The uplink's security is checked in _on_uplink_write only (same error codes as bumble's permission
        # flags), so that every refused frame is counted: bumble's own check would drop it before we see it.
        self.uplink: Characteristic[bytes] = Characteristic(
            UPLINK_UUID, props.WRITE | props.WRITE_WITHOUT_RESPONSE, perms.WRITEABLE,
            AttributeValue(write=self._on_uplink_write))
        self.downlink: Characteristic[bytes] = Characteristic(
            DOWNLINK_UUID, props.NOTIFY, _SECURE, AttributeValue(read=self._refuse_downlink_read))
        # Our own CCCD (bumble only adds its open one when the characteristic has none).
        server = self.device.gatt_server
        self.downlink.descriptors = [Descriptor(
            GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, perms.READABLE | perms.WRITEABLE | _SECURE,
            AttributeValueV2(read=lambda bearer: self._read_cccd(bearer, server),
                             write=lambda bearer, value: self._write_cccd(bearer, value, server)))]
        self.info: Characteristic[bytes] = Characteristic(
            INFO_UUID, props.READ, perms.READABLE | _SECURE, AttributeValue(read=self._read_info))
        self.device.add_service(Service(SERVICE_UUID, [self.uplink, self.downlink, self.info]))

    def is_secure(self, connection: Connection) -> bool:
        """Encrypted with the LTK of an authenticated LE SC bond (see module docstring)."""
        return bool(connection.is_encrypted) and self.bonds.authenticated(str(connection.peer_address))

    def _require_secure(self, connection: Connection, what: str) -> None:
        if not self.is_secure(connection):
            self.refused[what] += 1
            # Not encrypted: Insufficient Encryption (0x0F), as bumble's permission check answers; encrypted
            # without an authenticated bond: Insufficient Authentication (0x05).
            raise ATT_Error(ATT_INSUFFICIENT_AUTHENTICATION_ERROR if connection.is_encrypted
                            else ATT_INSUFFICIENT_ENCRYPTION_ERROR)

    def _on_uplink_write(self, connection: Connection, value: bytes) -> None:
        state = self.connections.get(connection.handle)
        try:
            self._require_secure(connection, "write")
        except ATT_Error:
            self.frames_dropped += 1
            raise
        if self.fail_writes > 0:
            self.fail_writes -= 1
            self.frames_dropped += 1
            raise ATT_Error(self.fail_error)
        if state is not None:
            self._on_frame(state, bytes(value))

    def _refuse_downlink_read(self, connection: Connection) -> bytes:
        raise ATT_Error(ATT_READ_NOT_PERMITTED_ERROR)  # SPEC 16.1: the downlink value is not readable

    def _read_info(self, connection: Connection) -> bytes:
        self._require_secure(connection, "read")
        mtu = connection.att_mtu if connection.att_mtu >= MIN_ATT_MTU else self.device.gatt_server.max_mtu
        return self._service_info(frame_limit(mtu))

    def _read_cccd(self, bearer: Any, server: Any) -> bytes:
        self._require_secure(bearer, "read")
        value: bytes = server.read_cccd(bearer, self.downlink)
        return value

    def _write_cccd(self, bearer: Any, value: bytes, server: Any) -> None:
        self._require_secure(bearer, "subscribe")
        server.write_cccd(bearer, self.downlink, value)
        state = self.connections.get(bearer.handle)
        if state is not None and len(value) == 2:
            state.subscribed = bool(value[0] & 0x01)
            self._on_subscribed(state, state.subscribed)

    def send_frame(self, state: ConnectionState, frame: bytes) -> bool:
        """Notify one frame on this connection; False (and counted) when it cannot go out whole."""
        conn = state.connection
        if conn.handle not in self.device.connections or not state.subscribed or not self.is_secure(conn):
            self.notifications_dropped += 1
            return False
        if len(frame) > conn.att_mtu - 3:
            self.notifications_dropped += 1
            log.error("frame of %d bytes does not fit ATT_MTU %d of %s: dropped", len(frame), conn.att_mtu,
                      state.identity)
            return False
        pdu = ATT_Handle_Value_Notification(attribute_handle=self.downlink.handle, attribute_value=frame)
        self.device.gatt_server.send_gatt_pdu(conn, bytes(pdu))
        return True

    # ---- pairing and connections ----------------------------------------------------------------------------

    def _pairing_config(self, connection: Connection) -> PairingConfig:
        return pairing_config(connection, self._decide, self.bonds, self._on_refused, self._accepting)

    async def forget(self, identity: str) -> bool:
        """Deletes the bond of `identity` (keys and resolving list) and drops its connections; False if unknown.
        Until then, no other device can pair under that identity (security.py)."""
        keystore = self.device.keystore
        known = self.bonds.forget(identity)
        if keystore is not None:
            for name, _ in await keystore.get_all():
                if name.upper() == identity.upper():
                    await keystore.delete(name)
                    known = True
            await self.device.refresh_resolving_list()
        for state in [s for s in self.connections.values() if s.identity.upper() == identity.upper()]:
            try:
                await state.connection.disconnect()
            except Exception as exc:  # already gone
                log.debug("disconnect %s: %s", state.identity, exc)
        if known:
            log.warning("bond of %s forgotten: those glasses must pair again", identity)
        return known

    def _on_connection(self, connection: Connection) -> None:
        state = ConnectionState(connection)
        self.connections[connection.handle] = state
        log.info("connection from %s (handle %#x)", connection.peer_address, connection.handle)

        def on_pairing(keys: PairingKeys) -> None:
            self.bonds.learn(str(connection.peer_address), keys)
            log.info("bonded with %s (authenticated key: %s)", connection.peer_address,
                     self.bonds.authenticated(str(connection.peer_address)))

        def on_pairing_failure(reason: int) -> None:
            log.warning("pairing with %s failed: %s", connection.peer_address, reason)

        def on_disconnection(reason: int) -> None:
            self.connections.pop(connection.handle, None)
            log.info("%s disconnected (HCI reason %#04x)", connection.peer_address, reason)
            self._on_disconnected(state)
            self._spawn(self.restart_advertising(new_address=self._rotation_due and not self.connections))

        connection.on(connection.EVENT_PAIRING, on_pairing)
        connection.on(connection.EVENT_PAIRING_FAILURE, on_pairing_failure)
        connection.on(connection.EVENT_DISCONNECTION, on_disconnection)
        # The controller stopped advertising when the central connected: advertise again, so a second device
        # (or the same glasses after a connection it already gave up on) can still connect.
        self._spawn(self.restart_advertising())

    async def disconnect_all(self) -> int:
        states = list(self.connections.values())
        for state in states:
            try:
                await state.connection.disconnect()
            except Exception as exc:  # already gone: nothing to do
                log.debug("disconnect %s: %s", state.identity, exc)
        return len(states)

    # ---- advertising and privacy ----------------------------------------------------------------------------

    def _advertising_data(self) -> tuple[bytes, bytes]:
        adv = AdvertisingData([
            (AdvertisingData.FLAGS, bytes([AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG
                                           | AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG])),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, UUID(SERVICE_UUID).to_bytes(True)),
        ])
        name = self.name.encode()
        # 31 bytes of scan response: 2 for the header, so 29 of name (shortened when longer).
        kind = AdvertisingData.COMPLETE_LOCAL_NAME if len(name) <= 29 else AdvertisingData.SHORTENED_LOCAL_NAME
        scan = AdvertisingData([(kind, name[:29])])
        return bytes(adv), bytes(scan)

    async def restart_advertising(self, new_address: bool = False) -> None:
        async with self._adv_lock:
            if not self.device.powered_on or self._stopping:
                return
            try:
                await self.device.stop_advertising()
                if new_address:
                    rpa = hci.Address.generate_private_address(self.identity.irk)
                    self.device.random_address = rpa
                    self.rpa_history = (self.rpa_history + [str(rpa)])[-8:]
                    self._rotation_due = False
                    # Legacy advertising uses the controller's random address (extended sets carry their own, but
                    # bumble's LocalLink routes packets by the controller's address: set both).
                    await self.device.send_sync_command(hci.HCI_LE_Set_Random_Address_Command(random_address=rpa))
                adv, scan = self._advertising_data()
                await self.device.start_advertising(
                    own_address_type=hci.OwnAddressType.RANDOM, auto_restart=False,
                    advertising_data=adv, scan_response_data=scan)
            except hci.HCI_Error as exc:
                log.warning("advertising could not be (re)started: %s", exc)

    async def _rotate_rpa(self) -> None:
        while True:
            await asyncio.sleep(self.rpa_timeout)
            if self.connections:
                # While a central is connected the rotation waits for it to leave: changing the controller's
                # random address under a live connection breaks it on bumble's LocalLink (it routes a connection's
                # packets by that address), and the connection's own address is fixed anyway.
                self._rotation_due = True
                continue
            await self.restart_advertising(new_address=True)
            log.info("new resolvable private address %s", self.device.random_address)

    async def start(self) -> None:
        await self.device.power_on()
        await self.bonds.load(self.device.keystore)  # type: ignore[arg-type]
        await self.restart_advertising(new_address=True)
        if self.rpa_timeout > 0:
            self._rpa_task = asyncio.get_running_loop().create_task(self._rotate_rpa())

    async def stop(self) -> None:
        # No task is cancelled in the middle of an HCI command (bumble would then fail on the late answer): the
        # flag makes pending advertising work return at once, and the lock waits for the one running.
        self._stopping = True
        async with self._adv_lock:
            if self._rpa_task is not None:
                self._rpa_task.cancel()
                await asyncio.gather(self._rpa_task, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.disconnect_all()
            await self.device.stop_advertising()
        except Exception as exc:  # the transport may already be gone (controller closed)
            log.debug("stop: %s", exc)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.device.power_off()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def connection_status(self) -> list[dict[str, Any]]:
        out = []
        for state in self.connections.values():
            c = state.connection
            out.append({
                "address": str(c.peer_resolvable_address or c.peer_address),
                "identity": state.identity,
                "handle": c.handle,
                "encrypted": bool(c.is_encrypted),
                "authenticated": self.is_secure(c),
                "subscribed": state.subscribed,
                "mtu": c.att_mtu,
            })
        return out


def _answer_read_multiple_errors(server: Any) -> None:
    """ATT Read Multiple (Variable) on a protected attribute gets an Error Response, as a single Read does.

    bumble's handlers for these two requests run as tasks and expect every attribute to be readable: the
    ATT_Error that our permission check raises escapes the task (a traceback in the log) and the central never
    gets an answer (its request times out after 30 s, and ATT allows one request at a time: the bearer is stuck).
    These replacements read each handle first, answer the first error with an Error Response naming that handle
    (Core Vol 3 Part F 3.4.4.7: "If one or more of the requested attributes cannot be read, an Error Response"),
    and build the response as bumble does otherwise.
    """
    from bumble.att import (
        ATT_ATTRIBUTE_NOT_FOUND_ERROR,
        ATT_Error_Response,
        ATT_Read_Multiple_Response,
        ATT_Read_Multiple_Variable_Response,
    )

    async def read_all(bearer: Any, request: Any) -> list[bytes] | None:
        values = []
        for handle in request.set_of_handles:
            attribute = server.get_attribute(handle)
            try:
                if attribute is None:
                    raise ATT_Error(ATT_ATTRIBUTE_NOT_FOUND_ERROR, handle)
                values.append(bytes(await attribute.read_value(bearer)))
            except ATT_Error as error:
                server.send_response(bearer, ATT_Error_Response(
                    request_opcode_in_error=request.op_code, attribute_handle_in_error=handle,
                    error_code=error.error_code))
                return None
        return values

    async def read_multiple(bearer: Any, request: Any) -> None:
        values = await read_all(bearer, request)
        if values is None:
            return
        # Values are concatenated; the response is cut to ATT_MTU - 1 bytes (3.4.4.8).
        joined = b"".join(v[:min(bearer.att_mtu - 1, 251)] for v in values)[:bearer.att_mtu - 1]
        server.send_response(bearer, ATT_Read_Multiple_Response(set_of_values=joined))

    async def read_multiple_variable(bearer: Any, request: Any) -> None:
        values = await read_all(bearer, request)
        if values is None:
            return
        space, tuples = bearer.att_mtu - 1, []
        for value in values:  # length-value tuples while they fit (3.4.4.12)
            cut = value[:min(bearer.att_mtu - 3, 251)]
            tuples.append((len(value), cut))
            space -= 2 + len(cut)
            if space <= 0:
                break
        server.send_response(bearer, ATT_Read_Multiple_Variable_Response(length_value_tuple_list=tuples))

    def spawn(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], None]:
        def run(bearer: Any, request: Any) -> None:
            task = asyncio.get_running_loop().create_task(handler(bearer, request))
            _READS.add(task)
            task.add_done_callback(_READS.discard)
        return run

    server.on_att_read_multiple_request = spawn(read_multiple)
    server.on_att_read_multiple_variable_request = spawn(read_multiple_variable)


_READS: set[asyncio.Task[None]] = set()  # running Read Multiple answers (a reference keeps each task alive)
