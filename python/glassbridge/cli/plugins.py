"""Commands that other installable parts add to `glassbridge`, found through entry points.

This repository builds three distributions: `glassbridge` (what runs on the glasses' SoC), `glassbridge-companion`
(the phone's side: bumble, speech recognition, the brains) and `glassbridge-rig` (the simulated glasses, the
firmware under emulation, the BLE rig and the benchmarks that need them). The glasses' package never imports the
other two; they add their commands through two entry point groups of their own pyproject.toml:

    [project.entry-points."glassbridge.commands"]      # a top-level command
    companion = "glassbridge_companion.cli"            # a module with add_parser(subparsers) and run(args)

    [project.entry-points."glassbridge.bench"]         # a benchmark under `glassbridge bench`
    e2e = "glassbridge_rig.cli.bench:add_e2e"          # a function add(subparsers) that sets bench_run

So a dev kit with only the glasses' wheel offers `see`, `mcu`, `run`, ... and no `sim` or `companion`; the
source checkout (`make setup` installs all three) offers everything. A part that is installed but fails to load
still shows up, as an unavailable command that says why (the rest keep working).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

COMMAND_GROUP = "glassbridge.commands"
BENCH_GROUP = "glassbridge.bench"


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The group's entry points of every installed distribution, by name (one per name: the first found)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=group):
        found.setdefault(ep.name, ep)
    return [found[name] for name in sorted(found)]


def unavailable(subparsers: Any, name: str, error: BaseException, prog: str = "glassbridge") -> None:
    """Stand-in for a command whose module failed to import: it says why, and the others keep working."""
    reason = f"{type(error).__name__}: {error}"
    parser = subparsers.add_parser(name, help=f"(unavailable: {reason})", description=f"unavailable: {reason}")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(*_args: Any) -> int:
        print(f"{prog} {name}: unavailable in this installation ({reason})", file=sys.stderr)
        return 1

    parser.set_defaults(func=run, bench_run=run)


def register(ep: metadata.EntryPoint, subparsers: Any, prog: str = "glassbridge bench") -> None:
    """Load one `glassbridge.bench` entry point and let it add its subcommand."""
    try:
        add: Callable[[Any], None] = ep.load()
        add(subparsers)
    except Exception as exc:  # a broken part must not take the glasses' own benchmarks down
        unavailable(subparsers, ep.name, exc, prog=prog)
