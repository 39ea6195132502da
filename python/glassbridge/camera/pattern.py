"""A moving, deterministic test pattern: a camera stand-in for the rig, demos and tests.

Frame n of a `TestPatternSource` depends only on n, the size and the format:
  * the upper three quarters hold eight vertical 75% colour bars (white, yellow, cyan, green, magenta, red, blue,
    black), the lower quarter a grey ramp from black at the left to white at the right;
  * an orange box bounces around the picture, moving a fixed number of pixels per frame;
  * a counter strip near the top-left shows the frame number n in binary: COUNTER_BITS square cells, most
    significant bit first, white for 1 and black for 0, on a row `cell` pixels below the top and starting `cell`
    pixels from the left (see `counter_cells`), so a test or a person can tell which frame it is.

The background is encoded once with the exact BT.601 encoder (glassbridge.camera.convert); each frame copies it
and paints the box and the counter as whole 2x2 blocks of precomputed bytes, so a 1080p NV12 frame costs about
a 3 MB copy: far faster than 30 fps needs.
"""

from __future__ import annotations

import numpy as np

from glassbridge.camera.convert import frame_from_rgb
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange
from glassbridge.camera.source import FrameSource, Pacer

__all__ = ["TestPatternSource", "COUNTER_BITS", "counter_cells", "box_position", "box_side"]

COUNTER_BITS = 24  # 2**24 frames: over six days at 30 fps before the counter wraps
MIN_WIDTH, MIN_HEIGHT = 64, 48

BAR_COLOURS = [  # 75% bars (191 = 0.75 * 255), the classic order
    (191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0),
    (191, 0, 191), (191, 0, 0), (0, 0, 191), (0, 0, 0),
]
BOX_COLOUR = (255, 128, 0)


def _even(x: float) -> int:
    return int(x) // 2 * 2


def counter_cells(width: int, height: int) -> tuple[int, list[tuple[int, int]]]:
    """(cell size, top-left (x, y) of each counter cell, most significant bit first) for a pattern of this size."""
    cell = max(2, _even(min(height // 30, width // (COUNTER_BITS + 2))))
    return cell, [(cell * (i + 1), cell) for i in range(COUNTER_BITS)]


def box_side(width: int, height: int) -> int:
    return max(2, _even(min(width, height) / 5))


def box_position(n: int, width: int, height: int) -> tuple[int, int]:
    """Top-left (x, y) of the moving box in frame n: a triangle wave on each axis, so the box bounces off the
    edges; steps of 2 px keep it on whole chroma blocks."""
    side = box_side(width, height)
    vx, vy = 2 * max(1, width // 240), 2 * max(1, height // 270)

    def bounce(pos: int, span: int) -> int:
        if span <= 0:
            return 0
        pos %= 2 * span
        return _even(pos if pos <= span else 2 * span - pos)

    return bounce(n * vx, width - side), bounce(n * vy, height - side)


def _background_rgb(width: int, height: int) -> np.ndarray:
    rgb = np.zeros((height, width, 3), np.uint8)
    bars_bottom = _even(height * 3 / 4)
    for i, colour in enumerate(BAR_COLOURS):
        x0, x1 = _even(i * width / 8), _even((i + 1) * width / 8)
        rgb[:bars_bottom, x0:x1] = colour
    ramp = np.floor(np.arange(width) * 255.0 / (width - 1) + 0.5).astype(np.uint8)
    rgb[bars_bottom:] = ramp[None, :, None]
    return rgb


class _BlockPainter:
    """Fills even-aligned rectangles of a frame with one colour, in any pixel format, without converting pixels:
    the colour's bytes for one 2x2 block of each plane are computed once and tiled."""

    def __init__(self, fmt: PixelFormat, colour: tuple[int, int, int], yuv_range: YuvRange) -> None:
        block = np.empty((2, 2, 3), np.uint8)
        block[...] = colour
        self.patches = [np.array(p) for p in frame_from_rgb(block, fmt, yuv_range=yuv_range).planes]

    def fill(self, planes: list[np.ndarray], x0: int, y0: int, x1: int, y1: int) -> None:
        bw, bh = (x1 - x0) // 2, (y1 - y0) // 2
        if bw <= 0 or bh <= 0:
            return
        for plane, patch in zip(planes, self.patches):
            rows, cols = patch.shape  # bytes of this plane covering one 2x2 pixel block
            plane[y0 // 2 * rows : y0 // 2 * rows + bh * rows, x0 // 2 * cols : x0 // 2 * cols + bw * cols] = (
                np.tile(patch, (bh, bw))
            )


class TestPatternSource(FrameSource):
    """An endless moving test pattern (see the module docstring) in any PixelFormat.

    width, height: even, at least 64x48. fps: the nominal rate; frame n's timestamp is n / fps (presentation
    time) unless realtime=True, which paces read() to fps on the monotonic clock and stamps the release time.
    """

    __test__ = False  # a source, not a pytest test class

    def __init__(
        self,
        width: int,
        height: int,
        format: PixelFormat = PixelFormat.NV12,
        fps: float = 30.0,
        *,
        yuv_range: YuvRange = YuvRange.LIMITED,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        if width < MIN_WIDTH or height < MIN_HEIGHT or width % 2 or height % 2:
            raise ValueError(
                f"test pattern size must be even and at least {MIN_WIDTH}x{MIN_HEIGHT}, got {width}x{height}"
            )
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self._width, self._height, self._format, self._fps = width, height, PixelFormat(format), float(fps)
        self._range = yuv_range
        self._pacer = Pacer(fps) if realtime else None
        bg = frame_from_rgb(_background_rgb(width, height), self._format, yuv_range=yuv_range)
        self._background = [np.array(p) for p in bg.planes]
        self._box = _BlockPainter(self._format, BOX_COLOUR, yuv_range)
        self._white = _BlockPainter(self._format, (255, 255, 255), yuv_range)
        self._black = _BlockPainter(self._format, (0, 0, 0), yuv_range)
        self._next = 0

    @property
    def format(self) -> PixelFormat:
        return self._format

    @property
    def size(self) -> tuple[int, int]:
        return self._width, self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def name(self) -> str:
        return "pattern"

    def render(self, n: int) -> Frame:
        """Frame n of the pattern (any n >= 0), independent of what was read before."""
        if n < 0:
            raise ValueError(f"frame number must be >= 0, got {n}")
        w, h = self._width, self._height
        planes = [p.copy() for p in self._background]
        side = box_side(w, h)
        bx, by = box_position(n, w, h)
        self._box.fill(planes, bx, by, bx + side, by + side)
        cell, cells = counter_cells(w, h)
        value = n % (1 << COUNTER_BITS)
        for i, (cx, cy) in enumerate(cells):
            bit = (value >> (COUNTER_BITS - 1 - i)) & 1
            (self._white if bit else self._black).fill(planes, cx, cy, cx + cell, cy + cell)
        ts = int(round(n * 1e9 / self._fps))
        return Frame(self._format, w, h, tuple(planes), timestamp_ns=ts, range=self._range, sequence=n)

    def _next_frame(self) -> Frame:
        frame = self.render(self._next)
        self._next += 1
        if self._pacer is not None:
            released = self._pacer.wait()
            frame = Frame(frame.format, frame.width, frame.height, frame.planes, timestamp_ns=released,
                          range=frame.range, sequence=frame.sequence)
        return frame

