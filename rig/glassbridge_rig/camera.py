"""The rig's camera: still images standing in for the glasses' sensor, behind the firmware's camera power.

    camera = RigCamera(DEFAULT_IMAGES, fw)  # the manifest's test images by id, found from any working directory
    camera.set_scene("astronaut")           # or RigCamera({"person": "me.png", "sign": "sign.jpg"}, fw)
    await mcu.set_camera_power(True)      # the MCU powers the rail and lights the capture LED
    frame = await camera.capture()        # NV12, limited range, as a sensor's ISP delivers it
    await mcu.set_camera_power(False)
    await camera.capture()                # CameraError: the camera is not powered

Privacy is enforced low (ARCHITECTURE.md decision 9): on the glasses the SoC cannot get a frame unless the MCU
has powered the camera, and the MCU never powers it without the capture LED. The rig keeps that rule: every
capture asks the firmware itself (its control socket's `status`, a side door the SoC does not have, so the SoC
cannot fake it) whether the camera rail and the LED are on, at the moment the frame is delivered.

A sensor streams at a fixed rate: with `fps` set (30 by default), a capture returns at the next frame boundary
of a free-running clock, so the latency a benchmark sees includes the wait for the sensor's next frame (half a
frame period on average), as on hardware. `fps=None` returns at once.

The default scenes (`DEFAULT_IMAGES`) are the test images of models/MANIFEST.toml, looked up the way models are
(glassbridge.models.registry.test_image_paths: $GLASSBRIDGE_MODEL_DIR, the checkout, the user data folder), never
relative to the working directory; a missing one is named with the command that fetches it, `glassbridge models
fetch`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final, Protocol, TypeAlias

import numpy as np

from glassbridge.camera import (
    CameraError,
    Frame,
    PixelFormat,
    YuvRange,
    copy_frame,
    frame_from_rgb,
    frame_to_rgb,
    read_image,
)

__all__ = ["DEFAULT_IMAGES", "FirmwareControl", "ManifestImages", "RigCamera", "SceneImages", "scenes_from"]


class ManifestImages:
    """The type of `DEFAULT_IMAGES`: "every test image of models/MANIFEST.toml", resolved when a camera is made
    (glassbridge.models.registry.test_image_paths), so the scenes are found from any working directory and a
    missing image is reported by the registry: ModelError naming the file, where it looked and `glassbridge models
    fetch`."""

    __test__ = False  # not a pytest test class when imported into a test module

    def resolve(self) -> dict[str, Path]:
        """Scene name (the image's id in the manifest, which is its file stem) -> verified file."""
        from glassbridge.models.registry import test_image_paths

        return dict(test_image_paths())

    def __repr__(self) -> str:
        return "DEFAULT_IMAGES"


#: The default scenes: the test images of models/MANIFEST.toml (scikit-image's public-domain samples: astronaut,
#: camera, chelsea, coffee, text), named by id, found like the models (see ManifestImages).
DEFAULT_IMAGES: Final = ManifestImages()

#: What a camera's scenes can be given as (see `scenes_from`).
SceneImages: TypeAlias = (Mapping[str, str | os.PathLike[str]] | Iterable[str | os.PathLike[str]] | str
                          | os.PathLike[str] | ManifestImages)


class FirmwareControl(Protocol):
    """What the camera needs of glassbridge_rig.runner.FirmwareRunner: its control socket."""

    async def control(self, command: str, *, timeout: float = 5.0) -> str: ...


def _fetch_advice(path: Path) -> str:
    """What to do about a scene image that is not there: the fetch command when it is one of the manifest's test
    images (by file name), else where a relative path was looked for."""
    from glassbridge.models.registry import ModelError, fetch_destination, load_manifest

    try:
        test_images = {image.file for image in load_manifest().images.values()}
        destination = fetch_destination("image")
    except ModelError:  # no manifest at hand: the generic advice below
        test_images, destination = set(), None
    if path.name in test_images:
        return (f"{path.name} is one of glassbridge's test images: fetch them with `glassbridge models fetch` "
                f"(it puts them in {destination}), and pass DEFAULT_IMAGES or "
                "glassbridge.models.registry.test_image_paths() to find them from any folder")
    where = f" (a relative path is read from the working directory, {Path.cwd()})" if not path.is_absolute() else ""
    return f"give an existing image file{where}"


def scenes_from(images: SceneImages) -> dict[str, Path]:
    """Scene name -> image path from DEFAULT_IMAGES (the manifest's test images, by id), a mapping, a list of
    files (named by stem) or a folder of images.

    DEFAULT_IMAGES: ModelError (a ValueError) naming each missing image and `glassbridge models fetch`. Otherwise
    CameraError naming the missing file or empty folder, with the same command when the file is one of the test
    images."""
    if isinstance(images, ManifestImages):
        return images.resolve()
    if isinstance(images, Mapping):
        scenes = {str(name): Path(path) for name, path in images.items()}
    else:
        items = [Path(images)] if isinstance(images, (str, os.PathLike)) else [Path(p) for p in images]
        if len(items) == 1 and items[0].is_dir():
            items = sorted(p for p in items[0].iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        scenes = {p.stem: p for p in items}
    if not scenes:
        raise CameraError(f"no scene images in {images!r}", advice="give image files or a folder of them, or "
                          "DEFAULT_IMAGES for glassbridge's test images (`glassbridge models fetch` gets them)")
    for name, path in scenes.items():
        if not path.is_file():
            shown = path if path.is_absolute() else f"{path} ({path.absolute()})"
            raise CameraError(f"scene {name!r}: no image at {shown}", advice=_fetch_advice(path))
    return scenes


class RigCamera:
    """A CameraPort (`async capture() -> Frame`) over still images, delivering only while the firmware has the
    camera powered with its LED lit.

    images: scene name -> image (see `scenes_from`; DEFAULT_IMAGES: the manifest's test images, found from any
      working directory); the first is the scene in view until `set_scene`.
    fw: the firmware runner (anything with `async control(command)`), asked at every capture.
    size: (width, height) of the sensor: each image is scaled to cover it and centre-cropped, as a fixed
      sensor sees any scene; None keeps each image's own size.
    fps: the sensor's frame rate (capture waits for the next frame boundary); None: no wait.
    """

    def __init__(self, images: SceneImages, fw: FirmwareControl, *, size: tuple[int, int] | None = None,
                 fps: float | None = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if size is not None and (size[0] < 2 or size[1] < 2):
            raise ValueError(f"sensor size {size[0]}x{size[1]}: need at least 2x2 pixels (NV12 subsamples by 2)")
        if fps is not None and not 0 < fps <= 1000:
            raise ValueError(f"fps={fps}: a sensor runs at more than 0 and at most 1000 frames per second")
        self.scenes = scenes_from(images)
        self.fw = fw
        self.size = size
        self.fps = fps
        self.clock = clock
        self._scene = next(iter(self.scenes))
        self._cache: dict[str, Frame] = {}
        self.captures = 0  # frames delivered
        self.refused = 0  # captures refused because the camera was not powered

    @property
    def scene(self) -> str:
        """The scene in view."""
        return self._scene

    def set_scene(self, name: str) -> None:
        """Points the glasses at another scene (the next capture shows it)."""
        if name not in self.scenes:
            raise ValueError(f"no scene {name!r}; the rig's camera has {', '.join(sorted(self.scenes))}")
        self._scene = name

    def image(self, name: str | None = None) -> Frame:
        """The scene's frame as the sensor delivers it (NV12, limited range), converted once and kept."""
        name = name or self._scene
        if name not in self._cache:
            rgb = frame_to_rgb(read_image(self.scenes[name]))
            if self.size is not None:
                rgb = _cover(rgb, *self.size)
            self._cache[name] = frame_from_rgb(rgb, PixelFormat.NV12, yuv_range=YuvRange.LIMITED)
        return self._cache[name]

    async def _powered(self) -> tuple[bool, bool]:
        status = json.loads(await self.fw.control("status"))
        return bool(status["camera_powered"]), bool(status["capture_led"])

    async def capture(self) -> Frame:
        """The next sensor frame of the scene in view. CameraError when the MCU has not powered the camera (the
        SoC must ask it first: Mcu.set_camera_power(True)), or powered it without the capture LED."""
        frame = await asyncio.to_thread(self.image)  # the first time per scene decodes a PNG: off the loop
        if self.fps is not None:
            period = 1.0 / self.fps
            now = self.clock()
            await asyncio.sleep((math.floor(now / period) + 1) * period - now)
        powered, led = await self._powered()
        if not powered:
            self.refused += 1
            raise CameraError("the camera is not powered: the MCU has not switched its rail on",
                              advice="ask the MCU first (Mcu.set_camera_power(True)), which also lights the "
                                     "capture LED")
        if not led:
            self.refused += 1
            raise CameraError("the camera is powered but the capture LED is off: refusing the frame (privacy, "
                              "ARCHITECTURE.md decision 9)", advice="this is a firmware bug; report it")
        self.captures += 1
        # A buffer of its own per frame, as a sensor's DMA gives: a consumer may keep or modify it freely.
        return replace(copy_frame(frame), timestamp_ns=time.monotonic_ns(), sequence=self.captures)


def _cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """`rgb` scaled (Pillow, bicubic) so it covers width x height, then centre-cropped to exactly that."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, round(w * scale)), max(height, round(h * scale))
    img = Image.fromarray(rgb).resize((sw, sh), Image.Resampling.BICUBIC)
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.asarray(img.crop((x0, y0, x0 + width, y0 + height)))
