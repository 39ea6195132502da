"""`glassbridge phone scan|pair|forget|status|ask`: the glasses' link to the phone running the companion app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from glassbridge.cli._args import language_tag, positive_float

HELP = "the phone link over BLE: find, pair (numeric comparison), forget, status, ask the assistant"

DESCRIPTION = """\
The glasses' link to the phone running the glassbridge companion, over Bluetooth Low Energy through BlueZ. The
glasses are the central; the phone hosts the glassbridge GATT service (protocol/SPEC.md section 16).

  scan      phones advertising the glassbridge service nearby (their address, name, signal, paired or not)
  pair      pair and bond with one: LE Secure Connections numeric comparison. The six digits are shown on the
            glasses' display (--mcu PORT: confirm with a nod or a tap, a shake refuses), or asked on this
            terminal; the phone shows the same digits and its user confirms too. Then glassbridge connects only
            to that phone, encrypted, and reconnects by itself.
  forget    forget the bonded phone: the bond file, and the device and its keys in BlueZ
  status    the bonded phone and what BlueZ knows of it; with --connect, connect and show the link
  ask       ask the phone's assistant a question (optionally about a photo) and print the answer

The bond lives in $GLASSBRIDGE_STATE_DIR/phone/bond.json, else under the user data folder (platformdirs);
--bond FILE chooses another. BlueZ is found on the system D-Bus (DBUS_SYSTEM_BUS_ADDRESS: the simulated rig
`glassbridge sim ble` prints the value to use)."""

EPILOG = """\
examples:
  glassbridge phone scan --timeout 5
  glassbridge phone pair --mcu /tmp/glassbridge-mcu     digits on the glasses' display, nod to confirm
  glassbridge phone pair --name "Pixel 9"               digits on this terminal, answer y/n
  glassbridge phone status --connect --json
  glassbridge phone ask "What does this sign say?" --photo sign.jpg --task read_text
  glassbridge phone forget

