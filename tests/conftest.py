"""Suite-wide policy: in CI nothing is skipped for a missing tool, model or package.

Locally a test may skip with its reason (no PyAV, models not fetched yet). With CI=true (as .ci/run runs), a
skip is turned into a failure carrying the same reason: a green CI must mean every test ran. That holds for a
whole module skipped while it is collected (`pytest.importorskip` at its top) as for a single test.
"""

from __future__ import annotations

import os
from collections.abc import Generator

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
