"""Accuracy of each contender against the float64 reference of the kernel contract, in output steps.

The reference is the project's one independent float64 implementation (tests/reference/preprocess_ref.py, and
preprocess_area_ref.py for the area mode, read from the checkout): there is deliberately no second reference
here. When glassbridge runs from an installed wheel the reference is not there and accuracy is reported as
unavailable.

An output step is one quantisation level for uint8/int8 outputs, and 1/255 of the input range as it appears in
the output for float32 (|mul|). Integer outputs are compared with the reference rounded the way an exact kernel
rounds (half to even, saturated), so an exact kernel scores 0 and the contract's bound is 1.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from glassbridge.bench.geometry import Job
from glassbridge.bench.synthetic import BenchFrame

_cache: dict[str, ModuleType | None] = {}


def load_reference(name: str = "preprocess_ref") -> ModuleType | None:
    """A float64 reference module (preprocess_ref, or preprocess_area_ref for area jobs), or None when not running
    from a checkout.

    The only place that knows where the reference lives: repoint it here when it moves into the package.
    """
    if name in _cache:
        return _cache[name]
    module: ModuleType | None = None
    root = Path(__file__).resolve().parents[3]  # python/glassbridge/bench/accuracy.py -> checkout root
    path = root / "tests" / "reference" / f"{name}.py"
    if path.is_file():
        spec = importlib.util.spec_from_file_location(f"glassbridge_bench_{name}", path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses resolve their module by name
            spec.loader.exec_module(module)
    _cache[name] = module
    return module


def reference_output(job: Job, item: BenchFrame) -> np.ndarray | None:
    """What an exact kernel would store for this job and frame (float64 for float32 outputs), or None."""
    ref = load_reference()
    values = load_reference("preprocess_area_ref") if job.interpolation == "area" else ref
    if ref is None or values is None:
        return None
    f = item.frame
    c, d = job.crop, job.dst
    geo = ref.Geometry((c.x, c.y, c.width, c.height), job.out_width, job.out_height, (d.x, d.y, d.width, d.height))
    y = values.reference_values(f.format.value, list(f.planes), f.width, f.height, f.range.value, geo, job.channels,
                             job.mul, job.add, (job.pad,) * 3)
    if job.out_type == "float32":
        return np.asarray(y, np.float64)
    return np.asarray(ref.quantize(y, job.out_dtype), np.float64)


def abs_diff_steps(job: Job, out: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|out - expected| per element, in output steps (per channel step for float32)."""
    steps: np.ndarray = np.abs(out.astype(np.float64) - expected) / job.step()
    return steps


def max_abs_diff_steps(job: Job, out: np.ndarray, expected: np.ndarray) -> float:
    """max |out - expected| over the tensor, in output steps."""
    return float(abs_diff_steps(job, out, expected).max())


def describe(value: float | None, tolerance: float | None, mean: float | None = None) -> dict[str, Any]:
    """The JSON record of one contender's accuracy: worst and mean error, and the promise it is held to."""
    return {
        "max_abs_diff_steps": value,
        "mean_abs_diff_steps": mean,
        "tolerance_steps": tolerance,
        "within_tolerance": None if value is None or tolerance is None else bool(value <= tolerance),
    }
