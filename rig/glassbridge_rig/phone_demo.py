"""The phone-link demo on simulated glasses (`glassbridge sim phone-demo`, part of `make demo`).

Everything a wearer would see, with the real parts where the rig has them:

    glasses' MCU     the real firmware (host port) behind the emulated UART: display, nod
    glasses' SoC     glassbridge.phone (bleak, unmodified BlueZ backend) + glassbridge.mcu
    radio + BlueZ    the BLE rig: timing model (15 ms connection interval, LL payload 251), BlueZ on a private bus
    phone            `glassbridge companion` (bumble, its own link implementation, the offline brain)

Steps: pair with numeric comparison (the six digits on the glasses' display, confirmed by a nod injected as the
wearer), upload a photo while the radio link drops twice, ask the phone about it, show the answer and a
notification from the phone on the display. Display snapshots (PNG) and a JSON summary go to the output folder.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from glassbridge.assistant.text import fit  # the card fields' limits, as the assistant cuts them

__all__ = ["DEFAULT_PHOTO_ID", "DemoResult", "fit", "run_phone_demo"]

#: The photo the wearer asks about when none is given: the manifest's test image (scikit-image's public-domain
#: astronaut), found like the models from any working directory (glassbridge.models.registry.test_image_path).
DEFAULT_PHOTO_ID = "astronaut"


@dataclass
class DemoResult:
    pairing_code: int = 0
    phone_identity: str = ""
    photo_bytes: int = 0
    upload_seconds: float = 0.0
    drops: int = 0
    upload_restarts: int = 0
    phone_bytes_received: int = 0
    answer: str = ""
    answer_source: str = ""
    notification: str = ""
    link: dict[str, Any] = field(default_factory=dict)
    snapshots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _jpeg(photo: Path) -> bytes:
    from PIL import Image

    with Image.open(photo) as img:
        out = io.BytesIO()
        img.convert("RGB").save(out, format="JPEG", quality=95)  # ~100 KB: long enough on air for two drops
    return out.getvalue()


async def _snapshot(fw: Any, out: Path, name: str, result: DemoResult) -> None:
    """The MCU's display as PNG (the host port dumps a PGM), scaled 2x for a readable picture."""
    from PIL import Image

    pgm = out / f"{name}.pgm"
    await fw.control(f"display dump {pgm}")
    with Image.open(pgm) as img:
        img.resize((img.width * 2, img.height * 2), Image.Resampling.NEAREST).save(out / f"{name}.png")
    pgm.unlink()
    result.snapshots.append(f"{name}.png")


