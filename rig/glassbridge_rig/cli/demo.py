"""`glassbridge demo`: the assistant on simulated glasses, a scripted session (what `make demo` runs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "the assistant on simulated glasses: a scripted session with display snapshots and a timeline"

DESCRIPTION = """\
Run the whole product without hardware: the glasses' MCU firmware (host port) behind an emulated UART at
921600 baud, the simulated Bluetooth rig (private D-Bus, a BlueZ facade, a timed radio at a 15 ms connection
interval) with the phone companion and its offline brain, a camera on the shipped test images, and the
assistant loop with real perception, espeak-ng's voice and the okay_nabu wake word. Then a wearer's session:

  0 pairing with the code on the glasses' display, confirmed with a nod
  1 a tap with a person in view, answered with the expression (opt-in turned on for the demo)
  2 "okay nabu, what am I looking at?" played into the glasses' microphone, recognised and answered
  3 a message card; 4 a navigation card with its arrow; 5 a payment confirmed with a nod
  6 meeting transcription: captions on the display
  7 the phone drops out: an offline answer, then the queued question answered after it is back

A transcript with timings goes to stderr. DIR gets one PNG per display snapshot, timeline.json (every event
with its time), the spoken WAVs (audio/), the transcripts and the rig's logs. It takes about 80 s (82 s measured
on 2 shared cores; its last line gives the run's own total); exit status 0 when every step happened, 1 with the
step that did not.

Before anything starts it checks what it needs, from any working directory: the models and the camera's scenes
(found like every model: $GLASSBRIDGE_MODEL_DIR, the checkout, the package, the user data folder; a missing one
is named with `glassbridge models fetch`), dbus-daemon and espeak-ng (with the apt-get line), and
GLASSBRIDGE_ISA. Its processes (firmware, D-Bus, BLE rig, companion) end with it, even if it is killed."""

EPILOG = """\
needs: dbus-daemon, espeak-ng, the firmware's sources (a checkout: it is built on first use) and the models and
test images (`glassbridge models fetch`, or `make setup` in a checkout).

examples:
  glassbridge demo --out demo-out
  glassbridge demo --out /tmp/demo --json | jq .steps[].detail"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                        help="snapshots, timeline.json, audio and logs (default demo-out)")
    parser.add_argument("--json", action="store_true", help="print a summary of the steps as JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glassbridge_rig.demo import DemoError, run_demo

    try:
        document = run_demo(args.out)
    except DemoError as exc:
        print(f"glassbridge demo: {' '.join(str(exc).split())} (timeline.json and the logs are in {args.out})",
              file=sys.stderr)
        return 1
    if args.json:
        summary = {"ok": document["ok"], "seconds": document["seconds"], "out": str(args.out),
                   "steps": [{k: s[k] for k in ("number", "name", "ok", "seconds", "snapshots", "detail")}
                             for s in document["steps"]]}
        print(json.dumps(summary, default=str))
    return 0
