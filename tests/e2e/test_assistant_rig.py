"""The assistant on the whole simulated rig (sim.glasses.SimGlasses): the real firmware (host port) behind the UART
link emulator, the BLE rig with `glassbridge companion` and its offline brain, real perception on the test
images, the Assistant loop.

What is independent here: the firmware's own state and framebuffer, read over its control socket (a side door
the SoC does not have), with every card compared pixel for pixel against tests/firmware/card_reference.py (the
layout re-implemented from card.h's rules); the companion's own records (the photo transfer it verified); the
content of the test images (astronaut.png shows one person, chelsea.png a cat and no person); BT.601 written out
in numpy for the camera's NV12. One SimGlasses serves the whole module (it starts in a few seconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from glassbridge.camera import CameraError, PixelFormat
from glassbridge.protocol.messages import pb
from glassbridge_rig.camera import RigCamera
from tests.e2e.conftest import card_reference, pair_on_the_command_line

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dbus-daemon").exists(), reason="dbus-daemon not installed")

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"


REF = card_reference()


class Rig:
    """One SimGlasses on its own event loop, kept between this module's tests (run() drives it)."""

    def __init__(self, workdir: Path) -> None:
        from glassbridge.assistant.config import settings_from_dict
        from glassbridge_rig.glasses import SimGlasses

        self.loop = asyncio.new_event_loop()
        # Speech off: the cards are what these tests read, and 20 s of speech would cost ~7 s of UART per answer.
        settings = settings_from_dict({"assistant": {"speak": False}}, source="test")
        self.glasses = SimGlasses(workdir, settings=settings, images=IMAGES, scene="astronaut")
        self.run(self.glasses.__aenter__(), 60)

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        return self.loop.run_until_complete(bounded())

    def close(self) -> None:
        try:
            self.run(self.glasses.__aexit__(None, None, None), 30)
        finally:
            self.loop.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    r = Rig(tmp_path_factory.mktemp("assistant-rig"))
    try:
        yield r
    finally:
        r.close()


async def _display_matches_card(g: Any, tmp: Path, question: int, *, offline: bool = False) -> dict[str, Any]:
    """The firmware's framebuffer equals the reference rendering of the last card the assistant sent for the
    question; returns that card."""
    cards = [e.detail for e in g.timeline.find("card", question=question) if not e.detail.get("partial")]
    assert cards, f"no card was sent for question {question}"
    card = cards[-1]
    dump = tmp / f"q{question}.pgm"
    await g.dump_display(dump)
    kind = pb.CardKind.Value("CARD_KIND_" + card["card_kind"].upper())
    icon = pb.Icon.Value("ICON_" + card["icon"].upper())
    assert REF.read_pgm(dump) == REF.render(kind, icon, card["title"], card["text"]), card
    return card


def test_rig_camera_delivers_nv12_only_while_the_mcu_powers_it(rig: Rig) -> None:
    g = rig.glasses

    async def body() -> Any:
        with pytest.raises(CameraError, match="not powered"):
            await g.camera.capture()
        assert await g.mcu.set_camera_power(True) is True
        try:
            status = await g.status()
            assert status["camera_powered"] and status["capture_led"]  # the LED is lit whenever frames flow
            # A fixed sensor size: the scene scaled to cover 320x240 and centre-cropped.
            sized = RigCamera({"astronaut": IMAGES / "astronaut.png"}, g.fw, size=(320, 240), fps=None)
            return await g.camera.capture(), await sized.capture()
        finally:
            await g.mcu.set_camera_power(False)

    frame, sensor = rig.run(body())
    assert frame.format is PixelFormat.NV12 and (frame.width, frame.height) == (512, 512)
    from PIL import Image

    rgb = np.asarray(Image.open(IMAGES / "astronaut.png").convert("RGB"), dtype=np.float64)
    # BT.601 limited range (what a sensor's ISP sends), written out here: Y = 16 + 219 * (0.299 R + ...) / 255.
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    cb = 128 + (-37.797 * rgb[..., 0] - 74.203 * rgb[..., 1] + 112.0 * rgb[..., 2]) / 255
    got_y = frame.planes[0][:512, :512].astype(np.float64)
    assert np.abs(got_y - y).max() <= 0.51
    got_u = frame.planes[1][:256, 0:512:2].astype(np.float64)
    assert np.abs(got_u - cb.reshape(256, 2, 256, 2).mean(axis=(1, 3))).max() <= 0.51
    assert rig.run(g.status())["camera_powered"] is False
    assert (sensor.width, sensor.height) == (320, 240)
    # Nearest-neighbour reference of the same cover-crop (scale 0.625, 40 rows cut top and bottom), written here.
    rows = ((np.arange(240) + 40 + 0.5) / 0.625).astype(int)
    cols = ((np.arange(320) + 0.5) / 0.625).astype(int)
    expected = y[np.ix_(rows, cols)]
    got = sensor.planes[0][:240, :320].astype(np.float64)
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.97


