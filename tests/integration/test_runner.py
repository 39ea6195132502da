"""FirmwareRunner: the real firmware (host port, QEMU boards) behind the link emulator, and the runner's errors.

Three groups:
- Against the REAL firmware, when it has been built (`make firmware`, or `glassbridge firmware build --board
  all`): life cycle, the reset button, a power cycle, nothing left behind; with the link engine's Python binding,
  a handshake through the emulator's pty. Skipped with the reason when the firmware is not built (in CI a skip is
  a failure: CI must build the firmware first).
- Against a stand-in host port (a small Python program with the host port's command line, UART and control
  sockets): the runner's process handling, independent of the firmware's progress.
- Error paths: unknown board, missing tool, failed build, firmware exiting early.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import serial

from glassbridge_rig.runner import (
    BOARDS,
    BuildError,
    FirmwareError,
    FirmwareExitedError,
    FirmwareRunner,
    ToolMissingError,
    artifact_path,
    board,
    build_firmware,
)

ROOT = Path(__file__).resolve().parents[2]


def _built(name: str) -> Path:
    path = artifact_path(board(name), ROOT)
    if not path.is_file():
        pytest.skip(f"{path.relative_to(ROOT)} is not built; run `make firmware` "
                    f"(or `glassbridge firmware build --board {name}`) first")
    return path


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is gone for our purpose once its state is Z.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


async def _until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# -- the real firmware -----------------------------------------------------------------------------------------

def test_host_port_life_cycle_reset_and_power_cycle(tmp_path: Path) -> None:
    _built("host")

    async def main() -> None:
        runner = FirmwareRunner("host", root=ROOT, build=False, link=tmp_path / "tty")
        async with runner:
            pid, tmp = runner.pid, runner.log_path.parent
            assert pid is not None and os.readlink(runner.port) == runner.emulator.device

            async def status() -> dict[str, Any]:
                return dict(json.loads(await runner.control("status")))

            async def connected() -> bool:
                return bool((await status())["uart_connected"])

            await _until(connected)
            boots = (await status())["boot_counter"]
            await runner.reset_mcu()  # the control socket's reboot: same process, boot counter + 1

            async def rebooted() -> bool:
                return bool((await status())["boot_counter"] == boots + 1)

            await _until(rebooted)
            assert runner.pid == pid
            await runner.restart()  # a power cycle: new process, same port, counter kept in the state file
            assert runner.pid != pid and _process_gone(pid)
            assert runner.emulator.stats().mcu_connects == 2

            async def restarted() -> bool:
                return bool((await status())["boot_counter"] == boots + 2)

            await _until(restarted)
            last = runner.pid
        assert last is not None and _process_gone(last)
        assert not tmp.exists() and not os.path.lexists(tmp_path / "tty")

    asyncio.run(main())


@pytest.mark.parametrize("name", ["mps2-an386", "netduinoplus2"])
def test_qemu_board_starts_resets_and_leaves_nothing(name: str, tmp_path: Path) -> None:
    _built(name)

    async def main() -> None:
        from glassbridge_rig.qmp import qmp_command

        async with FirmwareRunner(name, root=ROOT, build=False, link=tmp_path / "tty") as runner:
            pid, tmp = runner.pid, runner.log_path.parent
            assert runner.qmp_socket is not None
            assert (await qmp_command(runner.qmp_socket, "query-status"))["status"] == "running"
            await runner.reset_mcu()
            assert (await qmp_command(runner.qmp_socket, "query-status"))["status"] == "running"
            runner.check()
        assert pid is not None and _process_gone(pid)
        assert not tmp.exists() and not os.path.lexists(tmp_path / "tty")

    asyncio.run(main())


def _link_module() -> Any:
    from glassbridge.protocol import link  # a build without the binding is broken: an error here, never a skip

    return link


def _handshake(port: str, link_mod: Any, timeout: float = 10.0) -> Any:
    """Run the SoC side of the link engine on the pty until LinkUp; return the MCU's PeerInfo."""
    engine = link_mod.Link(profile="uart", role=link_mod.Role.SOC)
    t0 = time.monotonic()

    def now_ms() -> int:
        return int((time.monotonic() - t0) * 1000)

    with serial.Serial(port, baudrate=921600, timeout=0.01) as ser:
        while time.monotonic() - t0 < timeout:
            data = ser.read(4096)
            if data:
                engine.receive(data, now_ms())
            while (frame := engine.poll_tx(now_ms())) is not None:
                ser.write(frame)
            for event in engine.poll_events():
                if type(event).__name__ == "LinkUp":
                    return event.peer
    raise AssertionError(f"no LinkUp within {timeout} s")


