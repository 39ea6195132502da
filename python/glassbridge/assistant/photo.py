"""The photo sent to the phone: the camera frame scaled to fit the configured size, faces pixelated, as JPEG.

    photo = make_photo(frame, [f.box for f in local.faces], max_width=480, max_height=360, quality=75)
    photo.jpeg, photo.size, photo.faces_blurred                   # exactly what goes to the phone
    jpeg, (w, h) = photo_for_phone(frame, faces=..., max_width=480, max_height=360, quality=75)  # the same bytes

Perception on the glasses reads the full frame; the phone's brain gets a smaller picture because every byte
crosses BLE (~120 KB/s of goodput at a 15 ms connection interval on the rig, `glassbridge bench ble`): the
astronaut (512x512) at 360x360 and quality 75 is 28 KB, ~0.23 s on air, against 48 KB at 480x480 and quality 80.
On low battery the loop asks for a smaller size still (settings [camera] low_battery_*).

Scaling and colour conversion happen in one pass of the native preprocessing kernel (bilinear, BT.601, reading
the camera's NV12/YUYV directly: glassbridge.vision.preprocess); libjpeg-turbo (simplejpeg) encodes. A frame
already small enough is never enlarged.

Bystanders ([privacy] blur_faces, on by default): every face the glasses' perception found in the frame is
pixelated in the upload image after scaling and before encoding (glassbridge.vision.redact: the box grown over
hair and ears, blocks of its mean colour, in one native call whose cost is the faces' area). The faces come from
the perception that already ran on the full frame: no second detection, and the wearer's own perception (and
expressions, when opted in) keeps reading the unblurred frame. A face the detector missed is not blurred. One
function, make_photo, makes the bytes for the assistant and for `glassbridge photo`, so what that command writes
is what the glasses send.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glassbridge.camera.frame import Frame

__all__ = ["Photo", "fit_size", "make_photo", "photo_for_phone"]

FaceBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Photo:
    """The JPEG for the phone and how it was made. faces_blurred: boxes pixelated (0 when blur_faces is off);
    blur_s: what pixelating cost (0.0 when nothing was)."""

    jpeg: bytes
    size: tuple[int, int]
    quality: int
    faces_found: int
    faces_blurred: int
    blur_s: float


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest (w, h) with the frame's aspect that fits max_width x max_height, never larger than the frame."""
    if width <= 0 or height <= 0 or max_width <= 0 or max_height <= 0:
        raise ValueError(f"sizes must be positive: frame {width}x{height}, limit {max_width}x{max_height}")
    scale = min(1.0, max_width / width, max_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_photo(frame: Frame, faces: Sequence[FaceBox], *, max_width: int, max_height: int, quality: int,
               blur_faces: bool = True) -> Photo:
    """The photo for the phone: `frame` scaled to fit max_width x max_height, every box of `faces` (frame pixels,
    (x0, y0, x1, y1), as LocalPerception.faces has them) pixelated when blur_faces, encoded at `quality`."""
    from glassbridge.camera.jpeg import encode_jpeg
    from glassbridge.vision.preprocess import Normalization, preprocess
    from glassbridge.vision.redact import face_boxes_in, pixelate

    w, h = fit_size(frame.width, frame.height, max_width, max_height)
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    preprocess(frame, rgb, channels="rgb", norm=Normalization.identity())
    blurred, blur_s = 0, 0.0
    if blur_faces and faces:
        started = time.perf_counter()
        blurred = pixelate(rgb, face_boxes_in(faces, frame_size=(frame.width, frame.height), image_size=(w, h)))
        blur_s = time.perf_counter() - started
    return Photo(encode_jpeg(rgb, quality=quality), (w, h), quality, len(faces), blurred, blur_s)


def photo_for_phone(frame: Frame, *, faces: Sequence[FaceBox], max_width: int, max_height: int, quality: int,
                    blur_faces: bool = True) -> tuple[bytes, tuple[int, int]]:
    """make_photo's JPEG bytes and the size it was encoded at (`faces` is required: a caller cannot forget it)."""
    photo = make_photo(frame, faces, max_width=max_width, max_height=max_height, quality=quality,
                       blur_faces=blur_faces)
    return photo.jpeg, photo.size