def test_a_tap_with_a_person_in_view_is_answered_on_the_display(rig: Rig, tmp_path: Path) -> None:
    g = rig.glasses

    async def body() -> tuple[int, dict[str, Any]]:
        g.camera.set_scene("astronaut")
        captures = g.camera.captures
        after = g.timeline.now()
        await g.tap()
        button = await g.timeline.wait_for("button", timeout=5, after=after, button="main", action="tap")
        q = button.detail["question"]
        await g.timeline.wait_for("card_shown", timeout=15, question=q)
        await g.assistant.idle(15)
        assert g.camera.captures == captures + 1
        card = await _display_matches_card(g, tmp_path, q)
        return q, card

    q, card = rig.run(body())
    tl = g.timeline
    assert tl.find("perception", question=q)[0].detail["faces"] == 1  # astronaut.png: one person
    answer = tl.find("answer_final", question=q)[0].detail
    assert answer["source"] == "offline" and "one person" in answer["text"].lower()
    assert card["text"] and answer["text"].startswith(card["text"].removesuffix("...").rstrip())
    firmware = rig.run(g.status())
    assert firmware["camera_powered"] is False and firmware["capture_led"] is False  # released after the photo
    jpeg = tl.find("jpeg", question=q)[0].detail
    photos = [t for t in rig.run(g.companion())["transfers"] if t["kind"] == "photo"]
    assert any(t["size"] == jpeg["bytes"] and t["state"] == "verified" for t in photos), photos


def test_phone_away_gets_an_offline_answer_then_the_queued_one(rig: Rig, tmp_path: Path) -> None:
    g = rig.glasses

    async def body() -> tuple[int, dict[str, Any], dict[str, Any]]:
        g.camera.set_scene("astronaut")
        await g.drop_phone()
        after = g.timeline.now()
        await g.tap()
        button = await g.timeline.wait_for("button", timeout=5, after=after, button="main", action="tap")
        q = button.detail["question"]
        await g.timeline.wait_for("offline_answer", timeout=15, question=q)
        await g.timeline.wait_for("card_shown", timeout=15, question=q)
        await g.assistant.idle(15)
        offline_card = await _display_matches_card(g, tmp_path, q, offline=True)
        back = g.timeline.now()
        await g.restore_phone()
        delivered = await g.timeline.wait_for("delivered", timeout=20, after=back, question=q)
        await g.assistant.idle(15)
        late_card = await _display_matches_card(g, tmp_path, q)
        return q, offline_card, {"delivered": delivered.detail, "card": late_card}

    q, offline_card, late = rig.run(body(), 60)
    local = g.timeline.find("offline_answer", question=q)[0].detail
    assert local["queued"] is True and "one person" in local["text"].lower()
    assert offline_card["title"].startswith("Offline")
    assert late["delivered"]["queued_ms"] > 0
    assert "ago" in late["card"]["title"]  # "Earlier question (N s ago)"
    assert "one person" in late["delivered"]["text"].lower()  # the phone's answer about the queued photo


def test_glassbridge_run_drives_real_ports(tmp_path: Path) -> None:
    """`glassbridge run` as a user starts it, on the simulated hardware's real interfaces (drive_glassbridge_run);
    the same from the glasses' wheel alone: tests/e2e/test_glasses_wheel.py."""
    import sys

    drive_glassbridge_run(tmp_path, sys.executable, Path(__file__).resolve().parents[2])


