"""Independent numpy reference of the pixelation contract (cpp/include/glassbridge/redact.h), in float64.

For each box in order: clamp to the image; skip if empty; block = max(min_block, ceil(max(w, h) / max_blocks));
every block (tiled from the clamped box's top-left corner, the last ones cut by the box's edge) becomes its
per-channel mean, rounded half up (floor(mean + 0.5)), computed from the image as the previous boxes left it.
Written from the contract with numpy slicing, sharing nothing with the kernel.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def pixelate_ref(image: npt.NDArray[np.uint8], boxes: npt.ArrayLike, *, max_blocks: int = 6,
                 min_block: int = 4) -> tuple[npt.NDArray[np.uint8], int]:
    """A pixelated copy of `image` (H, W[, C]) and the number of non-empty boxes."""
    out = image.copy()
    view = out if out.ndim == 3 else out[..., None]
    h, w = view.shape[:2]
    changed = 0
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.int64).reshape(-1, 4).tolist():
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        changed += 1
        block = max(min_block, math.ceil(max(x1 - x0, y1 - y0) / max_blocks))
        for by in range(y0, y1, block):
            for bx in range(x0, x1, block):
                cell = view[by:min(by + block, y1), bx:min(bx + block, x1)]
                mean = cell.astype(np.float64).mean(axis=(0, 1))
                cell[...] = np.floor(mean + 0.5).astype(np.uint8)
    return out, changed
