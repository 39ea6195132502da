"""The rig's benchmarks under `glassbridge bench`: the MCU link through the emulated UART (`link`), the phone link
over the BLE rig (`ble`), tap to answer card on the simulated glasses (`e2e`) and the int8 engine with the wake
word on the MCU (`int8`).

Registered through the `glassbridge.bench` entry point group, so an installation without the rig offers only the
glasses' own benchmarks (preprocess, vision).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from glassbridge.cli._args import float_in, int_in, non_negative_int, positive_int, size_arg
from glassbridge.cli.bench import UsageError, at_least, check_plot, stdout_console, with_progress, write_json

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

--question sign taps the capture button instead ("What does this sign say?"): the glasses send text mode's photo
([camera] text_mode: the centre of the frame) and the phone reads it with its offline OCR, reported as the `ocr`
stage (the brain stage is the rest of the phone's time). Its scene is a rendered sign ("Platform 3 / Exit B")
unless --scene names another.
"""


_INT8_HELP = """\
Measure glassbridge's int8 engine (gbnn, nn/) and the wake word on the MCU (issue 15), in five parts:

  Cortex-M4F cost   firmware/bench/wake_bench.c runs N 10 ms steps of espeak-ng's "okay nabu, what am I looking
                    at" through the firmware's own gb_wake_step (frontend every step, okay_nabu every third) under
                    qemu-system-arm (mps2-an386) with QEMU's instruction-count plugin (scripts/arm64/insn-plugin.sh
                    builds it once), twice with two N: (I2 - I1) / (N2 - N1) per step, boot excluded; also the
                    frontend alone and one invoke alone. Share of a 64 MHz core at 1 instruction per cycle
                    (target: under 25%). QEMU counts instructions, not cycles.
  memory            gbnn_arena_used measured on the M4; the firmware's text/data/bss with and without the wake
                    word (glassbridge-fw.elf vs glassbridge-fw-nowake.elf, same build); nn objects and model from
                    the .map.
  detections        the host firmware listening while it plays the demo's espeak-ng phrases and negatives as its
                    microphone, against glassbridge.audio.WakeWord (the SoC path) on the same samples: they must
                    be identical.
  UART              bytes the SoC received from the MCU over a measured span of noise at the microphone: the MCU
                    listening (heartbeats only) vs streaming the microphone to the SoC, per hour.
  SoC               per invoke of okay_nabu and emotion_fer_int8: gbnn (glassbridge.nn.Int8Model) vs LiteRT with
                    one thread (TfliteModel from the manifest, its default resolver), one process, interleaved,
                    warm-up, medians and ratios; callgrind instructions per invoke of gbnn.

Needs the firmware toolchain and QEMU (scripts/system-packages.sh firmware), espeak-ng, valgrind for callgrind.
About 3 minutes (the UART spans are real time); --quick: two phrases, 5 s spans, no callgrind, under a minute.
Figures and conditions: docs/benchmarks.md, "int8 engine and the wake word on the MCU".
"""


