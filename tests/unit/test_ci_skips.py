"""tests/conftest.py's rule, checked on a suite of its own: with CI=true a skipped test fails, and so does a module
skipped while it is collected (pytest.importorskip at its top); without CI both are plain skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _suite(tmp_path: Path) -> Path:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_module_skip.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_never():\n    pass\n")
    (tmp_path / "test_one_skip.py").write_text(
        "import pytest\n\ndef test_skips():\n    pytest.skip('no tool')\n\ndef test_runs():\n    assert True\n")
    return tmp_path


def _pytest(folder: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci}
    # --continue-on-collection-errors: both files report (by default the failed collection stops the session).
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors", "--rootdir", str(folder), "-c", os.devnull, str(folder)],
                          capture_output=True, text=True, env=env, cwd=folder, timeout=120)


def test_in_ci_a_skipped_module_and_a_skipped_test_fail(tmp_path: Path) -> None:
    result = _pytest(_suite(tmp_path), "true")
    assert result.returncode != 0, result.stdout
    out = result.stdout
    assert "skipped in CI, which must run every test" in out and "no_such_module_here" in out, out
    assert "no tool" in out and "1 passed" in out, out
    assert " skipped" not in out.splitlines()[-1], out


@pytest.mark.parametrize("ci", ["", "false"])
def test_outside_ci_they_are_plain_skips(tmp_path: Path, ci: str) -> None:
    result = _pytest(_suite(tmp_path), ci)
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout.splitlines()[-1] and "1 passed" in result.stdout.splitlines()[-1], result.stdout
