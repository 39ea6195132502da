"""`glassbridge run`: the assistant on real glasses (the same loop as `glassbridge demo`, on real ports)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from glassbridge.cli._args import int_in, size_arg

HELP = "run the assistant on the glasses: MCU over a serial port, the bonded phone over BLE, a V4L2 camera"

DESCRIPTION = """\
Run the assistant loop on the glasses' SoC: the MCU (buttons, nod and shake, battery, display, camera power,
microphone, speaker) over --serial, the bonded phone's companion over Bluetooth (BlueZ), the camera through V4L2
(--camera; it is opened for each photo, while the MCU has it powered and its LED lit), local perception
(BlazeFace; expressions only when the config opts in), espeak-ng's voice and the wake word when enabled.

Configuration: --config FILE, else $GLASSBRIDGE_CONFIG, else the user config file (`glassbridge config path`);
every setting is documented in `glassbridge config init`. Not paired yet: pass --phone ADDRESS (the phone's
identity address, `glassbridge phone scan`) and confirm the six digits on the glasses' display with a nod.

What happens is printed as it happens on stderr (the Assistant's timeline: taps, answers, cards, captions) under
a status line (state, phone link, battery, questions waiting for the phone, captions); --json prints the same
events as JSON lines on stdout and turns the logs on stderr into JSON lines too (time, level, logger, message:
for journald or a log shipper); --timeline FILE writes the whole timeline at exit.
Ctrl-C (or SIGTERM) stops: the question in progress is cancelled, the camera powered off, captions stopped."""

EPILOG = """\
examples:
  glassbridge run --serial /dev/ttyS1 --camera /dev/video0
  glassbridge run --serial /dev/ttyS1 --camera /dev/video0 --phone 4C:11:AE:03:2B:90     first run: pair
  glassbridge firmware run --board host & glassbridge run --serial /tmp/glassbridge-mcu      the simulated MCU

The settings (language tags included) and --camera (present, permitted, a V4L2 capture node offering
--camera-format) are checked before the MCU is touched. During a question an error's reason is shown on the card
and a short sentence is spoken ("No photo: the camera failed.").

exit status: 0 after Ctrl-C/SIGTERM; 1 when a port or the camera cannot be opened, the phone is not bonded, or the
config is wrong (the message names what to change); 2 for a malformed option or GLASSBRIDGE_ISA."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serial", required=True, metavar="PORT",
                        help="the MCU's UART: /dev/ttyS1 on the glasses, a pty of `glassbridge firmware run`")
    parser.add_argument("--baud", type=int_in(1200, 20_000_000), default=921600, metavar="N",
                        help="UART line rate (default 921600)")
    parser.add_argument("--camera", metavar="/dev/videoN",
                        help="V4L2 capture device (without it, photo questions are answered 'no camera')")
    parser.add_argument("--camera-size", type=size_arg(16, 8192), default=(1280, 720), metavar="WxH",
                        help="size asked of the camera (the driver may round it; default 1280x720)")
    parser.add_argument("--camera-format", choices=("NV12", "YUYV"), default="NV12",
                        help="pixel format asked of the camera (UVC webcams often offer only YUYV)")
    parser.add_argument("--phone", metavar="ADDRESS",
                        help="pair with this phone first (its identity address) if not bonded to it yet")
    parser.add_argument("--bond", type=Path, metavar="FILE",
                        help="bond file (default: $GLASSBRIDGE_STATE_DIR/phone/bond.json or the user data folder, "
                             "as `glassbridge phone pair`)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="settings (TOML; default: the user config)")
    parser.add_argument("--timeline", type=Path, metavar="FILE", help="write the session's timeline (JSON) at exit")
    parser.add_argument("--json", action="store_true", help="timeline events as JSON lines on stdout")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs on stderr")
    parser.set_defaults(func=run)


class NoCamera:
    """The CameraPort when no --camera was given: every capture fails with what to do (said to the wearer)."""

    async def capture(self) -> Any:
        from glassbridge.camera import CameraError

        raise CameraError("no camera configured", advice="start glassbridge run with --camera /dev/videoN")


class V4l2Camera:
    """A CameraPort over V4L2: the device is opened for each capture (the MCU powers the sensor only around it,
    ARCHITECTURE.md decision 9), `settle` frames are skipped while auto-exposure settles, one frame is kept."""

    def __init__(self, device: str, width: int, height: int, fmt: str, *, settle: int = 3) -> None:
        self.device, self.width, self.height, self.format, self.settle = device, width, height, fmt, settle

    def _grab(self) -> Any:
        from glassbridge.camera import PixelFormat, V4l2Source

        with V4l2Source(self.device, self.width, self.height, PixelFormat[self.format], copy=True) as source:
            frame = None
            for frame in source.frames(max_frames=self.settle + 1):
                pass
        if frame is None:
            from glassbridge.camera import CameraError

            raise CameraError(f"{self.device} delivered no frame", advice="check the camera with "
                              "`glassbridge camera grab --device " + self.device + "`")
        return frame

    async def capture(self) -> Any:
        return await asyncio.to_thread(self._grab)


def _printer(args: argparse.Namespace) -> Any:
    """Prints each timeline event as it is recorded: a readable line on stderr, or JSON on stdout."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    quiet = {"state", "started"}

    def show(event: Any) -> None:
        if args.json:
            print(json.dumps(event.to_json(), default=str), flush=True)
            return
        if event.kind in quiet:
            return
        detail = " ".join(f"{k}={v}" for k, v in event.detail.items() if v not in ("", None))
        console.print(f"[dim]{event.t:8.2f} s[/] [bold]{event.kind}[/] {escape(detail)}", highlight=False)

    return show


def status_text(assistant: Any) -> str:
    """One line of what the loop is doing: "idle | phone up | battery 64 % | 1 question waiting | captions on"."""
    parts = [assistant.state, "phone up" if assistant.phone.up else "phone away"]
    if assistant.power.percent is not None:
        parts.append(f"battery {assistant.power.percent} % ({assistant.power.level})")
    waiting = assistant.offline.pending
    if waiting:
        parts.append(f"{waiting} question{'s' if waiting != 1 else ''} waiting for the phone")
    if assistant.captions.active:
        parts.append("captions on")
    return " | ".join(parts)


class JsonLogFormatter(logging.Formatter):
    """A log record as one JSON object per line: t (Unix time), level, logger, message (+ exc when raised)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"t": round(record.created, 3), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _Follower:
    """Prints the timeline's new events every 50 ms (the timeline only appends; it has no subscription API);
    flush() prints what is left at the end. `status()` (optional) is shown as a rich status line meanwhile."""

    def __init__(self, timeline: Any, show: Any, status: Any = None) -> None:
        self.timeline, self.show, self.seen = timeline, show, 0
        self.status = status

    def flush(self) -> None:
        events = self.timeline.events
        if len(events) < self.seen:  # the timeline dropped its oldest events (a very long session)
            self.seen = 0
        for event in events[self.seen:]:
            self.show(event)
        self.seen = len(events)

    async def run(self) -> None:
        if self.status is None:
            while True:
                self.flush()
                await asyncio.sleep(0.05)
        from rich.console import Console

        with Console(stderr=True).status(self.status()) as line:
            while True:
                self.flush()
                line.update(self.status())
                await asyncio.sleep(0.05)


async def _session(args: argparse.Namespace) -> int:
    from glassbridge.app import McuPairingUI, build_assistant
    from glassbridge.assistant.timeline import Timeline
    from glassbridge.cli.config import load_checked_settings
    from glassbridge.mcu.client import Mcu
    from glassbridge.phone import BondStore, NotBonded, Phone, pair_phone

    settings = load_checked_settings(args.config)
    width, height = args.camera_size
    camera: Any = V4l2Camera(args.camera, width, height, args.camera_format) if args.camera else NoCamera()
    log = logging.getLogger("glassbridge.run")
    async with await Mcu.connect(args.serial, baudrate=args.baud, timeout=10) as mcu:
        store = BondStore(args.bond)
        bond = store.load()
        if args.phone and (bond is None or bond.address != args.phone.upper()):
            print(f"pairing with {args.phone}: compare the six digits on the glasses with the phone's, nod to "
                  "confirm", file=sys.stderr)
            await pair_phone(store, McuPairingUI(mcu, timeout=60), address=args.phone, scan_timeout=20)
        elif bond is None:
            raise NotBonded(f"no phone is bonded ({store.path}); pass --phone ADDRESS to pair (see "
                            "`glassbridge phone scan`)")
        async with await Phone.open(bonds=store) as phone:
            timeline = Timeline()
            assistant = build_assistant(settings, mcu, phone, camera, timeline=timeline)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            runner = asyncio.create_task(assistant.run(), name="assistant")
            printer = _Follower(timeline, _printer(args),
                                None if args.json or not sys.stderr.isatty() else lambda: status_text(assistant))
            follower = asyncio.create_task(printer.run(), name="timeline printer")
            log.info("assistant running; Ctrl-C stops")
            stopping = asyncio.create_task(stop.wait(), name="signal")
            try:
                done, _ = await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if runner in done:
                    runner.result()  # the loop only ends on stop(): an exception says why
            finally:
                stopping.cancel()
                assistant.stop()
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(runner, 10)
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
                printer.flush()  # the last events ("stopped")
                if args.timeline is not None:
                    args.timeline.parent.mkdir(parents=True, exist_ok=True)
                    args.timeline.write_text(json.dumps(timeline.to_json(), indent=1, default=str) + "\n")
                    print(f"timeline written to {args.timeline}", file=sys.stderr)
    return 0


def preflight(args: argparse.Namespace) -> None:
    """What can be checked before the MCU and the phone are touched: the settings (every key, and the language
    tags) and the camera node (present, permitted, a V4L2 capture device offering --camera-format). A wrong one is
    an error now, not a message read to the wearer at the first tap."""
    from glassbridge.cli.config import load_checked_settings

    load_checked_settings(args.config)
    if args.camera:
        from glassbridge.camera import PixelFormat
        from glassbridge.camera.v4l2 import probe_device

        probe_device(args.camera, PixelFormat[args.camera_format])


def run(args: argparse.Namespace) -> int:
    preflight(args)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter() if args.json else
                         logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[handler])
    return asyncio.run(_session(args))