exit status: 0 on success, 1 on a failure (one line on stderr says what failed and what to do)."""

log = logging.getLogger("glassbridge.phone")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "phone", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="phone_command", metavar="{scan,pair,forget,status,ask}", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bond", metavar="FILE", help="bond file (default: $GLASSBRIDGE_STATE_DIR/phone/bond.json "
                       "or the user data folder)")
        p.add_argument("--adapter", metavar="HCI", help="BlueZ adapter, e.g. hci1 (default: BlueZ's default)")
        p.add_argument("-v", "--verbose", action="store_true", help="log what the link does on stderr")

    p = sub.add_parser("scan", help="list phones advertising the glassbridge service",
                       description="List phones advertising the glassbridge service, strongest signal first.")
    common(p)
    p.add_argument("--timeout", type=positive_float, default=5.0, metavar="S", help="seconds to listen (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON array on stdout")

    p = sub.add_parser("pair", help="pair and bond with a phone (numeric comparison)",
                       description="Pair and bond with the phone running the companion (LE Secure Connections "
                       "numeric comparison). Without --name/--address, the first phone found is used.")
    common(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--mcu", metavar="PORT", help="show the digits on the glasses' display via the MCU link "
                     "at PORT; a nod or a tap confirms, a shake refuses")
    p.add_argument("--name", help="pair with the phone advertising this name")
    p.add_argument("--address", help="pair with the phone at this address")
    p.add_argument("--timeout", type=positive_float, default=10.0, metavar="S", help="seconds to look for the phone")
    p.add_argument("--confirm-timeout", type=positive_float, default=30.0, metavar="S",
                   help="seconds the wearer has to answer (then: refused)")
    p.add_argument("--json", action="store_true", help="the new bond as JSON on stdout")

    p = sub.add_parser("forget", help="forget the bonded phone (bond file and BlueZ keys)",
                       description="Forget the bonded phone: delete the bond file and remove the device (and its "
                       "keys) from BlueZ. Works on a corrupt bond file too.")
    common(p)
    p.add_argument("--address", help="also remove this address from BlueZ (when the bond file is gone)")

    p = sub.add_parser("status", help="the bonded phone; with --connect, the live link",
                       description="Show the bonded phone and what BlueZ knows of it. --connect also connects "
                       "and reports the link (ATT MTU, link state, counters, the companion's ServiceInfo).")
    common(p)
    p.add_argument("--connect", action="store_true", help="connect and report the live link")
    p.add_argument("--timeout", type=positive_float, default=20.0, metavar="S", help="seconds to wait for the link")
    p.add_argument("--json", action="store_true", help="JSON on stdout")

    p = sub.add_parser("ask", help="ask the phone's assistant a question",
                       description="Connect to the bonded phone, ask its assistant, print the answer as it comes.")
    common(p)
    p.add_argument("question")
    p.add_argument("--photo", metavar="FILE", type=Path,
                   help="an image to ask about, uploaded first with a progress bar on the terminal. Faces in it "
                        "are pixelated first, as in every photo that leaves the glasses ([privacy] blur_faces, on "
                        "by default; the image is then re-encoded at its own size, quality 90); otherwise a JPEG "
                        "is sent as it is and another format converted to JPEG")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="settings for [privacy] blur_faces (TOML; default: $GLASSBRIDGE_CONFIG, else the user "
                        "config, as `run` reads)")
    p.add_argument("--task", default="unspecified",
                   help="ask, describe, read_text, translate, transcribe (default: the assistant decides)")
    p.add_argument("--language", type=language_tag, default="",
                   help="BCP 47 tag of the answer wanted, e.g. en, zh-Hans (default: the phone's)")
    p.add_argument("--timeout", type=positive_float, default=20.0, metavar="S", help="seconds to wait for the link")
    p.add_argument("--json", action="store_true", help="the answer as JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glassbridge.protocol.errors import PeerError

    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    else:
        logging.basicConfig(level=logging.WARNING, format="glassbridge phone: %(message)s", stream=sys.stderr)
    command = {"scan": _scan, "pair": _pair, "forget": _forget, "status": _status, "ask": _ask}[args.phone_command]
    try:
        return asyncio.run(command(args))
    except PeerError as exc:  # expected failures: one line that says what to do
        print(f"glassbridge phone {args.phone_command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _store(args: argparse.Namespace) -> Any:
    from glassbridge.phone.bonds import BondStore

    return BondStore(args.bond)


async def _scan(args: argparse.Namespace) -> int:
    from glassbridge.phone.central import scan

    bond = None
    try:
        bond = _store(args).load()
    except Exception:  # noqa: BLE001 - a corrupt bond file must not stop a scan; status reports it
        pass
    phones = await scan(args.timeout, bond=bond, adapter=args.adapter)
    if args.json:
        print(json.dumps([p.to_dict() for p in phones], indent=2))
        return 0
    if not phones:
        print(f"no phone advertising the glassbridge service within {args.timeout:g} s (is the companion open?)",
              file=sys.stderr)
        return 0
    for p in phones:
        flags = ", ".join(f for f, on in (("bonded", p.bonded), ("paired in BlueZ", p.paired)) if on)
        print(f"{p.address}  {p.rssi:4d} dBm  {p.name or '(no name)'}" + (f"  [{flags}]" if flags else ""))
    return 0


async def _pair(args: argparse.Namespace) -> int:
    from glassbridge.app import McuPairingUI
    from glassbridge.phone.agent import TerminalPairingUI
    from glassbridge.phone.central import pair_phone

    store = _store(args)
    mcu: Any = None
    try:
        if args.mcu:
            from glassbridge.mcu.client import Mcu

            mcu = await Mcu.connect(args.mcu)
            ui: Any = McuPairingUI(mcu, timeout=args.confirm_timeout)
        else:
            ui = TerminalPairingUI(timeout=args.confirm_timeout)
        bond = await pair_phone(store, ui, name=args.name, address=args.address, scan_timeout=args.timeout,
                                adapter=args.adapter)
    finally:
        if mcu is not None:
            await mcu.close()
    if args.json:
        print(json.dumps(bond.to_dict(), indent=2))
    else:
        print(f"bonded with {bond.name or '(no name)'} ({bond.address}), companion "
              f"{bond.service_info.get('app_version', '?')}; bond saved in {store.path}")
    return 0


async def _forget(args: argparse.Namespace) -> int:
    from glassbridge.phone.central import remove_from_bluez

    from glassbridge.phone.errors import PhoneError

    store = _store(args)
    old = store.forget()
    what = f"{old.name} ({old.address})" if old else "no bonded phone"
    addresses = {a.upper() for a in (old.address if old else None, args.address) if a}
    try:
        removed = [a for a in sorted(addresses) if await remove_from_bluez(a)]
    except PhoneError as exc:
        raise PhoneError(f"forgot {what} (bond file deleted), but could not remove it from BlueZ: {exc}; run "
                         "`glassbridge phone forget --address ADDRESS` again once BlueZ runs") from exc
    print(f"forgot {what}; removed from BlueZ: {', '.join(removed) or 'nothing'}")
    return 0


def _bluez_view(address: str, objects: dict[str, Any]) -> dict[str, Any]:
    for path, ifaces in objects.items():
        dev = ifaces.get("org.bluez.Device1")
        if dev and str(dev.get("Address", "")).upper() == address:
            return {"path": path, **{k: dev.get(k) for k in ("Name", "Alias", "Paired", "Bonded", "Trusted",
                                                              "Connected", "AddressType")}}
    return {}


async def _status(args: argparse.Namespace) -> int:
    from glassbridge.phone.central import _bluez_objects
    from glassbridge.phone.client import Phone
    from glassbridge.phone.errors import NotBonded

    store = _store(args)
    bond = store.load()
    if bond is None:
        raise NotBonded(f"no bond in {store.path}")
    out: dict[str, Any] = {"bond_file": str(store.path), "bonded": bond.to_dict()}
    try:
        out["bluez"] = _bluez_view(bond.address, await _bluez_objects())
    except Exception as exc:  # noqa: BLE001 - status still reports the bond when BlueZ is away
        out["bluez"] = {"error": str(exc)}
    if args.connect:
        async with await Phone.open(bonds=store, adapter=args.adapter) as phone:
            await phone.wait_until_up(args.timeout)
            out["link"] = (await phone.status()).to_dict()
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(bond.bonded_at))
    print(f"bonded      {bond.name or '(no name)'} ({bond.address}) since {when}")
    info = bond.service_info
    print(f"companion   {info.get('app_version', '?')}, link protocol {info.get('min_protocol_version', '?')}.."
          f"{info.get('protocol_version', '?')}")
    bz = out["bluez"]
    if "error" in bz:
        print(f"bluez       unavailable: {bz['error']}")
    elif bz:
        print(f"bluez       {bz['path']}: paired {bz.get('Paired')}, connected {bz.get('Connected')}")
    else:
        print("bluez       BlueZ does not know this device (keys lost?): pair again")
    if "link" in out:
        st = out["link"]
        link = st["link"]
        print(f"link        {st['state']}, ATT MTU {st['mtu']}, link {st['link_state']}, rtt {link.get('srtt_ms', 0)} ms, "
              f"{link.get('retransmits', 0)} retransmissions, {link.get('framing_errors', 0)} malformed frames")
    return 0


def _photo(path: Path, *, blur_faces: bool = True) -> bytes:
    """The photo to upload. With blur_faces (the default, as [privacy] blur_faces): the glasses' perception looks
    for faces in it, and when it finds any the photo goes with them pixelated (glassbridge.assistant.photo.make_photo
    at the image's own size, quality 90), as every photo that leaves the glasses. Otherwise a JPEG goes as it is and
    any other image Pillow reads is converted to JPEG (quality 90). ValueError naming the file when it is not an
    image, or when faces cannot be looked for (the detector model missing): nothing is uploaded then."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"--photo {path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # decodes it all: a truncated or corrupt file fails here, not on the phone
            rgb = img.convert("RGB")
            fmt = img.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"--photo {path}: not an image this tool can read ({exc}); give a JPEG or PNG") from exc
    if blur_faces:
        blurred = _blurred(path, rgb)
        if blurred is not None:
            return blurred
    if fmt == "JPEG":
        return data
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=90)
    print(f"--photo {path}: {fmt} converted to JPEG ({len(out.getvalue())} bytes)", file=sys.stderr)
    return out.getvalue()


