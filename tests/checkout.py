"""The source checkout these tests belong to, and whether the glassbridge under test is that checkout's own.

tests/ always lives in the checkout, so the checkout is found from this file's location, whatever package is being
tested. Usually the package under test is the checkout's editable install (`make setup`): its code sits in
python/glassbridge/ and finds the checkout's data beside it (models/, models/cache/, tests/data/images/, the float64
reference in tests/reference/). scripts/arm64/test.sh instead runs these tests against the glasses' wheel installed
in a venv of the arm64 rootfs (and the companion's and rig's wheels), with the checkout bind-mounted at the same
path: that package has no checkout beside it and finds models and test images only through its documented search
path (glassbridge.models.registry), where test.sh points $GLASSBRIDGE_MODEL_DIR at links to the checkout's files.

`package_is_installed()` tells the two apart; `use_checkout_data()` makes either one find the checkout's models and
test images and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]  # <checkout>/tests/checkout.py
ENV_MODEL_DIR = "GLASSBRIDGE_MODEL_DIR"  # registry.ENV_MODEL_DIR, read here before glassbridge is imported
# $GLASSBRIDGE_MODEL_DIR as the test run was started with, before any test's monkeypatch: the folder an installed
# package is given (scripts/arm64/test.sh), or a developer's own, which tests of the checkout's data must not see.
STARTED_WITH_MODEL_DIR = os.environ.get(ENV_MODEL_DIR)


# Where each of the three packages' sources sit in the checkout (docs/architecture.md, "Layout").
SOURCES = {
    "glassbridge": CHECKOUT / "python" / "glassbridge",
    "glassbridge_companion": CHECKOUT / "companion" / "glassbridge_companion",
    "glassbridge_rig": CHECKOUT / "rig" / "glassbridge_rig",
}


@functools.cache
def package_dir(name: str = "glassbridge") -> Path:
    """The folder of the package under test (its sources in the checkout, or a site-packages folder)."""
    module = importlib.import_module(name)  # late: collecting tests that never import it must not need it
    assert module.__file__ is not None
    return Path(module.__file__).resolve().parent


@functools.cache
def package_is_installed(name: str = "glassbridge") -> bool:
    """True when the package under test (glassbridge, glassbridge_companion or glassbridge_rig) is an installed
    wheel rather than this checkout's editable install."""
    return package_dir(name) != SOURCES[name]


def _outside_checkout(folder: Path) -> list[str]:
    """The entries of folder (and of its images/) that are not, or do not link to, files of the checkout."""
    entries = [p for p in folder.iterdir() if p.name != "images"]
    if (folder / "images").is_dir():
        entries += list((folder / "images").iterdir())
    return sorted(str(p) for p in entries if not p.resolve().is_relative_to(CHECKOUT))


def use_checkout_data(mp: pytest.MonkeyPatch) -> None:
    """Let the package under test find the checkout's models and test images, and nothing of a developer's own.

    The checkout's editable install finds them beside its code, so $GLASSBRIDGE_MODEL_DIR is removed. An installed
    package can only be told through $GLASSBRIDGE_MODEL_DIR: it is set back to the folder the run started with,
    which must hold links to (or copies in) the checkout and nothing else (scripts/arm64/test.sh makes it)."""
    if not package_is_installed():
        mp.delenv(ENV_MODEL_DIR, raising=False)
        return
    folder = Path(STARTED_WITH_MODEL_DIR) if STARTED_WITH_MODEL_DIR else None
    if folder is None or not folder.is_dir():
        pytest.fail(f"glassbridge under test is installed ({package_dir()}), not this checkout's editable install: "
                    f"it finds the checkout's models and test images only through ${ENV_MODEL_DIR}, which is "
                    f"{'unset' if folder is None else f'{folder}, not a folder'} (scripts/arm64/test.sh sets it)")
    foreign = _outside_checkout(folder)
    if foreign:
        pytest.fail(f"${ENV_MODEL_DIR}={folder} holds files that are not the checkout's: {', '.join(foreign)}")
    mp.setenv(ENV_MODEL_DIR, str(folder))
