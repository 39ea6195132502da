"""The simulated BLE rig: a process with the radio, and `BleRig`, the harness the tests and `make demo` use.

There is no Bluetooth in the kernel of the test machines, so the whole radio lives in one process,
`python -m glassbridge_rig.ble_rig --workdir DIR`, on a `TimedLink` (glassbridge_rig.ble_timing):

    glasses' adapter   bumble TimedController + Host + Device, exported on D-Bus as BlueZ (glassbridge_rig.bluez)
                       on the bus of DBUS_SYSTEM_BUS_ADDRESS: bleak's unmodified BlueZ backend drives it
    phone slot(s)      bare TimedControllers, each behind a unix socket speaking HCI (H4) as bumble's
                       `unix-server:` transport does: `glassbridge companion --transport unix:PATH` attaches to it
                       exactly as it attaches to a USB dongle on a laptop (`--transport usb:0`)
    impostor           an in-process bumble Device advertising the glassbridge service under the companion's name,
                       switched on and off over ctl: from a new address, or claiming the companion's identity
                       address (without its keys)
    ctl                a unix socket, one JSON object per line each way (see `CtlServer`)

When the rig is up it writes DIR/rig.json (socket paths) and prints one line `READY {json}` on stdout.

`BleRig` starts the private bus, the rig process and the companion process, waits for each to be ready (with
timeouts and errors that quote the process's log), and ends every process by its pid, whatever happens:

    with BleRig(tmp_path) as rig:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = rig.bus_address     # or subprocess env=rig.env
        rig.ctl({"cmd": "drop"})                                     # the radio link lost
        rig.companion_ctl({"cmd": "status"})
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from glassbridge.private import private_dir
from glassbridge_rig.ble_timing import BleTiming, TimedController, TimedLink

__all__ = ["BleRig", "BleRigError", "RigProcess", "main"]

log = logging.getLogger(__name__)

#: The glasses' adapter: a static random address (two top bits set), which it connects from and distributes as its
#: identity when bonding. (A public address in the controller would make bumble's SMP distribute that one while
#: connections come from the random one: the peer could never find the bond again.)
GLASSES_ADDRESS = "C6:1A:55:60:0B:01"
#: Public addresses of the phone slots' controllers (the companion uses its own static random identity anyway).
_SLOT_ADDRESS = "00:1B:DC:60:0C:{:02X}"
#: Name the companion advertises by default (glassbridge companion --name).
DEFAULT_COMPANION_NAME = "glassbridge-companion"
#: Longest unix socket path (sun_path is 108 bytes with its NUL); longer workdirs get a short socket directory.
_MAX_SOCKET_PATH = 100


# ==== inside the rig process ==============================================================================


class PhoneSlot:
    """A controller on the link for one phone, reachable as an HCI transport on a unix socket.

    One host at a time: a second client is refused (its socket is closed). When the host goes away (the companion
    exits or is killed), the phone's radio is gone: its connections are lost (the glasses see a supervision
    timeout), its advertising stops, and the next host gets a fresh controller, as after a power cycle.
    """

    def __init__(self, index: int, path: Path, link: TimedLink) -> None:
        self.index = index
        self.path = path
        self.link = link
        self.address = _SLOT_ADDRESS.format(index + 1)
        self.controller: TimedController | None = None
        self.attachments = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.get_running_loop().create_unix_server(lambda: _HciClient(self),
                                                                           str(self.path))
        os.chmod(self.path, 0o600)  # whoever opens it is the phone's host: the owner only (and the folder is 0700)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.detach()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def attach(self, transport: asyncio.Transport) -> _HciPipe | None:
        if self.controller is not None:
            log.warning("phone slot %d: a host is already attached; refusing a second one", self.index)
            return None
        from bumble.transport.common import StreamPacketSink, StreamPacketSource

        source = StreamPacketSource()
        sink = StreamPacketSink(transport)
        self.controller = TimedController(f"phone{self.index}", host_source=source, host_sink=sink, link=self.link,
                                          public_address=self.address)
        self.attachments += 1
        log.info("phone slot %d: host attached", self.index)
        return _HciPipe(source)

    def detach(self) -> None:
        controller, self.controller = self.controller, None
        if controller is None:
            return
        _silence_controller(self.link, controller)
        log.info("phone slot %d: host detached (its radio is gone)", self.index)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "path": str(self.path), "attached": self.controller is not None,
                "controller_address": self.address, "attachments": self.attachments}


class _HciPipe:
    def __init__(self, source: Any) -> None:
        self.source = source


class _HciClient(asyncio.Protocol):
    """One connection on a phone slot's socket: H4 bytes in and out (what bumble's unix transports speak)."""

    def __init__(self, slot: PhoneSlot) -> None:
        self.slot = slot
        self.pipe: _HciPipe | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.pipe = self.slot.attach(transport)
        if self.pipe is None:
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self.pipe is not None:
            self.pipe.source.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pipe is not None:
            self.pipe = None
            self.slot.detach()


def _silence_controller(link: TimedLink, controller: Any) -> None:
    """A controller's radio goes away: no more advertising, its connections are lost, it leaves the link."""
    controller.le_legacy_advertiser.stop()
    for advertising_set in list(controller.advertising_sets.values()):
        advertising_set.stop()
    for connection in list(controller.le_connections.values()):
        link.drop(connection.self_address)
    if controller in link.controllers:
        link.remove_controller(controller)


