"""The pixelation kernel through its binding, against the float64 numpy reference of the same contract
(tests/reference/redact_ref.py), and the box mapping of glassbridge.vision.redact worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from glassbridge.vision.redact import GROW_BELOW, GROW_SIDES, GROW_TOP, face_boxes_in, grow_box, pixelate
from tests.reference.redact_ref import pixelate_ref

BOXES = np.array([
    [5, 7, 40, 51],          # inside
    [-10, -3, 12, 9],        # over the top-left corner
    [60, 40, 90, 80],        # over the bottom-right corner
    [200, 10, 240, 30],      # wholly outside
    [20, 20, 20, 30],        # empty
    [30, 30, 10, 40],        # inverted
    [30, 25, 55, 44],        # overlaps the first
    [-2**31, -2**31, 2**31 - 1, 2**31 - 1],  # the whole image
], dtype=np.int32)


@pytest.mark.parametrize("shape", [(45, 67), (45, 67, 1), (45, 67, 3), (45, 67, 4), (1, 1, 3), (360, 480, 3)])
@pytest.mark.parametrize("blocks", [(6, 4), (4, 4), (1, 1), (100, 1), (3, 9)])
def test_matches_reference(shape: tuple[int, ...], blocks: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) + 7 * blocks[0] + blocks[1])
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    want, n_want = pixelate_ref(image, BOXES, max_blocks=blocks[0], min_block=blocks[1])
    got = image.copy()
    n = pixelate(got, BOXES, max_blocks=blocks[0], min_block=blocks[1])
    assert n == n_want
    np.testing.assert_array_equal(got, want)


def test_padded_rows_and_untouched_pixels() -> None:
    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, size=(50, 80, 3), dtype=np.uint8)
    view = big[:, :70]  # rows 240 bytes apart, 210 used: padding the kernel must neither read nor write
    before = big.copy()
    boxes = np.array([[10, 10, 30, 40], [60, 0, 90, 20]], dtype=np.int32)
    want, _ = pixelate_ref(np.ascontiguousarray(view), boxes, max_blocks=6, min_block=4)
    assert pixelate(view, boxes, max_blocks=6, min_block=4) == 2
    np.testing.assert_array_equal(view, want)
    np.testing.assert_array_equal(big[:, 70:], before[:, 70:])
    outside = np.ones(view.shape[:2], dtype=bool)
    outside[10:40, 10:30] = outside[0:20, 60:70] = False
    np.testing.assert_array_equal(view[outside], before[:, :70][outside])


def test_by_hand() -> None:
    image = np.arange(8, dtype=np.uint8).reshape(2, 4)
    assert pixelate(image, np.array([[0, 0, 4, 2]], dtype=np.int32), max_blocks=2, min_block=1) == 1
    # block means (0+1+4+5)/4 = 2.5 -> 3 and (2+3+6+7)/4 = 4.5 -> 5: half rounds up
    assert image.tolist() == [[3, 3, 5, 5], [3, 3, 5, 5]]


def test_bad_arguments_are_clear_errors() -> None:
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    box = np.array([[0, 0, 5, 5]], dtype=np.int32)
    with pytest.raises(TypeError, match="uint8"):
        pixelate(image.astype(np.float32), box)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int32"):
        pixelate(image, box.astype(np.int64))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        pixelate(image, np.zeros((2, 3), dtype=np.int32))
    frozen = image.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        pixelate(frozen, box)
    with pytest.raises(ValueError, match="packed"):
        pixelate(image[:, ::-1], box)
    with pytest.raises(ValueError, match="channels"):
        pixelate(np.zeros((4, 4, 5), dtype=np.uint8), box)
    with pytest.raises(ValueError, match="max_blocks"):
        pixelate(image, box, max_blocks=0)
    with pytest.raises(ValueError, match="min_block"):
        pixelate(image, box, min_block=0)


def test_face_boxes_grow_map_and_clamp() -> None:
    face = (100.0, 200.0, 200.0, 300.0)  # 100 x 100 in a 1000 x 800 frame
    assert grow_box(face) == (100 - 100 * GROW_SIDES, 200 - 100 * GROW_TOP, 200 + 100 * GROW_SIDES,
                              300 + 100 * GROW_BELOW)
    # to a 500 x 400 image (scale 0.5), rounded outwards
    x0, y0, x1, y1 = grow_box(face)
    got = face_boxes_in([face], frame_size=(1000, 800), image_size=(500, 400))
    assert got.dtype == np.int32 and got.tolist() == [[int(np.floor(x0 / 2)), int(np.floor(y0 / 2)),
                                                       int(np.ceil(x1 / 2)), int(np.ceil(y1 / 2))]]
    # a face at the corner is clamped to the image
    corner = face_boxes_in([(-50.0, -50.0, 40.0, 30.0), (990.0, 790.0, 1100.0, 900.0)], frame_size=(1000, 800),
                           image_size=(500, 400))
    assert corner.tolist() == [[0, 0, 20 + int(np.ceil(90 * GROW_SIDES / 2)), 15 + int(np.ceil(80 * GROW_BELOW / 2))],
                               [int(np.floor((990 - 110 * GROW_SIDES) / 2)), int(np.floor((790 - 110 * GROW_TOP) / 2)),
                                500, 400]]
    assert face_boxes_in([], frame_size=(10, 10), image_size=(5, 5)).shape == (0, 4)
    with pytest.raises(ValueError, match="finite"):
        face_boxes_in([(0.0, 0.0, float("nan"), 5.0)], frame_size=(10, 10), image_size=(5, 5))
    with pytest.raises(ValueError, match="positive"):
        face_boxes_in([face], frame_size=(0, 10), image_size=(5, 5))
