"""SSD anchors for MediaPipe's BlazeFace detectors, as MediaPipe's SsdAnchorsCalculator lays them out.

A BlazeFace model predicts, for every anchor, a box and keypoints as offsets from the anchor's centre. The
anchors are not stored in the model: they are a fixed grid that the decoder must rebuild exactly, in the same
order as the model's output rows. MediaPipe describes the grid with a few options (the face detection graphs set
them; see `BLAZEFACE_SHORT_RANGE` and `BLAZEFACE_FULL_RANGE`):

* one feature map per entry of ``strides``, of ceil(input / stride) cells each way;
* consecutive layers with the same stride share one grid: their anchors are interleaved cell by cell;
* each layer contributes one anchor per aspect ratio, plus one "interpolated" anchor when
  ``interpolated_scale_aspect_ratio`` > 0;
* anchor centres sit at ((x + offset_x) / width, (y + offset_y) / height), row by row;
* with ``fixed_anchor_size`` (all BlazeFace models) every anchor is 1 x 1, so the model's size outputs are
  directly the box size in input pixels.

Short range (128x128, strides 8, 16, 16, 16): 16x16 cells x 2 + 8x8 cells x 6 = 896 anchors.
Full range (192x192, stride 4, no interpolated anchor): 48x48 cells x 1 = 2304 anchors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SsdAnchorOptions:
    """The subset of MediaPipe's SsdAnchorsCalculatorOptions that BlazeFace uses (same names, same defaults)."""

    input_width: int
    input_height: int
    strides: tuple[int, ...]
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True
    reduce_boxes_in_lowest_layer: bool = False

    def __post_init__(self) -> None:
        if self.input_width <= 0 or self.input_height <= 0:
            raise ValueError(f"anchor input size must be positive, got {self.input_width}x{self.input_height}")
        if not self.strides or any(s <= 0 for s in self.strides):
            raise ValueError(f"anchor strides must be a non-empty tuple of positive ints, got {self.strides}")
        if not self.aspect_ratios or any(r <= 0 for r in self.aspect_ratios):
            raise ValueError(f"aspect ratios must be positive, got {self.aspect_ratios}")


# MediaPipe face_detection_short_range.pbtxt / face_detection_full_range.pbtxt with the shared
# SsdAnchorsCalculator options of face_detection.pbtxt (min_scale 0.1484375, max_scale 0.75, offsets 0.5,
# aspect ratio 1.0, fixed_anchor_size true).
BLAZEFACE_SHORT_RANGE = SsdAnchorOptions(128, 128, (8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0)
BLAZEFACE_FULL_RANGE = SsdAnchorOptions(192, 192, (4,), interpolated_scale_aspect_ratio=0.0)


def _layer_scale(options: SsdAnchorOptions, index: int) -> float:
    """The anchor scale of layer `index`: linear from min_scale to max_scale over the layers."""
    n = len(options.strides)
    if n == 1:
        return (options.min_scale + options.max_scale) * 0.5
    return options.min_scale + (options.max_scale - options.min_scale) * index / (n - 1.0)


def ssd_anchors(options: SsdAnchorOptions) -> np.ndarray:
    """The anchors as a float32 array (num_anchors, 4): x_center, y_center, width, height, normalised to [0, 1].

    Rows are in the model's output order. Computed once per detector; the C++ decoder keeps them.
    """
    rows: list[tuple[float, float, float, float]] = []
    strides = options.strides
    layer = 0
    while layer < len(strides):
        # Sizes (width, height) of the anchors at each cell of this grid, from every layer sharing the stride.
        sizes: list[tuple[float, float]] = []
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            scale = _layer_scale(options, last)
            if last == 0 and options.reduce_boxes_in_lowest_layer:
                # MediaPipe's predefined lowest-layer anchors: a small square and two half-scale rectangles.
                pairs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                pairs = [(scale, ratio) for ratio in options.aspect_ratios]
                if options.interpolated_scale_aspect_ratio > 0.0:
                    next_scale = 1.0 if last == len(strides) - 1 else _layer_scale(options, last + 1)
                    pairs.append((math.sqrt(scale * next_scale), options.interpolated_scale_aspect_ratio))
            for s, ratio in pairs:
                r = math.sqrt(ratio)
                sizes.append((s * r, s / r))
            last += 1

        grid_h = math.ceil(options.input_height / strides[layer])
        grid_w = math.ceil(options.input_width / strides[layer])
        for y in range(grid_h):
            yc = (y + options.anchor_offset_y) / grid_h
            for x in range(grid_w):
                xc = (x + options.anchor_offset_x) / grid_w
                for w, h in sizes:
                    rows.append((xc, yc, 1.0, 1.0) if options.fixed_anchor_size else (xc, yc, w, h))
        layer = last
    return np.asarray(rows, dtype=np.float32).reshape(-1, 4)
