"""`glassbridge companion`: the phone side of the phone link, on a Bluetooth controller through bumble."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassbridge_companion.companion import PendingPairing

HELP = "the phone companion: a BLE GATT peripheral the glasses pair with (offline or OpenAI-compatible brain)"

DESCRIPTION = """\
Run the phone side of the glassbridge phone link (protocol/SPEC.md section 16) on a Bluetooth controller,
through bumble (a Bluetooth host stack in Python; this command comes with the glassbridge-companion distribution,
`pip install ./companion` in a checkout).

It hosts the glassbridge GATT service, pairs only with LE Secure Connections numeric comparison (both ends show
six digits; legacy pairing and Just Works are refused), keeps bonds and its identity in --state (owner-only: 0700
folder, 0600 files), advertises from a resolvable private address that changes every --rpa-timeout seconds, runs
one link session per bonded glasses (kept across reconnections), receives photo/audio transfers that resume after
a cut, and answers AssistantRequests. Spoken questions (WAV or Opus recordings) and live captions are recognised
on this machine with pocketsphinx.

Brains (--brain):
  offline  (default) composes answers from what the glasses measured and sent: faces and where they are, their
           emotions when the wearer shares them, the recognised question, the photo's size and colours. It reads
           signs and text in the photo offline (RapidOCR: Chinese and English, models inside its wheel) or says
           plainly that it found none; translating needs the online brain.
  openai   any OpenAI-compatible chat-completions endpoint with image input: --base-url, --model, and the API
           key in the environment variable named by --api-key-env (never logged). Examples:
             Qwen-VL on DashScope: --base-url https://dashscope.aliyuncs.com/compatible-mode/v1
                                   --model qwen-vl-plus --api-key-env DASHSCOPE_API_KEY
             a local llama-server: --base-url http://127.0.0.1:8080/v1 --model local --api-key-env LOCAL_KEY
           Timeouts and HTTP errors become a spoken answer ("the assistant at URL did not answer in 8 s").

Pairing needs you. When glasses ask to pair, the companion shows their name, their address and six digits, and
waits --pairing-timeout seconds (default 30) for you to compare: type the digits the glasses show (on this
terminal, or `{"cmd":"pair-confirm","digits":"042917"}` on the control socket). Only the same digits pair; other
digits, "n", or no answer refuse. Glasses whose identity is bonded already are refused until you forget that bond
(`{"cmd":"forget","identity":"C6:1A:55:60:0B:01"}`): nobody can take over a bond by claiming its address.

