"""argparse types shared by the `glassbridge` subcommands: numbers in a range and language tags, refused at parse
time with one clear line (`argument --timeout: must be more than 0, got -1`, exit status 2) instead of failing
later, or never.

    parser.add_argument("--timeout", type=positive_float, default=10.0)
    parser.add_argument("--fps", type=float_in(0, 1000, low_open=True))
    parser.add_argument("--jobs", type=positive_int)
    parser.add_argument("--language", type=language_tag, default="")

Floats never accept nan or +-inf (Python's float() does: `--timeout inf` would wait forever, `nan` compares false
with everything and slips past every `<` check). Only plain decimal forms are read: `1e3`, `0.5`, `15`.
`check_language_tag` is the same check for values that come from elsewhere (a config file).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

# The one BCP 47 check (RFC 5646 grammar; the settings file is checked by the same function).
from glassbridge.assistant.config import check_language_tag

__all__ = [
    "check_language_tag",
    "float_in",
    "int_in",
    "language_tag",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "size_arg",
]


def _fmt(value: float) -> str:
    return f"{value:g}"


def float_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite float within [low, high] (an open end with low_open / high_open; None: no
    bound). Its errors name the allowed range and the value given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value < low or (low_open and value == low)):
            raise argparse.ArgumentTypeError(
                f"must be {'more than' if low_open else 'at least'} {_fmt(low)}, got {text}")
        if high is not None and (value > high or (high_open and value == high)):
            raise argparse.ArgumentTypeError(
                f"must be {'less than' if high_open else 'at most'} {_fmt(high)}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def int_in(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within [low, high] (None: no bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


#: More than 0, finite: timeouts, intervals, rates.
positive_float = float_in(0.0, low_open=True)
#: 0 or more, finite: latencies, delays.
non_negative_float = float_in(0.0)
#: 1 or more: counts, threads, jobs, rounds.
positive_int = int_in(1)
#: 0 or more: warm-up counts, retries.
non_negative_int = int_in(0)


def size_arg(minimum: int = 1, maximum: int = 16384) -> Callable[[str], tuple[int, int]]:
    """An argparse type: WIDTHxHEIGHT (e.g. 1280x720), each side within [minimum, maximum]."""

    def parse(text: str) -> tuple[int, int]:
        parts = text.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
        w, h = int(parts[0]), int(parts[1])
        if not (minimum <= w <= maximum and minimum <= h <= maximum):
            raise argparse.ArgumentTypeError(f"each side must be {minimum}..{maximum} pixels, got {text}")
        return w, h

    parse.__name__ = "size"
    return parse


def language_tag(text: str) -> str:
    """An argparse type: a BCP 47 language tag, or "" (the phone's language)."""
    try:
        return check_language_tag(text, "language")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("language: ")) from None
