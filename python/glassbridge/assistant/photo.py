"""The photo sent to the phone: the camera frame scaled to fit the configured size, faces pixelated, as JPEG.

    photo = make_photo(frame, [f.box for f in local.faces], max_width=480, max_height=360, quality=75)
    photo.jpeg, photo.size, photo.faces_blurred                   # exactly what goes to the phone
    jpeg, (w, h) = photo_for_phone(frame, faces=..., max_width=480, max_height=360, quality=75)  # the same bytes

Perception on the glasses reads the full frame; the phone's brain gets a smaller picture because every byte
crosses BLE (~120 KB/s of goodput at a 15 ms connection interval on the rig, `glassbridge bench ble`): the
astronaut (512x512) at 360x360 and quality 75 is 28 KB, ~0.23 s on air, against 48 KB at 480x480 and quality 80.
On low battery the loop asks for a smaller size still (settings [camera] low_battery_*).

Scaling and colour conversion happen in one pass of the native preprocessing kernel (area averaging, as OpenCV's
INTER_AREA, BT.601, reading the camera's NV12/YUYV directly: glassbridge.vision.preprocess); libjpeg-turbo
(simplejpeg) encodes. A frame already small enough is never enlarged. Area, not the kernel's bilinear taps: a
1280x720 frame shrinks 2.7x to 480x270 (1080p 4x), where 2x2 taps skip most pixels and alias fine detail such as
small print (the whole-frame photo's character error rate on 16-20 px signs fell from 21-53 % to 15 % in English,
tests/integration/test_text_mode.py); it costs ~0.1-0.3 ms more per photo, against ~2 ms of JPEG encoding.

Bystanders ([privacy] blur_faces, on by default): every face the glasses' perception found in the frame is
pixelated in the upload image after scaling and before encoding (glassbridge.vision.redact: the box grown over
hair and ears, blocks of its mean colour, in one native call whose cost is the faces' area). The faces come from
the perception that already ran on the full frame: no second detection, and the wearer's own perception (and
expressions, when opted in) keeps reading the unblurred frame. A face the detector missed is not blurred. One
function, make_photo, makes the bytes for the assistant and for `glassbridge photo`, so what that command writes
is what the glasses send.

Text mode ([camera] text_mode = "crop", for "what does this sign say?"): make_text_photo sends the centre of the
frame instead of the whole frame shrunk. Glasses have no eye tracking; the camera points where the head points, so
what the wearer reads is near the centre. The centred region TEXT_CROP of the frame's width and height (half: a
quarter of its area) is scaled to fit the same [camera] size, so text is up to 1/TEXT_CROP times larger in pixels,
within the same byte budget: the whole-frame photo is made first (as make_photo makes it) and its JPEG's length is
the budget. The crop is encoded at the configured quality; over budget, at TEXT_MIN_QUALITY, and when that fits the
largest quality between the two that fits is found in TEXT_BISECT halving steps; when not even that fits, a smaller
size is tried, guessed from bytes growing with pixels (a scene of flat wall costs bytes per 8x8 block whatever the
quality, so the size is what brings it down), at most TEXT_SIZES sizes and 1 + 2 * TEXT_SIZES + TEXT_BISECT encodes
in all (4 to 8 on the test signs: 4.6 ms against make_photo's 0.7 ms for 8 on the development machine). If none
fits, the whole-frame photo is sent: never more bytes than it. Faces are pixelated in the crop exactly as in the
whole photo: every face box, grown, mapped into the crop (a face partly inside is pixelated where it shows). Why
half, and why crop is the default: tests/integration/test_text_mode.py measures the character error rate of both at
equal bytes (docs/benchmarks.md, "Text mode").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glassbridge.camera.frame import Frame

__all__ = ["Photo", "TEXT_BISECT", "TEXT_CROP", "TEXT_MIN_QUALITY", "TEXT_SIZES", "fit_size",
           "make_photo", "make_text_photo", "photo_for_phone", "text_crop_rect"]

FaceBox = tuple[float, float, float, float]
Rect = tuple[int, int, int, int]

#: Text mode: the centred part of the frame sent, as a fraction of its width and height (measured: module doc).
TEXT_CROP = 0.5
#: Text mode's bounded search for a JPEG within the budget (module doc): at each of at most TEXT_SIZES sizes,
#: the configured quality, else TEXT_MIN_QUALITY and then TEXT_BISECT halving steps between the two; at most
#: 1 + 2 * TEXT_SIZES + TEXT_BISECT JPEG encodes in all (the whole-frame photo's included).
TEXT_MIN_QUALITY = 40
TEXT_SIZES = 4
TEXT_BISECT = 3


@dataclass(frozen=True)
class Photo:
    """The JPEG for the phone and how it was made. faces_blurred: boxes pixelated (0 when blur_faces is off);
    blur_s: what pixelating cost (0.0 when nothing was). Text mode (make_text_photo) also says: crop, the part of
    the frame sent (x, y, w, h in frame pixels; None: the whole frame), budget, the whole-frame photo's bytes it had
    to fit, and encodes, how many JPEGs were made to find it (the whole-frame one included)."""

    jpeg: bytes
    size: tuple[int, int]
    quality: int
    faces_found: int
    faces_blurred: int
    blur_s: float
    crop: Rect | None = None
    budget: int | None = None
    encodes: int = 1


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
    preprocess(frame, rgb, channels="rgb", norm=Normalization.identity(), interpolation="area")
    blurred, blur_s = 0, 0.0
    if blur_faces and faces:
        started = time.perf_counter()
        blurred = pixelate(rgb, face_boxes_in(faces, frame_size=(frame.width, frame.height), image_size=(w, h)))
        blur_s = time.perf_counter() - started
    return Photo(encode_jpeg(rgb, quality=quality), (w, h), quality, len(faces), blurred, blur_s)


def text_crop_rect(width: int, height: int, fraction: float = TEXT_CROP) -> Rect:
    """The centred region (x, y, w, h) of a width x height frame, `fraction` of its width and height, on even
    pixels (NV12 and YUYV frames carry chroma per 2 pixels)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if not 0 < fraction <= 1:
        raise ValueError(f"the crop is a fraction of the frame in (0, 1], got {fraction}")
    w = min(width, max(2, 2 * round(width * fraction / 2)))
    h = min(height, max(2, 2 * round(height * fraction / 2)))
    x = (width - w) // 2 // 2 * 2
    y = (height - h) // 2 // 2 * 2
    return x, y, w, h


