"""`glassbridge sim ble`: the simulated BLE rig in the foreground, for trying things by hand and for `make demo`.

It starts a private D-Bus bus, the rig process (the glasses' Bluetooth adapter as BlueZ on that bus, a phone slot,
the radio timing model) and the companion app on the phone slot, prints how to reach them, and stops everything
on Ctrl-C. Killed outright, its processes still end (SIGTERM from the kernel), and the next start removes the
temporary folder it left.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from glassbridge.cli._args import float_in, int_in

DESCRIPTION = """\
Run the simulated BLE rig: no Bluetooth hardware needed. The glasses' adapter is a BlueZ-compatible service on a
private D-Bus bus (bleak and every BlueZ client use it through DBUS_SYSTEM_BUS_ADDRESS), the phone is the
glassbridge companion running on a simulated controller, and the radio between them follows a timing model
(connection events every --interval ms, LL payload of --ll-payload bytes), so throughput and acknowledgements cost
what they cost on air."""

EPILOG = """\
examples:
  glassbridge sim ble                          rig + companion; prints the export line, Ctrl-C stops it
  glassbridge sim ble --interval 30 --ll-payload 27     a slower link (no data length extension)
  glassbridge sim ble --no-companion           leave the phone slot free for your own bumble host:
                                               glassbridge companion --transport unix:<phone socket>

