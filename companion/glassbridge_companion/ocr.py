"""Reading text in a photo on the phone, offline: JPEG bytes -> lines of text in reading order.

    lines = read_text(jpeg)            # [TextLine("Platform 3", 0.98, (x0, y0, x1, y1)), ...]
    read_photo(jpeg).text              # "Platform 3 / Exit B" (lines joined with " / "), "" when none

The engine is RapidOCR (`rapidocr-onnxruntime` 1.4.4) on ONNX Runtime: PaddleOCR's PP-OCRv4 text detection and
recognition (Chinese and English, one model) and its direction classifier (text upside down), converted to ONNX.
The three models (~16 MB) are files inside that wheel, so nothing is downloaded when the companion runs: the wheel
is fetched once, at install time. The package declares `opencv-python`, which would install a second `cv2` over
the `opencv-python-headless` already here, so it is installed with `--no-deps` and its real imports (onnxruntime,
opencv-python-headless, pyclipper, shapely, PyYAML, Pillow, numpy) come from the companion's `ocr` extra; `make
setup` does both (INSTALL below).

Reading order: the engine returns one box (four corners) per run of text. Boxes are grouped into lines when their
vertical centres are closer than half the taller box's text height (its quad's side, so a tilted line does not
swallow the next one; text on one row of a sign), lines go top to bottom by their
mean centre, and the boxes of a line left to right, joined with a space. Boxes whose recognition score is below
`min_score` are dropped (the engine's own cut is 0.5). The recogniser often drops the space between Latin words
("Platform3"); restore_spaces puts it back from the gaps between its per-character positions.

The models load once, on first use (~0.4 s), behind a lock; recognition runs in the caller's thread (the
brain calls it through asyncio.to_thread: a 480x270 photo takes 0.7-1.1 s on two loaded cores, docs/benchmarks.md).
"""

from __future__ import annotations

import io
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["ENGINE", "INSTALL", "MAX_PIXELS", "MAX_SIDE", "OcrError", "OcrUnavailable", "Reading", "TextLine",
           "available", "group_lines", "read_photo", "read_text", "restore_spaces"]

ENGINE = "rapidocr-onnxruntime==1.4.4"
INSTALL = (f'pip install "glassbridge-companion[ocr]" && pip install --no-deps {ENGINE} '
           "(--no-deps: it declares opencv-python, which clashes with opencv-python-headless; `make setup` does this)")


class OcrError(ValueError):
    """The photo could not be read (not an image)."""


class OcrUnavailable(RuntimeError):
    """The OCR engine is not installed; the message says how to install it."""


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float  # the lowest recognition score of the line's boxes, 0..1
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the photo's pixels (the boxes' bounding rectangle)


@dataclass(frozen=True)
class Reading:
    lines: tuple[TextLine, ...]
    width: int
    height: int
    elapsed_ms: float  # decoding and recognition, model loading excluded

    @property
    def text(self) -> str:
        """The lines in reading order joined with " / "; "" when nothing readable was found."""
        return " / ".join(line.text for line in self.lines)


_engine: Any = None
_lock = threading.Lock()


