"""The photo sent to the phone: the camera frame scaled to fit the configured size, as JPEG.

    jpeg, (w, h) = photo_for_phone(frame, max_width=480, max_height=360, quality=75)

Perception on the glasses reads the full frame; the phone's brain gets a smaller picture because every byte
crosses BLE (~120 KB/s of goodput at a 15 ms connection interval on the rig, `glassbridge bench ble`): the
astronaut (512x512) at 360x360 and quality 75 is 28 KB, ~0.23 s on air, against 48 KB at 480x480 and quality 80.
On low battery the loop asks for a smaller size still (settings [camera] low_battery_*).

Scaling and colour conversion happen in one pass of the native preprocessing kernel (bilinear, BT.601, reading
the camera's NV12/YUYV directly: glassbridge.vision.preprocess); libjpeg-turbo (simplejpeg) encodes. A frame
already small enough is never enlarged.
"""

from __future__ import annotations

import numpy as np

from glassbridge.camera.frame import Frame

__all__ = ["fit_size", "photo_for_phone"]


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest (w, h) with the frame's aspect that fits max_width x max_height, never larger than the frame."""
    if width <= 0 or height <= 0 or max_width <= 0 or max_height <= 0:
        raise ValueError(f"sizes must be positive: frame {width}x{height}, limit {max_width}x{max_height}")
    scale = min(1.0, max_width / width, max_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def photo_for_phone(frame: Frame, *, max_width: int, max_height: int, quality: int) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes of `frame` scaled to fit max_width x max_height, and the size it was encoded at."""
    from glassbridge.camera.jpeg import encode_jpeg
    from glassbridge.vision.preprocess import Normalization, preprocess

    w, h = fit_size(frame.width, frame.height, max_width, max_height)
    rgb = np.empty((h, w, 3), dtype=np.uint8)
    preprocess(frame, rgb, channels="rgb", norm=Normalization.identity())
    return encode_jpeg(rgb, quality=quality), (w, h)
