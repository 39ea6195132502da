"""JPEG in and out with libjpeg-turbo (through simplejpeg), decoding at reduced size when that is all a caller needs.

A JPEG stores 8x8 blocks of DCT coefficients. libjpeg-turbo can run a smaller inverse DCT per block and produce
the image at 1/2, 1/4 or 1/8 of its size directly, several times faster than decoding everything and resizing
afterwards (a 1280x720 photo: ~4.4 ms full size here, far less at 1/4). The face detector looks at 192x192, so
`decode_jpeg(data, min_width=..., min_height=...)` picks the smallest of those scales that still gives the caller
at least the size it asked for.

Decoded frames are RGB888 (JPEG's YCbCr is full-range BT.601; libjpeg-turbo converts it).
"""

from __future__ import annotations

import numpy as np
import simplejpeg

from glassbridge.camera.frame import Frame, PixelFormat

__all__ = ["decode_jpeg", "encode_jpeg", "jpeg_size", "reduced_scale"]

# libjpeg-turbo's power-of-two DCT scalings (it offers other M/8 ratios, but these are the fast ones).
_DCT_DIVISORS = (8, 4, 2, 1)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"JPEG data must be bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("not a JPEG: the data is empty")
    return data


def jpeg_size(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(width, height) of a JPEG from its header, without decoding it. ValueError if it is not a JPEG."""
    data = _as_bytes(data)
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise ValueError(f"not a readable JPEG ({len(data)} bytes): {exc}") from exc
    return int(width), int(height)


def reduced_scale(width: int, height: int, min_width: int | None, min_height: int | None) -> int:
    """The largest divisor of 8, 4, 2, 1 whose decoded size stays >= (min_width, min_height).

    libjpeg-turbo rounds scaled sizes up: a 1/d decode of a w-wide image is ceil(w / d) wide.
    """
    for d in _DCT_DIVISORS:
        w, h = -(-width // d), -(-height // d)
        if (min_width is None or w >= min_width) and (min_height is None or h >= min_height):
            return d
    return 1


def decode_jpeg(
    data: bytes | bytearray | memoryview,
    *,
    min_width: int | None = None,
    min_height: int | None = None,
) -> Frame:
    """Decode a JPEG into an RGB888 Frame, at 1/2, 1/4 or 1/8 scale when the caller's minimum size allows.

    min_width, min_height: the smallest size the caller can use (None: no constraint on that side). Without
    either, the image is decoded at full size. Boxes found in a reduced frame are in its pixels: multiply by
    `jpeg_size(data)[0] / frame.width` to get back to the original.
    Corrupt or truncated data raises ValueError with libjpeg-turbo's reason.
    """
    for name, v in (("min_width", min_width), ("min_height", min_height)):
        if v is not None and v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")
    data = _as_bytes(data)
    width, height = jpeg_size(data)
    divisor = 1 if min_width is None and min_height is None else reduced_scale(width, height, min_width, min_height)
    want_w, want_h = -(-width // divisor), -(-height // divisor)
    try:
        # Asking for exactly the 1/divisor size makes libjpeg-turbo choose that DCT scaling (the smallest scaling
        # whose output is at least this large); strict=True turns "premature end of data" warnings into errors.
        rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=want_w, min_height=want_h, strict=True)
    except ValueError as exc:
        raise ValueError(f"corrupt or truncated JPEG ({len(data)} bytes, {width}x{height}): {exc}") from exc
    h, w = rgb.shape[:2]
    return Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))


def encode_jpeg(image: Frame | np.ndarray, quality: int = 85) -> bytes:
    """Encode a Frame (any pixel format) or an (H, W, 3) RGB / (H, W) gray uint8 array as JPEG bytes.

    quality: 1..100 (libjpeg's scale; 85 is a good default for previews and for sending a frame to a phone).
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if isinstance(image, Frame):
        if image.format is PixelFormat.GRAY8:
            array = image.planes[0][: image.height, : image.width]
        else:
            from glassbridge.camera.convert import frame_to_rgb  # numpy BT.601: only for previews, not the hot path

            array = frame_to_rgb(image)
    else:
        array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"encode_jpeg needs uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        gray = np.ascontiguousarray(array)[..., None]
        return bytes(simplejpeg.encode_jpeg(gray, quality=int(quality), colorspace="GRAY", colorsubsampling="Gray"))
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"encode_jpeg needs an (H, W, 3) RGB or (H, W) gray array, got shape {array.shape}")
    return bytes(simplejpeg.encode_jpeg(np.ascontiguousarray(array), quality=int(quality), colorspace="RGB"))
