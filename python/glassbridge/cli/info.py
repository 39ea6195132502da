"""`glassbridge info`: what this installation has: version, native kernel paths, the link engine, LiteRT, models,
extras."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from typing import Any

HELP = "show the version, native kernel paths, LiteRT version and models present"

DESCRIPTION = """\
Show what this installation of glassbridge has: its version and Python; the SIMD paths of the native
preprocessing kernels compiled in and usable on this CPU, and the one in use (GLASSBRIDGE_ISA=ref|sse41|avx2|neon
forces one); the link protocol versions the C link engine speaks; the LiteRT version; which models and test
images are present and intact; optional extras (V4L2 capture, video files, benchmark references). Text on
stdout, or JSON with --json.

--self-test runs each model the product uses on a stored input and compares the output with the one LiteRT's
reference kernels computed (shipped with the package): a line per model, ok, or how far this board's default
kernels deviate and which kernels glassbridge uses instead, or that even the reference kernels disagree. Run it
on every new board; the assistant runs it at start-up too. Exit status 1 if a model fails with every kernel."""

EPILOG = """\
examples:
  glassbridge info
  GLASSBRIDGE_ISA=ref glassbridge info      check that a forced kernel path is taken
  glassbridge info --json
  glassbridge info --self-test              check LiteRT's kernels on this board (exit 1 if a model fails)
  glassbridge info --self-test --json"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.add_argument("--self-test", action="store_true",
                        help="run each model on its stored input and compare with the reference kernels' output")
    parser.set_defaults(func=run)


def _version_of(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """Everything `info` reports, as plain data. Parts that fail say why instead of failing the whole."""
    from glassbridge import __version__

    report: dict[str, Any] = {
        "version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
    }
    try:
        from glassbridge.vision.preprocess import available_isas, isa

        report["native"] = {"active_isa": isa(), "available_isas": available_isas(),
                            "forced_by_env": os.environ.get("GLASSBRIDGE_ISA")}
    except Exception as exc:  # the extension may not be built
        report["native"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:  # the other extension: the C link engine (its defaults are the versions it speaks)
        from glassbridge.protocol import _link

        config = _link.LinkConfig(session=1)
        report["link_engine"] = {"protocol_version": int(config.protocol_version),
                                 "min_protocol_version": int(config.min_protocol_version)}
    except Exception as exc:
        report["link_engine"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["litert"] = _version_of("ai-edge-litert")
    try:
        from glassbridge.cli.models import inventory

        rows = inventory()
        report["models"] = [{"id": r["id"], "ok": r["ok"], "path": r["path"]} for r in rows if r["kind"] == "model"]
        report["test_images"] = [{"id": r["id"], "ok": r["ok"]} for r in rows if r["kind"] == "image"]
    except Exception as exc:  # a broken manifest must not hide the rest of the report
        report["models"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["extras"] = {
        "linuxpy (v4l2)": _version_of("linuxpy") if importlib.util.find_spec("linuxpy") else None,
        "av (video)": _version_of("av") if importlib.util.find_spec("av") else None,
        "opencv (bench)": _version_of("opencv-python-headless") or _version_of("opencv-python"),
    }
    return report


def self_test(args: argparse.Namespace) -> int:
    """`info --self-test`: a line per model (or JSON); 1 if any model fails with every kernel."""
    from glassbridge.models.selftest import run_self_test

    result = run_self_test()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.ok else 1
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    out.print(f"model self-test on {result.machine}, LiteRT {result.litert or 'not installed'} "
              f"({result.seconds:.2f} s)")
    colour = {"ok": "green", "fallback": "yellow", "failed": "red", "skipped": "yellow"}
    for check in result.checks:
        out.print(f"[{colour[check.status]}]{escape(check.line())}[/]")
    if result.fell_back or result.failed:
        features = " ".join(result.cpu_features) or "unknown"
        out.print(f"CPU features: {escape(features)}")
    if result.failed:
        out.print(f"[red]{len(result.failed)} model(s) disagree with their references on every kernel: do not "
                  "trust their results on this board[/]")
    return 0 if result.ok else 1


def run(args: argparse.Namespace) -> int:
    if getattr(args, "self_test", False):
        return self_test(args)
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    out.print(f"glassbridge {report['version']} (Python {report['python']}, {report['system']} "
              f"{report['machine']})")
    native = report["native"]
    if "error" in native:
        out.print(f"native kernels: [red]unavailable[/] ({escape(native['error'])})")
    else:
        forced = f", forced by GLASSBRIDGE_ISA={native['forced_by_env']}" if native["forced_by_env"] else ""
        out.print(f"native kernels: active [bold]{native['active_isa']}[/]{forced}; "
                  f"available {', '.join(native['available_isas'])}")
    engine = report["link_engine"]
    if "error" in engine:
        out.print(f"link engine: [red]unavailable[/] ({escape(engine['error'])})")
    else:
        out.print(f"link engine: protocol versions {engine['min_protocol_version']}..{engine['protocol_version']}")
    out.print(f"LiteRT: {report['litert'] or '[red]not installed[/]'}")
    models = report["models"]
    if isinstance(models, dict):
        out.print(f"models: [red]unknown[/] ({escape(models['error'])})")
    else:
        for m in models:
            state = "[green]ok[/]" if m["ok"] else "[red]missing or wrong[/] (glassbridge models fetch)"
            out.print(f"model {m['id']}: {state}")
        images = report["test_images"]
        good = sum(i["ok"] for i in images)
        out.print(f"test images: {good} of {len(images)} present")
    extras = ", ".join(f"{k} {v or 'not installed'}" for k, v in report["extras"].items())
    out.print(f"extras: {extras}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace(json="--json" in sys.argv, self_test="--self-test" in sys.argv)))