def _blurred(path: Path, rgb: Any) -> bytes | None:
    """The photo with every face the glasses' perception finds in it pixelated, or None when it finds none. Fails
    closed: if the faces cannot be looked for, nothing is sent (ValueError saying how to go on)."""
    import numpy as np

    from glassbridge.assistant.perception import FacePerceiver
    from glassbridge.assistant.photo import make_photo
    from glassbridge.camera.convert import frame_from_rgb
    from glassbridge.camera.frame import PixelFormat

    frame = frame_from_rgb(np.asarray(rgb, dtype=np.uint8), PixelFormat.RGB888, timestamp_ns=0)
    try:
        local = FacePerceiver().perceive(frame, emotions=False)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ValueError(f"--photo {path}: cannot look for faces to blur ({exc}); nothing was sent. Fetch the "
                         "models (`glassbridge models fetch`) or turn [privacy] blur_faces off") from exc
    if not local.faces:
        return None
    photo = make_photo(frame, [f.box for f in local.faces], max_width=frame.width, max_height=frame.height,
                       quality=90, blur_faces=True)
    print(f"--photo {path}: {photo.faces_blurred} face(s) pixelated before it leaves ([privacy] blur_faces), "
          f"re-encoded as JPEG ({len(photo.jpeg)} bytes)", file=sys.stderr)
    return photo.jpeg


async def _ask(args: argparse.Namespace) -> int:
    from glassbridge.phone.client import Phone

    photo = None
    if args.photo:
        from glassbridge.cli.config import load_checked_settings

        photo = _photo(args.photo, blur_faces=load_checked_settings(args.config).privacy.blur_faces)
    async with await Phone.open(bonds=_store(args), adapter=args.adapter) as phone:
        await phone.wait_until_up(args.timeout)
        if args.json:
            answer = await phone.ask(args.question, photo=photo, task=args.task, language=args.language)
            print(json.dumps({"text": answer.text, "source": answer.source, "offline": answer.offline,
                              "seconds": round(answer.seconds, 3)}))
            return 0
        with _upload_progress(len(photo) if photo else 0) as progress:
            async for part in phone.ask_stream(args.question, photo=photo, task=args.task, language=args.language,
                                               progress=progress):
                progress(-1, -1)  # the answer has begun: the bar is done
                print(part.text, end="" if not part.final else "\n", flush=True)
    return 0


@contextlib.contextmanager
def _upload_progress(total: int) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr for uploads of 64 KB or more, when stderr is a terminal; update(done, total),
    update(-1, -1) ends it."""
    if total < 65536 or not sys.stderr.isatty():
        yield lambda _done, _total: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress("uploading the photo", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("upload", total=total)

        def update(done: int, of: int) -> None:
            if done < 0:
                bar.stop()
            else:
                bar.update(task, completed=done, total=of)

        yield update
