"""The `glassbridge` command: a thin dispatcher over one module per subcommand.

Subcommand contract: python/glassbridge/cli/<name>.py (or a module another part names in the `glassbridge.commands`
entry point group, glassbridge.cli.plugins) defines

    def add_parser(subparsers) -> None     # subparsers.add_parser(name, help=..., description=..., epilog=...)
                                           # and parser.set_defaults(func=run)
    def run(args: argparse.Namespace) -> int

and keeps heavy imports (LiteRT, numpy, OpenCV) inside `run`, so `glassbridge --help` stays fast. Modules are
imported only when needed (the one named on the command line; all of them for the top-level help), and a module
that fails to import shows up as an unavailable subcommand instead of breaking the others.

Errors: a subcommand raises (or returns) and main turns every expected failure (CameraError, ModelError,
OSError, ValueError) into ONE line on stderr, `glassbridge <sub>: <what failed>`, and exit status 1; usage errors
exit 2 (argparse). Set GLASSBRIDGE_DEBUG=1 to get the traceback instead.

GLASSBRIDGE_ISA (forces a kernel path) is checked before a command that runs the kernels starts: an unknown or
unavailable path is a usage error (exit 2) naming the paths this build and CPU have, not a failure at the first
frame (minutes into `glassbridge demo`). `glassbridge info` reports it instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

#: The glasses' own commands (modules of this package). The companion and the rig add theirs (companion; firmware,
#: sim, demo; bench link/ble/e2e) through entry points when they are installed: see glassbridge.cli.plugins.
BUILTIN = ("see", "photo", "camera", "models", "bench", "mcu", "phone", "run", "config", "info")

DESCRIPTION = """\
glassbridge: the open runtime for AI smart glasses. On the glasses' SoC: camera frames, native preprocessing
kernels and LiteRT models for faces and emotions; the UART link to the glasses' microcontroller; the BLE link to
the paired phone; the assistant loop. Two more parts add their commands when installed (a source checkout's
`make setup` installs both): glassbridge-companion, the phone's side (`companion`), and glassbridge-rig, the
hardware-free rig: the MCU firmware under QEMU or on the host, a private BlueZ on a simulated radio, the simulated
glasses (`firmware`, `sim`, `demo`, `bench link|ble|e2e`)."""

EPILOG = """\
examples:
  glassbridge see photo.jpg                      faces and how each person looks, one line per face
  glassbridge see photo.jpg --out faces.png      ... and an annotated copy of the photo
  glassbridge photo me.jpg --out sent.jpg        exactly the photo the assistant would send (faces blurred)
  glassbridge camera grab --source pattern       one frame of the test pattern, saved as grab.png
  glassbridge models verify                      are the models present and intact?
  glassbridge info                               version, native kernel paths, LiteRT, models
  glassbridge firmware run --board host          (rig) the real MCU firmware behind an emulated UART
  glassbridge mcu status --port /tmp/glassbridge-mcu    the MCU's report over the link
  glassbridge sim ble                            (rig) the simulated BLE rig: BlueZ on a private bus + the phone companion
  glassbridge phone pair                         pair with the phone running the companion (numeric comparison)
  glassbridge phone status --json                the bonded phone, the BLE link and its counters
  glassbridge companion --transport usb:0        (companion) be the phone: the companion on a USB Bluetooth dongle
  glassbridge demo --out demo-out                (rig) the assistant on simulated glasses: a scripted session
  glassbridge run --serial /dev/ttyS1 --camera /dev/video0   the assistant on the glasses
  glassbridge config init                        the assistant's settings file, every default commented

`glassbridge <command> --help` explains each command. Results go to stdout (JSON with --json), messages and
errors to stderr."""


def _version() -> str:
    from glassbridge import __version__

    return __version__


def available_commands() -> dict[str, str]:
    """Every command this installation offers: name -> module (the glasses' own, then the installed parts')."""
    from glassbridge.cli import plugins

    commands = {name: f"glassbridge.cli.{name}" for name in BUILTIN}
    for ep in plugins.entry_points(plugins.COMMAND_GROUP):
        commands.setdefault(ep.name, ep.value)
    return commands


def _requested(argv: Sequence[str], commands: dict[str, str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in commands else None
    return None


def build_parser(only: str | None = None, commands: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with `only`, just that subcommand's module is imported."""
    from glassbridge.cli import plugins

    commands = available_commands() if commands is None else commands
    parser = argparse.ArgumentParser(
        prog="glassbridge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"glassbridge {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", title="commands")
    for name, module_name in commands.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
            module.add_parser(subparsers)
        except Exception as exc:  # one broken subcommand must not take the others down
            plugins.unavailable(subparsers, name, exc)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    from glassbridge.camera.source import CameraError

    errors: list[type[BaseException]] = [CameraError, OSError, ValueError]
    try:
        from glassbridge.models.registry import ModelError

        errors.append(ModelError)  # a ValueError too; listed for clarity
    except Exception:  # noqa: BLE001 - the vision package may be incomplete; ValueError still covers ModelError
        pass
    try:
        from glassbridge.mcu.errors import McuError
        from glassbridge.protocol.errors import ProtocolError

        errors += [McuError, ProtocolError]
    except Exception:  # noqa: BLE001 - the link extension may be missing; its errors then cannot occur
        pass
    try:
        from glassbridge.phone.errors import PhoneError

        errors.append(PhoneError)
    except Exception:  # noqa: BLE001 - bleak may be missing; the phone's errors then cannot occur
        pass
    return tuple(errors)


ISA_ENV = "GLASSBRIDGE_ISA"
ISA_NAMES = ("ref", "sse41", "avx2", "neon")
#: The subcommands that run the native kernels, for which GLASSBRIDGE_ISA is checked before they start.
KERNEL_COMMANDS = ("see", "camera", "bench", "demo", "run")


def check_isa_env() -> None:
    """GLASSBRIDGE_ISA, when set, must name a kernel path compiled in and supported by this CPU; ValueError
    naming the available ones otherwise. (The native module would raise only at the first preprocessing call.)"""
    forced = os.environ.get(ISA_ENV, "")
    if not forced:
        return
    if forced not in ISA_NAMES:
        raise ValueError(f"{ISA_ENV}={forced!r} is not a kernel path: use one of {', '.join(ISA_NAMES)}, or unset "
                         "it for the best one")
    try:
        from glassbridge.vision import _kernels
    except ImportError:  # not built: the command that needs the kernels says so itself
        return
    available = [str(name) for name in _kernels.available_isas()]
    if forced not in available:
        raise ValueError(f"{ISA_ENV}={forced}: not available on this build or CPU (available here: "
                         f"{', '.join(available)}); pick one of those or unset it")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run `glassbridge` with argv (default: sys.argv[1:]); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    parser = build_parser(only=_requested(args_list, commands), commands=commands)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    debug = os.environ.get("GLASSBRIDGE_DEBUG", "") not in ("", "0")
    if args.command in KERNEL_COMMANDS:
        try:
            check_isa_env()
        except ValueError as exc:
            print(f"glassbridge {args.command}: {exc}", file=sys.stderr)
            return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"glassbridge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `glassbridge see ... | head`: the reader left, nothing more to say
        sys.stderr.close()
        return 1
    except Exception as exc:
        if debug or not isinstance(exc, _expected_errors()):
            if debug:
                raise
            # An unexpected failure is a bug: still one line, with a hint how to see the details.
            print(f"glassbridge {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
                  "(set GLASSBRIDGE_DEBUG=1 for the traceback)", file=sys.stderr)
            return 1
        print(f"glassbridge {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
