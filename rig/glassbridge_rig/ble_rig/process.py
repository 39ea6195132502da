"""The BLE rig's process: the radio and everything on it, run as `python -m glassbridge_rig.ble_rig.process`.

One `TimedLink` (glassbridge_rig.ble_timing) carries every controller: the glasses' adapter (a bumble Device
served on D-Bus as BlueZ by glassbridge_rig.bluez), the phone slots (`PhoneSlot`: a controller behind an HCI
unix socket for the companion's host), and the `Impostor`. `Rig` owns them and answers the ctl socket
(`Rig.command`); `serve` runs it until SIGTERM and prints the READY line (contract.py) once it is up.

Only this process imports bumble; the harness that starts it (harness.py, `BleRig`) talks to it through its
command line, its stdout and its sockets, never by importing this module.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glassbridge.private import private_dir
from glassbridge_rig.ble_airtime import BleTiming
from glassbridge_rig.ble_rig.contract import (
    CTL_SOCKET,
    DEFAULT_COMPANION_NAME,
    GLASSES_ADDRESS,
    PROCESS_MODULE,
    READY,
    RIG_JSON,
    phone_socket,
)
from glassbridge_rig.ble_timing import TimedController, TimedLink

__all__ = ["Impostor", "PhoneSlot", "Rig", "main", "serve"]

log = logging.getLogger(__name__)

#: Public addresses of the phone slots' controllers (the companion uses its own static random identity anyway).
_SLOT_ADDRESS = "00:1B:DC:60:0C:{:02X}"


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
        self.slots = [PhoneSlot(i, sockdir / phone_socket(i), self.link) for i in range(slots)]
        self.impostor = Impostor(self.link)
        self.companion_name = companion_name
        self.ctl_path = sockdir / CTL_SOCKET
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
        (self.workdir / RIG_JSON).write_text(json.dumps(info, indent=1) + "\n")
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
        print(READY + json.dumps(info), flush=True)
        await stop.wait()
    finally:
        await rig.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROCESS_MODULE}",
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


if __name__ == "__main__":
    sys.exit(main())
