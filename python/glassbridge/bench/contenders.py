"""Every contender of the preprocessing benchmark, built for one job, each with its own output buffer.

A `Candidate` couples the callable the harness times with the buffer it writes and the accuracy it promises
(`tolerance_steps`, in output steps against the float64 reference). The benchmark checks every candidate's
output against the reference before timing it: a contender that breaks its promise is flagged in the table and
the JSON, so a fast wrong result cannot pass for a fast right one. `None` means "accuracy reported, not
promised" (OpenCV's resize-planes-first path is known to be wrong at chroma edges).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassbridge.bench import libyuv
from glassbridge.bench.geometry import Job
from glassbridge.bench.normalise import Normaliser
from glassbridge.bench.numpy_fused import NumpyFused
from glassbridge.bench.opencv import OpenCvConvertResize, OpenCvResizePlanes
from glassbridge.bench.synthetic import BenchFrame
from glassbridge.camera.frame import PixelFormat

# Tolerances in output steps. Ours: the contract. numpy: same semantics in float32. OpenCV: its 8-bit
# intermediate RGB image and fixed-point arithmetic cost up to 2 levels (spikes/preprocess/accuracy.txt).
# libyuv: its 6-bit colour coefficients cost up to ~2.2 levels and its bilinear scaler up to ~3.9 (measured on
# the benchmark frames against the float reference), so it is held to 6.
TOL_OURS = 1.0
TOL_NUMPY = 1.0
TOL_OPENCV = 2.0
TOL_LIBYUV = 6.0


@dataclass
class Candidate:
    name: str
    description: str
    impl: Callable[[BenchFrame, np.ndarray], None]
    out: np.ndarray
    tolerance_steps: float | None

    def run(self, item: BenchFrame) -> None:
        self.impl(item, self.out)


@dataclass
class Lineup:
    candidates: list[Candidate]
    notes: list[str]


def kernel_api() -> Any:
    """glassbridge.vision.preprocess (the module under test), with a clear error when the extension is missing."""
    try:
        from glassbridge.vision import preprocess as api
    except ImportError as exc:
        raise RuntimeError(
            "glassbridge's native kernels are not importable: build them with `make native` "
            f"(import error: {exc})") from exc
    return api


def _ours(api: Any, job: Job, norm: Any, isa: str | None,
          interpolation: str | None = None) -> Callable[[BenchFrame, np.ndarray], None]:
    crop = (job.crop.x, job.crop.y, job.crop.width, job.crop.height)
    dst = (job.dst.x, job.dst.y, job.dst.width, job.dst.height)
    preprocess, channels, pad = api.preprocess, job.channels, job.pad
    interp = job.interpolation if interpolation is None else interpolation

    if isa is None:
        def run(item: BenchFrame, out: np.ndarray) -> None:
            preprocess(item.frame, out, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad,
                       interpolation=interp)
        return run

    force_isa = api.force_isa

    def run_isa(item: BenchFrame, out: np.ndarray) -> None:
        with force_isa(isa):
            preprocess(item.frame, out, crop=crop, channels=channels, norm=norm, dst=dst, pad=pad,
                       interpolation=interp)
    return run_isa


def _area_lineup(api: Any, job: Job, norm: Any, isas: bool) -> Lineup:
    """An area job: ours (area) per ISA, ours bilinear on the same job, OpenCV cvtColor + INTER_AREA."""
    active = api.isa()
    c: list[Candidate] = [Candidate("ours", f"glassbridge fused kernel, area averaging, active ISA ({active})",
                                    _ours(api, job, norm, None), job.new_output(), TOL_OURS)]
    if isas:
        for name in api.available_isas():
            c.append(Candidate(f"ours[{name}]", f"glassbridge fused kernel, area averaging, {name} path",
                               _ours(api, job, norm, name), job.new_output(), TOL_OURS))
    c.append(Candidate("ours_bilinear", f"glassbridge fused kernel, bilinear 2x2 taps ({active}): the time area "
                       "is held to (at most 2x); its output is another contract, so accuracy is not promised",
                       _ours(api, job, norm, None, "bilinear"), job.new_output(), None))
    cv_norm = Normaliser(job, "cv2").describe()
    convert = "cvtColor + " if job.fmt is PixelFormat.NV12 or job.channels != "rgb" else ""
    # OpenCV converts every pixel (clamped to the RGB gamut) and then averages; our contract averages Y, U, V and
    # converts once. Both are exact for in-gamut pixels; at out-of-gamut chroma edges the clamps differ (on the
    # benchmark frame, exact float64 convert-then-average vs average-then-convert: max 4.1 levels, mean 0.008).
    # So its accuracy against our reference is reported, not promised.
    c.append(Candidate("opencv", f"OpenCV {convert}resize INTER_AREA, then {cv_norm} (baseline; converts before "
                       "averaging, so it differs from the area contract where the gamut clamp acts)",
                       OpenCvConvertResize(job), job.new_output(), None))
    notes = ["area job: numpy, libyuv and OpenCV's resize-planes-first contenders are bilinear, so not run; "
             "accuracy is against the float64 reference of the area contract (tests/reference/"
             "preprocess_area_ref.py)"]
    return Lineup(c, notes)


def build_lineup(job: Job, norm: Any, *, isas: bool = True, with_libyuv: bool = True) -> Lineup:
    """ours (active ISA), ours[<isa>] for each available path, OpenCV x2, numpy, libyuv when installed."""
    api = kernel_api()
    if job.interpolation == "area":
        return _area_lineup(api, job, norm, isas)
    notes: list[str] = []
    active = api.isa()
    c: list[Candidate] = [Candidate("ours", f"glassbridge fused kernel, active ISA ({active})",
                                    _ours(api, job, norm, None), job.new_output(), TOL_OURS)]
    if isas:
        for name in api.available_isas():
            c.append(Candidate(f"ours[{name}]", f"glassbridge fused kernel forced to the {name} path",
                               _ours(api, job, norm, name), job.new_output(), TOL_OURS))
    cv_norm = Normaliser(job, "cv2").describe()
    np_norm = Normaliser(job, "numpy").describe()
    convert = "cvtColor + " if job.fmt is PixelFormat.NV12 or job.channels != "rgb" else ""
    c.append(Candidate("opencv", f"OpenCV {convert}resize INTER_LINEAR, then {cv_norm} (baseline)",
                       OpenCvConvertResize(job), job.new_output(), TOL_OPENCV))
    if job.fmt is PixelFormat.NV12:
        gray_norm = Normaliser(job, "cv2", pre_lut=np.arange(256, dtype=np.uint8)).describe()
        c.append(Candidate("opencv_fast", "OpenCV resize Y and UV planes, then cvtColor (inexact at chroma edges), "
                           f"then {cv_norm}" if job.channels != "gray" else
                           f"OpenCV resize the luma plane, then one {gray_norm} (range expansion + normalisation)",
                           OpenCvResizePlanes(job), job.new_output(), None))
    else:
        notes.append("opencv_fast: not applicable to an RGB source (no colour conversion to reorder)")
    c.append(Candidate("numpy", "numpy fused gather of the four taps, LUT colour conversion, float32 "
                       "interpolation and normalisation",
                       NumpyFused(job), job.new_output(), TOL_NUMPY))
    if with_libyuv and libyuv.find_libyuv() is not None:
        gray_norm = Normaliser(job, "numpy", pre_lut=np.arange(256, dtype=np.uint8)).describe()
        desc = {"gray": f"libyuv ScalePlane (luma), then one {gray_norm} (range expansion + normalisation)"}.get(
            job.channels, f"libyuv NV12ToARGB + ARGBScale bilinear, then {np_norm}"
            if job.fmt is PixelFormat.NV12 else f"libyuv RGBScale bilinear, then {np_norm}")
        c.append(Candidate("libyuv", desc, libyuv.LibyuvConvertScale(job), job.new_output(), TOL_LIBYUV))
    elif with_libyuv:
        notes.append("libyuv: skipped, not installed (apt-get install libyuv0)")
    return Lineup(c, notes)