class Impostor:
    """A device that pretends to be the phone: it advertises the glassbridge service under the companion's name.

    It hosts a GATT service with the glassbridge UUIDs and no security (whatever is written is counted, reads
    return a plausible ServiceInfo-sized blob), so a central that trusts names or UUIDs walks into it. Modes:
    `new-address` (a fresh static random address at each `on`) and `identity` (the companion's identity
    address, which a bonded central would trust, but without the bond's keys: encryption fails).
    """

    def __init__(self, link: TimedLink) -> None:
        self.link = link
        self.device: Any = None
        self.controller: TimedController | None = None
        self.mode: str | None = None
        self.address: str | None = None
        self.name: str | None = None
        self.writes = 0
        self.connections = 0

    @property
    def on(self) -> bool:
        return self.device is not None

    async def start(self, *, mode: str, name: str, address: str | None) -> None:
        from bumble.core import AdvertisingData
        from bumble.device import Device
        from bumble.gatt import Characteristic, CharacteristicValue, Service
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport.common import AsyncPipeSink

        from glassbridge.protocol import gatt

        if mode not in ("new-address", "identity"):
            raise ValueError(f"impostor mode {mode!r}: use 'new-address' or 'identity'")
        if mode == "identity" and not address:
            raise ValueError("impostor mode 'identity' needs the companion's identity address ('address')")
        await self.stop()
        if mode == "new-address":
            raw = bytearray(secrets.token_bytes(6))
            raw[5] |= 0xC0  # a static random address: the two top bits set (Core spec Vol 6 Part B 1.3.2.1)
            address = ":".join(f"{b:02X}" for b in reversed(raw))
        assert address is not None
        controller = TimedController("impostor", link=self.link)
        device = Device(name=name, address=Address(address, Address.RANDOM_DEVICE_ADDRESS),
                        host=Host(controller, AsyncPipeSink(controller)))

        def on_write(_connection: Any, value: bytes) -> None:
            self.writes += 1

        uplink: Characteristic[bytes] = Characteristic(gatt.UPLINK_UUID, Characteristic.Properties.WRITE
                                | Characteristic.Properties.WRITE_WITHOUT_RESPONSE, Characteristic.WRITEABLE,
                                CharacteristicValue(write=on_write))
        downlink = Characteristic(gatt.DOWNLINK_UUID, Characteristic.Properties.NOTIFY, Characteristic.READABLE,
                                  b"")
        info = Characteristic(gatt.INFO_UUID, Characteristic.Properties.READ, Characteristic.READABLE,
                              bytes(16))
        device.add_service(Service(gatt.SERVICE_UUID, [uplink, downlink, info]))
        device.on("connection", lambda _c: setattr(self, "connections", self.connections + 1))
        await device.power_on()
        device.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             bytes(reversed(bytes.fromhex(gatt.SERVICE_UUID.replace("-", ""))))),
        ]))
        device.scan_response_data = bytes(AdvertisingData([
            (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
        ]))
        # Every 100 ms, as the companion does: a scan of a second sees it several times.
        await device.start_advertising(auto_restart=True, advertising_interval_min=100, advertising_interval_max=100)
        self.device, self.controller = device, controller
        self.mode, self.address, self.name = mode, address, name

    async def stop(self) -> None:
        device, self.device = self.device, None
        controller, self.controller = self.controller, None
        if device is None:
            return
        with contextlib.suppress(Exception):
            await device.stop_advertising()
        for connection in list(device.connections.values()):
            with contextlib.suppress(Exception):
                await connection.disconnect()
        with contextlib.suppress(Exception):
            await device.power_off()
        if controller is not None:
            _silence_controller(self.link, controller)

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on, "mode": self.mode, "address": self.address, "name": self.name,
                "connections": self.connections, "writes": self.writes}