def make_text_photo(frame: Frame, faces: Sequence[FaceBox], *, max_width: int, max_height: int, quality: int,
                    blur_faces: bool = True, fraction: float = TEXT_CROP) -> Photo:
    """Text mode's photo: the centred `fraction` of the frame scaled to fit max_width x max_height (never
    enlarged), faces pixelated as make_photo does, in no more bytes than make_photo's whole-frame JPEG at the same
    settings (the module doc says how the size and quality are found). The whole-frame photo itself when no
    attempt fits."""
    from glassbridge.camera.jpeg import encode_jpeg
    from glassbridge.vision.preprocess import Normalization, preprocess
    from glassbridge.vision.redact import face_boxes_in, pixelate

    whole = make_photo(frame, faces, max_width=max_width, max_height=max_height, quality=quality,
                       blur_faces=blur_faces)
    budget = len(whole.jpeg)
    crop = text_crop_rect(frame.width, frame.height, fraction)
    cx, cy, cw, ch = crop
    # The faces in crop coordinates: face_boxes_in grows and maps them, and clamps what lies outside the crop.
    shifted = [(x0 - cx, y0 - cy, x1 - cx, y1 - cy) for x0, y0, x1, y1 in faces]
    blur_s = whole.blur_s
    encodes = 1
    floor = min(quality, TEXT_MIN_QUALITY)
    scale = 1.0
    for _ in range(TEXT_SIZES):
        w, h = fit_size(cw, ch, max(16, round(max_width * scale)), max(16, round(max_height * scale)))
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        preprocess(frame, rgb, crop=crop, channels="rgb", norm=Normalization.identity(), interpolation="area")
        blurred = 0
        if blur_faces and faces:
            started = time.perf_counter()
            blurred = pixelate(rgb, face_boxes_in(shifted, frame_size=(cw, ch), image_size=(w, h)))
            blur_s += time.perf_counter() - started
        jpeg = encode_jpeg(rgb, quality=quality)
        encodes += 1
        if len(jpeg) <= budget:
            return Photo(jpeg, (w, h), quality, len(faces), blurred, blur_s, crop, budget, encodes)
        at_quality = len(jpeg)
        if floor < quality:
            jpeg = encode_jpeg(rgb, quality=floor)
            encodes += 1
            if len(jpeg) <= budget:  # the largest quality that fits, by halving [floor, quality)
                best, low, high = (jpeg, floor), floor, quality
                for _ in range(TEXT_BISECT):
                    if high - low <= 1:
                        break
                    mid = (low + high) // 2
                    jpeg = encode_jpeg(rgb, quality=mid)
                    encodes += 1
                    if len(jpeg) <= budget:
                        best, low = (jpeg, mid), mid
                    else:
                        high = mid
                return Photo(best[0], (w, h), best[1], len(faces), blurred, blur_s, crop, budget, encodes)
        # Not even the floor fits: a smaller size, guessed from bytes ~ pixels (5 % under), at least 5 % smaller.
        scale *= min(0.95, math.sqrt(budget / at_quality * 0.95))
    return dataclasses.replace(whole, blur_s=blur_s, budget=budget, encodes=encodes)


def photo_for_phone(frame: Frame, *, faces: Sequence[FaceBox], max_width: int, max_height: int, quality: int,
                    blur_faces: bool = True) -> tuple[bytes, tuple[int, int]]:
    """make_photo's JPEG bytes and the size it was encoded at (`faces` is required: a caller cannot forget it)."""
    photo = make_photo(frame, faces, max_width=max_width, max_height=max_height, quality=quality,
                       blur_faces=blur_faces)
    return photo.jpeg, photo.size
