"""BleRig.system_bus: DBUS_SYSTEM_BUS_ADDRESS points at the rig's bus inside the block and is put back after it,
also when the block raises (the rig itself is started in tests/integration/test_ble_rig.py)."""

from __future__ import annotations

import os
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
