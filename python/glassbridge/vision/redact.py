"""Redaction: bystanders' faces pixelated in an image before it leaves the glasses.

    boxes = face_boxes_in(faces, frame_size=(1280, 720), image_size=(480, 270))  # int32 (N, 4), grown, mapped
    pixelate(rgb, boxes)                                                          # in place, native kernel

The detector's box (BlazeFace: brow to chin, cheek to cheek) is grown before pixelating, so what identifies a
person beyond the inner face goes too: 25% of the face's width on each side (ears, the sides of the head), 25% of
its height below (chin, jaw line) and 60% above (forehead and hair: the forehead alone is about a third of a
face's height above the brows, the hair on top as much again). The grown box is cut into square blocks, at most
PIXELATE_BLOCKS across its larger side and at least PIXELATE_MIN_BLOCK pixels, and each block becomes its mean
colour: the inner face is then less than 2 x 2 blocks, too little to recognise anyone or to find a face in
(tests/integration/test_face_blur.py runs the detector on the result). Irreversible: the pixels under a block are
replaced by one mean, nothing of them is kept.

Why 3 blocks: measured with the detector on the test images with faces (astronaut, camera; RGB and NV12 frames),
photo sizes 96..512 px and JPEG quality 60/65/75/90, the best score of any detection left in the photo, for 2/3/4
blocks: full range 0.24/0.35/0.53, short range 0.53/0.44/0.58 (the detectors' threshold is 0.5; the unblurred
faces score 0.86+), with the photo scaled by area averaging and the detector reading through it, as both do now.
Fewer blocks leave less of a head's shape, but 2 leave a blob the short-range model still takes for a face; 3 has
the lowest worst case over both. (When photo and detector read 2x2 bilinear taps, 4 blocks had been best: full
range 0.43, short range 0.50; the smoother area-scaled photo keeps more of a 4-block head's shape.) The script:
the same loop as tests/integration/test_face_blur.py, over the sizes and qualities above.

The kernel (cpp/src/kernels/redact.cpp, contract in cpp/include/glassbridge/redact.h) costs the boxes' area, not
the image's: `glassbridge bench redact` reports it on a 480x360 upload (and `bench e2e` as its `blur` stage).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["GROW_BELOW", "GROW_SIDES", "GROW_TOP", "PIXELATE_BLOCKS", "PIXELATE_MIN_BLOCK", "face_boxes_in",
           "grow_box", "pixelate"]

#: How much a face box is grown, as fractions of its width (sides) and height (above, below): see the module doc.
GROW_SIDES = 0.25
GROW_TOP = 0.60
GROW_BELOW = 0.25
#: At most this many blocks across the grown box's larger side (it is ~1.85x the face's height: ~1.6 blocks
#: across the face itself).
PIXELATE_BLOCKS = 3
#: No block smaller than this many pixels (a tiny face is one or two blocks).
PIXELATE_MIN_BLOCK = 4

Box = tuple[float, float, float, float]


def grow_box(box: Box) -> Box:
    """The face box (x0, y0, x1, y1) grown by GROW_SIDES / GROW_TOP / GROW_BELOW, in the same units."""
    x0, y0, x1, y1 = box
    w, h = max(0.0, x1 - x0), max(0.0, y1 - y0)
    return x0 - GROW_SIDES * w, y0 - GROW_TOP * h, x1 + GROW_SIDES * w, y1 + GROW_BELOW * h


def face_boxes_in(faces: Sequence[Box], *, frame_size: tuple[int, int],
                  image_size: tuple[int, int]) -> npt.NDArray[np.int32]:
    """Face boxes found in a frame of `frame_size` (w, h), grown and mapped into an image of `image_size` made
    from the whole frame by scaling: int32 (N, 4) rows [x0, y0, x1, y1], half-open, rounded outwards (a pixel the
    grown box touches is covered) and clamped to the image. Boxes with NaN or infinite coordinates raise
    ValueError (a detector bug must not let a face through silently)."""
    fw, fh = frame_size
    iw, ih = image_size
    if fw <= 0 or fh <= 0 or iw <= 0 or ih <= 0:
        raise ValueError(f"sizes must be positive: frame {fw}x{fh}, image {iw}x{ih}")
    sx, sy = iw / fw, ih / fh
    out = np.zeros((len(faces), 4), dtype=np.int32)
    for i, box in enumerate(faces):
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise ValueError(f"face box {i} is not four finite numbers: {box!r}")
        x0, y0, x1, y1 = grow_box(box)
        out[i] = (min(max(math.floor(x0 * sx), 0), iw), min(max(math.floor(y0 * sy), 0), ih),
                  min(max(math.ceil(x1 * sx), 0), iw), min(max(math.ceil(y1 * sy), 0), ih))
    return out


def pixelate(image: npt.NDArray[np.uint8], boxes: npt.NDArray[np.int32], *, max_blocks: int = PIXELATE_BLOCKS,
             min_block: int = PIXELATE_MIN_BLOCK) -> int:
    """Pixelates `boxes` (int32 (N, 4), half-open pixels) of `image` (uint8 (H, W[, C])) in place, with the native
    kernel; returns how many boxes were non-empty inside the image. See the kernel's contract for the rules."""
    from glassbridge.vision._kernels import pixelate as native

    return int(native(image, boxes, max_blocks=max_blocks, min_block=min_block))