async def _demo(rig: Any, out: Path, photo: Path, console: Console) -> DemoResult:
    from glassbridge.mcu.client import Mcu
    from glassbridge.mcu.events import CardSpec
    from glassbridge.phone import BondStore, NotificationEvent, Phone, ReconnectPolicy
    from glassbridge_rig.glasses import pair_with_nod, until
    from glassbridge_rig.runner import FirmwareRunner

    result = DemoResult(phone_identity=rig.companion_identity)
    store = BondStore(out / "state" / "bond.json")
    policy = ReconnectPolicy(first_delay=0.1, max_delay=1.0, scan_timeout=5.0, connect_timeout=10.0)
    async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
        console.print("[bold]1. pairing[/]: the glasses show the six digits; the wearer nods")
        pairing = await pair_with_nod(rig, fw, mcu, store,
                                      on_code=lambda code: _snapshot(fw, out, "1-pairing", result))
        result.pairing_code = pairing.code
        console.print(f"   code {pairing.code:06d} on the glasses, {pairing.phone_code:06d} on the phone: bonded")

        phone = await Phone.open(bonds=store, policy=policy)
        try:
            await phone.wait_until_up(30)
            data = _jpeg(photo)
            result.photo_bytes = len(data)
            console.print(f"[bold]2. upload[/]: a {len(data) // 1024} KB photo while the radio drops twice")
            upload = asyncio.create_task(phone.upload_report("photo", data, photo.name))

            async def arrived() -> int:  # what the phone itself reports having received
                status = await asyncio.to_thread(rig.companion_ctl, {"cmd": "status"})
                return max((t["bytes_received"] for t in status["transfers"]), default=0)

            for fraction in (0.3, 0.6):
                async def far_enough(f: float = fraction) -> bool:
                    return upload.done() or await arrived() >= f * len(data)

                await until(far_enough, 60, f"{fraction:.0%} of the upload", poll=0.005)
                if not upload.done():
                    await asyncio.to_thread(rig.ctl, {"cmd": "drop"})
                    result.drops += 1
            report = await asyncio.wait_for(upload, 120)
            result.upload_seconds = round(report.seconds, 3)
            result.upload_restarts = report.restarts
            transfers = (await asyncio.to_thread(rig.companion_ctl, {"cmd": "status"}))["transfers"]
            mine = [t for t in transfers if t["id"] == report.transfer_id]
            result.phone_bytes_received = mine[0]["bytes_received"] if mine else 0
            console.print(f"   verified by the phone in {report.seconds:.1f} s; {result.drops} drops, "
                          f"{result.phone_bytes_received} bytes reached the phone's app for {len(data)}")

            console.print("[bold]3. ask[/]: \"what is in front of me?\"")
            answer = await phone.ask("what is in front of me?", photo=data, task="describe")
            result.answer, result.answer_source = answer.text, answer.source
            console.print(f"   ({answer.source}) {answer.text}", markup=False, highlight=False)
            await mcu.show_card(CardSpec(title="Assistant", text=fit(answer.text, 191), kind="answer", icon="info"))
            await _snapshot(fw, out, "2-answer", result)

            console.print("[bold]4. notification[/] from the phone to the glasses' display")
            events = phone.events()  # subscribed from here: the notification cannot slip past
            await asyncio.to_thread(rig.companion_ctl, {"cmd": "notify", "kind": "MESSAGE", "app": "Messages",
                                                        "title": "Mei", "text": "Lunch at 12:30?"})
            async for event in events:  # bounded by the demo's overall timeout
                if isinstance(event, NotificationEvent):
                    result.notification = f"{event.app}: {event.title}: {event.text}"
                    await mcu.show_card(CardSpec(title=f"{event.app}: {event.title}", text=event.text,
                                                 kind="notification", icon="message"))
                    break
            await events.aclose()
            await _snapshot(fw, out, "3-notification", result)
            console.print(f"   {result.notification}")
            result.link = (await phone.status()).to_dict().get("link", {})
        finally:
            await phone.close()
    return result


def run_phone_demo(out: Path, *, photo: Path | None = None, console: Console | None = None) -> DemoResult:
    """Runs the demo in a fresh rig under `out` (ended whatever happens) and writes out/phone.json. photo: the
    picture uploaded and asked about (default: the test image DEFAULT_PHOTO_ID, from the registry; a missing one
    raises ModelError naming `glassbridge models fetch`)."""
    from glassbridge_rig.ble_rig import BleRig

    console = console or Console(stderr=True)
    if photo is None:
        from glassbridge.models.registry import test_image_path

        photo = test_image_path(DEFAULT_PHOTO_ID)
    elif not photo.is_file():
        raise FileNotFoundError(f"phone demo: no photo at {photo.resolve()} (give an existing image file with "
                                "--photo, or leave --photo out for the test image)")
    out.mkdir(parents=True, exist_ok=True)
    rig = BleRig(out / "rig")
    with console.status("starting the BLE rig (private D-Bus, BlueZ, radio, phone companion)"):
        rig.start()
    try:
        with rig.system_bus():
            result = asyncio.run(asyncio.wait_for(_demo(rig, out, photo, console), 300))
    finally:
        rig.stop()
    (out / "phone.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result
