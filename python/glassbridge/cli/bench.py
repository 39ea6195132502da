"""`glassbridge bench`: reproducible speed figures for the native kernels and the perception pipeline.

    glassbridge bench preprocess [--quick] [--json FILE] [--plot FILE.png]
    glassbridge bench vision [--quick] [--json FILE]
    glassbridge bench redact [--quick] [--json FILE]
    glassbridge bench aliasing [--quick] [--json FILE] [--plot FILE.png]

With the rig installed (glassbridge-rig: the firmware under emulation, the BLE rig, the companion), also:

    glassbridge bench link [--quick] [--json FILE] [--plot FILE.png]
    glassbridge bench ble [--quick] [--json FILE] [--plot FILE.png] [--runs N]
    glassbridge bench e2e [--taps 50] [--json FILE] [--plot FILE.png]

Everything runs in one process on one thread, contenders interleaved round by round; the figures are medians.
docs/benchmarks.md explains what is measured and why, and shows the figures of a full run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glassbridge.cli._args import float_in, int_in, non_negative_int, positive_int, size_arg

_PREPROCESS_HELP = """\
Time glassbridge's fused preprocessing kernel against OpenCV (convert-then-resize, the baseline of every
ratio, and its faster resize-planes-first path), a fused numpy implementation and libyuv (when libyuv0 is
installed), on the jobs the models ask for: 1080p/VGA NV12 to a 224x224 int8 classifier, 1080p to the face
detector's letterboxed 192x192 float32 (also in the area-averaging mode, against OpenCV cvtColor + resize
INTER_AREA and our bilinear time: case nv12_1920x1080_to_192x192_float32_area), a face crop to 64x64 gray int8,
and a decoded 720p JPEG to 224x224 uint8. Each contender's output is first checked against the float64
reference (accuracy in output steps); a contender beyond its stated tolerance is flagged. Two variants:
cache-hot (the same frame each call) and DRAM-cold (a pool of frames larger than the last-level cache).
"""

_VISION_HELP = """\
Time the whole perception pipeline (FaceDetector, FacePipeline) on a 1080p NV12 frame with a face in it
against LiteRT's invoke() alone on an already-filled input, interleaved; report the overhead
(pipeline - invoke) / invoke (target: at most 15%), and each model's invoke latency with 1 and 2 threads.
"""


_REDACT_HELP = """\
Time the pixelation of the faces in the photo sent to the phone ([privacy] blur_faces) on a 480x360 upload of
the astronaut (one face, found by the glasses' detector, grown as the assistant grows it): the native kernel
against OpenCV's resize idiom and numpy block means, with the whole photo pass (preprocess, blur, JPEG) with and
without the blur for scale. Interleaved rounds, medians. Target: the blur under 0.5 ms.
"""

_ALIASING_HELP = """\
Measure how much the face detector's scores move when the camera frame moves by 0-5 pixels (aliasing of the
~10x reduction from 1080p to the model input), and how many faces of each size it finds, for each way of
shrinking the frame: the fused kernel's 2x2 bilinear taps (bilinear), its area-averaging mode (area), and
OpenCV's cvtColor + INTER_AREA as an independent reference (opencv_area); both BlazeFace models.

