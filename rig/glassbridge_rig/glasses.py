"""`SimGlasses`: the whole pair of glasses and its phone on this machine, for the demo, the bench and the tests.

    async with SimGlasses(workdir, settings=settings) as glasses:      # ready: paired, links up, assistant running
        before = await glasses.card_id()
        await glasses.tap()                                            # the wearer taps the main button
        await glasses.wait_card(before, timeout=10)                    # the answer card is on the display
        png = await glasses.snapshot("answer")                         # the MCU's framebuffer as PNG

What runs, each part the real one where the rig has it:

    glasses' MCU    the firmware's host port (FirmwareRunner) behind the UART link emulator at 921600 baud:
                    buttons, nod, battery, display, camera power + LED, microphone (WAVs via `mic play`)
    glasses' SoC    glassbridge.mcu.Mcu + glassbridge.phone.Phone (bleak on the rig's BlueZ) + the Assistant
                    with RigCamera (frames only while the MCU powers the camera), real perception (BlazeFace,
                    emotions), espeak-ng's voice, the okay_nabu wake word
    radio + BlueZ   BleRig: private D-Bus, the BlueZ facade, the timed radio (15 ms connection interval)
    phone           `glassbridge companion` (bumble, PyLink, the offline brain unless told otherwise)

Pairing is the wearer's walk: the six digits on the glasses' display, a nod (`pair_with_nod`, shared with
phone_demo). Everything is ended in `__aexit__` (processes by pid), whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from glassbridge_rig.camera import DEFAULT_IMAGES, RigCamera, SceneImages, scenes_from
from glassbridge_rig.person import confirm_on_phone

if TYPE_CHECKING:
    from glassbridge.mcu.client import Mcu
    from glassbridge.phone import Bond, BondStore, Phone
    from glassbridge_rig.ble_rig import BleRig
    from glassbridge_rig.runner import FirmwareRunner

__all__ = ["Pairing", "SimGlasses", "SimGlassesError", "pair_with_nod", "until"]

log = logging.getLogger(__name__)

#: The rig's radio comes back at once: long waits between reconnection attempts would only cost demo time.
FAST_RECONNECT = {"first_delay": 0.1, "max_delay": 0.5, "scan_timeout": 5.0, "connect_timeout": 10.0}


class SimGlassesError(RuntimeError):
    """The simulated glasses could not do what was asked; the message says what was waited for."""


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str, *, poll: float = 0.02) -> None:
    """Polls `check` until it is true; SimGlassesError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SimGlassesError(f"gave up waiting for {what} after {timeout:g} s")
        await asyncio.sleep(poll)


@dataclass(frozen=True)
class Pairing:
    """How the pairing went: the digits the glasses showed, the ones the phone compared, the resulting bond."""

    code: int
    phone_code: int
    bond: Bond


async def pair_with_nod(rig: BleRig, fw: FirmwareRunner, mcu: Mcu, store: BondStore, *,
                        on_code: Callable[[int], Awaitable[None]] | None = None, timeout: float = 30.0) -> Pairing:
    """Pairs the glasses with the rig's companion as a wearer does: numeric comparison with the six digits on the
    glasses' display (McuPairingUI through the real firmware), compared with the phone's (sim.person: the digits
    typed into the companion's prompt) and confirmed by a nod injected on the firmware's control socket. `on_code(code)` runs while the code is shown, before the nod (a display snapshot, a log line).

    Returns the digits on both sides (the phone's from its ctl status: they must be equal) and the bond, which
    `store` now holds. SimGlassesError when the code never shows; the pairing's own error when it fails.
    """
    from glassbridge.app import McuPairingUI
    from glassbridge.phone import pair_phone

    ui = McuPairingUI(mcu, timeout=timeout)
    pairing = asyncio.create_task(pair_phone(store, ui, name=rig.companion_name, scan_timeout=10.0))
    try:
        async def shown() -> bool:
            if pairing.done():
                pairing.result()  # raises what went wrong (refused, not found)
            return bool(ui.shown)

        await until(shown, timeout, "the pairing code on the glasses' display")
        if on_code is not None:
            await on_code(ui.shown[0])
        # The person compares: the digits on the glasses' display go into the phone's prompt (the companion takes
        # only its own), and only then does the wearer nod.
        await confirm_on_phone(rig.companion_ctl, ui.shown[0], timeout=timeout)
        await fw.control("gesture nod")
        bond = await asyncio.wait_for(pairing, timeout)
    finally:
        if not pairing.done():
            pairing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pairing
    status = await asyncio.to_thread(rig.companion_ctl, {"cmd": "status"})
    phone_code = int(status["pairings"][-1]["number"]) if status.get("pairings") else -1
    return Pairing(ui.shown[0], phone_code, bond)