def drive_glassbridge_run(tmp_path: Path, python: str, cwd: Path, extra_env: dict[str, str] | None = None) -> None:
    """`glassbridge run` (started as `python -m glassbridge.cli.main run` in cwd) on the simulated hardware's real
    interfaces: --serial is the link emulator's pty in front of the firmware, the phone is the rig's companion over
    its BlueZ (bonded beforehand with `glassbridge phone pair` from the same interpreter), no --camera. A tap is
    answered on the display ("no camera configured"), a notification from the phone shows as a card, SIGTERM ends
    it with status 0."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from glassbridge_rig.ble_rig import BleRig
    from glassbridge_rig.runner import FirmwareRunner

    bond = tmp_path / "bond.json"
    config = tmp_path / "config.toml"
    config.write_text("[assistant]\nspeak = false\n")
    with BleRig(tmp_path / "rig") as ble:
        env = {**ble.env, "COLUMNS": "200", **(extra_env or {})}
        code, _, err = pair_on_the_command_line(
            ["-m", "glassbridge.cli.main", "phone", "pair", "--bond", str(bond), "--name", ble.companion_name,
             "--timeout", "10"], ble.companion_ctl, env=env, cwd=cwd, python=python)
        assert code == 0, err

        async def body() -> tuple[int, list[dict[str, Any]]]:
            async with FirmwareRunner("host") as fw:
                proc = await asyncio.create_subprocess_exec(
                    python, "-m", "glassbridge.cli.main", "run", "--serial", fw.port, "--bond", str(bond),
                    "--config", str(config), "--json", cwd=cwd, env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
                events: list[dict[str, Any]] = []

                async def until(kind: str, timeout: float, **match: Any) -> dict[str, Any]:
                    assert proc.stdout is not None
                    for e in events:
                        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
                            return e
                    while True:
                        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
                        if not line:
                            err = await proc.stderr.read() if proc.stderr else b""
                            raise AssertionError(f"glassbridge run ended before {kind}: {err.decode()[-2000:]}")
                        events.append(json.loads(line))
                        e = events[-1]
                        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()):
                            return e

                try:
                    await until("phone", 30, state="up")
                    await fw.control("button main tap")
                    await until("capture_failed", 15, question=1)
                    card = await until("card", 15, question=1)
                    await until("state", 15, state="idle")
                    dump = tmp_path / "tap.pgm"
                    await fw.control(f"display dump {dump}")
                    assert REF.read_pgm(dump) == REF.render(pb.CardKind.Value("CARD_KIND_" + card["card_kind"].upper()),
                                                            pb.Icon.Value("ICON_" + card["icon"].upper()),
                                                            card["title"], card["text"])
                    assert "no camera" in card["text"].lower()
                    assert (json.loads(await fw.control("status")))["camera_powered"] is False
                    await asyncio.to_thread(ble.companion_ctl, {"cmd": "notify", "kind": "MESSAGE", "app": "Messages",
                                                                "title": "Ana", "text": "on my way"})
                    note = await until("notification", 15)
                    shown = await until("card", 15, notification=note["notification"])
                    assert (shown["title"], shown["text"]) == ("Messages: Ana", "on my way") or \
                        "Ana" in shown["title"] and shown["text"] == "on my way"
                    await asyncio.sleep(0.2)  # the MCU draws it after confirming
                    dump = tmp_path / "note.pgm"
                    await fw.control(f"display dump {dump}")
                    assert REF.read_pgm(dump) == REF.render(
                        pb.CardKind.Value("CARD_KIND_" + shown["card_kind"].upper()),
                        pb.Icon.Value("ICON_" + shown["icon"].upper()), shown["title"], shown["text"])
                finally:
                    if proc.returncode is None:
                        proc.send_signal(signal.SIGTERM)
                    code = await asyncio.wait_for(proc.wait(), 20)
                    if proc.stdout is not None:
                        for line in (await proc.stdout.read()).splitlines():
                            events.append(json.loads(line))
                return code, events

        saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        code, events = asyncio.run(asyncio.wait_for(body(), 90))
        assert os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") == saved  # the test's own process never used this rig
    assert code == 0
    assert events[-1]["kind"] == "stopped"
