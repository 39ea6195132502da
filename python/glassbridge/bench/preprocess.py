"""`glassbridge bench preprocess`: our fused kernel against OpenCV, numpy and libyuv, per case and variant.

For each case (cases.py) it builds the frame, every contender (contenders.py), checks each contender's output
against the float64 reference (accuracy.py), then times them interleaved (harness.py) in two variants:
- hot: the same frame every call, with an untimed call right before each timed one (everything in cache);
- cold: a pool of distinct frames larger than the last-level cache, each call on the next frame, so the frame
  comes from DRAM as a fresh camera buffer would.
It returns (and writes) one JSON document; `plot.py` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassbridge.bench import accuracy, libyuv, machine
from glassbridge.bench.machine import MIB, QUICK_COLD_POOL, default_cold_pool_bytes
from glassbridge.bench.cases import Case, select
from glassbridge.bench.contenders import Candidate, build_lineup, kernel_api
from glassbridge.bench.harness import Contender, Cycle, SameItem, cold_pool, run_interleaved, speedup
from glassbridge.bench.synthetic import BenchFrame, frame_buffer, wrap

SCHEMA = "glassbridge.bench.preprocess/1"


@dataclass
class Settings:
    rounds: int = 300
    seed: int = 20261121
    quick: bool = False
    cases: list[str] | None = None
    variants: tuple[str, ...] = ("hot", "cold")
    cold_pool_bytes: int | None = None  # None: automatic (machine.default_cold_pool_bytes)
    isas: bool = True                   # also time each available ISA path of ours
    libyuv: bool = True
    extra_notes: list[str] = field(default_factory=list)

    @classmethod
    def quick_settings(cls, **kw: Any) -> Settings:
        """A few seconds: 5 rounds, a small pool (cold figures then say nothing about DRAM; marked in JSON)."""
        return cls(rounds=5, quick=True, cold_pool_bytes=QUICK_COLD_POOL, **kw)


class _FrameCache:
    """One synthetic frame per (format, size): the 1080p frame serves three cases."""

    def __init__(self) -> None:
        self._bufs: dict[tuple[Any, int, int], np.ndarray] = {}

    def get(self, case: Case) -> np.ndarray:
        key = (case.fmt, case.src_width, case.src_height)
        if key not in self._bufs:
            self._bufs[key] = frame_buffer(case.fmt, case.src_width, case.src_height, seed=1)
        return self._bufs[key]


def _pool(case: Case, buf: np.ndarray, pool_bytes: int) -> tuple[np.ndarray, list[BenchFrame]]:
    pool = cold_pool(buf, pool_bytes)
    return pool, [wrap(case.fmt, pool[i], case.src_width, case.src_height) for i in range(len(pool))]


def _check_accuracy(job: Any, item: BenchFrame, lineup: Sequence[Candidate]) -> dict[str, dict[str, Any]]:
    expected = accuracy.reference_output(job, item)
    records: dict[str, dict[str, Any]] = {}
    for cand in lineup:
        cand.out.fill(0)
        cand.run(item)
        if expected is None:
            records[cand.name] = accuracy.describe(None, cand.tolerance_steps)
            continue
        diff = accuracy.abs_diff_steps(job, cand.out, expected)
        records[cand.name] = accuracy.describe(float(diff.max()), cand.tolerance_steps, float(diff.mean()))
    return records


def _case_record(case: Case, variant: str, job: Any, lineup: Sequence[Candidate], run: Any,
                 acc: dict[str, dict[str, Any]], notes: list[str], info: dict[str, Any], isa: str,
                 pool: tuple[int, int] | None) -> dict[str, Any]:
    ms = {name: s.median_ms for name, s in run.stats.items()}
    base = ms.get("opencv")

    def diff(name: str) -> float | None:
        return acc.get(name, {}).get("max_abs_diff_steps")

    if "ours_bilinear" in ms and ms.get("ours") and ms["ours_bilinear"]:
        notes = notes + [f"ours bilinear on the same job: {ms['ours_bilinear']:.3f} ms; area / bilinear = "
                         f"{ms['ours'] / ms['ours_bilinear']:.2f}x (target <= 2x)"]
    contenders = {}
    for cand in lineup:
        contenders[cand.name] = {
            "description": cand.description,
            **run.stats[cand.name].to_json(),
            **acc[cand.name],
        }
    return {
        "name": case.name,
        "variant": variant,
        "what": case.what,
        "isa": isa,
        "ours_ms": ms.get("ours"),
        "opencv_ms": base,
        "opencv_fast_ms": ms.get("opencv_fast"),
        "numpy_ms": ms.get("numpy"),
        "libyuv_ms": ms.get("libyuv"),
        "isa_ms": {n[5:-1]: v for n, v in ms.items() if n.startswith("ours[")},
        "interpolation": job.interpolation,
        "ours_bilinear_ms": ms.get("ours_bilinear"),
        "speedup_vs_opencv": {n: speedup(base, v) for n, v in ms.items() if n != "opencv"},
        "max_abs_diff_vs_float_reference": diff("ours"),
        "opencv_max_abs_diff": diff("opencv"),
        "opencv_fast_max_abs_diff": diff("opencv_fast"),
        "numpy_max_abs_diff": diff("numpy"),
        "libyuv_max_abs_diff": diff("libyuv"),
        "contenders": contenders,
        "job": {
            "source": f"{job.fmt.name} {job.src_width}x{job.src_height}",
            "crop": [job.crop.x, job.crop.y, job.crop.width, job.crop.height],
            "output": [job.out_height, job.out_width, job.n_channels],
            "dst": [job.dst.x, job.dst.y, job.dst.width, job.dst.height],
            "channels": job.channels, "type": job.out_type, "mul": list(job.mul), "add": list(job.add),
        },
        "rounds": run.rounds,
        "seed": run.seed,
        "wall_s": run.wall_s,
        "cold_pool": None if pool is None else {"frames": pool[0], "mib": round(pool[1] / MIB, 1)},
        "notes": notes,
        "machine": info,
        "load_average_after_case": machine.load_average(),
    }


def run_benchmark(settings: Settings, reporter: Any = None) -> dict[str, Any]:
    """Run every selected case and variant; returns the JSON document (see SCHEMA and docs/benchmarks.md).

    reporter: optional object with start(label, total), advance(n), stop(), warn(msg) (the CLI's rich progress).
    """
    from glassbridge.bench.cv import import_cv2

    cv2 = import_cv2()
    api = kernel_api()
    cases = select(settings.cases)
    isa = api.isa()
    lib = libyuv.find_libyuv() if settings.libyuv else None
    info = machine.machine_info({
        "isa": isa,
        "available_isas": api.available_isas(),
        "opencv_threads": cv2.getNumThreads(),
        "opencv_build_simd": _opencv_simd(cv2),
        "libyuv": str(lib.resolve()) if lib else None,
    })
    pool_bytes = settings.cold_pool_bytes or default_cold_pool_bytes()
    frames = _FrameCache()
    results: list[dict[str, Any]] = []
    for case in cases:
        buf = frames.get(case)
        item = wrap(case.fmt, buf, case.src_width, case.src_height)
        job = case.job(api.Normalization, api.letterbox_rect)
        norm = api.Normalization(job.mul, job.add)
        lineup = build_lineup(job, norm, isas=settings.isas, with_libyuv=settings.libyuv)
        acc = _check_accuracy(job, item, lineup.candidates)
        for name, rec in acc.items():
            if rec["within_tolerance"] is False and reporter is not None:
                reporter.warn(f"{case.name}: {name} is off by {rec['max_abs_diff_steps']:.3g} steps, more than "
                              f"its stated tolerance of {rec['tolerance_steps']}: its time is not a valid result")
        if accuracy.load_reference() is None:
            lineup.notes.append("accuracy unavailable: the float64 reference lives in the source checkout "
                                "(tests/reference), not in an installed package")
        contenders = [Contender(c.name, c.run, c.description) for c in lineup.candidates]
        for variant in settings.variants:
            notes = list(lineup.notes) + list(settings.extra_notes)
            pool_info: tuple[int, int] | None = None
            pool_arr = None
            if variant == "hot":
                source: Any = SameItem(item)
            elif variant == "cold":
                pool_arr, items = _pool(case, buf, pool_bytes)
                pool_info = (len(items), pool_arr.nbytes)
                source = Cycle(items)
                if settings.quick:
                    notes.append("quick run: the cold pool is smaller than the caches, cold figures are not "
                                 "DRAM-bound")
            else:
                raise ValueError(f"unknown variant {variant!r} (hot, cold)")
            run = run_interleaved(contenders, source, rounds=settings.rounds, seed=settings.seed,
                                  hot=variant == "hot", progress=reporter, label=f"{case.name} [{variant}]")
            results.append(_case_record(case, variant, job, lineup.candidates, run, acc, notes, info, isa,
                                        pool_info))
            del source, pool_arr
    return {
        "schema": SCHEMA,
        "quick": settings.quick,
        "rounds": settings.rounds,
        "seed": settings.seed,
        "isa": isa,
        "machine": info,
        "load_average_at_end": machine.load_average(),
        "cases": results,
    }


def _opencv_simd(cv2: Any) -> str | None:
    """OpenCV's baseline and run-time dispatched SIMD sets, from its build information."""
    found = []
    try:
        for line in cv2.getBuildInformation().splitlines():
            key, _, value = line.strip().partition(":")
            if key in ("Baseline", "Dispatched code generation"):
                found.append(f"{key.split()[0].lower()}: {' '.join(value.split())}")
    except Exception:  # noqa: BLE001 - informational only
        return None
    return "; ".join(found) or None
