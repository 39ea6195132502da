"""tests/conftest.py's guard: with an installed package under test, a test that leaves the checkout's source folder
on sys.path or in $PYTHONPATH is caught (a subprocess would import the checkout's code instead of the wheel)."""

from __future__ import annotations

import sys
import types

import pytest

from tests.conftest import CHECKOUT, _checkout_sources_on_path


def test_the_checkouts_sources_on_the_path_of_an_installed_package_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = types.ModuleType("glassbridge_rig")
    installed.__file__ = "/opt/glassbridge-venv/lib/python3.11/site-packages/glassbridge_rig/__init__.py"
    monkeypatch.setitem(sys.modules, "glassbridge_rig", installed)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(CHECKOUT / "rig")])
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert _checkout_sources_on_path() == []
    monkeypatch.setenv("PYTHONPATH", f"/elsewhere:{CHECKOUT / 'rig'}")
    assert _checkout_sources_on_path() == [str(CHECKOUT / "rig")]
    monkeypatch.delenv("PYTHONPATH")
    sys.path.insert(0, str(CHECKOUT / "rig"))
    assert _checkout_sources_on_path() == [str(CHECKOUT / "rig")]
    sys.path.pop(0)  # the guard itself runs after this test: leave nothing behind


def test_the_path_as_the_suite_runs_is_clean() -> None:
    """An editable install (python/ on sys.path by design) is not flagged; installed wheels have nothing leaked."""
    assert _checkout_sources_on_path() == []
