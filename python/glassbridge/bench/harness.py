"""The timing harness: every contender in one process, interleaved rounds, warm-up, medians.

Why this shape:
- One process, one thread: contenders share the same CPU frequency state, allocator and page cache, and a
  thread pool cannot make one contender look fast on a 2-core machine shared with other work.
- Interleaved rounds: each round times every contender once, in an order shuffled per round from a fixed seed.
  Drift (turbo, a noisy neighbour, thermal state) then hits every contender alike instead of whichever ran last.
- Warm-up: one untimed call per contender before the first round (lazy imports, page faults on fresh buffers,
  JIT-like caches in OpenCV's dispatch).
- Medians with p10/p90: timings on a shared VM have a long right tail; the median is the figure, p10/p90 show
  the spread.
- Cache-hot variants make one untimed call right before each timed one, so the frame and the contender's own
  buffers are in cache whatever ran before it in the round.

The harness knows nothing of images: a contender is a name and a callable taking the round's input.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class Contender:
    """One way of doing the job. `run(item)` does it once on the input item the harness hands it."""

    name: str
    run: Callable[[Any], object]
    # Shown in tables and JSON: what this contender is, and anything a reader must know (e.g. "inexact").
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stats:
    """Summary of one contender's timings, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {"median_ms": self.median_ms, "p10_ms": self.p10_ms, "p90_ms": self.p90_ms, "n": self.n}


def summarize(samples_ms: Sequence[float]) -> Stats:
    """Median and 10th/90th percentiles (linear interpolation, numpy's default) of timings in ms."""
    if len(samples_ms) == 0:
        raise ValueError("no timings to summarize: the benchmark ran zero rounds")
    a = np.asarray(samples_ms, dtype=np.float64)
    p10, med, p90 = np.percentile(a, [10, 50, 90])
    return Stats(float(med), float(p10), float(p90), int(a.size))


def speedup(baseline_ms: float | None, ms: float | None) -> float | None:
    """How many times faster than the baseline (baseline / ms); None when either is missing or zero."""
    if baseline_ms is None or ms is None or ms <= 0 or baseline_ms <= 0:
        return None
    return baseline_ms / ms


def round_orders(n_contenders: int, rounds: int, seed: int) -> Iterator[list[int]]:
    """The order of contenders in each round: a permutation per round, reproducible from the seed."""
    rng = random.Random(seed)
    order = list(range(n_contenders))
    for _ in range(rounds):
        rng.shuffle(order)
        yield list(order)


class InputSource(Protocol):
    """Hands the harness the input for each call: the same item (cache-hot) or the next of a pool (cold)."""

    def next(self) -> Any: ...


class Progress(Protocol):
    """What run_interleaved reports to (glassbridge.bench.report.RichReporter draws it as a progress bar)."""

    def start(self, label: str, total: int) -> None: ...
    def advance(self, rounds: int = 1) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RunResult:
    stats: dict[str, Stats]
    samples_ms: dict[str, list[float]]
    rounds: int
    seed: int
    wall_s: float


def run_interleaved(
    contenders: Sequence[Contender],
    source: InputSource,
    *,
    rounds: int,
    seed: int,
    hot: bool,
    progress: Progress | None = None,
    label: str = "",
    clock: Callable[[], int] = time.perf_counter_ns,
) -> RunResult:
    """Time every contender `rounds` times, interleaved; returns per-contender stats and raw samples.

    hot: make an untimed call on the same input right before each timed call (cache-hot steady state).
    Otherwise each timed call gets a fresh item from the source (a pool larger than the caches: DRAM-cold).
    progress, if given, is started with `label` and `rounds`, advanced once per round and stopped at the end.
    The garbage collector is paused while timing, so a collection triggered by one contender's garbage does
    not land in another's measurement.
    """
    if not contenders:
        raise ValueError("no contenders to time")
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ValueError(f"contender names must be unique, got {names}")
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for c in contenders:  # warm-up
        c.run(source.next())
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    if progress is not None:
        progress.start(label, rounds)
    t_start = time.perf_counter()
    try:
        for order in round_orders(len(contenders), rounds, seed):
            for i in order:
                c = contenders[i]
                item = source.next()
                if hot:
                    c.run(item)
                t0 = clock()
                c.run(item)
                t1 = clock()
                samples[c.name].append((t1 - t0) / 1e6)
            if progress is not None:
                progress.advance(1)
    finally:
        if gc_was_enabled:
            gc.enable()
        if progress is not None:
            progress.stop()
    wall = time.perf_counter() - t_start
    return RunResult({k: summarize(v) for k, v in samples.items()}, samples, rounds, seed, wall)


class SameItem:
    """Cache-hot input: always the same item."""

    def __init__(self, item: Any) -> None:
        self._item = item

    def next(self) -> Any:
        return self._item


def cold_pool(buf: np.ndarray, pool_bytes: int) -> np.ndarray:
    """Copies of an input buffer filling at least pool_bytes (at least two), for a `Cycle`: each item then comes
    from DRAM when the pool is larger than the last-level cache (machine.default_cold_pool_bytes sizes it)."""
    n = max(2, -(-pool_bytes // buf.nbytes))
    pool = np.empty((n,) + buf.shape, buf.dtype)
    pool[:] = buf  # distinct memory (every copy touched once here, so no page faults while timing)
    return pool


class Cycle:
    """DRAM-cold input: the items of a pool in turn, so an item comes back only after all others were read."""

    def __init__(self, items: Sequence[Any]) -> None:
        if not items:
            raise ValueError("a cold pool needs at least one item")
        self._items = items
        self._i = -1

    def next(self) -> Any:
        self._i = (self._i + 1) % len(self._items)
        return self._items[self._i]