@pytest.mark.parametrize("name", list(BOARDS))
def test_link_handshake_through_the_emulator(name: str, tmp_path: Path) -> None:
    _built(name)
    link_mod = _link_module()

    async def main() -> None:
        async with FirmwareRunner(name, root=ROOT, build=False, link=tmp_path / "tty",
                                  faults="ber=1e-4,seed=5") as runner:
            first = await asyncio.to_thread(_handshake, runner.port, link_mod)
            await runner.reset_mcu()
            second = await asyncio.to_thread(_handshake, runner.port, link_mod)
            assert second.boot_counter == first.boot_counter + 1
            runner.check()

    asyncio.run(main())


async def _pty_relay(port: str, path: Path) -> asyncio.AbstractServer:
    """A unix socket whose connection is spliced onto the emulator's pty: gb-fw-client (the firmware project's C
    link client) speaks only unix sockets, and this lets it reach the firmware the way the SoC does."""
    loop = asyncio.get_running_loop()

    async def splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        incoming: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                incoming.put_nowait(os.read(fd, 4096))
            except BlockingIOError:
                pass

        async def to_pty() -> None:
            while data := await reader.read(4096):
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(fd, view):]
                    except BlockingIOError:
                        await asyncio.sleep(0.001)

        async def from_pty() -> None:
            while True:
                writer.write(await incoming.get())
                await writer.drain()

        loop.add_reader(fd, readable)
        pump = asyncio.ensure_future(from_pty())
        try:
            await to_pty()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            loop.remove_reader(fd)
            os.close(fd)
            writer.close()

    return await asyncio.start_unix_server(splice, os.fspath(path))


