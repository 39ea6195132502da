"""`glassbridge bench`: reproducible speed figures for the native kernels and the perception pipeline.

    glassbridge bench preprocess [--quick] [--json FILE] [--plot FILE.png]
    glassbridge bench vision [--quick] [--json FILE]
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
detector's letterboxed 192x192 float32, a face crop to 64x64 gray int8, and a decoded 720p JPEG to 224x224
uint8. Each contender's output is first checked against the float64 reference (accuracy in output steps); a
contender beyond its stated tolerance is flagged. Two variants: cache-hot (the same frame each call) and
DRAM-cold (a pool of frames larger than the last-level cache).
"""

_VISION_HELP = """\
Time the whole perception pipeline (FaceDetector, FacePipeline) on a 1080p NV12 frame with a face in it
against LiteRT's invoke() alone on an already-filled input, interleaved; report the overhead
(pipeline - invoke) / invoke (target: at most 15%), and each model's invoke latency with 1 and 2 threads.
"""


_LINK_HELP = """\
Measure the MCU link end to end: the real firmware (host port, or the Cortex-M4F build under QEMU with --board),
the link emulator at 921600 baud 8N1 (line rate 92,160 B/s) clean and with a byte error rate of 1e-4, and
glassbridge's Mcu client. Cases: a 256 KB transfer to the MCU (which verifies its SHA-256), the microphone
stream from it, a small request's round trip. Contenders: the glassbridge link (sliding window, selective
acknowledgement) and a stop-and-wait baseline (the same engine with a one-frame window). Runs are seeded and
interleaved; medians are reported. Targets: clean transfer goodput >= 0.93 of the line rate, >= 0.85 at 1e-4.
"""

_BLE_HELP = """\
Measure the phone link over the simulated BLE radio end to end: a 200 KB photo upload from the glasses
(glassbridge.phone on bleak's real BlueZ backend, through the rig's BlueZ facade and timing model: connection
interval 15 ms, LL payload 251, LE 2M) to `glassbridge companion`, which verifies its SHA-256. Cases: ATT MTU
185, 247 and 517, clean and with 3 forced disconnects (the glasses reconnect by themselves and resume).
Contenders: glassbridge (write without response, window, selective acknowledgement) and
baseline_write_with_response (the same frames as ATT write requests, each awaited: every chunk acknowledged, as
the open glasses SDKs do). Reports payload efficiency (upload bytes / ATT value bytes written, from the rig's
counters), goodput / the model's write-without-response ceiling, reverse ATT PDUs, lost and duplicated bytes
(from the companion). Targets: efficiency >= 0.95 at MTU 247 and 517, >= 0.93 at 185; goodput >= 0.8.
Needs dbus-daemon. A few minutes (--quick: MTU 247, 48 KB, one drop, under half a minute).
"""

_E2E_HELP = """\
Measure the assistant end to end on the simulated glasses: a tap on the main button (the firmware's host port,
through its control socket) to the answer card on the glasses' display. The firmware behind the UART link
emulator at 921600 baud, the Assistant with real perception and JPEG, the phone link over the BLE rig (15 ms
connection interval) to `glassbridge companion` with the offline brain. The total runs from the MCU recognising
the tap (ButtonEvent.at_ms) to the MCU flushing the answer card (both on the MCU's clock); the stages (event over
UART, capture, perception, JPEG, BLE round trip, brain, answer stream, card over UART) come from the Assistant's
timeline. Reports p50 and p95 (target: p50 <= 250 ms). Needs dbus-daemon and espeak-ng; about a second per tap.
"""