When it is advertising it prints one line `READY <identity address>` on stdout; with --json, events (pairing
requests and outcomes, link up/down) follow as JSON lines. --ctl PATH opens a control socket (owner only; one JSON
object per line):
  {"cmd":"status"}  {"cmd":"pairing"}  {"cmd":"pair-confirm","digits":"042917"}  {"cmd":"pair-refuse"}
  {"cmd":"forget","identity":"C6:1A:55:60:0B:01"}  {"cmd":"confirm","policy":"refuse"}
  {"cmd":"fail-writes","count":3,"error":14}
  {"cmd":"disconnect"}  {"cmd":"notify","kind":"MESSAGE","app":"chat","title":"Ana","text":"on my way"}
  {"cmd":"notify","kind":"PAYMENT","title":"Cafe Lumen","text":"23.50 EUR","icon":"pay","needs_response":true}
  {"cmd":"brain"}  {"cmd":"answer-delay","ms":500}"""

EPILOG = """\
transports (bumble's names):
  usb:0                  the first USB Bluetooth dongle (usb:VID:PID picks one, e.g. usb:0b05:190e)
  unix:PATH              an HCI socket, e.g. a controller of the simulated rig (`glassbridge sim ble`)
  tcp-client:HOST:PORT   e.g. bumble's `bumble-controllers` or an Android emulator's netsim

with a USB dongle on a laptop (Linux):
  1. A BLE 4.2+ dongle (LE Secure Connections). Realtek (e.g. RTL8761B) and Intel parts need firmware that
     bumble's drivers load: fetch it once with `bumble-rtk-fw-download` or `bumble-intel-fw-download`.
  2. The kernel's Bluetooth stack must not hold the dongle: `sudo systemctl stop bluetooth` and
     `sudo rfkill block bluetooth` (or unbind btusb), or bumble cannot claim the USB interface.
  3. Permission to open it without root: a udev rule such as
       SUBSYSTEM=="usb", ATTR{idVendor}=="0bda", ATTR{idProduct}=="8771", MODE="0666"
     in /etc/udev/rules.d/99-bumble.rules, then `sudo udevadm control --reload && sudo udevadm trigger`.
  4. `bumble-usb-probe` lists the dongles bumble sees; then:
       glassbridge companion --transport usb:0

examples:
  glassbridge companion --transport usb:0
  glassbridge companion --transport unix:/tmp/rig/phone.hci --state /tmp/rig/companion --ctl /tmp/rig/companion.ctl
  glassbridge companion --transport usb:0 --mtu 247 --rpa-timeout 300 --pairing-timeout 60
  DASHSCOPE_API_KEY=... glassbridge companion --transport usb:0 --brain openai \
      --base-url https://dashscope.aliyuncs.com/compatible-mode/v1 --model qwen-vl-plus --api-key-env DASHSCOPE_API_KEY

exit status: 0 after SIGINT/SIGTERM, 1 when the transport cannot be opened or closes (controller gone), or the
state folder is unusable."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "companion", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--transport", required=True, metavar="T",
                        help="bumble HCI transport: usb:0, unix:PATH, tcp-client:HOST:PORT, ...")
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="identity, IRK and bonds (default: the user data folder, glassbridge/companion)")
    parser.add_argument("--name", default="glassbridge-companion", help="advertised name (scan response)")
    parser.add_argument("--ctl", type=Path, default=None, metavar="PATH", help="control socket (unix, JSON lines)")
    parser.add_argument("--confirm", choices=("ask", "refuse"), default="ask",
                        help="pairing: ask = a person compares the digits (terminal or --ctl; the default), "
                             "refuse = take no new glasses")
    parser.add_argument("--pairing-timeout", type=float, default=30.0, metavar="S",
                        help="seconds a pairing waits for your answer before it is refused (default 30)")
    parser.add_argument("--mtu", type=int, default=517, metavar="N",
                        help="largest ATT MTU accepted (131..517; default 517)")
    parser.add_argument("--rpa-timeout", type=float, default=900.0, metavar="S",
                        help="seconds between two resolvable private addresses (default 900; 0 = never rotate)")
    parser.add_argument("--brain", choices=("offline", "openai"), default="offline",
                        help="who answers: offline (default) or an OpenAI-compatible endpoint")
    parser.add_argument("--base-url", default="", metavar="URL",
                        help="--brain openai: the endpoint, e.g. https://dashscope.aliyuncs.com/compatible-mode/v1")
    parser.add_argument("--model", default="", metavar="NAME", help="--brain openai: the model, e.g. qwen-vl-plus")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                        help="--brain openai: the environment variable holding the API key (default OPENAI_API_KEY)")
    parser.add_argument("--timeout", type=float, default=8.0, metavar="S",
                        help="--brain openai: seconds to wait for the endpoint (default 8)")
    parser.add_argument("--json", action="store_true", help="events as JSON lines on stdout after READY")
    parser.add_argument("--verbose", "-v", action="store_true", help="log what happens on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="companion %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not 131 <= args.mtu <= 517:
        raise ValueError(f"--mtu {args.mtu}: the link needs 131..517 (a frame must hold a Hello, SPEC.md 16.3)")
    if args.rpa_timeout < 0:
        raise ValueError("--rpa-timeout must be >= 0 seconds")
    if args.brain == "openai" and not (args.base_url and args.model):
        raise ValueError("--brain openai needs --base-url URL and --model NAME (see `glassbridge companion --help`)")
    if args.brain == "offline" and (args.base_url or args.model):
        raise ValueError("--base-url and --model are for --brain openai; the offline brain uses no endpoint")
    if not 0 < args.timeout < math.inf:
        raise ValueError("--timeout must be a number of seconds > 0")
    if not 0 < args.pairing_timeout <= 600:
        raise ValueError("--pairing-timeout must be a number of seconds > 0 and <= 600")
    if args.rpa_timeout == math.inf or args.rpa_timeout != args.rpa_timeout:
        raise ValueError("--rpa-timeout must be a finite number of seconds")
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


async def _ask_terminal(pending: PendingPairing) -> str:
    """The terminal's answer to a pairing: the digits the person types (compared by the companion), or "" (no)."""
    who = f"{pending.name} ({pending.peer})" if pending.name else pending.peer
    print(f"\nPairing request from {who}. This phone shows {pending.digits}.\n"
          "Type the six digits the glasses show to pair, or press Enter to refuse: ", end="", file=sys.stderr,
          flush=True)
    from glassbridge.terminal import read_line

    return await read_line()  # the companion cancels it when the pairing ends otherwise


async def _serve(args: argparse.Namespace) -> int:
    from bumble.transport import open_transport

    from glassbridge_companion.companion import Companion
    from glassbridge_companion.ctl import CtlServer
    from glassbridge_companion.identity import default_state_dir

    def emit(event: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(event), flush=True)

    state = args.state or default_state_dir()
    brain = None
    if args.brain == "openai":
        from glassbridge_companion.brain_openai import OpenAIBrain

        brain = OpenAIBrain(args.base_url, args.model, api_key_env=args.api_key_env, timeout_s=args.timeout)
    terminal = sys.stdin is not None and sys.stdin.isatty()
    if args.confirm == "ask" and not terminal and args.ctl is None:
        print("companion: no terminal and no --ctl: nobody can answer a pairing request, so every pairing will be "
              "refused after --pairing-timeout (bonded glasses still connect)", file=sys.stderr)
    companion = Companion(state, name=args.name, confirm=args.confirm, pairing_timeout=args.pairing_timeout,
                          mtu=args.mtu, rpa_timeout=args.rpa_timeout, ask=_ask_terminal if terminal else None,
                          on_event=emit, brain=brain)
    try:
        transport = await open_transport(args.transport)
    except Exception as exc:
        raise OSError(f"cannot open transport {args.transport!r}: {exc} (see `glassbridge companion --help` for "
                      "the dongle set-up; for the rig, is `glassbridge sim ble` running?)") from exc
    ctl = CtlServer(args.ctl, companion.command) if args.ctl else None
    stop = asyncio.Event()
    lost = False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await companion.start(transport.source, transport.sink)
        if ctl is not None:
            await ctl.start()
        print(f"READY {companion.identity.address}", flush=True)
        terminated = getattr(transport.source, "terminated", None)
        waits = [asyncio.ensure_future(stop.wait())]
        if isinstance(terminated, asyncio.Future):
            waits.append(terminated)  # type: ignore[arg-type]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            if not w.done():
                w.cancel()
        if isinstance(terminated, asyncio.Future) and terminated.done() and not stop.is_set():
            lost = True
            raise OSError(f"transport {args.transport} closed: the Bluetooth controller went away (dongle unplugged "
                          "or the rig stopped)")
    finally:
        if ctl is not None:
            await ctl.stop()
        if not lost:  # with the controller gone, a graceful stop would only wait for HCI answers that never come
            with contextlib.suppress(Exception):
                await asyncio.wait_for(companion.stop(), 5)
        with contextlib.suppress(Exception):
            await transport.close()
    return 0
