"""Text for the display and the voice: card field limits, sentence shaping, an error in one line."""

from __future__ import annotations

import re

__all__ = ["CARD_TEXT_LIMIT", "CARD_TITLE_LIMIT", "fit", "one_line", "sentence", "spoken"]

#: glassbridge.proto DisplayCard: title <= 47 bytes, text <= 191 bytes of UTF-8 (the MCU's buffers).
CARD_TITLE_LIMIT = 47
CARD_TEXT_LIMIT = 191


def fit(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` UTF-8 bytes, "..." marking the cut."""
    text = " ".join(text.split())
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[: limit - 3].decode(errors="ignore")
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."


def one_line(exc: BaseException) -> str:
    """An error as one line for the display: the first line of its message (never a traceback, a log's tail or
    a subprocess's output), whitespace collapsed; its type's name when it has no message."""
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    return text or type(exc).__name__


def sentence(text: str) -> str:
    """A capitalised sentence with a full stop: "one person ahead" -> "One person ahead."."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


#: The space after a sentence's end: ".", "!" or "?", then up to two closing quotes or brackets (kept with it).
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]])|(?<=[.!?][\"')\]][\"')\]]))\s+")


def spoken(text: str, limit: int) -> str:
    """What the voice says of `text`: its whole sentences while they fit in `limit` characters (at least the
    first, cut at a word boundary when it alone is longer); `limit` 0 = all of it."""
    text = " ".join(text.split())
    if limit <= 0 or len(text) <= limit:
        return text
    out = ""
    for part in _SENTENCE_END.split(text):
        candidate = f"{out} {part}".strip()
        if out and len(candidate) > limit:
            return out
        out = candidate
        if len(out) > limit:
            break
    cut = out[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "..."