Scenes are deterministic (--seed): 1920x1080 and 1280x720 frames over real photos (coffee, chelsea, text), faces
(astronaut, camera man, Grace Hopper) pasted 24-450 px wide, Gaussian sensor noise of --noise levels on R, G, B,
converted to NV12 as a camera sends it. Each scene is shifted by every (dx, dy) in 0..5.

  swing   max - min of a face's score over the shifts (a miss counts as 0), max and median over the faces that
          some pipeline finds, and over the confident faces (OpenCV's reference scores them >= 0.8 on average);
          target: the confident median <= 0.08
  recall  (face, shift) pairs found with score >= 0.5 and IoU >= 0.3 against the face's annotated box, per face
          width bucket

Examples:
  glassbridge bench aliasing                         # the full run (about 80 s here)
  glassbridge bench aliasing --model full_range --json out/aliasing.json --plot out/aliasing.png
  glassbridge bench aliasing --quick                 # 2 scenes, 7 shifts: a smoke run
"""


def add_parser(subparsers: Any) -> None:
    """Register `bench` and its subcommands on the top-level CLI's subparsers."""
    p = subparsers.add_parser(
        "bench", help="benchmarks: preprocessing kernels vs OpenCV/numpy/libyuv, pipeline vs invoke",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="bench_command", metavar="<benchmark>")
    sub.required = True

    pp = sub.add_parser("preprocess", help="fused preprocessing kernel vs OpenCV, numpy, libyuv",
                        description=_PREPROCESS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pp.add_argument("--quick", action="store_true",
                    help="a few seconds: 5 rounds and a small cold pool (a smoke run, not figures to quote)")
    pp.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pp.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write a bar chart of the speed-ups over OpenCV (PNG, needs matplotlib)")
    pp.add_argument("--rounds", type=positive_int, metavar="N", help="timed calls per contender and variant "
                    "(default 300; 5 with --quick)")
    pp.add_argument("--case", action="append", metavar="NAME", dest="cases",
                    help="run only this case (repeatable); --list-cases shows the names")
    pp.add_argument("--list-cases", action="store_true", help="print the case names and what each models, then exit")
    pp.add_argument("--variant", action="append", choices=("hot", "cold"), dest="variants",
                    help="cache-hot and/or DRAM-cold (default: both)")
    pp.add_argument("--cold-pool-mb", type=positive_int, metavar="MB",
                    help="size of the DRAM-cold frame pool (default: max(256, last-level cache + 64), <= 1024)")
    pp.add_argument("--no-isas", action="store_true", help="time only the active ISA path of ours")
    pp.add_argument("--no-libyuv", action="store_true", help="leave libyuv out even when installed")
    pp.add_argument("--seed", type=int, help="seed of the per-round contender order")

    pv = sub.add_parser("vision", help="perception pipeline vs LiteRT invoke alone; model latencies",
                        description=_VISION_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pv.add_argument("--quick", action="store_true", help="a few rounds only (a smoke run)")
    pv.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pv.add_argument("--rounds", type=positive_int, metavar="N", help="timed calls per contender (default 300; 5 quick)")

    pr = sub.add_parser("redact", help="blurring the faces in the photo for the phone: its cost on 480x360",
                        description=_REDACT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pr.add_argument("--quick", action="store_true", help="a few rounds only (a smoke run)")
    pr.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pr.add_argument("--rounds", type=positive_int, metavar="N", help="timed calls per contender (default 300; 20 quick)")

    pa = sub.add_parser("aliasing", help="face detector: score swing under 0-5 px shifts, recall per face size",
                        description=_ALIASING_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pa.add_argument("--quick", action="store_true",
                    help="2 scenes and 7 shifts instead of 24 scenes and 36 (a smoke run, not figures to quote)")
    pa.add_argument("--json", metavar="FILE", type=Path, help="write the results (every face's scores too) as JSON")
    pa.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write a chart of swing and recall per face size (PNG, needs matplotlib)")
    pa.add_argument("--model", action="append", choices=("full_range", "short_range"), dest="models",
                    help="measure only this detector model (repeatable; default: both)")
    pa.add_argument("--pipeline", action="append", choices=("bilinear", "area", "opencv_area"), dest="pipelines",
                    help="measure only this pipeline (repeatable; default: all three)")
    pa.add_argument("--scenes", type=int_in(1, 50), metavar="N",
                    help="1920x1080 scenes (default 16; 1 with --quick); 1280x720 scenes are half as many, rounded up")
    pa.add_argument("--noise", type=float_in(0.0, 50.0), metavar="SIGMA",
                    help="sensor noise: Gaussian sigma in 8-bit levels on each of R, G, B (default 3)")
    pa.add_argument("--seed", type=non_negative_int, help="seed of the scenes (default 0)")

    from glassbridge.cli import plugins  # the rig's benchmarks (link, ble, e2e) when it is installed

    for plugin in plugins.entry_points(plugins.BENCH_GROUP):
        plugins.register(plugin, sub)
    p.set_defaults(func=run)


class UsageError(ValueError):
    """A bad combination of arguments, found after parsing: exit status 2."""


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark: 0 on success; one line on stderr and 2 for a bad argument, 1 when the benchmark
    cannot run here (native kernels not built, OpenCV or a model missing)."""
    from rich.console import Console

    console = Console(stderr=True)
    try:
        if args.bench_command == "preprocess":
            return _run_preprocess(args, console)
        if args.bench_command == "vision":
            return _run_vision(args, console)
        if args.bench_command == "redact":
            return _run_redact(args, console)
        if args.bench_command == "aliasing":
            return _run_aliasing(args, console)
        plugin = getattr(args, "bench_run", None)
        if plugin is not None:
            return int(plugin(args, console))
    except UsageError as exc:
        print(f"glassbridge bench {args.bench_command}: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"glassbridge bench {args.bench_command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(f"glassbridge bench: unknown benchmark {args.bench_command!r}", file=sys.stderr)
    return 2


def write_json(path: Path | None, doc: dict[str, Any], console: Any) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    console.print(f"JSON written to {path}")


def at_least(option: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise UsageError(f"{option} must be at least {minimum}, got {value}")


def check_plot(path: Path) -> None:
    """--plot writes a PNG with matplotlib: check both before minutes of measuring, not after."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot writes a PNG: give a file name ending in .png, got {path}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'glassbridge[bench]'") from None


def _run_preprocess(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.cases import CASES, select
    from glassbridge.bench.machine import MIB
    from glassbridge.bench.preprocess import Settings, run_benchmark

    if args.list_cases:
        for c in CASES:
            print(f"{c.name}\n    {c.what}")
        return 0
    settings = Settings.quick_settings() if args.quick else Settings()
    if args.rounds is not None:
        at_least("--rounds", args.rounds, 1)
        settings.rounds = args.rounds
    if args.cold_pool_mb is not None:
        at_least("--cold-pool-mb", args.cold_pool_mb, 1)
        settings.cold_pool_bytes = args.cold_pool_mb * MIB
    if args.seed is not None:
        settings.seed = args.seed
    try:
        select(args.cases)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings.cases = args.cases
    if args.variants:
        settings.variants = tuple(dict.fromkeys(args.variants))
    settings.isas = not args.no_isas
    settings.libyuv = not args.no_libyuv
    if args.plot is not None:
        check_plot(args.plot)
    doc = run_benchmark(settings, report.RichReporter(console))
    out = stdout_console()
    for table in report.preprocess_tables(doc):
        out.print(table)
    from rich.markup import escape

    seen: set[tuple[str, str]] = set()
    for r in doc["cases"]:
        for note in r["notes"]:
            if (r["name"], note) not in seen:
                seen.add((r["name"], note))
                console.print(f"[dim]{escape(r['name'])}: {escape(note)}[/]")
    write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_speedups

        console.print(f"chart written to {plot_speedups(doc, args.plot)}")
    return 0


def _run_vision(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.vision import VisionSettings, run_vision_benchmark

    settings = VisionSettings.quick_settings() if args.quick else VisionSettings()
    if args.rounds is not None:
        at_least("--rounds", args.rounds, 1)
        settings.rounds = args.rounds
    doc = run_vision_benchmark(settings, report.RichReporter(console))
    out = stdout_console()
    for table in report.vision_tables(doc):
        out.print(table)
    for note in doc.get("notes", []):
        console.print(f"[dim]{note}[/]")
    write_json(args.json, doc, console)
    return 0


def _run_redact(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.redact import RedactSettings, redact_table, run_redact_benchmark

    settings = RedactSettings.quick_settings() if args.quick else RedactSettings()
    if args.rounds is not None:
        at_least("--rounds", args.rounds, 1)
        settings.rounds = args.rounds
    doc = run_redact_benchmark(settings, report.RichReporter(console))
    stdout_console().print(redact_table(doc))
    for note in doc.get("notes", []):
        console.print(f"[dim]{note}[/]")
    write_json(args.json, doc, console)
    return 0


def _run_aliasing(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.aliasing import AliasingSettings, aliasing_tables, run_aliasing_benchmark

    settings = AliasingSettings.quick_settings() if args.quick else AliasingSettings()
    if args.scenes is not None:
        settings.scenes_1080, settings.scenes_720 = args.scenes, (args.scenes + 1) // 2
    if args.noise is not None:
        settings.noise = args.noise
    if args.seed is not None:
        settings.seed = args.seed
    if args.models:
        settings.models = tuple(dict.fromkeys(args.models))
    if args.pipelines:
        settings.pipelines = tuple(dict.fromkeys(args.pipelines))
    if args.plot is not None:
        check_plot(args.plot)
    doc = run_aliasing_benchmark(settings, report.RichReporter(console))
    out = stdout_console()
    for table in aliasing_tables(doc):
        out.print(table)
    for note in doc.get("notes", []):
        console.print(f"[dim]{note}[/]")
    write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.aliasing import plot_aliasing

        console.print(f"chart written to {plot_aliasing(doc, args.plot)}")
    return 0


def with_progress(console: Any, name: str, run: Callable[[Callable[[str], None]], Any]) -> Any:
    """Runs `run(progress)`: its step descriptions on a transient rich spinner line on a terminal, one line per
    step otherwise (a log file)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        return run(lambda text: console.print(f"{name}: {text}"))
    with Progress(SpinnerColumn(), TextColumn(f"{name}: {{task.description}}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        return run(lambda text: bar.update(task, description=text))


def stdout_console() -> Any:
    """Tables go to stdout (the result), progress and notes to stderr."""
    from rich.console import Console

    return Console(width=200 if not sys.stdout.isatty() else None)
