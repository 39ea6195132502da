"""BleRig.system_bus: DBUS_SYSTEM_BUS_ADDRESS points at the rig's bus inside the block and is put back after it,
also when the block raises (the rig itself is started in tests/integration/test_ble_rig.py); and the harness
side of the rig (BleRig, the timing arithmetic it passes on) imports no bumble."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from glassbridge_rig.ble_rig import BleRig


@pytest.mark.parametrize("before", [None, "unix:path=/run/dbus/system_bus_socket"])
def test_system_bus_is_set_inside_and_restored_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      before: str | None) -> None:
    if before is None:
        monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", before)
    rig = BleRig(tmp_path)
    rig.bus = SimpleNamespace(address="unix:path=/tmp/rig-bus")  # type: ignore[assignment]
    with rig.system_bus() as address:
        assert address == os.environ["DBUS_SYSTEM_BUS_ADDRESS"] == "unix:path=/tmp/rig-bus"
    assert os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") == before
    with pytest.raises(RuntimeError), rig.system_bus():
        raise RuntimeError("the session failed")
    assert os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") == before


@pytest.mark.parametrize("module", ["glassbridge_rig.ble_rig", "glassbridge_rig.ble_airtime"])
def test_the_harness_side_imports_no_bumble(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m == 'bumble' or m.startswith('bumble.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"{module} pulled in bumble: {out}"