class Rig:
    """Everything inside the rig process: the link, the glasses' adapter, the slots, the impostor, ctl."""

    def __init__(self, workdir: Path, sockdir: Path, timing: BleTiming, *, slots: int = 1,
                 companion_name: str = DEFAULT_COMPANION_NAME) -> None:
        self.workdir = workdir
        self.sockdir = sockdir
        self.link = TimedLink(timing)
        self.slots = [PhoneSlot(i, sockdir / f"phone{i}.hci", self.link) for i in range(slots)]
        self.impostor = Impostor(self.link)
        self.companion_name = companion_name
        self.ctl_path = sockdir / "rig.ctl"
        self.glasses: Any = None
        self.bluez: Any = None
        self.bluez_error: str | None = None
        self._ctl_server: asyncio.AbstractServer | None = None

    async def start(self) -> dict[str, Any]:
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport.common import AsyncPipeSink

        controller = TimedController("glasses", link=self.link)
        self.glasses = Device(name="glassbridge-glasses", address=Address(GLASSES_ADDRESS, Address.RANDOM_DEVICE_ADDRESS),
                              host=Host(controller, AsyncPipeSink(controller)))
        try:
            from glassbridge_rig.bluez import BluezService
        except ImportError as exc:  # the BlueZ facade is not there yet: a bare adapter, no D-Bus
            self.bluez_error = f"glassbridge_rig.bluez unavailable: {exc}"
            log.warning("%s; the glasses' adapter runs without D-Bus", self.bluez_error)
            await self.glasses.power_on()
        else:
            state = private_dir(self.workdir / "bluez")
            self.bluez = BluezService(self.glasses, state_dir=state)
            await self.bluez.start()
        for slot in self.slots:
            await slot.start()
        with contextlib.suppress(FileNotFoundError):
            self.ctl_path.unlink()
        self._ctl_server = await asyncio.get_running_loop().create_unix_server(
            lambda: _CtlProtocol(self), str(self.ctl_path))
        os.chmod(self.ctl_path, 0o600)
        info = {"pid": os.getpid(), "ctl": str(self.ctl_path), "phone": [str(s.path) for s in self.slots],
                "bluez": self.bluez is not None, "bluez_error": self.bluez_error,
                "glasses": GLASSES_ADDRESS}
        (self.workdir / "rig.json").write_text(json.dumps(info, indent=1) + "\n")
        return info

    async def stop(self) -> None:
        if self._ctl_server is not None:
            self._ctl_server.close()
        await self.impostor.stop()
        for slot in self.slots:
            await slot.stop()
        if self.bluez is not None:
            with contextlib.suppress(Exception):
                await self.bluez.stop()
        with contextlib.suppress(FileNotFoundError):
            self.ctl_path.unlink()

    # ---- ctl ------------------------------------------------------------------------------------------

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """One ctl request -> its answer. Commands:

        {"cmd":"ping"}
        {"cmd":"status"}            timing, ceilings, slots, impostor, connections with counters per direction
        {"cmd":"drop"[,"address":A][,"silence_ms":MS]}   the radio link lost (all connections, or A's)
        {"cmd":"impostor","on":true[,"mode":"new-address"|"identity"][,"address":A][,"name":N]} / "on":false
        {"cmd":"timing"[,"set":{field: value}]}   read / change the timing model (the next event uses it)
        {"cmd":"reset-counters"}
        """
        cmd = request.get("cmd")
        if cmd == "ping":
            return {"ok": True, "pong": True, "pid": os.getpid()}
        if cmd == "status":
            return {"ok": True, "pid": os.getpid(), "timing": self.link.timing.to_dict(),
                    "ceiling_bytes_per_s": {str(m): round(self.link.timing.write_without_response_ceiling(m), 1)
                                            for m in (185, 247, 517)},
                    "bluez": self.bluez is not None, "bluez_error": self.bluez_error,
                    "glasses": GLASSES_ADDRESS, "slots": [s.to_dict() for s in self.slots],
                    "impostor": self.impostor.to_dict(), "connections": self.link.connections()}
        if cmd == "drop":
            from bumble.hci import Address

            address = request.get("address")
            silence = float(request.get("silence_ms", 0.0))
            dropped = self.link.drop(Address(address) if address else None, silence_ms=silence)
            return {"ok": True, "dropped": dropped}
        if cmd == "impostor":
            if request.get("on"):
                await self.impostor.start(mode=str(request.get("mode", "new-address")),
                                          name=str(request.get("name", self.companion_name)),
                                          address=request.get("address"))
            else:
                await self.impostor.stop()
            return {"ok": True, "impostor": self.impostor.to_dict()}
        if cmd == "timing":
            if "set" in request:
                changes = request["set"]
                if not isinstance(changes, dict):
                    raise ValueError("timing 'set' takes an object of BleTiming fields")
                self.link.timing = self.link.timing.replace(**changes)
            return {"ok": True, "timing": self.link.timing.to_dict()}
        if cmd == "reset-counters":
            self.link.reset_counters()
            return {"ok": True}
        raise ValueError(f"unknown command {cmd!r}: use ping, status, drop, impostor, timing, reset-counters")