then, in another shell:
  export DBUS_SYSTEM_BUS_ADDRESS=...           (the line printed at start)
  glassbridge phone scan                       the companion shows up
  glassbridge phone pair                       the glasses' prompt shows six digits; this rig prints the phone's
                                               and how to answer it: the person compares and types the digits
                                               the glasses show into the phone (the companion's ctl socket):
  echo '{"cmd":"pair-confirm","digits":"042917"}' | socat - UNIX-CONNECT:<companion ctl>
  echo '{"cmd":"status"}' | socat - UNIX-CONNECT:<rig ctl>       counters per connection and direction
  echo '{"cmd":"drop"}'   | socat - UNIX-CONNECT:<rig ctl>       the radio link lost

rig ctl commands (one JSON object per line): ping, status, drop [address, silence_ms],
impostor on/off [mode new-address|identity, address, name], timing [set {...}], reset-counters."""


PHONE_DEMO_DESCRIPTION = """\
The phone link on simulated glasses, end to end: the real MCU firmware (host port) for the display and the
wearer's nod, glassbridge.phone over bleak's BlueZ backend, the BLE rig, and the companion as the phone.
1. pairing: the six digits appear on the glasses' display, the wearer nods, the phone compares the same number;
2. a photo uploads while the radio link drops twice, and resumes by itself;
3. the phone's (offline) brain answers a question about it; the answer goes to the display;
4. a notification from the phone reaches the display.
Writes display snapshots (1-pairing.png, 2-answer.png, 3-notification.png) and phone.json to --out."""


def run_phone_demo(args: argparse.Namespace) -> int:
    from glassbridge_rig.phone_demo import run_phone_demo as demo

    result = demo(args.out, photo=args.photo)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"phone demo done: snapshots and phone.json in {args.out}")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulated hardware: the BLE rig (glasses adapter + phone)",
                                   description="Simulated hardware for development without devices.",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sims = parser.add_subparsers(dest="sim", metavar="<rig>", title="rigs")
    ble = sims.add_parser("ble", help="BlueZ on a private bus + the companion over a timed BLE radio",
                          description=DESCRIPTION, epilog=EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    ble.add_argument("--workdir", type=Path,
                     help="logs, BlueZ keys and the companion's state (default: a new temporary folder, removed "
                          "by the next start after this one has ended; pass one to keep bonds across runs)")
    ble.add_argument("--interval", type=float_in(7.5, 4000.0), default=15.0, metavar="MS",
                     help="connection interval in ms, 7.5-4000 (default 15)")
    ble.add_argument("--ll-payload", type=int, choices=(27, 251), default=251,
                     help="LL payload per PDU: 251 with the data length extension, 27 without (default 251)")
    ble.add_argument("--phy", type=int, choices=(1, 2), default=2, help="LE 1M or 2M PHY (default 2)")
    ble.add_argument("--mtu", type=int_in(131, 517), default=517,
                     help="the companion's largest ATT_MTU, 131..517 (default 517)")
    ble.add_argument("--no-companion", action="store_true",
                     help="do not start the companion: the phone slot waits for your own host")
    ble.add_argument("--json", action="store_true",
                     help="print the rig's paths (and the pids of its processes) as one JSON line instead of text")
    demo = sims.add_parser(
        "phone-demo", help="the phone link on simulated glasses: pair, upload through drops, ask, notify",
        description=PHONE_DEMO_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", type=Path, default=Path("demo-out/phone"),
                      help="display snapshots (PNG), phone.json and the rig's logs (default demo-out/phone)")
    demo.add_argument("--photo", type=Path, default=None,
                      help="the photo the wearer asks about (default: the test image astronaut, found like the "
                           "models from any folder; `glassbridge models fetch` gets it)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.set_defaults(func=lambda _args: (parser.print_help(sys.stderr), 2)[1])
    ble.set_defaults(func=run)
    demo.set_defaults(func=run_phone_demo)


def _announce_pairings(rig: Any, announced: set[int], as_json: bool) -> None:
    """The companion is the phone's screen here: show each pairing request it waits on, and how to answer it with
    the digits the glasses show (the companion accepts only its own; no answer within its timeout refuses)."""
    try:
        pending = rig.companion_ctl({"cmd": "pairing"}, timeout=2.0).get("pending", [])
    except Exception:  # noqa: BLE001 - a busy or restarting companion: ask again on the next turn
        return
    for request in pending:
        if request["id"] in announced:
            continue
        announced.add(request["id"])
        if as_json:
            print(json.dumps({"event": "pairing-request", **request}), flush=True)
            continue
        who = f"{request['name']} ({request['peer']})" if request["name"] else request["peer"]
        print(f"# pairing request from {who}: the phone shows {request['digits']}. If the glasses show the same "
              f"digits, type THEM into the phone within {request['expires_in_s']:g} s:\n"
              f"#   echo '{{\"cmd\":\"pair-confirm\",\"digits\":\"<the digits on the glasses>\"}}' | socat - "
              f"UNIX-CONNECT:{rig.companion_ctl_path}", flush=True)


def run(args: argparse.Namespace) -> int:
    from glassbridge_rig.ble_airtime import BleTiming
    from glassbridge_rig.ble_rig import BleRig
    from glassbridge.lifetime import run_dir

    timing = BleTiming(connection_interval_ms=args.interval, ll_payload=args.ll_payload, phy_mbps=args.phy)
    # A temporary workdir carries an owner marker: once this process has ended (stopped, or killed outright: its
    # processes then get SIGTERM from the kernel), the next start removes it. Its logs are there until then.
    own_workdir = args.workdir is None
    workdir = args.workdir or run_dir("glassbridge-sim-")
    rig = BleRig(workdir, timing=timing, companion=not args.no_companion, mtu=args.mtu)
    print(f"starting the BLE rig in {workdir} ...", file=sys.stderr)
    stopping = False

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and `kill -INT` must still stop the rig.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        rig.start()
        info = {"bus_address": rig.bus_address, "rig_ctl": rig.ctl_path, "phone_hci": rig.phone_path,
                "companion_ctl": rig.companion_ctl_path if rig.companion_process else None,
                "companion_identity": rig.companion_identity, "workdir": str(workdir),
                "bluez": rig.info.get("bluez"), "timing": timing.to_dict(), "pids": rig.pids}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"export DBUS_SYSTEM_BUS_ADDRESS={shlex.quote(rig.bus_address)}")
            print(f"# rig ctl:       {rig.ctl_path}")
            print(f"# phone HCI:     unix:{rig.phone_path}")
            if rig.companion_process is not None:
                print(f"# companion ctl: {rig.companion_ctl_path}  (identity {rig.companion_identity})")
            if not rig.info.get("bluez"):
                print(f"# warning: no BlueZ on the bus ({rig.info.get('bluez_error')})")
            print(f"# logs in {workdir}; Ctrl-C stops everything", flush=True)
        announced: set[int] = set()
        while not stopping:
            for process in (rig.rig_process, rig.companion_process):
                if process is not None and process.proc.poll() is not None:
                    print(f"glassbridge sim ble: {process.name} exited with status {process.proc.returncode}:\n"
                          f"{process.describe()}", file=sys.stderr)
                    return 1
            if rig.companion_process is not None:
                _announce_pairings(rig, announced, args.json)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rig.stop()
        print("BLE rig stopped" + (f"; its logs stay in {workdir} until the next start" if own_workdir else ""),
              file=sys.stderr)
    return 0
