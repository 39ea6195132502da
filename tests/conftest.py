"""Suite-wide policy: in CI nothing is skipped for a missing tool, model or package; an installed package is tested.

Locally a test may skip with its reason (no PyAV, models not fetched yet). With CI=true (as .ci/run runs), a
skip is turned into a failure carrying the same reason: a green CI must mean every test ran. That holds for a
whole module skipped while it is collected (`pytest.importorskip` at its top) as for a single test.

When the packages under test are installed wheels (scripts/arm64/test.sh), no test may leave the checkout's
source folders (python/, companion/, rig/) on sys.path or in $PYTHONPATH: a subprocess that inherits them (the
companion, the rig) would import the checkout's sources, without their aarch64 extension, instead of the wheels.
That happened twice, each time found late; now the test that does it fails.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _fail_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    """A skip, in CI, becomes a failure carrying the skip's reason."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, which must run every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        _fail_in_ci(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        _fail_in_ci(report)


CHECKOUT = Path(__file__).resolve().parents[1]
# Each package's folder in the checkout (tests/checkout.py's SOURCES; this file is also copied alone by
# test_ci_skips.py, so it imports nothing of tests/).
_SOURCE_ROOTS = {"glassbridge": CHECKOUT / "python", "glassbridge_companion": CHECKOUT / "companion",
                 "glassbridge_rig": CHECKOUT / "rig"}


def _checkout_sources_on_path() -> list[str]:
    """Entries of sys.path and $PYTHONPATH that are the checkout's source folders of an installed package."""
    parents = set()
    for name, root in _SOURCE_ROOTS.items():
        module = sys.modules.get(name)
        if module is not None and module.__file__ and Path(module.__file__).resolve().parent != root / name:
            parents.add(str(root))
    entries = list(sys.path) + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return sorted({e for e in entries if e and str(Path(e).resolve()) in parents})


@pytest.fixture(autouse=True)
def _installed_packages_stay_installed() -> Generator[None, None, None]:
    yield
    leaked = _checkout_sources_on_path()
    if leaked:
        pytest.fail(f"this test left the checkout's sources on the import path ({', '.join(leaked)}) while the "
                    "installed wheels are under test: a subprocess inheriting it would import the checkout's code "
                    "instead (tests/conftest.py)", pytrace=False)