def add_parser(subparsers: Any) -> None:
    """Register `bench` and its subcommands on the top-level CLI's subparsers."""
    p = subparsers.add_parser(
        "bench", help="benchmarks: preprocessing kernels vs OpenCV/numpy/libyuv, pipeline vs invoke",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="bench_command", metavar="{preprocess,vision,link,ble,e2e}")
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

    pl = sub.add_parser("link", help="MCU link goodput and latency through the emulated UART vs stop-and-wait",
                        description=_LINK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("--quick", action="store_true", help="one run of each case with 64 KB (a smoke run)")
    pl.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pl.add_argument("--plot", metavar="FILE.png", type=Path, help="write a goodput chart (PNG, needs matplotlib)")
    pl.add_argument("--board", default="host", choices=("host", "mps2-an386", "netduinoplus2"),
                    help="which firmware build answers (default: host port)")
    pl.add_argument("--runs", type=positive_int, metavar="N", help="seeded runs per case (default 5; 1 with --quick)")
    pl.add_argument("--seed", type=int, default=1, help="fault seed of the first run")

    pble = sub.add_parser("ble", help="phone link over the BLE rig: 200 KB upload vs a write-with-response baseline",
                        description=_BLE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pble.add_argument("--quick", action="store_true", help="MTU 247, 48 KB, one run, one drop (a smoke run)")
    pble.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pble.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write efficiency and goodput charts per MTU (PNG, needs matplotlib)")
    pble.add_argument("--runs", type=positive_int, metavar="N",
                      help="runs of glassbridge per case (default 3; 1 with --quick)")
    pble.add_argument("--baseline-runs", type=non_negative_int, metavar="N",
                    help="runs of the baseline per case, within the first N runs (default 1: its time is set by "
                         "the radio model, about two connection events per write, and it takes ~20x longer)")
    pble.add_argument("--mtu", type=int_in(131, 517), action="append", dest="mtus", metavar="MTU",
                    help="ATT MTU of the companion (repeatable; default 185, 247 and 517)")
    pble.add_argument("--drops", type=positive_int, metavar="N",
                      help="forced disconnects in the faulty case (default 3)")
    pble.add_argument("--workdir", type=Path, metavar="DIR",
                    help="keep the rigs' logs and state here (default: a temporary folder, removed)")

    pe = sub.add_parser("e2e", help="tap to answer card on the simulated glasses (firmware, BLE rig, companion)",
                        description=_E2E_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pe.add_argument("--taps", type=positive_int, default=50, metavar="N", help="measured taps (default 50)")
    pe.add_argument("--warmup", type=non_negative_int, default=2, metavar="N",
                    help="taps run first and not counted (default 2)")
    pe.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pe.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write the per-tap stage split and the latency distribution (PNG, needs matplotlib)")
    pe.add_argument("--scene", default="astronaut", metavar="NAME",
                    help="the image in view: a test image of the manifest, found like the models from any "
                         "folder (default astronaut: one person; `glassbridge models list` shows the others)")
    pe.add_argument("--emotions", action="store_true", help="recognise expressions too (opt-in in the product)")
    pe.add_argument("--speak", action="store_true", help="speak each answer too (after the card; slower runs)")
    pe.add_argument("--jpeg-size", type=size_arg(16, 4096), metavar="WxH",
                    help="largest size of the JPEG sent to the phone (default: the [camera] width and height)")
    pe.add_argument("--jpeg-quality", type=int_in(1, 100), metavar="Q",
                    help="JPEG quality 1..100 (default: [camera] quality)")
    pe.add_argument("--interval", type=float_in(7.5, 4000.0), default=15.0, metavar="MS",
                    help="BLE connection interval, 7.5..4000 (default 15)")
    pe.add_argument("--baud", type=int_in(1200, 20_000_000), default=921600, metavar="N",
                    help="MCU link line rate (default 921600)")
    pe.add_argument("--workdir", type=Path, metavar="DIR",
                    help="keep the rig's logs and state here (default: a temporary folder, removed)")
    p.set_defaults(func=run)


class _UsageError(ValueError):
    pass


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
        if args.bench_command == "link":
            return _run_link(args, console)
        if args.bench_command == "ble":
            return _run_ble(args, console)
        if args.bench_command == "e2e":
            return _run_e2e(args, console)
    except _UsageError as exc:
        print(f"glassbridge bench {args.bench_command}: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"glassbridge bench {args.bench_command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(f"glassbridge bench: unknown benchmark {args.bench_command!r}", file=sys.stderr)
    return 2


def _write_json(path: Path | None, doc: dict[str, Any], console: Any) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    console.print(f"JSON written to {path}")


def _at_least(option: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise _UsageError(f"{option} must be at least {minimum}, got {value}")


def _check_plot(path: Path) -> None:
    """--plot writes a PNG with matplotlib: check both before minutes of measuring, not after."""
    if path.suffix.lower() != ".png":
        raise _UsageError(f"--plot writes a PNG: give a file name ending in .png, got {path}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'glassbridge[bench]'") from None


def _run_preprocess(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.cases import CASES, select
    from glassbridge.bench.preprocess import MIB, Settings, run_benchmark

    if args.list_cases:
        for c in CASES:
            print(f"{c.name}\n    {c.what}")
        return 0
    settings = Settings.quick_settings() if args.quick else Settings()
    if args.rounds is not None:
        _at_least("--rounds", args.rounds, 1)
        settings.rounds = args.rounds
    if args.cold_pool_mb is not None:
        _at_least("--cold-pool-mb", args.cold_pool_mb, 1)
        settings.cold_pool_bytes = args.cold_pool_mb * MIB
    if args.seed is not None:
        settings.seed = args.seed
    try:
        select(args.cases)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    settings.cases = args.cases
    if args.variants:
        settings.variants = tuple(dict.fromkeys(args.variants))
    settings.isas = not args.no_isas
    settings.libyuv = not args.no_libyuv
    if args.plot is not None:
        _check_plot(args.plot)
    doc = run_benchmark(settings, report.RichReporter(console))
    out = _stdout_console()
    for table in report.preprocess_tables(doc):
        out.print(table)
    from rich.markup import escape

    seen: set[tuple[str, str]] = set()
    for r in doc["cases"]:
        for note in r["notes"]:
            if (r["name"], note) not in seen:
                seen.add((r["name"], note))
                console.print(f"[dim]{escape(r['name'])}: {escape(note)}[/]")
    _write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_speedups

        console.print(f"chart written to {plot_speedups(doc, args.plot)}")
    return 0


def _run_vision(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.vision import VisionSettings, run_vision_benchmark

    settings = VisionSettings.quick_settings() if args.quick else VisionSettings()
    if args.rounds is not None:
        _at_least("--rounds", args.rounds, 1)
        settings.rounds = args.rounds
    doc = run_vision_benchmark(settings, report.RichReporter(console))
    out = _stdout_console()
    for table in report.vision_tables(doc):
        out.print(table)
    for note in doc.get("notes", []):
        console.print(f"[dim]{note}[/]")
    _write_json(args.json, doc, console)
    return 0


def _run_link(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.link import LinkBenchSettings, run_link_benchmark

    settings = LinkBenchSettings.quick_settings() if args.quick else LinkBenchSettings()
    settings.board = args.board
    settings.seed = args.seed
    if args.runs is not None:
        _at_least("--runs", args.runs, 1)
        settings.runs = args.runs
    if args.plot is not None:
        _check_plot(args.plot)
    with console.status("link benchmark") as status:
        doc = run_link_benchmark(settings, progress=lambda text: status.update(f"link benchmark: {text}"))
    _stdout_console().print(report.link_table(doc))
    _write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_link

        console.print(f"chart written to {plot_link(doc, args.plot)}")
    return 0


def _run_ble(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge.bench.ble import BleBenchSettings, run_ble_benchmark

    settings = BleBenchSettings.quick_settings() if args.quick else BleBenchSettings()
    if args.runs is not None:
        _at_least("--runs", args.runs, 1)
        settings.runs = args.runs
    if args.baseline_runs is not None:
        _at_least("--baseline-runs", args.baseline_runs, 0)
        settings.baseline_runs = args.baseline_runs
    if args.mtus:
        bad = [m for m in args.mtus if not 131 <= m <= 517]
        if bad:
            raise _UsageError(f"--mtu {bad[0]}: the glassbridge link runs on ATT MTU 131 to 517")
        settings.mtus = tuple(dict.fromkeys(args.mtus))
    if args.drops is not None:
        _at_least("--drops", args.drops, 1)
        settings.disconnects = (0, args.drops)
    settings.workdir = args.workdir
    if args.plot is not None:
        _check_plot(args.plot)
    doc = _with_progress(console, "ble benchmark", lambda progress: run_ble_benchmark(settings, progress=progress))
    _stdout_console().print(report.ble_table(doc))
    console.print(f"[dim]{doc['wall_seconds']:.0f} s; load average {doc['machine']['load_average'][0]:.2f} on "
                  f"{doc['machine']['cpu_count']} CPUs (goodput is wall-clock: a loaded machine lowers it)[/]")
    _write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_ble

        console.print(f"chart written to {plot_ble(doc, args.plot)}")
    return 0


def _with_progress(console: Any, name: str, run: Callable[[Callable[[str], None]], Any]) -> Any:
    """Runs `run(progress)`: its step descriptions on a transient rich spinner line on a terminal, one line per
    step otherwise (a log file)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:
        return run(lambda text: console.print(f"{name}: {text}"))
    with Progress(SpinnerColumn(), TextColumn(f"{name}: {{task.description}}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        return run(lambda text: bar.update(task, description=text))


def _run_e2e(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench.e2e import E2eBenchSettings, e2e_table, plot_e2e, run_e2e_benchmark

    _at_least("--taps", args.taps, 1)
    _at_least("--warmup", args.warmup, 0)
    settings = E2eBenchSettings(taps=args.taps, warmup=args.warmup, scene=args.scene, emotions=args.emotions,
                                speak=args.speak, interval_ms=args.interval, baud=args.baud, workdir=args.workdir,
                                jpeg_quality=args.jpeg_quality)
    if args.jpeg_size is not None:
        settings.jpeg_width, settings.jpeg_height = args.jpeg_size
    try:
        settings.validate()
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if args.plot is not None:
        _check_plot(args.plot)
    doc = _with_progress(console, "e2e benchmark", lambda progress: run_e2e_benchmark(settings, progress=progress))
    _stdout_console().print(e2e_table(doc))
    for failure in doc["failures"]:
        console.print(f"[yellow]question {failure['question']}: {failure['reason']}[/]")
    console.print(f"[dim]{doc['wall_seconds']:.0f} s; load average {doc['machine']['load_average'][0]:.2f} on "
                  f"{doc['machine']['cpu_count']} CPUs; brain: {doc['brain_source']}[/]")
    _write_json(args.json, doc, console)
    if args.plot is not None and doc["complete"]:
        console.print(f"chart written to {plot_e2e(doc, args.plot)}")
    return 0 if doc["complete"] == doc["taps"] else 1


def _stdout_console() -> Any:
    """Tables go to stdout (the result), progress and notes to stderr."""
    from rich.console import Console

    return Console(width=200 if not sys.stdout.isatty() else None)