@pytest.mark.parametrize("name", list(BOARDS))
def test_c_link_client_reaches_the_firmware_through_the_emulator(name: str, tmp_path: Path) -> None:
    """The firmware's link engine against the same C engine on the SoC side, through the emulator with faults:
    a handshake, a Status, a bulk transfer verified by the firmware's SHA-256, and the reset button."""
    _built(name)
    client = ROOT / "build" / "fw-host" / "gb-fw-client"
    if not client.is_file():
        pytest.skip(f"{client.relative_to(ROOT)} is not built; run `make firmware` first")

    async def main() -> None:
        async with FirmwareRunner(name, root=ROOT, build=False, link=tmp_path / "tty",
                                  faults="ber=1e-4,drop=1e-5,seed=9") as runner:
            relay = await _pty_relay(runner.port, tmp_path / "relay.sock")
            try:
                async def run_client(*args: str) -> str:
                    proc = await asyncio.create_subprocess_exec(
                        str(client), "--timeout", "30000", str(tmp_path / "relay.sock"), *args,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                    out, _ = await proc.communicate()
                    assert proc.returncode == 0, out.decode(errors="replace")
                    return out.decode()

                def boots(text: str) -> int:
                    return int(text.split("boot_counter=")[1].split()[0])

                first = boots(await run_client("status"))
                await run_client("transfer", "30000")
                await runner.reset_mcu()
                assert boots(await run_client("status")) == first + 1
            finally:
                relay.close()
                await relay.wait_closed()
            st = runner.emulator.stats()
            assert st.to_mcu.delivered > 30000 and st.resets == 1
            runner.check()

    asyncio.run(main())


# -- a stand-in host port: the runner's process handling -------------------------------------------------------

STAND_IN = textwrap.dedent('''\
    #!{python}
    """Stand-in for glassbridge-fw-host: UART echo server and a control socket answering status/reboot."""
    import json, os, selectors, signal, socket, sys
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    uart_path = args["--uart"].removeprefix("unix:")
    state = args["--state"]
    boots = int(open(state).read()) + 1 if os.path.exists(state) else 1
    open(state, "w").write(str(boots))
    if os.environ.get("STAND_IN_FAIL"):
        print("stand-in: failing on purpose", file=sys.stderr)
        sys.exit(3)
    sel = selectors.DefaultSelector()
    def listen(path):
        s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4); sel.register(s, selectors.EVENT_READ, "listen")
        return s
    uart, ctl = listen(uart_path), listen(args["--ctl"])
    signal.signal(signal.SIGTERM, lambda *a: (os.unlink(uart_path), os.unlink(args["--ctl"]), sys.exit(0)))
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if key.data == "listen":
                conn, _ = sock.accept(); sel.register(conn, selectors.EVENT_READ, "uart" if sock is uart else "ctl")
                continue
            data = sock.recv(4096)
            if not data:
                sel.unregister(sock); sock.close(); continue
            if key.data == "uart":
                sock.sendall(data)
            elif data.strip() == b"status":
                sock.sendall(b"ok " + json.dumps({{"boot_counter": boots}}).encode() + b"\\n")
            elif data.strip() == b"reboot":
                boots += 1; sock.sendall(b"ok rebooting\\n")
            else:
                sock.sendall(b"error unknown command\\n")
    ''')


def _stand_in_root(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "firmware").mkdir(parents=True)
    (root / "firmware" / "CMakeLists.txt").write_text("# stand-in checkout\n")
    exe = artifact_path(board("host"), root)
    exe.parent.mkdir(parents=True)
    exe.write_text(STAND_IN.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root


def test_runner_manages_the_process_with_a_stand_in_host_port(tmp_path: Path) -> None:
    root = _stand_in_root(tmp_path)

    async def main() -> None:
        async with FirmwareRunner("host", root=root, build=False, link=tmp_path / "tty") as runner:
            pid, tmp = runner.pid, runner.log_path.parent
            assert "--state" in runner.command() and runner.ctl is not None and runner.ctl.exists()

            def echo() -> bytes:
                with serial.Serial(runner.port, timeout=2) as ser:
                    ser.write(b"through the emulator")
                    return bytes(ser.read(20))

            assert await asyncio.to_thread(echo) == b"through the emulator"
            assert json.loads(await runner.control("status")) == {"boot_counter": 1}
            await runner.reset_mcu()
            assert json.loads(await runner.control("status")) == {"boot_counter": 2}
            with pytest.raises(FirmwareError, match="refused 'bogus'"):
                await runner.control("bogus")
            await runner.restart()
            assert pid is not None and _process_gone(pid)
            assert json.loads(await runner.control("status")) == {"boot_counter": 2}  # from the state file
            assert await asyncio.to_thread(echo) == b"through the emulator"
            last = runner.pid
        assert last is not None and _process_gone(last)
        assert not tmp.exists() and not os.path.lexists(tmp_path / "tty")

    asyncio.run(main())


def test_firmware_exiting_early_shows_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _stand_in_root(tmp_path)
    monkeypatch.setenv("STAND_IN_FAIL", "1")

    async def main() -> None:
        runner = FirmwareRunner("host", root=root, build=False, link=tmp_path / "tty")
        with pytest.raises(FirmwareExitedError, match=r"(?s)exited with status 3.*failing on purpose"):
            await runner.start()
        assert not os.path.lexists(tmp_path / "tty")

    asyncio.run(main())


def test_cli_run_prints_the_port_obeys_signals_and_cleans_up(tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess

    root = _stand_in_root(tmp_path)
    link = tmp_path / "tty"
    cmd = [sys.executable, "-m", "glassbridge.cli.main", "firmware", "run", "--board", "host", "--no-build",
           "--root", str(root), "--link", str(link), "--json", "--faults", "ber=1e-3,seed=1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["port"] == str(link) and os.path.islink(link)
        assert ready["faults"] == "ber=0.001,seed=1"
        proc.send_signal(signal.SIGUSR1)  # the reset button: the stand-in counts a reboot

        def boots() -> int:
            with socket.socket(socket.AF_UNIX) as ctl:
                ctl.connect(ready["ctl"])
                ctl.sendall(b"status\n")
                return int(json.loads(ctl.recv(4096).decode()[3:])["boot_counter"])

        deadline = time.monotonic() + 10
        while boots() != 2:
            assert time.monotonic() < deadline, "SIGUSR1 did not reset the MCU"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["event"] == "stopped" and stopped["stats"]["resets"] == 1
    assert not os.path.lexists(link)


# -- errors that say what to do --------------------------------------------------------------------------------

def test_unknown_board_lists_the_boards() -> None:
    with pytest.raises(ValueError, match="host, mps2-an386, netduinoplus2"):
        FirmwareRunner("nrf52840")
    assert board("mps2_an386") is board("mps2-an386")  # CMake's spelling works too


def test_missing_firmware_says_how_to_build_it(tmp_path: Path) -> None:
    root = _stand_in_root(tmp_path)

    async def main() -> None:
        with pytest.raises(FirmwareError, match="glassbridge firmware build --board mps2-an386"):
            await FirmwareRunner("mps2-an386", root=root, build=False, link=tmp_path / "tty").start()

    asyncio.run(main())


def test_missing_cross_compiler_names_the_apt_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(ToolMissingError, match="arm-none-eabi-gcc.*apt-get install"):
        build_firmware(board("netduinoplus2"), _stand_in_root(tmp_path))


def test_failed_build_shows_the_end_of_its_log(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "cmake").exists():
        pytest.skip("no .venv/bin/cmake: run `make venv`")
    root = _stand_in_root(tmp_path)
    (root / "firmware" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(broken C)\nmessage(FATAL_ERROR \"broken on purpose\")\n")
    os.symlink(ROOT / ".venv", root / ".venv")
    with pytest.raises(BuildError, match=r"(?s)configure of the host firmware failed.*broken on purpose"):
        build_firmware(board("host"), root)


def test_cli_build_failure_is_reported_with_the_log_tail(tmp_path: Path) -> None:
    import subprocess

    if not (ROOT / ".venv" / "bin" / "cmake").exists():
        pytest.skip("no .venv/bin/cmake: run `make venv`")
    root = _stand_in_root(tmp_path)
    (root / "firmware" / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(broken C)\nmessage(FATAL_ERROR \"broken on purpose\")\n")
    os.symlink(ROOT / ".venv", root / ".venv")
    result = subprocess.run([sys.executable, "-m", "glassbridge.cli.main", "firmware", "build", "--board", "host",
                             "--root", str(root)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("glassbridge firmware build: configure of the host firmware failed")
    assert "broken on purpose" in result.stderr


def _elf_header(machine_code: int) -> bytes:
    """The first 20 bytes of a little-endian 64-bit ELF executable for the given e_machine (as readelf sees it)."""
    return b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + (2).to_bytes(2, "little") + machine_code.to_bytes(2, "little")


def test_elf_machine_reads_what_the_interpreter_is_built_for() -> None:
    import platform

    from glassbridge_rig.runner import elf_machine

    expected = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())
    assert elf_machine(Path(sys.executable).resolve()) == expected
    assert elf_machine(Path(__file__)) is None  # not ELF: a script


def test_a_host_port_built_for_another_machine_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import platform

    root = _stand_in_root(tmp_path)
    here_x86 = platform.machine() in ("x86_64", "AMD64")
    other, code = ("aarch64", 183) if here_x86 else ("x86_64", 62)
    artifact_path(board("host"), root).write_bytes(_elf_header(code) + bytes(64))

    async def main() -> None:
        with pytest.raises(FirmwareError, match=rf"built for {other} and this machine is .*firmware build --board "
                                                r"host --reconfigure.*GLASSBRIDGE_FIRMWARE_DIR"):
            await FirmwareRunner("host", root=root, build=False, link=tmp_path / "tty").start()

    asyncio.run(main())


def test_images_from_the_firmware_dir_run_as_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$GLASSBRIDGE_FIRMWARE_DIR: the stand-in host port in that folder runs, and nothing is built (no cmake on
    PATH, no checkout given); a board it has no image of is an error naming the variable."""
    images = _stand_in_root(tmp_path) / "build"
    monkeypatch.setenv("GLASSBRIDGE_FIRMWARE_DIR", str(images))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)

    async def main() -> None:
        async with FirmwareRunner("host", link=tmp_path / "tty") as runner:
            assert runner.command()[0] == str(artifact_path(board("host"), images.parent))
            assert json.loads(await runner.control("status")) == {"boot_counter": 1}
        with pytest.raises(FirmwareError, match=r"GLASSBRIDGE_FIRMWARE_DIR is .*no mps2-an386 image"):
            await FirmwareRunner("mps2-an386", link=tmp_path / "tty2").start()

    asyncio.run(main())


def test_cli_run_needs_no_checkout_with_a_firmware_dir(tmp_path: Path) -> None:
    """`firmware run` from outside any checkout, its image from $GLASSBRIDGE_FIRMWARE_DIR (as in the aarch64 rootfs):
    it starts and stops cleanly. (Without the variable an installed package says it has no sources:
    tests/unit's test of repo_root outside a clone.)"""
    import signal
    import subprocess

    images = _stand_in_root(tmp_path) / "build"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    cmd = [sys.executable, "-m", "glassbridge.cli.main", "firmware", "run", "--board", "host", "--no-build",
           "--link", str(tmp_path / "tty"), "--json"]
    env = {**os.environ, "GLASSBRIDGE_FIRMWARE_DIR": str(images)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=outside, env=env)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["port"] == str(tmp_path / "tty")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert not os.path.lexists(tmp_path / "tty")


def test_a_build_tool_that_cannot_run_here_is_a_build_error_saying_what_to_do(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A CMake that exists but cannot run on this machine (another machine's program, as the host's .venv seen
    from the aarch64 rootfs): a BuildError naming it and $GLASSBRIDGE_FIRMWARE_DIR, not a bare OSError."""
    import glassbridge_rig.runner as runner

    alien = tmp_path / "cmake"
    alien.write_bytes(b"\x00\x01 neither ELF nor a script\n")  # execve: ENOEXEC (another machine's ELF
    alien.chmod(0o755)                                            # may run here through binfmt_misc and qemu)
    monkeypatch.setattr(runner, "tool", lambda name, root=None: str(alien))
    with pytest.raises(BuildError, match=r"configure of the host firmware could not run .*cmake.*"
                                         r"GLASSBRIDGE_FIRMWARE_DIR"):
        build_firmware(board("host"), _stand_in_root(tmp_path))