def add_link(sub: Any) -> None:
    """`glassbridge bench link`."""
    pl = sub.add_parser("link", help="MCU link goodput and latency through the emulated UART vs stop-and-wait",
                        description=_LINK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("--quick", action="store_true", help="one run of each case with 64 KB (a smoke run)")
    pl.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pl.add_argument("--plot", metavar="FILE.png", type=Path, help="write a goodput chart (PNG, needs matplotlib)")
    pl.add_argument("--board", default="host", choices=("host", "mps2-an386", "netduinoplus2"),
                    help="which firmware build answers (default: host port)")
    pl.add_argument("--runs", type=positive_int, metavar="N", help="seeded runs per case (default 5; 1 with --quick)")
    pl.add_argument("--seed", type=int, default=1, help="fault seed of the first run")

    pl.set_defaults(bench_run=_run_link)


def add_ble(sub: Any) -> None:
    """`glassbridge bench ble`."""
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
    pble.add_argument("--supervision", type=float_in(100.0, 32000.0), action="append", dest="supervision",
                      metavar="MS", help="a radio supervision timeout for a further drop case of glassbridge "
                      "(repeatable; default 720 and 4000, none with --quick): each drop is noticed only after it, "
                      "as on a phone; the drops detected at once remain the link's own figure")
    pble.add_argument("--workdir", type=Path, metavar="DIR",
                    help="keep the rigs' logs and state here (default: a temporary folder, removed)")

    pble.set_defaults(bench_run=_run_ble)


def add_e2e(sub: Any) -> None:
    """`glassbridge bench e2e`."""
    pe = sub.add_parser("e2e", help="tap to answer card on the simulated glasses (firmware, BLE rig, companion)",
                        description=_E2E_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pe.add_argument("--taps", type=positive_int, default=50, metavar="N", help="measured taps (default 50)")
    pe.add_argument("--warmup", type=non_negative_int, default=2, metavar="N",
                    help="taps run first and not counted (default 2)")
    pe.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pe.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write the per-tap stage split and the latency distribution (PNG, needs matplotlib)")
    pe.add_argument("--question", choices=("look", "sign"), default="look",
                    help="look: main tap, what am I looking at (default); sign: capture tap, what does this sign "
                         "say (text mode's photo, the phone's OCR as a stage)")
    pe.add_argument("--scene", metavar="NAME",
                    help="the image in view: a test image of the manifest, found like the models from any "
                         "folder (default: astronaut, one person, for look; a rendered sign for sign; "
                         "`glassbridge models list` shows the others)")
    pe.add_argument("--emotions", action="store_true", help="recognise expressions too (opt-in in the product)")
    pe.add_argument("--speak", action="store_true", help="speak each answer too (after the card; slower runs)")
    pe.add_argument("--jpeg-size", type=size_arg(16, 4096), metavar="WxH",
                    help="largest size of the JPEG sent to the phone (default: the [camera] width and height)")
    pe.add_argument("--jpeg-quality", type=int_in(1, 100), metavar="Q",
                    help="JPEG quality 1..100 (default: [camera] quality)")
    pe.add_argument("--photos", type=Path, metavar="DIR",
                    help="keep every photo the glasses sent to the phone in DIR (tap-N.jpg, the bytes as sent: "
                         "check them with `glassbridge see DIR/*.jpg`; faces are blurred by default)")
    pe.add_argument("--interval", type=float_in(7.5, 4000.0), default=15.0, metavar="MS",
                    help="BLE connection interval, 7.5..4000 (default 15)")
    pe.add_argument("--baud", type=int_in(1200, 20_000_000), default=921600, metavar="N",
                    help="MCU link line rate (default 921600)")
    pe.add_argument("--workdir", type=Path, metavar="DIR",
                    help="keep the rig's logs and state here (default: a temporary folder, removed)")
    pe.set_defaults(bench_run=_run_e2e)


def add_int8(sub: Any) -> None:
    """`glassbridge bench int8`."""
    pi = sub.add_parser("int8", help="gbnn and the wake word on the MCU: M4 instructions per step, sizes, "
                        "detections vs the SoC, idle UART bytes, gbnn vs LiteRT on the SoC",
                        description=_INT8_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pi.add_argument("--quick", action="store_true",
                    help="two phrases, 5 s UART spans, 30 SoC rounds, no callgrind (a smoke run, under a minute)")
    pi.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON to FILE")
    pi.add_argument("--plot", metavar="FILE.png", type=Path,
                    help="write the M4's instructions per step and the UART bytes per hour (PNG, needs matplotlib)")
    pi.add_argument("--idle-seconds", type=float_in(1.0, 3600.0), metavar="S",
                    help="span of each UART measurement (default 60; 5 with --quick)")
    pi.add_argument("--rounds", type=positive_int, metavar="N",
                    help="interleaved rounds of the SoC timing (default 300; 30 with --quick)")
    pi.add_argument("--no-callgrind", action="store_true", help="skip callgrind's instructions per invoke")
    pi.add_argument("--workdir", type=Path, metavar="DIR",
                    help="keep the WAVs, PCM and QEMU plugin logs here (default: a temporary folder, removed)")
    pi.set_defaults(bench_run=_run_int8)


def _run_int8(args: argparse.Namespace, console: Any) -> int:
    from glassbridge_rig.bench.int8 import Int8BenchSettings, int8_tables, plot_int8, run_int8_benchmark

    settings = Int8BenchSettings.quick_settings() if args.quick else Int8BenchSettings()
    if args.idle_seconds is not None:
        settings.idle_seconds = args.idle_seconds
    if args.rounds is not None:
        at_least("--rounds", args.rounds, 1)
        settings.soc.rounds = args.rounds
    if args.no_callgrind:
        settings.soc.callgrind = False
    settings.workdir = args.workdir
    if args.plot is not None:
        check_plot(args.plot)
    doc = with_progress(console, "int8 benchmark", lambda progress: run_int8_benchmark(settings, progress))
    out = stdout_console()
    for table in int8_tables(doc):
        out.print(table)
    console.print(f"[dim]{doc['wall_seconds']:.0f} s; load average {doc['machine']['load_average_at_start']} on "
                  f"{doc['machine']['cpu_count']} CPUs (SoC times are wall-clock; the M4 figures are instructions)[/]")
    write_json(args.json, doc, console)
    if args.plot is not None:
        console.print(f"chart written to {plot_int8(doc, args.plot)}")
    return 0 if doc["detections_identical"] else 1


def _run_link(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge_rig.bench.link import LinkBenchSettings, run_link_benchmark

    settings = LinkBenchSettings.quick_settings() if args.quick else LinkBenchSettings()
    settings.board = args.board
    settings.seed = args.seed
    if args.runs is not None:
        at_least("--runs", args.runs, 1)
        settings.runs = args.runs
    if args.plot is not None:
        check_plot(args.plot)
    with console.status("link benchmark") as status:
        doc = run_link_benchmark(settings, progress=lambda text: status.update(f"link benchmark: {text}"))
    stdout_console().print(report.link_table(doc))
    write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_link

        console.print(f"chart written to {plot_link(doc, args.plot)}")
    return 0


def _run_ble(args: argparse.Namespace, console: Any) -> int:
    from glassbridge.bench import report
    from glassbridge_rig.bench.ble import BleBenchSettings, run_ble_benchmark

    settings = BleBenchSettings.quick_settings() if args.quick else BleBenchSettings()
    if args.runs is not None:
        at_least("--runs", args.runs, 1)
        settings.runs = args.runs
    if args.baseline_runs is not None:
        at_least("--baseline-runs", args.baseline_runs, 0)
        settings.baseline_runs = args.baseline_runs
    if args.mtus:
        bad = [m for m in args.mtus if not 131 <= m <= 517]
        if bad:
            raise UsageError(f"--mtu {bad[0]}: the glassbridge link runs on ATT MTU 131 to 517")
        settings.mtus = tuple(dict.fromkeys(args.mtus))
    if args.drops is not None:
        at_least("--drops", args.drops, 1)
        settings.disconnects = (0, args.drops)
    if args.supervision:
        settings.supervision_timeouts_ms = tuple(dict.fromkeys(args.supervision))
    settings.workdir = args.workdir
    if args.plot is not None:
        check_plot(args.plot)
    doc = with_progress(console, "ble benchmark", lambda progress: run_ble_benchmark(settings, progress=progress))
    stdout_console().print(report.ble_table(doc))
    console.print(f"[dim]{doc['wall_seconds']:.0f} s; load average {doc['machine']['load_average'][0]:.2f} on "
                  f"{doc['machine']['cpu_count']} CPUs (goodput is wall-clock: a loaded machine lowers it)[/]")
    write_json(args.json, doc, console)
    if args.plot is not None:
        from glassbridge.bench.plot import plot_ble

        console.print(f"chart written to {plot_ble(doc, args.plot)}")
    return 0


def _run_e2e(args: argparse.Namespace, console: Any) -> int:
    from glassbridge_rig.bench.e2e import E2eBenchSettings, e2e_table, plot_e2e, run_e2e_benchmark

    at_least("--taps", args.taps, 1)
    at_least("--warmup", args.warmup, 0)
    settings = E2eBenchSettings(taps=args.taps, warmup=args.warmup, scene=args.scene, question=args.question,
                                emotions=args.emotions,
                                speak=args.speak, interval_ms=args.interval, baud=args.baud, workdir=args.workdir,
                                jpeg_quality=args.jpeg_quality, photos=args.photos)
    if args.jpeg_size is not None:
        settings.jpeg_width, settings.jpeg_height = args.jpeg_size
    try:
        settings.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.plot is not None:
        check_plot(args.plot)
    doc = with_progress(console, "e2e benchmark", lambda progress: run_e2e_benchmark(settings, progress=progress))
    stdout_console().print(e2e_table(doc))
    for failure in doc["failures"]:
        console.print(f"[yellow]question {failure['question']}: {failure['reason']}[/]")
    console.print(f"[dim]{doc['wall_seconds']:.0f} s; load average {doc['machine']['load_average'][0]:.2f} on "
                  f"{doc['machine']['cpu_count']} CPUs; brain: {doc['brain_source']}[/]")
    write_json(args.json, doc, console)
    if args.plot is not None and doc["complete"]:
        console.print(f"chart written to {plot_e2e(doc, args.plot)}")
    return 0 if doc["complete"] == doc["taps"] else 1
