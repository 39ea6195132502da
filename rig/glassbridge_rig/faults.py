"""Seeded line faults for the UART link emulator: bit flips, dropped, duplicated and cut-off bytes.

A `FaultModel` is pure: bytes in, bytes out, no clock and no I/O. What it does to a byte stream depends only on the
stream's contents and the seed, never on how the stream was split into chunks, so a run can be replayed exactly
(same seed, same bytes, same faults) however the operating system happened to deliver the bytes.

What each fault models on a real UART:
- ``ber``   byte error rate: the fraction of bytes that arrive with one bit flipped (line noise, a ground bounce).
            With ``burst=N`` each noise event corrupts N consecutive bytes, and events are N times rarer, so the
            fraction of corrupted bytes stays ``ber``.
- ``drop``  a byte lost by the receiver (framing error, FIFO overrun).
- ``dup``   a byte delivered twice (a receiver glitch; rare on real lines, but the link layer must survive it).
- ``cut``   a run of 1..``cutlen`` consecutive bytes lost (a connector wiggle, a driver dropping a buffer): frames
            arrive truncated or two frames run into each other.

Every rate is a probability per byte; events never overlap (the bytes of a burst or a cut are not eligible for a
new event), which keeps the arithmetic exact and is invisible at realistic rates.

Faults are drawn by skipping ahead a geometric number of clean bytes to the next event rather than rolling a die
per byte, so a clean megabyte costs a few slices, not a million calls into `random`.

Text form (``--faults``): comma-separated ``key=value``, for example ``ber=1e-4,drop=1e-5,dup=1e-5,seed=7``;
``none`` or an empty string means a clean line. Keys: ber, drop, dup, cut, cutlen, burst, seed, dir (``both``,
``to-mcu`` or ``to-soc``: which direction the faults apply to).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from enum import Enum


class Direction(str, Enum):
    """The two directions of the UART, named by where the bytes go."""

    TO_MCU = "to-mcu"
    TO_SOC = "to-soc"


_DIRECTIONS = {"both": (Direction.TO_MCU, Direction.TO_SOC), "to-mcu": (Direction.TO_MCU,),
               "to-soc": (Direction.TO_SOC,)}

_RATE_KEYS = ("ber", "drop", "dup", "cut")

_NEVER = 1 << 62  # "no event ahead" on a clean line: more bytes than any link will ever carry


class FaultSpecError(ValueError):
    """A ``--faults`` string that cannot be understood; the message says which part and what is allowed."""


@dataclass(frozen=True)
class FaultSpec:
    """What faults to inject, at which rates, from which seed. ``FaultSpec()`` is a clean line."""

    ber: float = 0.0
    drop: float = 0.0
    dup: float = 0.0
    cut: float = 0.0
    cutlen: int = 64
    burst: int = 1
    seed: int = 0
    dir: str = "both"

    def __post_init__(self) -> None:
        for key in _RATE_KEYS:
            value = getattr(self, key)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise FaultSpecError(f"fault rate {key}={value!r} must be a probability per byte between 0 and 1")
        if self.cutlen < 1:
            raise FaultSpecError(f"cutlen={self.cutlen} must be at least 1 (the longest run of bytes a cut removes)")
        if self.burst < 1:
            raise FaultSpecError(f"burst={self.burst} must be at least 1 (bytes corrupted per noise event)")
        if self.dir not in _DIRECTIONS:
            raise FaultSpecError(f"dir={self.dir!r} must be one of {', '.join(_DIRECTIONS)}")
        if self.event_rate > 1.0:
            raise FaultSpecError(f"fault rates add up to {self.event_rate:g} events per byte; they must not exceed 1")

    @property
    def event_rate(self) -> float:
        """Probability that a byte starts a fault event (a noise burst counts once)."""
        return self.ber / self.burst + self.drop + self.dup + self.cut

    @property
    def is_clean(self) -> bool:
        return self.event_rate == 0.0

    def applies_to(self, direction: Direction) -> bool:
        return direction in _DIRECTIONS[self.dir]

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Read the ``--faults`` text form, e.g. ``"ber=1e-4,drop=1e-5,dup=1e-5,seed=7"``."""
        if text is None or text.strip().lower() in ("", "none", "clean"):
            return cls()
        known = [f.name for f in fields(cls)]
        values: dict[str, object] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not sep or not raw:
                raise FaultSpecError(f"fault setting {part!r} needs the form key=value, e.g. ber=1e-4")
            if key not in known:
                raise FaultSpecError(f"unknown fault setting {key!r} in {text!r}; known: {', '.join(known)}")
            if key in values:
                raise FaultSpecError(f"fault setting {key!r} given twice in {text!r}")
            try:
                if key in _RATE_KEYS:
                    values[key] = float(raw)
                elif key == "dir":
                    values[key] = raw.lower()
                else:
                    values[key] = int(raw)
            except ValueError:
                kind = "a number" if key in _RATE_KEYS else "an integer"
                raise FaultSpecError(f"fault setting {key}={raw!r} must be {kind}") from None
        return cls(**values)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.is_clean:
            return "none"
        parts = [f"{k}={getattr(self, k):g}" for k in _RATE_KEYS if getattr(self, k)]
        if self.cut:
            parts.append(f"cutlen={self.cutlen}")
        if self.burst != 1:
            parts.append(f"burst={self.burst}")
        if self.dir != "both":
            parts.append(f"dir={self.dir}")
        parts.append(f"seed={self.seed}")
        return ",".join(parts)


