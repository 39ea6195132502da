"""Rendered signs for the OCR tests (tests/integration/test_companion_ocr.py, test_text_mode.py): signs in English
and Chinese, several fonts and sizes, upright, rotated, in perspective, blurred and in low light, on a camera
picture, and the character error rate (CER) they are scored by.

    rgb = render(["Platform 3", "Exit B"], FONTS_EN[0], Condition("upright (60 px)", 60))   # 1280x720 RGB
    rgb = render(lines, font, cond, frame=(1280, 720), at=(0.06, -0.04))   # the sign off centre
    cer("Platform3ExitB", "Platform3ExltB")                                 # 1/13

Fonts: DejaVu (fonts-dejavu-core) and WenQuanYi Micro Hei (fonts-wqy-microhei), from scripts/system-packages.sh's
test group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# (path, face index in a collection)
FONTS_EN = [(DEJAVU / "DejaVuSans.ttf", 0), (DEJAVU / "DejaVuSerif-Bold.ttf", 0), (DEJAVU / "DejaVuSansMono.ttf", 0)]
FONTS_ZH = [(WQY, 0), (WQY, 1)]  # Micro Hei and Micro Hei Mono: the only CJK font a fresh machine gets here
SIGNS_EN = [["Platform 3", "Exit B"], ["No Entry", "Staff Only"], ["Gate 12", "Departures"],
            ["Pharmacy", "Open 9 to 5"]]
SIGNS_ZH = [["出口 B", "3号站台"], ["禁止入内", "仅限员工"], ["12号登机口", "出发"], ["药店", "营业时间"]]
CAMERA = (1280, 720)


@dataclass(frozen=True)
class Condition:
    name: str
    size: int  # font size in pixels in the camera frame
    rotate: float = 0.0  # degrees, counter-clockwise
    perspective: bool = False
    blur: float = 0.0  # Gaussian radius in camera pixels
    light: float = 1.0  # brightness scale (with sensor noise when < 1)
    at: tuple[float, float] | None = None  # where the sign is (render's `at`) when the condition fixes it
    clutter: bool = False  # the wall covered with coloured rectangles (posters, windows) behind the sign


def _font(spec: tuple[Path, int], size: int) -> Any:
    path, index = spec
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: scripts/system-packages.sh test installs it (make setup)")
    return ImageFont.truetype(str(path), size, index=index)


def render(lines: list[str], font_spec: tuple[Path, int], cond: Condition, seed: int = 0, *,
           frame: tuple[int, int] = CAMERA, at: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A sign (white text on a blue panel) on a grey-green wall, as a `frame`-sized RGB camera picture; the sign's
    centre is `at` (fractions of the frame's width and height) from the frame's centre."""
    w, h = frame
    font = _font(font_spec, cond.size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [probe.textbbox((0, 0), line, font=font) for line in lines]
    gap = cond.size // 2
    tw = max(b[2] - b[0] for b in boxes)
    th = sum(b[3] - b[1] for b in boxes) + gap * (len(lines) - 1)
    pad = cond.size // 2
    panel = Image.new("RGBA", (tw + 2 * pad, th + 2 * pad), (25, 60, 150, 255))
    d = ImageDraw.Draw(panel)
    y = pad
    for line, b in zip(lines, boxes):
        d.text((pad + (tw - (b[2] - b[0])) // 2 - b[0], y - b[1]), line, font=font, fill=(250, 250, 250, 255))
        y += b[3] - b[1] + gap
    if cond.rotate:
        panel = panel.rotate(cond.rotate, resample=Image.Resampling.BICUBIC, expand=True)
    if cond.perspective:  # the sign seen from the left: its right edge 25% shorter than its left
        pw, ph = panel.size
        s = 0.25 * ph / 2
        # PERSPECTIVE maps output (x, y) to input; the inverse of the quad (0,0) (pw,s) (pw,ph-s) (0,ph)
        src = [(0, 0), (pw, 0), (pw, ph), (0, ph)]
        dst = [(0, 0), (pw, s), (pw, ph - s), (0, ph)]
        panel = panel.transform((pw, ph), Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src),
                                Image.Resampling.BICUBIC)
    wall = Image.new("RGB", (w, h), (110, 125, 115))
    if cond.clutter:
        rng = np.random.default_rng(1000 + seed)
        draw = ImageDraw.Draw(wall)
        for _ in range(80):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            rw, rh = int(rng.integers(20, 220)), int(rng.integers(20, 220))
            draw.rectangle((x0, y0, x0 + rw, y0 + rh), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    wall.paste(panel, ((w - panel.width) // 2 + round(at[0] * w), (h - panel.height) // 2 + round(at[1] * h)),
               panel)
    if cond.blur:
        wall = wall.filter(ImageFilter.GaussianBlur(cond.blur))
    rgb = np.asarray(wall, dtype=np.float64)
    if cond.light < 1.0:
        noise = np.random.default_rng(seed).normal(0.0, 3.0, rgb.shape)
        rgb = rgb * cond.light + noise
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = [c for p in src for c in p]
    return [float(c) for c in np.linalg.solve(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64))]


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> float:
    return levenshtein(reference, hypothesis) / len(reference)


def squeeze(lines: list[str], keep_spaces: bool) -> str:
    """The lines in reading order as one string: whitespace removed, or single spaces kept between words."""
    text = "\n".join(" ".join(line.split()) for line in lines)
    return text if keep_spaces else "".join(text.split())
