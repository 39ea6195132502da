"""`glassbridge firmware`: build the MCU firmware, run it without hardware behind an emulated UART, test it.

    glassbridge firmware build [--board B|all]
    glassbridge firmware run --board host|mps2-an386|netduinoplus2 [--baud N] [--latency-ms X] [--faults SPEC]
                             [--link PATH] [--json]
    glassbridge firmware test [--board B|all]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from glassbridge.cli._args import float_in, int_in, positive_int

HELP = "build the MCU firmware, run it on the host or under QEMU behind an emulated UART, run its tests"

DESCRIPTION = """\
The glasses' microcontroller firmware (firmware/) runs without hardware in three ways:
  host            a native program with the same application code: fastest, for the demo and quick tests
  mps2-an386      Cortex-M4F under qemu-system-arm (Arm's reference board): the CI board
  netduinoplus2   STM32F405 under qemu-system-arm: a model of real silicon

Its UART reaches the SoC side through a link emulator that behaves like a real wire: it charges 10 bit-times
per byte at the baud (921600 8N1 = 92,160 bytes/s), adds latency, injects seeded faults, and owns a stable
serial port (a pty behind a fixed path) that glassbridge's MCU client, pyserial or `screen` opens exactly like
/dev/ttyS1 on a dev kit."""

EPILOG = """\
examples:
  glassbridge firmware build --board all
  glassbridge firmware run --board mps2-an386                    prints /tmp/glassbridge-mcu; Ctrl-C stops
  glassbridge mcu status --port /tmp/glassbridge-mcu             ... then, in another terminal
  glassbridge firmware run --board host --faults ber=1e-4,seed=7
  glassbridge firmware test                                      the target unit tests on both QEMU boards"""

RUN_DESCRIPTION = """\
Build the firmware if needed, start it (the host port, or QEMU), put the link emulator in front of its UART and
print the serial port to connect to (stdout: the path alone, or one JSON line with --json). Live counters go
to stderr until Ctrl-C, which stops everything and removes the port, sockets and temporary files. Killed outright
(SIGKILL), it still leaves no process behind (the firmware or QEMU gets SIGTERM from the kernel), and the next
start removes the temporary folder it left.

Faults (--faults), comma-separated key=value, each a probability per byte:
  ber=P        byte error rate: bytes arriving with one bit flipped (burst=N: N bytes in a row per event)
  drop=P       single bytes lost            dup=P    single bytes delivered twice
  cut=P        runs of 1..cutlen bytes lost (cutlen=64): truncated frames
  seed=N       the same seed gives the same faults on the same bytes
  dir=D        both (default), to-mcu or to-soc
For example ber=1e-4,drop=1e-5,dup=1e-5,seed=7.

While it runs: `kill -USR1 PID` resets the MCU (QMP system_reset; a restart for the host port), `kill -USR2 PID`
pulls the cable (the port disappears, as when a USB-serial adapter is unplugged) or puts it back."""

RUN_EPILOG = """\
examples:
  glassbridge firmware run --board host
  glassbridge firmware run --board mps2-an386 --baud 115200 --latency-ms 1
  glassbridge firmware run --board netduinoplus2 --faults ber=1e-3,cut=1e-5,seed=3 --link /tmp/mcu0
  glassbridge firmware run --board host --json | head -1                     the ready line, for scripts

environment:
  GLASSBRIDGE_FIRMWARE_DIR  a folder laid out like build/ (fw-host/glassbridge-fw-host, ...) whose images are run
                            as they are, nothing built and no checkout needed: for a machine without a compiler"""

TEST_DESCRIPTION = """\
Run the firmware's unit tests built for the board: on the QEMU boards each test is a Cortex-M4F program run by
qemu-system-arm with semihosting, its exit code the result (ctest in build/fw-<board>); on host, the same tests
natively. Builds first if needed. The exit status is 0 only if every test passed."""

BUILD_DESCRIPTION = """\
Configure (CMake + Ninja, once) and build the firmware into build/fw-<board>: the host port with the system's C
compiler, the QEMU boards with arm-none-eabi-gcc (cmake/arm-none-eabi.cmake). An up-to-date build is a no-op.
Prints the path of each built firmware."""

QEMU_BOARDS = ("mps2-an386", "netduinoplus2")


def add_parser(subparsers: Any) -> None:
    from glassbridge_rig.runner import BOARDS

    boards = ", ".join(BOARDS)
    parser = subparsers.add_parser("firmware", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="<action>", title="actions")

    build = actions.add_parser("build", help="build the firmware for a board (or all)",
                               description=BUILD_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--board", default="all", metavar="B", help=f"{boards} or all (default all)")
    build.add_argument("--jobs", "-j", type=positive_int, default=2, metavar="N",
                       help="parallel compile jobs (default 2)")
    build.add_argument("--reconfigure", action="store_true", help="run CMake's configure step again first")
    build.add_argument("--root", type=Path, help="the glassbridge checkout (default: found from here)")

    run_p = actions.add_parser("run", help="run the firmware behind the link emulator; prints the port",
                               description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    run_p.add_argument("--board", required=True, metavar="B", help=boards)
    run_p.add_argument("--baud", type=int_in(1200, 20_000_000), default=921600, metavar="N",
                       help="line rate of the emulated UART, bits per second, 8N1 (default 921600)")
    run_p.add_argument("--latency-ms", type=float_in(0.0, 10_000.0), default=0.0, metavar="X",
                       help="fixed delay added to every byte, each way (default 0; a USB-serial adapter: ~1)")
    run_p.add_argument("--faults", metavar="SPEC", help="line faults, e.g. ber=1e-4,seed=7 (see above)")
    run_p.add_argument("--link", default="/tmp/glassbridge-mcu", metavar="PATH",
                       help="the stable path of the serial port, a symlink to the pty (default /tmp/glassbridge-mcu)")
    run_p.add_argument("--json", action="store_true",
                       help="one JSON line when ready (port, board, pid, ...) and one with the counters at the end")
    run_p.add_argument("--no-build", action="store_true", help="do not build; the firmware must already exist")
    run_p.add_argument("--root", type=Path, help="the glassbridge checkout (default: found from here)")

    test = actions.add_parser("test", help="run the firmware's unit tests on the emulated MCU",
                              description=TEST_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    test.add_argument("--board", default="all", metavar="B",
                      help=f"{boards}, or all (default: all: host, then both QEMU boards)")
    test.add_argument("--root", type=Path, help="the glassbridge checkout (default: found from here)")
    parser.set_defaults(func=run, print_help=parser.print_help)


def run(args: argparse.Namespace) -> int:
    from glassbridge_rig.runner import FirmwareError
    from glassbridge_rig.pty_port import PortInUseError

    handlers = {"build": run_build, "run": run_run, "test": run_test}
    handler = handlers.get(getattr(args, "action", None) or "")
    if handler is None:
        args.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except (FirmwareError, PortInUseError) as exc:
        # Multi-line on purpose: a build log's tail or QEMU's stderr is what the user needs to see.
        print(f"glassbridge firmware {args.action}: {exc}", file=sys.stderr)
        return 1


def _boards(text: str, *, default_all: tuple[str, ...]) -> list[Any]:
    from glassbridge_rig.runner import board

    if text == "all":
        return [board(name) for name in default_all]
    return [board(text)]


# -- build -----------------------------------------------------------------------------------------------------

def run_build(args: argparse.Namespace) -> int:
    from glassbridge_rig.runner import BOARDS, build_firmware, repo_root

    root = repo_root(args.root)
    for b in _boards(args.board, default_all=tuple(BOARDS)):
        t0 = time.monotonic()
        artifact = build_firmware(b, root, jobs=args.jobs, force=args.reconfigure)
        print(f"{b.name}: built in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        print(artifact)
    return 0


# -- test ------------------------------------------------------------------------------------------------------

def run_test(args: argparse.Namespace) -> int:
    import subprocess

    from glassbridge_rig.runner import board, build_dir, build_firmware, repo_root, tool

    root = repo_root(args.root)
    ctest = tool("ctest", root)
    failed: list[str] = []
    boards = _boards(args.board, default_all=("host", *QEMU_BOARDS))
    if any(b.is_qemu for b in boards):
        # The QEMU boards' smoke test talks to the image with the host build's gb-fw-client.
        build_firmware(board("host"), root)
    for b in boards:
        build_firmware(b, root)
        print(f"== {b.name}: {b.description}", file=sys.stderr, flush=True)
        result = subprocess.run([ctest, "--test-dir", str(build_dir(b, root)), "--output-on-failure",
                                 "--no-tests=error", "-j", "2"], cwd=root, check=False)
        if result.returncode != 0:
            failed.append(b.name)
    if failed:
        print(f"glassbridge firmware test: failures on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# -- run -------------------------------------------------------------------------------------------------------

def run_run(args: argparse.Namespace) -> int:
    from glassbridge_rig.runner import FirmwareRunner, board, prebuilt_image, repo_root

    # An unknown board, a --root that is not a checkout, or $GLASSBRIDGE_FIRMWARE_DIR without this board's image:
    # errors before anything starts. With that folder's image no checkout is needed (nothing is built).
    prebuilt = prebuilt_image(board(args.board))
    root = repo_root(args.root) if args.root is not None or prebuilt is None else None
    runner = FirmwareRunner(args.board, root=root, build=not args.no_build, baud=args.baud,
                            latency_ms=args.latency_ms, faults=args.faults, link=args.link)
    return asyncio.run(_serve(runner, as_json=args.json))


async def _serve(runner: Any, *, as_json: bool) -> int:
    import contextlib
    import os

    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=True)
    if not as_json:
        console.print(f"starting the [bold]{runner.board.name}[/] firmware ...")
    # Ctrl-C while building or starting: asyncio cancels start(), which cleans up after itself.
    await runner.start()
    try:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        actions: asyncio.Queue[str] = asyncio.Queue()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, actions.put_nowait, "reset")
        loop.add_signal_handler(signal.SIGUSR2, actions.put_nowait, "cable")
        emu = runner.emulator
        if as_json:
            print(json.dumps({"event": "ready", "port": runner.port, "board": runner.board.name,
                              "pid": runner.pid, "ctl": str(runner.ctl) if runner.ctl else None,
                              "baud": emu.baud, "latency_ms": emu.latency_ms, "faults": str(emu.fault_spec),
                              "log": str(runner.log_path), "control_pid": os.getpid()}), flush=True)
        else:
            print(runner.port, flush=True)
            console.print(f"[bold]{runner.board.name}[/] firmware running (pid {runner.pid}); connect the SoC "
                          f"side to [bold]{runner.port}[/] ({emu.baud} baud, faults: {emu.fault_spec})")
            if runner.ctl:
                console.print(f"control socket: {runner.ctl}")
            console.print(f"firmware log: {runner.log_path}\nCtrl-C stops; kill -USR1 {os.getpid()} resets the "
                          f"MCU; kill -USR2 {os.getpid()} pulls the cable or puts it back")
        display = (contextlib.nullcontext() if as_json
                   else Live(_table(emu, None, 0.0), console=console, refresh_per_second=2))
        with display as live:
            previous, t_prev = emu.stats(), time.monotonic()
            while not stop.is_set():
                try:
                    action = await asyncio.wait_for(actions.get(), 0.25)
                except asyncio.TimeoutError:
                    action = None
                if action == "reset":
                    await emu.reset_mcu()
                elif action == "cable":
                    if emu.plugged:
                        emu.unplug()
                    else:
                        emu.replug()
                runner.check()  # the firmware died, or the emulator hit an error: say so and stop
                now = time.monotonic()
                if live is not None and now - t_prev >= 1.0:
                    live.update(_table(emu, previous, now - t_prev))
                    previous, t_prev = emu.stats(), now
        final = emu.stats()
    finally:
        await runner.stop()
    if as_json:
        print(json.dumps({"event": "stopped", "stats": final.as_dict()}), flush=True)
    else:
        console.print("\nstopped; the port, sockets and temporary files are gone")
    return 0


def _table(emu: Any, previous: Any, interval: float) -> Any:
    """Counters per direction, and the rate delivered over the last interval as a fraction of the line rate."""
    from rich.table import Table

    st = emu.stats()
    state = []
    state.append("[green]cable in[/]" if st.plugged else "[red]cable pulled[/]")
    state.append("[green]port open[/]" if st.port_open else "port not opened yet")
    state.append("[green]MCU up[/]" if st.mcu_connected else "[red]MCU down[/]")
    state.append(f"resets {st.resets}, MCU (re)connections {st.mcu_connects}")
    table = Table(title=" | ".join(state), title_justify="left")
    # Short headings: the table must fit an 80-column terminal.
    for column in ("", "bytes", "B/s", "line", "flip", "drop", "dup", "cut", "closed", "pulled"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, line, before in (("to MCU", st.to_mcu, previous.to_mcu if previous else None),
                               ("to SoC", st.to_soc, previous.to_soc if previous else None)):
        rate = (line.delivered - before.delivered) / interval if before is not None and interval > 0 else 0.0
        f = line.faults
        table.add_row(name, f"{line.delivered:,}", f"{rate:,.0f}", f"{rate / emu.line_rate:.0%}",
                      f"{f.corrupted:,}", f"{f.dropped:,}", f"{f.duplicated:,}", f"{f.cut_bytes:,}",
                      f"{line.discarded:,}", f"{line.lost_unplugged:,}")
    table.caption = ("line: share of the line rate; flip/drop/dup/cut: bytes hit by each fault; closed: arrived "
                     "while the port was closed or the MCU down; pulled: sent while the cable was out")
    return table