class _CtlProtocol(asyncio.Protocol):
    """ctl: one JSON object per line in, one per line out; errors as {"ok": false, "error": "..."}."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.lock = asyncio.Lock()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                asyncio.get_running_loop().create_task(self._answer(line))

    async def _answer(self, line: bytes) -> None:
        async with self.lock:  # answers in the order of the requests
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object such as {\"cmd\": \"status\"}")
                answer = await self.rig.command(request)
            except Exception as exc:  # noqa: BLE001 - every failure becomes an answer, never a dead socket
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(json.dumps(answer).encode() + b"\n")


async def serve(workdir: Path, sockdir: Path, timing: BleTiming, *, slots: int = 1,
                companion_name: str = DEFAULT_COMPANION_NAME) -> None:
    """Run the rig until SIGTERM or SIGINT."""
    rig = Rig(workdir, sockdir, timing, slots=slots, companion_name=companion_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        info = await rig.start()
        print("READY " + json.dumps(info), flush=True)
        await stop.wait()
    finally:
        await rig.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glassbridge_rig.ble_rig",
        description="The simulated BLE radio: glasses' adapter on D-Bus (BlueZ), phone slot(s) as HCI sockets, "
                    "an impostor, a ctl socket. Prints `READY {json}` when up; SIGTERM stops it.")
    parser.add_argument("--workdir", required=True, type=Path, help="state (BlueZ keys) and rig.json go here")
    parser.add_argument("--sockdir", type=Path, help="where the sockets go (default: the workdir)")
    parser.add_argument("--timing", default="{}", help="BleTiming fields as JSON, e.g. '{\"ll_payload\": 27}'")
    parser.add_argument("--slots", type=int, default=1, help="phone slots (HCI sockets phone0.hci, ...)")
    parser.add_argument("--companion-name", default=DEFAULT_COMPANION_NAME, help="the name the impostor uses")
    parser.add_argument("--log-level", default=os.environ.get("GLASSBRIDGE_RIG_LOG", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    timing = BleTiming.from_dict(json.loads(args.timing))
    # Owner-only: the HCI sockets pair and talk as the phone, the ctl socket injects faults, bluez/ holds keys.
    private_dir(args.workdir)
    sockdir = private_dir(args.sockdir or args.workdir)
    asyncio.run(serve(args.workdir, sockdir, timing, slots=args.slots, companion_name=args.companion_name))
    return 0


# ==== the harness (in the test's process) ===================================================================


class BleRigError(RuntimeError):
    """The rig (or one of its processes) failed to start, died, or did not answer; the message quotes its log."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