@dataclass
class FaultCounters:
    """What a FaultModel did, for one direction. ``bytes_in - bytes_out`` = dropped + cut_bytes - duplicated."""

    bytes_in: int = 0
    bytes_out: int = 0
    corrupted: int = 0  # bytes delivered with a bit flipped
    dropped: int = 0  # single bytes removed
    duplicated: int = 0  # bytes delivered twice
    cuts: int = 0  # runs of bytes removed
    cut_bytes: int = 0  # bytes removed by those runs

    @property
    def injected(self) -> int:
        """Fault events of any kind (a corrupted byte counts once)."""
        return self.corrupted + self.dropped + self.duplicated + self.cuts


class FaultModel:
    """Applies a FaultSpec to one direction's byte stream, deterministically from (seed, stream name)."""

    def __init__(self, spec: FaultSpec, stream: str = "") -> None:
        self.spec = spec
        self.counters = FaultCounters()
        # A string seed is hashed with SHA-512 by `random`, so it is stable across runs and Python versions,
        # and each direction gets its own independent sequence from the one user-facing seed.
        self._rng = random.Random(f"glassbridge-faults:{spec.seed}:{stream}")
        rate = spec.event_rate
        self._log_keep = math.log1p(-rate) if 0.0 < rate < 1.0 else None
        # Cumulative thresholds to choose the kind of an event in proportion to its rate.
        kinds = (("flip", spec.ber / spec.burst), ("drop", spec.drop), ("dup", spec.dup), ("cut", spec.cut))
        self._kinds: list[tuple[float, str]] = []
        acc = 0.0
        for name, r in kinds:
            if r > 0.0:
                acc += r / rate
                self._kinds.append((acc, name))
        self._until_event = self._gap()
        self._corrupt_left = 0
        self._cut_left = 0

    def _gap(self) -> int:
        """Clean bytes before the next event: geometric with the event rate (inversion of its CDF)."""
        rate = self.spec.event_rate
        if rate <= 0.0:
            return _NEVER
        if self._log_keep is None:  # rate == 1: every byte is an event
            return 0
        u = self._rng.random()  # in [0, 1): 1 - u is in (0, 1], so the log is finite
        return int(math.log(1.0 - u) / self._log_keep)

    def _kind(self) -> str:
        u = self._rng.random()
        for threshold, name in self._kinds:
            if u < threshold:
                return name
        return self._kinds[-1][1]  # rounding in the thresholds: the last kind takes the remainder

    def apply(self, data: bytes) -> bytes:
        """The bytes as they arrive at the far end of a faulty line. Chunking never changes the result."""
        c = self.counters
        c.bytes_in += len(data)
        if self.spec.is_clean:
            c.bytes_out += len(data)
            return data
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            if self._cut_left:
                k = min(self._cut_left, n - i)
                self._cut_left -= k
                c.cut_bytes += k
                i += k
                continue
            if self._corrupt_left:
                out.append(data[i] ^ (1 << self._rng.randrange(8)))
                c.corrupted += 1
                self._corrupt_left -= 1
                i += 1
                continue
            clean = min(self._until_event, n - i)
            out += data[i:i + clean]
            i += clean
            self._until_event -= clean
            if i == n:
                break
            # data[i] is the byte the event happens to.
            self._until_event = self._gap()
            kind = self._kind()
            if kind == "flip":
                self._corrupt_left = self.spec.burst
            elif kind == "drop":
                c.dropped += 1
                i += 1
            elif kind == "dup":
                out.append(data[i])
                out.append(data[i])
                c.duplicated += 1
                i += 1
            else:
                self._cut_left = self._rng.randint(1, self.spec.cutlen)
                c.cuts += 1
        c.bytes_out += len(out)
        return bytes(out)
