"""`glassbridge config path|show|init`: the assistant's settings file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HELP = "the assistant's settings: where the file is, what is in effect, a commented template"

DESCRIPTION = """\
The assistant loop reads one TOML file: $GLASSBRIDGE_CONFIG if set, else config.toml in the user config folder
(platformdirs; ~/.config/glassbridge on Linux). Without a file every default applies. An unknown key or a wrong
value is an error naming the key, never silently ignored (a mistyped privacy setting must not pass unnoticed).

  path   where the file is read from, and whether it exists
  show   the settings in effect (the file's values over the defaults), as TOML or --json
  init   write the fully commented template with every default (refuses to overwrite without --force)"""

EPILOG = """\
examples:
  glassbridge config init                     write ~/.config/glassbridge/config.toml
  glassbridge config show --json              the settings in effect
  GLASSBRIDGE_CONFIG=demo.toml glassbridge config show

Results go to stdout (JSON with --json), messages and errors to stderr.
Language settings ([assistant] language, [captions] language and translate_to) must be BCP 47 tags such as
"en", "zh-CN" or "pt-BR" ("" = the phone's language); `show` and `glassbridge run` refuse a malformed one.
exit status: 0 on success, 1 when the file is unreadable or has a wrong key or value (the message names it)."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="config_command", metavar="{path,show,init}", required=True)
    p = sub.add_parser("path", help="where the settings file is read from",
                       description="Print the settings file's path (and whether it exists).")
    p.add_argument("--json", action="store_true", help="{\"path\": ..., \"exists\": ..., \"source\": ...}")
    p = sub.add_parser("show", help="the settings in effect",
                       description="Print the settings in effect: the file's values over the defaults.")
    p.add_argument("--file", metavar="FILE", help="read this file instead of the default place")
    p.add_argument("--json", action="store_true", help="JSON instead of TOML")
    p = sub.add_parser("init", help="write the commented template with every default",
                       description="Write the fully commented settings template with every default.")
    p.add_argument("--file", metavar="FILE", help="write here instead of the default place")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--json", action="store_true", help="{\"path\": ..., \"written\": true} on stdout")
    parser.set_defaults(func=run)


#: The settings that hold BCP 47 language tags ("" = the phone's language).
LANGUAGE_KEYS = (("assistant", "language"), ("captions", "language"), ("captions", "translate_to"))


def load_checked_settings(path: str | os.PathLike[str] | None = None) -> Any:
    """load_settings(path), and every language setting a well-formed BCP 47 tag (or ""): a malformed one
    ("english", "en_US") would otherwise reach the phone and fail there, or be ignored. ValueError (ConfigError)
    naming the file and the key."""
    from glassbridge.assistant.config import ConfigError, config_path, load_settings
    from glassbridge.cli._args import check_language_tag

    settings = load_settings(path)
    source = Path(path) if path is not None else config_path()
    for section, key in LANGUAGE_KEYS:
        try:
            check_language_tag(getattr(getattr(settings, section), key), f"{source}: [{section}] {key}")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return settings


def run(args: argparse.Namespace) -> int:
    from glassbridge.assistant.config import CONFIG_ENV, config_path, settings_template

    command = args.config_command
    if command == "path":
        path = config_path()
        source = f"${CONFIG_ENV}" if os.environ.get(CONFIG_ENV) else "platformdirs user config dir"
        if args.json:
            print(json.dumps({"path": str(path), "exists": path.is_file(), "source": source}))
        else:
            print(path)
            if not path.is_file():
                print("(no file there yet: every default applies; `glassbridge config init` writes one)",
                      file=sys.stderr)
        return 0
    if command == "show":
        settings = load_checked_settings(args.file)
        if args.json:
            print(json.dumps(settings.to_dict(), indent=2))
        else:
            sys.stdout.write(settings.to_toml())
        return 0
    # init
    path = Path(args.file) if args.file else config_path()
    if path.exists() and not args.force:
        raise FileExistsError(f"{path} already exists: pass --force to overwrite it (or edit it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings_template(), encoding="utf-8")
    if args.json:
        print(json.dumps({"path": str(path), "written": True}))
    else:
        print(f"wrote {path}", file=sys.stderr)
    return 0