class RigProcess:
    """A child process started in its own process group, its output in files, ended by its pid. It does not
    outlive this process: killed outright (SIGKILL too), the kernel sends it SIGTERM (PR_SET_PDEATHSIG, forked
    on a thread that lasts as long as the process: glassbridge.lifetime.popen)."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.stdout_path = workdir / f"{name}.out"
        self.log_path = workdir / f"{name}.log"
        # Appended, not truncated: after a restart the previous run's log is still there to read. stdout is
        # truncated so that wait_line() sees this run's READY only.
        with open(self.stdout_path, "wb") as out, open(self.log_path, "ab") as err:
            err.write(f"==== {time.strftime('%H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
            err.flush()
            from glassbridge.lifetime import popen

            self.proc = popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> str:
        return (f"{self.name} (pid {self.pid}, {' '.join(self.argv[:6])} ...)\n--- {self.log_path.name} ---\n"
                f"{_tail(self.log_path)}\n--- {self.stdout_path.name} ---\n{_tail(self.stdout_path, 10)}")

    def wait_line(self, prefix: str, timeout: float) -> str:
        """Wait for a line of stdout starting with `prefix`; BleRigError if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(FileNotFoundError):
                for line in self.stdout_path.read_text(errors="replace").splitlines():
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
            if self.proc.poll() is not None:
                raise BleRigError(f"{self.name} exited with status {self.proc.returncode} before printing "
                                  f"{prefix.strip()!r}:\n{self.describe()}")
            if time.monotonic() > deadline:
                raise BleRigError(f"{self.name} did not print {prefix.strip()!r} within {timeout} s:\n"
                                  f"{self.describe()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, no goodbye (a crash, a phone's Bluetooth stack dying); reaped."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to its process group, SIGKILL after `timeout`; always reaps it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        # Anything the child left in its group (it should have none) goes too; the group id is the child's pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _request(path: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise BleRigError(f"{path} closed the connection before answering {request}")
            data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise BleRigError(f"{path} answered {request} with {answer!r}, not a JSON object")
    return answer


def _ask(process: RigProcess, what: str, path: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """_request, with the process's log in the error when it cannot answer."""
    try:
        return _request(path, request, timeout)
    except (OSError, ValueError) as exc:
        raise BleRigError(f"{what} ctl {request}: {exc}\n{process.describe()}") from exc


class BleRig:
    """The whole simulated BLE rig for a test or a demo: private bus + rig process + companion process.

    workdir: logs (`rig.log`, `companion.log`, `*.out`), BlueZ's state (`bluez/`), the companion's (`companion/`).
    timing: the radio model. companion: start `glassbridge companion` on phone slot 0 (False: the slot stays free
    for a test's own host). companion_args: extra arguments for it. mtu: the companion's largest ATT_MTU.
    Ready when `start()` (or `with`) returns; `stop()` ends every process by its pid and is idempotent.
    """

    def __init__(self, workdir: str | os.PathLike[str], *, timing: BleTiming | None = None, companion: bool = True,
                 companion_args: Sequence[str] = (), mtu: int = 517, slots: int = 1,
                 companion_name: str = DEFAULT_COMPANION_NAME, start_timeout: float = 20.0) -> None:
        self.workdir = Path(workdir).resolve()
        self.timing = timing or BleTiming()
        self.companion_enabled = companion
        self.companion_args = list(companion_args)
        self.mtu = mtu
        self.slots = slots
        self.companion_name = companion_name
        self.start_timeout = start_timeout
        self.bus: Any = None
        self.rig_process: RigProcess | None = None
        self.companion_process: RigProcess | None = None
        self.info: dict[str, Any] = {}
        self.companion_identity: str | None = None
        self._sockdir: Path | None = None
        self._own_sockdir = False

    # ---- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> BleRig:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        from glassbridge_rig.dbus import PrivateBus

        private_dir(self.workdir)
        self._sockdir = self.workdir / "sock"
        if len(str(self._sockdir / "phone0.hci")) > _MAX_SOCKET_PATH:
            self._sockdir = Path(tempfile.mkdtemp(prefix="gbrig-", dir="/tmp"))
            self._own_sockdir = True
        private_dir(self._sockdir)
        try:
            self.bus = PrivateBus(self.workdir / "bus")
            self.bus.start()
            self._start_rig()
            if self.companion_enabled:
                self._start_companion()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """End the companion, the rig and the bus (by pid), whatever state they are in."""
        errors: list[str] = []
        for attr in ("companion_process", "rig_process"):
            process: RigProcess | None = getattr(self, attr)
            if process is not None:
                try:
                    process.stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the others
                    errors.append(f"{process.name}: {exc}")
                setattr(self, attr, None)
        if self.bus is not None:
            try:
                self.bus.stop()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"bus: {exc}")
            self.bus = None
        if self._own_sockdir and self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._own_sockdir = False
        if errors:
            raise BleRigError("stopping the rig: " + "; ".join(errors))

    def _start_rig(self) -> None:
        assert self._sockdir is not None
        argv = [sys.executable, "-m", "glassbridge_rig.ble_rig", "--workdir", str(self.workdir), "--sockdir",
                str(self._sockdir), "--timing", json.dumps(self.timing.to_dict()), "--slots", str(self.slots),
                "--companion-name", self.companion_name]
        self.rig_process = RigProcess("rig", argv, env=self.env, workdir=self.workdir)
        self.info = json.loads(self.rig_process.wait_line("READY ", self.start_timeout))

    def _start_companion(self) -> None:
        argv = [sys.executable, "-m", "glassbridge.cli.main", "companion", "--transport", f"unix:{self.phone_path}",
                "--state", str(self.workdir / "companion"), "--ctl", self.companion_ctl_path,
                "--name", self.companion_name, "--mtu", str(self.mtu), *self.companion_args]
        self.companion_process = RigProcess("companion", argv, env=self.env, workdir=self.workdir)
        self.companion_identity = self.companion_process.wait_line("READY ", self.start_timeout)

    def restart_companion(self, *, crash: bool = False) -> None:
        """Stop the companion and start it again with its state (identity, bonds).

        Stopped gracefully (SIGTERM), it disconnects on its own (the glasses see 0x13, remote user terminated);
        with crash=True it is killed and its radio just goes away (the glasses see 0x08, a supervision timeout).
        """
        if self.companion_process is not None:
            if crash:
                self.companion_process.kill()
            self.companion_process.stop()
            self.companion_process = None
        self._start_companion()

    def restart_bluez(self) -> None:
        """Restart the rig process with the same workdir: BlueZ's keys persist, connections do not.

        The phone slots live in the rig process too, so the companion (whose HCI socket goes away) is restarted
        as well, with its state: bonds survive on both sides.
        """
        had_companion = self.companion_process is not None
        if self.companion_process is not None:
            self.companion_process.stop()
            self.companion_process = None
        if self.rig_process is not None:
            self.rig_process.stop()
            self.rig_process = None
        self._start_rig()
        if had_companion:
            self._start_companion()

    # ---- access --------------------------------------------------------------------------------------

    @property
    def bus_address(self) -> str:
        if self.bus is None:
            raise BleRigError("the rig is not started: no bus address")
        return str(self.bus.address)

    @contextlib.contextmanager
    def system_bus(self) -> Iterator[str]:
        """Points this process's DBUS_SYSTEM_BUS_ADDRESS at the rig's bus (where bleak and our agent find
        "BlueZ") for the `with` block, and puts back what was there after it. Yields the address."""
        saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        try:
            yield self.bus_address
        finally:
            if saved is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved

    @property
    def env(self) -> dict[str, str]:
        """os.environ with DBUS_SYSTEM_BUS_ADDRESS pointing at the rig's bus (for bleak and subprocesses)."""
        env = dict(os.environ)
        if self.bus is not None:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        return env

    @property
    def phone_path(self) -> str:
        """Phone slot 0's HCI socket: `--transport unix:<this>`."""
        assert self._sockdir is not None
        return str(self._sockdir / "phone0.hci")

    @property
    def ctl_path(self) -> str:
        assert self._sockdir is not None
        return str(self._sockdir / "rig.ctl")

    @property
    def companion_ctl_path(self) -> str:
        assert self._sockdir is not None
        return str(self._sockdir / "companion.ctl")

    @property
    def pids(self) -> list[int]:
        """pids of every process the rig started (bus, rig, companion) that is still meant to run."""
        pids = [p.pid for p in (self.rig_process, self.companion_process) if p is not None]
        if self.bus is not None:
            with contextlib.suppress(Exception):  # a bus that is not running has no pid
                pids.append(int(self.bus.pid))
        return pids

    def ctl(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """One request to the rig's ctl socket; BleRigError (with the rig's log) if it cannot answer."""
        if self.rig_process is None:
            raise BleRigError("the rig is not running")
        return _ask(self.rig_process, "rig", self.ctl_path, request, timeout)

    def companion_ctl(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """One request to the companion's ctl socket (see glassbridge companion --ctl)."""
        if self.companion_process is None:
            raise BleRigError("the companion is not running (BleRig(companion=False)?)")
        return _ask(self.companion_process, "companion", self.companion_ctl_path, request, timeout)


if __name__ == "__main__":
    sys.exit(main())
