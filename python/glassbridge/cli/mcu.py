"""`glassbridge mcu status|monitor`: talk to the glasses' microcontroller over its UART."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from glassbridge.cli._args import int_in, non_negative_float, non_negative_int, positive_float

HELP = "talk to the glasses' microcontroller: status report, live events"

DESCRIPTION = """\
Talk to the glasses' microcontroller (MCU) over its UART with the glassbridge link: reliable, in-order
messages over COBS frames with CRC-32C, retransmission and a handshake (protocol/SPEC.md).

  status    one report: firmware version, board, boot count, uptime, battery, buttons held, IMU, camera power and
            capture LED, microphone, the card on the display, and both ends' link counters (retransmissions; CRC,
            framing, out-of-window, oversize and duplicate frames received)
  monitor   button presses, head gestures, battery changes, link state and the capture fail-safe as they happen,
            one sentence per line (--json: one object per line; Ctrl-C stops)

PORT is any pyserial URL: a device (/dev/ttyS1, /dev/ttyUSB0), the pty printed by `glassbridge firmware run`
(the simulated glasses: the real firmware on the host or under QEMU), socket://HOST:PORT."""

EPILOG = """\
examples:
  glassbridge firmware run --board host &        simulated glasses; prints the port, e.g. /tmp/glassbridge-mcu
  glassbridge mcu status --port /tmp/glassbridge-mcu
  glassbridge mcu status --port /dev/ttyS1 --json
  glassbridge mcu monitor --port /dev/ttyS1

The port is opened exclusively: while another program (a running `glassbridge run`, a terminal) holds it,
this says "port in use" instead of stealing half of its frames.

exit status: 0 on success, 1 when the MCU cannot be reached (the message says what was seen on the wire), 2 for
a bad argument (a baud or a time that is not a finite number above 0)."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mcu", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="mcu_command", metavar="{status,monitor}", required=True)
    for name, text in (("status", "print the MCU's status report"), ("monitor", "print MCU events live")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--port", required=True, help="serial port or pyserial URL of the MCU link")
        p.add_argument("--baud", type=int_in(1200, 20_000_000), default=921600, metavar="N",
                       help="UART rate in bit/s, 1200..20000000 (default 921600, 8N1)")
        p.add_argument("--timeout", type=positive_float, default=5.0, metavar="S",
                       help="seconds to wait for the link handshake (default 5)")
        p.add_argument("--json", action="store_true", help="JSON on stdout (monitor: one object per line)")
        if name == "monitor":
            p.add_argument("--count", type=non_negative_int, default=0, help="stop after this many events (0 = never)")
            p.add_argument("--duration", type=non_negative_float, default=0.0,
                           help="stop after this many seconds (0 = never)")
            p.add_argument("--wake-word", action="store_true",
                           help="have the MCU listen for the wake word itself (a firmware with WAKE_WORD): each "
                                "detection is printed and the stream it starts is stopped at once")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_status(args) if args.mcu_command == "status" else _monitor(args))
    except KeyboardInterrupt:
        return 130


def _print_status(status: Any) -> None:
    b = status.battery
    print(f"firmware    {status.firmware_version} on {status.board} (boot #{status.boot_counter}, "
          f"up {status.uptime_ms / 1000:.1f} s)")
    print(f"battery     {b.percent} % ({b.millivolts} mV, {b.level}{', charging' if b.charging else ''})")
    print(f"buttons     held mask 0x{status.buttons_down:x}")
    imu = status.imu
    print(f"imu         accel {imu['accel_x_mg']} {imu['accel_y_mg']} {imu['accel_z_mg']} mg, "
          f"gyro {imu['gyro_x_mdps']} {imu['gyro_y_mdps']} {imu['gyro_z_mdps']} mdps")
    print(f"camera      {'on' if status.camera_powered else 'off'}, capture LED {'lit' if status.capture_led else 'off'}"
          f", microphone {'streaming' if status.mic_streaming else 'idle'}")
    print(f"display     {'card #%d' % status.card_id if status.card_id else 'empty'}")
    if "WAKE_WORD" in status.capabilities:
        print(f"wake word   {'listening' if status.wake_listening else 'not listening'} on the MCU: "
              f"{status.wake_detections} detection(s), {status.wake_invokes} model runs, "
              f"{status.wake_late_steps} late steps since boot")
    print(f"features    {', '.join(status.capabilities) or 'none'}")
    if status.failsafe_trips:
        print(f"fail-safe   acted {status.failsafe_trips} time(s): camera/microphone switched off after a link loss")
    if status.ignored_messages:
        print(f"ignored     {status.ignored_messages} message(s) from the SoC left unanswered by rule (answers, events, "
              "unknown bodies without a request_id): this SoC sends what the MCU does not take")
    print("link        " + _link_line(status.link, "from the MCU") + f"; rtt {status.link.get('srtt_ms', 0)} ms")
    print("mcu link    " + _link_line(status.mcu_link, "from the SoC"))


def _link_line(c: dict[str, Any], origin: str) -> str:
    """One end's link counters: what it sent again (frames cut again smaller, REWIND/REWOUND, and its fragment
    size, when it reports one), and what was wrong with the frames it received."""
    frag = f", fragments of {c['frag_size']} B" if c.get("frag_size") else ""
    return (f"{c.get('retransmits', 0)} retransmissions, {c.get('rewinds', 0)} rewinds{frag}; {origin}: "
            f"{c.get('frames_rx', 0)} good frames, "
            f"{c.get('crc_errors', 0)} CRC errors, {c.get('framing_errors', 0)} framing errors, "
            f"{c.get('out_of_window', 0)} out of window, {c.get('rx_oversize', 0)} oversize, "
            f"{c.get('duplicates', 0)} duplicates")


def describe(event: Any) -> str:
    """One readable line for an MCU event (monitor's text mode)."""
    from glassbridge.mcu import events as c

    if isinstance(event, c.ButtonPressed):
        return f"button {event.button}: {event.action.replace('_', ' ')} (MCU time {event.at_ms / 1000:.3f} s)"
    if isinstance(event, c.GestureDetected):
        return f"gesture: {event.gesture} ({event.confidence_pct} % sure, MCU time {event.at_ms / 1000:.3f} s)"
    if isinstance(event, c.BatteryChanged):
        b = event.battery
        return (f"battery: {b.percent} %, {b.millivolts} mV, {b.level}" + (", charging" if b.charging else "")
                + f" (MCU time {event.at_ms / 1000:.3f} s)")
    if isinstance(event, c.McuConnected):
        return f"connected: firmware {event.firmware_version or '?'}, boot #{event.boot_counter}"
    if isinstance(event, c.McuDisconnected):
        return f"disconnected: {event.reason}"
    if isinstance(event, c.McuRebooted):
        return (f"the MCU rebooted (boot #{event.boot_counter}); {event.dropped_messages} unacknowledged "
                "messages were dropped")
    if isinstance(event, c.CaptureFailsafe):
        off = [what for what, on in (("camera", event.camera_was_on), ("microphone", event.mic_was_streaming)) if on]
        return (f"fail-safe: the MCU switched {' and '.join(off) or 'nothing'} off after {event.link_lost_ms / 1000:.1f} "
                f"s without the SoC (link back after {event.down_ms / 1000:.1f} s)")
    if isinstance(event, c.WakeWordHeard):
        return (f"wake word heard on the MCU (probability {event.probability:.3f}, {event.heard_sample / 16000:.2f} s into "
                f"listening, MCU time {event.at_ms / 1000:.3f} s); stream {event.stream_id}")
    return f"{type(event).__name__}"


async def _status(args: argparse.Namespace) -> int:
    from glassbridge.mcu.client import Mcu

    async with await Mcu.connect(args.port, baudrate=args.baud, timeout=args.timeout) as mcu:
        status = await mcu.status()
    if args.json:
        json.dump(status.to_json(), sys.stdout, indent=2)
        print()
    else:
        _print_status(status)
    return 0


async def _monitor(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from glassbridge.mcu.client import Mcu, WakeWordHeard

    async with await Mcu.connect(args.port, baudrate=args.baud, timeout=args.timeout) as mcu:
        if not args.json:
            print(f"connected to {args.port}; waiting for events (Ctrl-C stops)", file=sys.stderr)
        seen = 0
        started = time.monotonic()
        events = mcu.events()
        if args.wake_word:
            if not mcu.listens_for_wake_word:
                print("this MCU's firmware cannot listen for the wake word (no WAKE_WORD capability)", file=sys.stderr)
                return 1
            await mcu.listen_for_wake_word()

        async def next_event() -> Any:
            return await events.__anext__()

        while True:
            left = args.duration - (time.monotonic() - started) if args.duration else None
            if left is not None and left <= 0:
                break
            try:
                event = await asyncio.wait_for(next_event(), left)
            except asyncio.TimeoutError:
                break
            seen += 1
            kind = type(event).__name__
            if isinstance(event, WakeWordHeard):
                await mcu.wake_stream(event).aclose()  # only the detection is shown: the stream stops, LED off
            if args.json:
                print(json.dumps({"event": kind, "t": round(time.monotonic() - started, 3), **asdict(event)}),
                      flush=True)
            else:
                print(f"{time.monotonic() - started:8.3f} s  {describe(event)}", flush=True)
            if args.count and seen >= args.count:
                break
        await events.aclose()
        if args.wake_word:
            await mcu.listen_for_wake_word(False)
    return 0
