"""Bystanders' faces blurred in the photo that leaves the glasses, checked with the real detector.

For every test image with a face (astronaut, camera): the glasses' detector finds the face in the frame (RGB and
NV12, as the sensor sends it), and finds no face in the JPEG that make_photo produces, at the assistant's sizes
and qualities; with blur_faces off it finds the face again in the same JPEG path (so the check can fail). The
`glassbridge photo` command writes the very bytes make_photo gives for the same frame and settings.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glassbridge.assistant.config import Settings, settings_from_dict
from glassbridge.assistant.photo import make_photo
from glassbridge.camera.files import read_image
from glassbridge.camera.frame import Frame, PixelFormat
from tests.unit.assistant_fakes import perceiver  # noqa: F401  the real FacePerceiver, a fixture

FACES = ("astronaut", "camera")  # the test images with a person in them (chelsea is a cat, coffee a cup)
#: (max width, max height, quality): the product's default, its low-battery setting, and two more.
SIZES = ((480, 360, 75), (320, 240, 65), (640, 480, 90), (240, 180, 60))


def image_path(name: str) -> Path:
    from glassbridge.models.registry import test_image_path

    return test_image_path(name)


def decoded(jpeg: bytes) -> Frame:
    """The JPEG as the phone (or `glassbridge see`) would read it: Pillow, RGB."""
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    h, w = rgb.shape[:2]
    return Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))


@pytest.mark.parametrize("fmt", [PixelFormat.RGB888, PixelFormat.NV12])
@pytest.mark.parametrize("name", FACES)
def test_no_face_left_in_the_uploaded_photo(perceiver: object, name: str, fmt: PixelFormat) -> None:
    frame = read_image(image_path(name), format=fmt)
    local = perceiver.perceive(frame, emotions=False)  # type: ignore[attr-defined]
    assert len(local.faces) == 1, f"{name}: the detector should find the face in the frame"
    boxes = [f.box for f in local.faces]
    for w, h, q in SIZES:
        photo = make_photo(frame, boxes, max_width=w, max_height=h, quality=q)
        assert photo.faces_found == photo.faces_blurred == 1
        assert photo.blur_s > 0
        seen = perceiver.perceive(decoded(photo.jpeg), emotions=False)  # type: ignore[attr-defined]
        assert not seen.faces, f"{name} at {photo.size} q{q}: a face is still found: {seen.faces}"
        # the same path without blurring: the detector does find the face (the check above can fail)
        plain = make_photo(frame, boxes, max_width=w, max_height=h, quality=q, blur_faces=False)
        assert plain.faces_blurred == 0 and plain.blur_s == 0.0
        assert len(perceiver.perceive(decoded(plain.jpeg), emotions=False).faces) == 1  # type: ignore[attr-defined]


def test_blur_changes_only_around_the_face(perceiver: object) -> None:
    frame = read_image(image_path("astronaut"))
    local = perceiver.perceive(frame, emotions=False)  # type: ignore[attr-defined]
    blurred = np.asarray(Image.open(io.BytesIO(make_photo(frame, [f.box for f in local.faces], max_width=480,
                                                          max_height=360, quality=95).jpeg)), dtype=np.int16)
    plain = np.asarray(Image.open(io.BytesIO(make_photo(frame, [], max_width=480, max_height=360,
                                                        quality=95).jpeg)), dtype=np.int16)
    x0, y0, x1, y1 = (v * 360 / 512 for v in local.faces[0].box)
    diff = np.abs(blurred - plain).max(axis=2)
    # far from the grown box (JPEG's 8x8 blocks blur the boundary by a block or two) nothing changed
    far = np.ones(diff.shape, dtype=bool)
    far[max(0, int(y0 - 0.6 * (y1 - y0)) - 16):int(y1 + 0.25 * (y1 - y0)) + 16,
        max(0, int(x0 - 0.25 * (x1 - x0)) - 16):int(x1 + 0.25 * (x1 - x0)) + 16] = False
    assert diff[far].max() <= 2
    # the inner face did change a lot
    assert diff[int(y0):int(y1), int(x0):int(x1)].mean() > 10


def test_photo_command_writes_the_assistants_bytes(perceiver: object, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.cli.main import main

    frame = read_image(image_path("camera"))
    faces = [f.box for f in perceiver.perceive(frame, emotions=False).faces]  # type: ignore[attr-defined]
    defaults = Settings()
    want = make_photo(frame, faces, max_width=defaults.camera.width, max_height=defaults.camera.height,
                      quality=defaults.camera.quality, blur_faces=defaults.privacy.blur_faces)
    config = tmp_path / "none.toml"
    config.write_text("", encoding="utf-8")
    out = tmp_path / "sent.jpg"
    assert main(["photo", str(image_path("camera")), "--out", str(out), "--config", str(config), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert out.read_bytes() == want.jpeg
    assert doc["bytes"] == len(want.jpeg) and [doc["width"], doc["height"]] == list(want.size)
    assert doc["faces_found"] == doc["faces_blurred"] == 1 and doc["blur_faces"] is True
    assert doc["quality"] == defaults.camera.quality and doc["low_battery"] is False

    # settings from the file: low battery, and blurring off (the bytes then show the face)
    config.write_text("[camera]\nlow_battery_width = 200\nlow_battery_height = 200\nlow_battery_quality = 50\n"
                      "[privacy]\nblur_faces = false\n", encoding="utf-8")
    settings = settings_from_dict({"camera": {"low_battery_width": 200, "low_battery_height": 200,
                                              "low_battery_quality": 50}, "privacy": {"blur_faces": False}})
    want = make_photo(frame, faces, max_width=200, max_height=200, quality=50, blur_faces=settings.privacy.blur_faces)
    assert main(["photo", str(image_path("camera")), "--out", str(out), "--config", str(config),
                 "--low-battery"]) == 0
    text = capsys.readouterr().out
    assert out.read_bytes() == want.jpeg
    assert "200x200" in text and "NOT blurred" in text
    assert len(perceiver.perceive(decoded(out.read_bytes()), emotions=False).faces) == 1  # type: ignore[attr-defined]


def test_photo_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.cli.main import main

    assert main(["photo", str(tmp_path / "missing.png"), "--out", str(tmp_path / "x.jpg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "glassbridge photo:" in err and "missing.png" in err
    assert not (tmp_path / "x.jpg").exists()
    assert main(["photo", str(tmp_path / "missing.png")]) == 2  # --out is required: a usage error
    assert "required: --out" in capsys.readouterr().err


def test_phone_ask_photo_leaves_with_its_faces_pixelated(perceiver: object, tmp_path: Path) -> None:
    """`glassbridge phone ask --photo FILE` is a photo leaving the glasses too: its faces are pixelated ([privacy]
    blur_faces, on by default) before the upload, at the image's own size; off, the file goes as it is."""
    from glassbridge.cli.phone import _photo

    for name in FACES:
        src = image_path(name)
        assert len(perceiver.perceive(read_image(src), emotions=False).faces) == 1  # type: ignore[attr-defined]
        sent = _photo(src)
        with Image.open(io.BytesIO(sent)) as img, Image.open(src) as orig:
            assert img.format == "JPEG" and img.size == orig.size
        assert not perceiver.perceive(decoded(sent), emotions=False).faces, name  # type: ignore[attr-defined]
        plain = _photo(src, blur_faces=False)
        assert len(perceiver.perceive(decoded(plain), emotions=False).faces) == 1, name  # type: ignore[attr-defined]
    # A JPEG without a face goes byte for byte as it is.
    cup = tmp_path / "coffee.jpg"
    Image.open(image_path("coffee")).convert("RGB").save(cup, "JPEG", quality=85)
    assert _photo(cup) == cup.read_bytes()
