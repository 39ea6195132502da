"""An independent renderer of the firmware's display cards, written from the layout rules in
firmware/src/app/card.h (not from card.c): word wrap, title sizing, ellipsis, icons, pairing code.

It reads only the glyph and icon *data* from the firmware sources (font.c's column bytes, icons.c's text
bitmaps), so a test comparing it with the firmware's framebuffer checks the layout and drawing code.
"""

from __future__ import annotations

import re
from pathlib import Path

FW_APP = Path(__file__).resolve().parents[2] / "firmware/src/app"
W, H = 256, 128


def load_font() -> dict[str, list[int]]:
    """Character -> 5 column bytes (bit 0 = top row), from font.c's table in ASCII order from 0x20."""
    src = (FW_APP / "font.c").read_text()
    rows = re.findall(r"\{(0x[0-9A-Fa-f]{2}(?:,\s*0x[0-9A-Fa-f]{2}){4})\}", src)
    assert len(rows) == 95, f"font.c: expected 95 glyphs, found {len(rows)}"
    return {chr(0x20 + i): [int(b, 16) for b in r.split(",")] for i, r in enumerate(rows)}


def load_icons() -> dict[int, list[str]]:
    """Icon value -> 16 rows of '.'/'#'."""
    src = (FW_APP / "icons.c").read_text()
    icons: dict[int, list[str]] = {}
    for m in re.finditer(r"\[(\d+)\]\s*=\s*\{(.*?)\}", src, re.S):
        icons[int(m.group(1))] = re.findall(r'"([.#]{16})"', m.group(2))
    return icons


FONT = load_font()
ICONS = load_icons()


def to_ascii(text: str) -> str:
    """Each character outside printable ASCII (other than newline) becomes '?'."""
    return "".join(c if c == "\n" or 0x20 <= ord(c) <= 0x7E else "?" for c in text)


def wrap(text: str, cols: int = 42) -> list[str]:
    """Greedy word wrap by words; a word longer than a line is cut in `cols` pieces."""
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split(" "):
            if not word:
                continue
            if cur and len(cur) + 1 + len(word) > cols:
                lines.append(cur)
                cur = ""
            if not cur:
                while len(word) > cols:
                    lines.append(word[:cols])
                    word = word[cols:]
                cur = word
            else:
                cur += " " + word
        lines.append(cur)
    return lines


class Canvas:
    def __init__(self) -> None:
        self.px = [[0] * W for _ in range(H)]

    def set(self, x: int, y: int) -> None:
        if 0 <= x < W and 0 <= y < H:
            self.px[y][x] = 1

    def text(self, x: int, y: int, s: str, scale: int) -> None:
        for i, ch in enumerate(s):
            cols = FONT.get(ch, FONT["?"])
            for c, bits in enumerate(cols):
                for r in range(7):
                    if bits >> r & 1:
                        for dy in range(scale):
                            for dx in range(scale):
                                self.set(x + i * 6 * scale + c * scale + dx, y + r * scale + dy)


def render(kind: int, icon: int, title: str, text: str) -> list[list[int]]:
    """The 256x128 card as rows of 0/1."""
    cv = Canvas()
    x = 2
    if icon in ICONS:
        for r, row in enumerate(ICONS[icon]):
            for c, ch in enumerate(row):
                if ch == "#":
                    cv.set(2 + c, 2 + r)
        x = 22
    title = to_ascii(title)
    room = W - x - 2
    if len(title) * 12 <= room:
        cv.text(x, 3, title, 2)
    elif len(title) * 6 <= room:
        cv.text(x, 3, title, 1)
    else:
        fit = room // 6
        cv.text(x, 3, title[: fit - 3] + "...", 1)
    for i in range(W):
        cv.set(i, 20)
    text = to_ascii(text)
    if kind == 7 and len(text) <= 14 and "\n" not in text:
        cv.text((W - len(text) * 18) // 2, 52, text, 3)
        return cv.px
    lines = wrap(text)
    for n, line in enumerate(lines[:11]):
        if n == 10 and len(lines) > 11:
            kept: list[str] = []
            for word in line.split(" "):
                if len(" ".join([*kept, word])) > 39:
                    break
                kept.append(word)
            line = (" ".join(kept) if kept else line[:39]) + "..."
        cv.text(2, 24 + 9 * n, line, 1)
    return cv.px


def read_pgm(path: Path) -> list[list[int]]:
    """The host port's `display dump` (binary PGM, 255 = lit) as rows of 0/1."""
    data = path.read_bytes()
    parts = data.split(b"\n", 3)
    assert parts[0] == b"P5", "not a binary PGM"
    w, h = (int(v) for v in parts[1].split())
    pixels = parts[3]
    assert len(pixels) == w * h
    return [[1 if pixels[y * w + x] else 0 for x in range(w)] for y in range(h)]
