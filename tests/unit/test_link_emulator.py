"""LinkEmulator against a stand-in for the firmware: a plain unix-socket server (echo, or send/record on demand).

The real firmware end to end (the host port and QEMU through the emulator) is in tests/integration/
test_runner.py. Here the SoC side is pyserial on the emulator's pty, as the product's transport will be.

Pacing is checked without wall-clock asserts that could flake: a byte can only arrive LATER than the emulator
scheduled it (a busy machine delays, never hastens), so "bytes received by time t never exceed
baud/10 * (t - t_start) + one byte" and "the first byte arrives no sooner than the latency" hold however loaded
the machine is. The emulator's own accounting (line time charged) must match the byte count exactly.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import serial

from glassbridge_rig import FaultSpec, LinkEmulator, LinkEmulatorError, PortInUseError

FAST_BAUD = 2_000_000  # 200 KB/s: pacing tests move ~40 KB in ~0.2 s


class FakeFirmware:
    """A unix-socket server standing in for the firmware's UART: echoes, or records and sends on request."""

    def __init__(self, path: Path, *, echo: bool = True) -> None:
        self.path = path
        self.echo = echo
        self.received = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (time.monotonic(), cumulative bytes) per recv
        self.connections = 0
        self._conns: list[socket.socket] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: socket.socket | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(os.fspath(self.path))
        sock.listen(4)
        sock.setblocking(False)
        self._listener = sock
        self._tasks.append(asyncio.get_running_loop().create_task(self._accept()))

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while True:
            conn, _ = await loop.sock_accept(self._listener)
            conn.setblocking(False)
            self.connections += 1
            self._conns.append(conn)
            self._tasks.append(loop.create_task(self._serve(conn)))

    async def _serve(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await loop.sock_recv(conn, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += data
            self.arrivals.append((time.monotonic(), len(self.received)))
            if self.echo:
                await loop.sock_sendall(conn, data)

    async def send(self, data: bytes) -> None:
        """Send on the newest connection."""
        await asyncio.get_running_loop().sock_sendall(self._conns[-1], data)

    def drop_connections(self) -> None:
        """What a crashed MCU looks like to the emulator: its socket closes."""
        for conn in self._conns:
            conn.shutdown(socket.SHUT_RDWR)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self._conns:
            conn.close()
        if self._listener is not None:
            self._listener.close()
            self.path.unlink(missing_ok=True)


Body = Callable[[LinkEmulator, FakeFirmware], Awaitable[None]]


def run_rig(tmp_path: Path, body: Body, *, echo: bool = True, **emulator: Any) -> None:
    """Start a fake firmware and an emulator in front of it, run `body`, tear both down."""

    async def main() -> None:
        firmware = FakeFirmware(tmp_path / "uart.sock", echo=echo)
        await firmware.start()
        emulator.setdefault("link", tmp_path / "tty")
        try:
            async with LinkEmulator(firmware.path, **emulator) as emu:
                await emu.wait_mcu(5)
                await wait_until(lambda: firmware.connections == 1)  # our accept task has seen it too
                await body(emu, firmware)
                emu.check()
        finally:
            await firmware.close()

    asyncio.run(main())


def open_port(path: str, **kw: Any) -> serial.Serial:
    return serial.Serial(path, baudrate=921600, timeout=kw.pop("timeout", 2.0), **kw)


def read_exactly(port: serial.Serial, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        chunk = port.read(n - len(got))
        if not chunk:
            break
        got += chunk
    return bytes(got)


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


# -- bytes through, both ways ----------------------------------------------------------------------------------

def test_echo_round_trip_is_intact_and_counted(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(20_000)

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        assert os.path.islink(emu.port) and os.readlink(emu.port) == emu.device

        def soc() -> bytes:
            with open_port(emu.port) as port:
                port.write(data)
                return read_exactly(port, len(data))

        assert await asyncio.to_thread(soc) == data
        st = emu.stats()
        assert st.to_mcu.delivered == st.to_soc.delivered == len(data)
        assert st.to_mcu.discarded == st.to_soc.discarded == 0
        assert bytes(fw.received) == data

    run_rig(tmp_path, body, baud=FAST_BAUD)


def test_to_mcu_never_faster_than_the_line(tmp_path: Path) -> None:
    n, latency_ms = 40_000, 3.0
    rate = FAST_BAUD / 10

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        def soc() -> float:
            with open_port(emu.port) as port:
                t0 = time.monotonic()
                port.write(bytes(n))
                port.flush()
                return t0

        t0 = await asyncio.to_thread(soc)
        await wait_until(lambda: len(fw.received) == n)
        for t, total in fw.arrivals:
            assert total <= rate * (t - t0) + 1, (t - t0, total)
        assert fw.arrivals[0][0] - t0 >= latency_ms / 1e3
        assert emu.stats().to_mcu.line_busy_s == pytest.approx(n / rate)

    run_rig(tmp_path, body, echo=False, baud=FAST_BAUD, latency_ms=latency_ms)


@pytest.mark.parametrize("faults", [None, "dup=0.02,seed=1"])  # a duplicated byte costs a byte-time too
def test_to_soc_never_faster_than_the_line(tmp_path: Path, faults: str | None) -> None:
    n, latency_ms = 40_000, 3.0
    rate = FAST_BAUD / 10

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        arrivals: list[tuple[float, int]] = []
        with open_port(emu.port, timeout=0.5) as port:
            await wait_until(lambda: emu.stats().port_open)
            t0 = time.monotonic()
            await fw.send(bytes(n))

            def soc() -> None:
                total = 0
                while total < n:
                    chunk = port.read(min(4096, n - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    arrivals.append((time.monotonic(), total))

            await asyncio.to_thread(soc)
        assert arrivals[-1][1] == n
        for t, total in arrivals:
            assert total <= rate * (t - t0) + 1, (t - t0, total)
        assert arrivals[0][0] - t0 >= latency_ms / 1e3
        st = emu.stats().to_soc
        assert st.line_busy_s == pytest.approx((n + st.faults.duplicated) / rate)
        assert (st.faults.duplicated > 0) == (faults is not None)

    run_rig(tmp_path, body, echo=False, baud=FAST_BAUD, latency_ms=latency_ms, faults=faults)


def test_a_slow_reader_gets_backpressure_not_loss(tmp_path: Path) -> None:
    # 100 KB is far more than the pty (~16 KB) and the emulator hold: the emulator must wait for the reader.
    data = random.Random(2).randbytes(100_000)

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        with open_port(emu.port) as port:
            await wait_until(lambda: emu.stats().port_open)
            sender = asyncio.ensure_future(fw.send(data))
            await asyncio.sleep(0.3)  # the reader sleeps while the line could have carried 60 KB
            got = await asyncio.to_thread(read_exactly, port, len(data))
            await sender
        assert got == data
        st = emu.stats().to_soc
        assert st.delivered == len(data) and st.discarded == 0

    run_rig(tmp_path, body, echo=False, baud=FAST_BAUD)


def test_bytes_to_a_closed_port_are_discarded_and_counted(tmp_path: Path) -> None:
    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        await fw.send(b"nobody listens" * 10)
        await wait_until(lambda: emu.stats().to_soc.discarded == 140)
        assert emu.stats().to_soc.delivered == 0
        with open_port(emu.port) as port:  # a port opened later gets only what comes later, like a real tty
            await wait_until(lambda: emu.stats().port_open)
            await fw.send(b"hello")
            assert await asyncio.to_thread(read_exactly, port, 5) == b"hello"

    run_rig(tmp_path, body, echo=False)


# -- faults ----------------------------------------------------------------------------------------------------

def test_injected_faults_show_in_the_bytes_and_the_counters(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(30_000)

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        with open_port(emu.port, timeout=0.5) as port:
            await wait_until(lambda: emu.stats().port_open)
            await fw.send(data)
            got = await asyncio.to_thread(read_exactly, port, len(data))
        st = emu.stats()
        assert len(got) == len(data)  # bit flips only: no length change
        differing = sum(1 for a, b in zip(data, got) if a != b)
        assert differing == st.to_soc.faults.corrupted > 100  # about 300 expected at 1e-2
        assert st.to_mcu.faults.injected == 0  # dir=to-soc

    run_rig(tmp_path, body, echo=False, baud=FAST_BAUD, faults="ber=1e-2,seed=3,dir=to-soc")


def test_same_seed_same_corruption_through_the_emulator(tmp_path: Path) -> None:
    data = random.Random(4).randbytes(8_000)
    results: list[bytes] = []

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        def soc() -> bytes:
            with open_port(emu.port, timeout=0.5) as port:
                port.write(data)
                return read_exactly(port, len(data))

        results.append(await asyncio.to_thread(soc))

    for attempt in range(2):
        (tmp_path / "uart.sock").unlink(missing_ok=True)
        run_rig(tmp_path, body, baud=FAST_BAUD, faults=FaultSpec(ber=3e-3, seed=21, dir="to-mcu"))
    assert results[0] == results[1] != data


# -- cable and MCU ---------------------------------------------------------------------------------------------

def test_vanish_unplug_is_seen_by_pyserial_and_replug_restores_the_same_path(tmp_path: Path) -> None:
    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        port = open_port(emu.port, timeout=1.0)
        try:
            first = emu.device
            reading = asyncio.ensure_future(asyncio.to_thread(port.read, 10))
            await asyncio.sleep(0.05)
            emu.unplug()
            with pytest.raises(serial.SerialException, match="disconnected"):
                await reading
            with pytest.raises(serial.SerialException):
                port.write(b"x")
            assert not os.path.lexists(emu.port) and not emu.plugged
            assert first is not None and not os.path.exists(first)
        finally:
            port.close()
        with pytest.raises(serial.SerialException):
            open_port(emu.port)
        emu.replug()
        assert emu.plugged and os.readlink(emu.port) == emu.device

        def soc() -> bytes:
            with open_port(emu.port) as again:
                again.write(b"after replug")
                return read_exactly(again, 12)

        assert await asyncio.to_thread(soc) == b"after replug"
        assert emu.stats().unplugs == 1

    run_rig(tmp_path, body)


def test_silent_unplug_loses_bytes_both_ways_but_keeps_the_port(tmp_path: Path) -> None:
    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        with open_port(emu.port, timeout=0.3) as port:
            await wait_until(lambda: emu.stats().port_open)
            emu.unplug(mode="silent")
            port.write(b"lost to the mcu")
            await wait_until(lambda: emu.stats().to_mcu.lost_unplugged == 15)
            await fw.send(b"lost to the soc")
            await wait_until(lambda: emu.stats().to_soc.lost_unplugged == 15)
            assert await asyncio.to_thread(port.read, 100) == b""
            assert fw.received == b""
            emu.replug()
            port.write(b"back")
            assert await asyncio.to_thread(read_exactly, port, 4) == b"back"

    run_rig(tmp_path, body)


def test_reconnects_when_the_mcu_restarts(tmp_path: Path) -> None:
    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        with open_port(emu.port, timeout=1.0) as port:
            fw.drop_connections()
            await wait_until(lambda: emu.stats().mcu_connects == 2 and emu.stats().mcu_connected)
            port.write(b"again")
            assert await asyncio.to_thread(read_exactly, port, 5) == b"again"
        assert fw.connections == 2

    run_rig(tmp_path, body)


def test_reset_mcu_calls_the_runner_and_fails_clearly_without_one(tmp_path: Path) -> None:
    pressed: list[bool] = []

    async def reset() -> None:
        pressed.append(True)

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        await emu.reset_mcu()
        assert pressed == [True] and emu.stats().resets == 1

    run_rig(tmp_path, body, reset_mcu=reset)

    async def no_reset(emu: LinkEmulator, fw: FakeFirmware) -> None:
        with pytest.raises(LinkEmulatorError, match="no way to reset"):
            await emu.reset_mcu()

    (tmp_path / "uart.sock").unlink(missing_ok=True)
    run_rig(tmp_path, no_reset)


# -- the path ---------------------------------------------------------------------------------------------------

def test_a_held_path_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    os.symlink("/dev/pts/does-not-exist", link)  # left behind by a killed emulator

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        assert os.readlink(link) == emu.device
        other = LinkEmulator(fw.path, link=link)
        with pytest.raises(PortInUseError, match="in use"):
            await other.start()

    run_rig(tmp_path, body, link=link)
    assert not os.path.lexists(link)


def test_stop_removes_its_private_folder(tmp_path: Path) -> None:
    seen: list[str] = []

    async def body(emu: LinkEmulator, fw: FakeFirmware) -> None:
        seen.append(emu.port)
        assert os.path.islink(emu.port)

    run_rig(tmp_path, body, link=None)
    assert not os.path.exists(os.path.dirname(seen[0]))


@pytest.mark.parametrize(("kw", "says"), [({"baud": 0}, "baud"), ({"latency_ms": -1}, "latency"),
                                          ({"faults": "ber=x"}, "ber")])
def test_bad_settings_are_refused(tmp_path: Path, kw: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        LinkEmulator(tmp_path / "uart.sock", link=tmp_path / "tty", **kw)