def available() -> bool:
    """The engine's package can be imported (the models are inside it)."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _get_engine() -> Any:
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise OcrUnavailable(f"offline reading needs the OCR engine ({exc}); install it: {INSTALL}") from exc
            _engine = RapidOCR()
        return _engine


def group_lines(boxes: list[tuple[list[list[float]], str, float]]) -> list[TextLine]:
    """Boxes (four corners, text, score) to lines in reading order (the module docstring says how)."""
    # (x0, y0, x1, y1, text, score, centre y, text height); the height is the quad's own (corner 0 to 3, 1 to 2),
    # not its bounding rectangle's, which a tilted line makes tall enough to swallow the next line.
    items = []
    for corners, text, score in boxes:
        xs = [float(p[0]) for p in corners]
        ys = [float(p[1]) for p in corners]
        text = text.strip()
        if text:
            h = (math.dist(corners[0], corners[3]) + math.dist(corners[1], corners[2])) / 2
            items.append((min(xs), min(ys), max(xs), max(ys), text, float(score), sum(ys) / 4, h))
    items.sort(key=lambda b: b[6])
    rows: list[list[tuple[float, float, float, float, str, float, float, float]]] = []
    for item in items:
        cy, h = item[6], item[7]
        if rows:
            row = rows[-1]
            row_cy = sum(b[6] for b in row) / len(row)
            row_h = max(b[7] for b in row)
            if abs(cy - row_cy) < max(h, row_h) / 2:
                row.append(item)
                continue
        rows.append([item])
    lines = []
    for row in rows:
        row.sort(key=lambda b: b[0])
        lines.append(TextLine(" ".join(b[4] for b in row), min(b[5] for b in row),
                              (min(b[0] for b in row), min(b[1] for b in row),
                               max(b[2] for b in row), max(b[3] for b in row))))
    return lines


def _latin(c: str) -> bool:
    return c.isascii() and c.isalnum()


def restore_spaces(text: str, char_boxes: Any) -> str:
    """Put back the spaces the recogniser drops between Latin words ("Platform3" -> "Platform 3"): a gap between
    two letters or digits wider than 0.6 of the median character width is a space. The positions are coarse (on the
    test signs a gap inside a word reaches 0.8 of that width and one between words is 0.4 to 1.8), so a few spaces
    stay lost and a few appear inside words; 0.6 gave fewer such errors than 1.0 on those signs (the cut is tuned
    on them, not on an independent set).

    `char_boxes`: one box (four corners) per character of `text`, from the engine's CTC positions; the text is
    unchanged when they do not match it."""
    if not char_boxes or len(char_boxes) != len(text) or len(text) < 2:
        return text
    spans = [(min(float(p[0]) for p in b), max(float(p[0]) for p in b)) for b in char_boxes]
    widths = sorted(x1 - x0 for (x0, x1), c in zip(spans, text) if c != " ")
    if not widths:
        return text
    median = widths[len(widths) // 2]
    out = [text[0]]
    for i in range(1, len(text)):
        a, b = text[i - 1], text[i]
        if _latin(a) and _latin(b) and spans[i][0] - spans[i - 1][1] > 0.6 * median:
            out.append(" ")
        out.append(b)
    return "".join(out)


#: A photo is read at most this large on its longer side (larger ones are scaled down first: a JPEG is decoded at
#: 1/2..1/8 scale) and refused above MAX_PIXELS: a few KB of JPEG can declare 20000x20000 pixels, and decoding and
#: reading that would take gigabytes and minutes. The glasses send 480x360; a phone's own 12 MP photo is 4000x3000.
MAX_SIDE = 2048
MAX_PIXELS = 50_000_000


def read_photo(jpeg: bytes, *, min_score: float = 0.5) -> Reading:
    """The text in `jpeg` (any format Pillow decodes), in reading order; a photo larger than MAX_SIDE is scaled down
    first (the boxes and size are then the scaled photo's). OcrError when it is not an image or has more than
    MAX_PIXELS pixels, OcrUnavailable when the engine is not installed."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    engine = _get_engine()
    t0 = time.perf_counter()
    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise OcrError(f"the photo is {w}x{h} pixels: more than {MAX_PIXELS // 1_000_000} million is not read")
            if max(w, h) > MAX_SIDE:
                img.thumbnail((MAX_SIDE, MAX_SIDE))
            rgb = np.asarray(img.convert("RGB"))
    except OcrError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise OcrError(f"the photo ({len(jpeg)} bytes) could not be decoded ({exc})") from exc
    bgr = np.ascontiguousarray(rgb[..., ::-1])  # the engine takes OpenCV's channel order for arrays
    result, _ = engine(bgr, return_word_box=True)
    boxes = [(b[0], restore_spaces(str(b[1]), b[3] if len(b) > 3 else None), float(b[2]))
             for b in (result or []) if float(b[2]) >= min_score]
    lines = group_lines(boxes)
    return Reading(tuple(lines), rgb.shape[1], rgb.shape[0], (time.perf_counter() - t0) * 1000)


def read_text(jpeg: bytes, *, min_score: float = 0.5) -> list[TextLine]:
    """The lines of text in `jpeg` in reading order (read_photo without the timing)."""
    return list(read_photo(jpeg, min_score=min_score).lines)