class SimGlasses:
    """The simulated glasses with their phone (see the module docstring). An async context manager.

    workdir: logs, bond, rig state, snapshots (a temporary folder, removed afterwards, when None).
    settings: the Assistant's glassbridge.assistant.config.Settings (defaults when None).
    images / scene: the camera's scenes (see sim.camera.scenes_from; default DEFAULT_IMAGES, the manifest's test
      images by id, found from any working directory) and the one in view; both checked here, before anything
      starts (ModelError or CameraError names a missing image and how to get it).
    baud / interval_ms: the MCU link's line rate and the BLE connection interval.
    companion_args: extra `glassbridge companion` arguments (e.g. ["--brain", "openai", ...]).
    assistant: start the Assistant (False: only the rig, the clients and the camera, for tests of the parts).
    sensor_fps: the camera's frame rate (RigCamera). on_pairing_code(code, glasses): runs while the pairing code
      is on the display, before the nod (the demo's snapshot).
    """

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, settings: Any = None,
                 images: SceneImages = DEFAULT_IMAGES, scene: str | None = "astronaut", baud: int = 921600,
                 interval_ms: float = 15.0, companion_args: Sequence[str] = (), assistant: bool = True,
                 sensor_fps: float | None = 30.0, start_timeout: float = 60.0,
                 on_pairing_code: Callable[[int, SimGlasses], Awaitable[None]] | None = None) -> None:
        # The scenes are looked up now, before anything starts or any folder is made: the default ones through the
        # registry from any working directory; a missing image is named with `glassbridge models fetch`.
        self.images = scenes_from(images)
        if scene is not None and scene not in self.images:
            raise ValueError(f"scene {scene!r} is not among the camera's scenes ({', '.join(self.images)})")
        self._own_workdir = workdir is None
        if workdir is None:
            from glassbridge.lifetime import run_dir

            # Marked with our pid: if this process is killed before __aexit__, the next SimGlasses reclaims it.
            workdir = run_dir("gb-glasses-")
        self.workdir = Path(workdir)
        self.settings = settings
        self.initial_scene = scene
        self.baud = baud
        self.interval_ms = interval_ms
        self.companion_args = list(companion_args)
        self.want_assistant = assistant
        self.sensor_fps = sensor_fps
        self.start_timeout = start_timeout
        self.on_pairing_code = on_pairing_code
        self.rig: BleRig | None = None
        self.fw: FirmwareRunner | None = None
        self.mcu: Mcu | None = None
        self.phone: Phone | None = None
        self.camera: RigCamera | None = None
        self.pairing: Pairing | None = None
        self.assistant: Any = None
        self.timeline: Any = None
        self._assistant_task: asyncio.Task[None] | None = None
        self._stack = contextlib.AsyncExitStack()
        self.started_at = 0.0
        self.startup_seconds = 0.0
        self._phase = "not started"  # what _start is doing, for the error when it takes too long

    # ---- life cycle -----------------------------------------------------------------------------------------

    async def __aenter__(self) -> SimGlasses:
        from glassbridge_rig.runner import board, build_firmware, prebuilt_image

        if prebuilt_image(board("host")) is None:
            # Before the start's clock: a first build takes a few seconds here and minutes on a slow board (the
            # demo under qemu-user: 60 s and more); later calls find it up to date in a fraction of a second.
            await asyncio.to_thread(build_firmware, board("host"))
        try:
            await asyncio.wait_for(self._start(), self.start_timeout)
        except TimeoutError:
            await self._stop()
            raise SimGlassesError(f"the simulated glasses did not start: timed out {self._phase}, "
                                  f"{time.monotonic() - self.started_at:.1f} s into the start (which may take "
                                  f"{self.start_timeout:g} s)") from None
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()

    async def _start(self) -> None:
        from glassbridge.mcu.client import Mcu
        from glassbridge.phone import BondStore, Phone, ReconnectPolicy
        from glassbridge_rig.ble_airtime import BleTiming
        from glassbridge_rig.ble_rig import BleRig
        from glassbridge_rig.runner import FirmwareRunner

        self.started_at = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._phase = "starting the BLE rig (D-Bus, the BlueZ facade, the phone companion)"
        self.rig = BleRig(self.workdir / "rig", timing=BleTiming(connection_interval_ms=self.interval_ms),
                          companion_args=self.companion_args)
        await asyncio.to_thread(self.rig.start)
        self._stack.callback(self._stop_rig)
        # bleak finds "BlueZ" on the system bus: point it at the rig's (put back when the stack unwinds).
        self._stack.enter_context(self.rig.system_bus())

        self._phase = "starting the MCU firmware (host port) and its link"
        self.fw = await self._stack.enter_async_context(FirmwareRunner("host", baud=self.baud))
        self.mcu = await self._stack.enter_async_context(await Mcu.connect(self.fw.port, baudrate=self.baud,
                                                                            timeout=10))
        store = BondStore(self.workdir / "bond.json")
        hook = self.on_pairing_code

        async def shown(code: int) -> None:
            if hook is not None:
                await hook(code, self)

        self._phase = "pairing the phone (the code on the display, a nod)"
        self.pairing = await pair_with_nod(self.rig, self.fw, self.mcu, store, on_code=shown)
        self.phone = await self._stack.enter_async_context(
            await Phone.open(bonds=store, policy=ReconnectPolicy(**FAST_RECONNECT)))
        self._phase = "connecting to the bonded phone"
        await self.phone.wait_until_up(30)
        self.camera = RigCamera(self.images, self.fw, fps=self.sensor_fps)
        if self.initial_scene is not None:
            self.camera.set_scene(self.initial_scene)
        if self.want_assistant:
            self._phase = "starting the assistant (models, voice, wake word)"
            await self._start_assistant()
        self._phase = "up"
        self.startup_seconds = time.monotonic() - self.started_at
        log.info("simulated glasses up in %.1f s", self.startup_seconds)

    async def _start_assistant(self) -> None:
        """The Assistant on the rig's parts: real perception, espeak-ng's voice, the wake word when the settings
        ask for it. Its timeline starts now (t = 0 when the glasses are up)."""
        from glassbridge.app import build_assistant
        from glassbridge.assistant.config import Settings
        from glassbridge.assistant.timeline import Timeline

        settings = self.settings if self.settings is not None else Settings()
        self.settings = settings
        assert self.mcu is not None and self.phone is not None and self.camera is not None
        self.timeline = Timeline()
        self.assistant = build_assistant(settings, self.mcu, self.phone, self.camera, timeline=self.timeline)
        self._assistant_task = asyncio.create_task(self.assistant.run(), name="assistant")

    def _stop_rig(self) -> None:
        if self.rig is not None:
            self.rig.stop()

    async def _stop(self) -> None:
        errors: list[BaseException] = []
        if self._assistant_task is not None:
            with contextlib.suppress(Exception):
                self.assistant.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._assistant_task), 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._assistant_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._assistant_task
            except Exception as exc:  # noqa: BLE001 - the assistant's failure is reported after the cleanup
                errors.append(exc)
            self._assistant_task = None
        try:
            await self._stack.aclose()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise SimGlassesError(f"stopping the simulated glasses: {errors[0]!r}") from errors[0]

    # ---- the wearer -------------------------------------------------------------------------------------------

    def _need_fw(self) -> FirmwareRunner:
        if self.fw is None:
            raise SimGlassesError("the simulated glasses are not started (use `async with SimGlasses(...)`)")
        task = self._assistant_task
        if task is not None and task.done():  # a wearer's action would go unanswered: say why now
            error = None if task.cancelled() else task.exception()
            raise SimGlassesError(f"the assistant loop has ended ({error!r}); see the log") from error
        return self.fw

    async def tap(self, button: str = "main", action: str = "tap") -> None:
        """A press on a button (main or capture): tap, double or long, fed to the firmware's real detector."""
        await self._need_fw().control(f"button {button} {action}")

    async def nod(self) -> None:
        await self._need_fw().control("gesture nod")

    async def shake(self) -> None:
        await self._need_fw().control("gesture shake")

    async def battery(self, percent: int) -> None:
        await self._need_fw().control(f"battery {percent}")

    async def say(self, wav: str | os.PathLike[str], *, wait: bool = True, timeout: float = 30.0) -> int:
        """Plays a PCM16 mono 16 kHz WAV into the glasses' microphone once (then silence). The firmware plays
        it only as the SoC reads the microphone, so with `wait` this returns when the last sample has been read
        (SimGlassesError if nothing reads the microphone: wake word off and no captions?). Returns its samples."""
        fw = self._need_fw()
        answer = await fw.control(f"mic play {Path(wav).resolve()}")
        samples = int(answer.rsplit("samples=", 1)[1])
        if wait:
            await self.wait_played(timeout, what=Path(wav).name)
        return samples

    async def wait_played(self, timeout: float = 30.0, *, what: str = "the WAV") -> None:
        """Waits until the microphone has played the WAV of the last `say` to its end."""
        fw = self._need_fw()

        async def played() -> bool:
            s = json.loads(await fw.control("status"))
            return s["mic_source"] != "play" or bool(s["mic_position"] >= s["mic_wav_samples"])

        await until(played, timeout, f"the microphone to play {what} (is anything reading the microphone: wake "
                                     "word or captions on?)", poll=0.05)

    # ---- the phone --------------------------------------------------------------------------------------------

    def _need_phone(self) -> tuple[BleRig, Phone]:
        if self.rig is None or self.phone is None:
            raise SimGlassesError("the simulated glasses are not started (use `async with SimGlasses(...)`)")
        return self.rig, self.phone

    async def drop_phone(self, *, timeout: float = 15.0) -> None:
        """The phone goes away (its companion process ends: its Bluetooth is off); returns once the glasses have
        seen the link go down."""
        rig, phone = self._need_phone()
        process = rig.companion_process
        if process is None:
            raise SimGlassesError("the phone is already away (drop_phone twice without restore_phone?)")
        await asyncio.to_thread(process.stop)
        rig.companion_process = None

        async def down() -> bool:
            return not phone.up

        await until(down, timeout, "the glasses to notice that the phone went away")

    async def restore_phone(self, *, timeout: float = 30.0) -> None:
        """The phone is back (its companion restarted with its state: identity and bond); returns once the
        glasses' link to it is up again."""
        rig, phone = self._need_phone()
        if rig.companion_process is None:
            await asyncio.to_thread(rig.restart_companion)
        await phone.wait_until_up(timeout)

    async def companion(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request to the companion's ctl socket (default: status)."""
        rig, _ = self._need_phone()
        return await asyncio.to_thread(rig.companion_ctl, request or {"cmd": "status"})

    # ---- what the wearer sees ---------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """The firmware's own view of itself (control socket `status`)."""
        parsed: dict[str, Any] = json.loads(await self._need_fw().control("status"))
        return parsed

    async def card_id(self) -> int:
        """The id of the card on the display now (0: none yet)."""
        return int((await self.status())["card_id"])

    async def wait_card(self, after: int, timeout: float = 10.0, *, poll: float = 0.005) -> int:
        """Waits until the display shows a card newer than `after`; returns its id."""
        seen = after

        async def newer() -> bool:
            nonlocal seen
            seen = await self.card_id()
            return seen != after

        await until(newer, timeout, f"a new card on the glasses' display (still card {after})", poll=poll)
        return seen

    async def snapshot(self, name: str, folder: str | os.PathLike[str] | None = None, *, scale: int = 2) -> Path:
        """The MCU's display as `<folder>/<name>.png` (the host port dumps a PGM; scaled `scale` times with
        nearest neighbour so the 256x128 pixels stay sharp). Default folder: <workdir>/snapshots."""
        from PIL import Image

        out = Path(folder) if folder is not None else self.workdir / "snapshots"
        out.mkdir(parents=True, exist_ok=True)
        pgm = out / f"{name}.pgm"
        await self._need_fw().control(f"display dump {pgm.resolve()}")
        png = out / f"{name}.png"
        with Image.open(pgm) as img:
            img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST).save(png)
        pgm.unlink()
        return png

    async def dump_display(self, path: str | os.PathLike[str]) -> int:
        """The raw framebuffer as PGM (for pixel checks against tests/firmware/card_reference.py); the card id."""
        answer = await self._need_fw().control(f"display dump {Path(path).resolve()}")
        return int(answer.rsplit("card_id=", 1)[1])
