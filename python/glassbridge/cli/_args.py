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
import re
from collections.abc import Callable

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


# BCP 47 (RFC 5646 section 2.1) language tags: language[-extlang][-script][-region](-variant)*(-extension)*
# [-privateuse], or a private-use tag alone; case-insensitive. The primary language subtag must be 2-3 letters
# (ISO 639): the grammar also allows 4-8 letters, but the IANA registry has no such subtag, and "english" or
# "chinese" are the mistakes worth catching. "en", "zh-Hant-TW", "de-CH-1996", "sr-Latn", "x-klingon" pass;
# "english", "en_US", "e", "en-", "en us" do not. Subtags are not checked against the registry.
_LANGTAG = re.compile(
    r"""^(?:
        [a-z]{2,3}(?:-[a-z]{3}){0,3}                          # language (+ extlang)
        (?:-[a-z]{4})?                                        # script
        (?:-(?:[a-z]{2}|[0-9]{3}))?                           # region
        (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*              # variants
        (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*                   # extensions
        (?:-x(?:-[a-z0-9]{1,8})+)?                            # private use
      | x(?:-[a-z0-9]{1,8})+                                  # a private-use tag alone
    )$""", re.IGNORECASE | re.VERBOSE)


def check_language_tag(value: str, where: str, *, allow_empty: bool = True) -> str:
    """`value` if it is a well-formed BCP 47 language tag (or "" with allow_empty: "the phone's language");
    ValueError naming `where` otherwise."""
    if value == "" and allow_empty:
        return value
    if not isinstance(value, str) or not _LANGTAG.match(value):
        hint = " (BCP 47 uses '-', not '_')" if isinstance(value, str) and "_" in value else ""
        raise ValueError(f"{where}: {value!r} is not a BCP 47 language tag{hint}; use e.g. \"en\", \"zh-CN\", "
                         "\"pt-BR\"" + (" or \"\" for the phone's language" if allow_empty else ""))
    return value


def language_tag(text: str) -> str:
    """An argparse type: a BCP 47 language tag, or "" (the phone's language)."""
    try:
        return check_language_tag(text, "language")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("language: ")) from None
