"""BondStore: where the bond lives, atomic writes, and corrupt files reported (never a silent unbond)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from glassbridge.phone.bonds import Bond, BondStore, default_bond_path
from glassbridge.phone.errors import BondStoreError


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    store = BondStore(tmp_path / "phone" / "bond.json")
    assert store.load() is None
    bond = Bond(address="d0:11:22:33:44:55", name="Pixel", bonded_at=1700000000.5,
                service_info={"protocol_version": 1, "app_version": "c-1"}, last_mtu=247)
    store.save(Bond.from_dict(bond.to_dict()))
    loaded = store.load()
    assert loaded is not None
    assert loaded.address == "D0:11:22:33:44:55"  # BlueZ's spelling, so comparisons with BLEDevice.address work
    assert (loaded.name, loaded.bonded_at, loaded.service_info, loaded.last_mtu) == (
        "Pixel", 1700000000.5, {"protocol_version": 1, "app_version": "c-1"}, 247)
    on_disk = json.loads(store.path.read_text())
    assert on_disk["format"] == 1 and on_disk["phone"]["address"] == "D0:11:22:33:44:55"
    assert store.update(last_mtu=517) is not None and store.load().last_mtu == 517  # type: ignore[union-attr]
    assert [p.name for p in store.path.parent.iterdir()] == ["bond.json"]  # no temporary file left behind


def test_env_var_and_argument_choose_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLASSBRIDGE_STATE_DIR", str(tmp_path / "state"))
    assert default_bond_path() == tmp_path / "state" / "phone" / "bond.json"
    assert BondStore().path == tmp_path / "state" / "phone" / "bond.json"
    assert BondStore(tmp_path / "x.json").path == tmp_path / "x.json"
    monkeypatch.delenv("GLASSBRIDGE_STATE_DIR")
    assert default_bond_path().parts[-3:] == ("glassbridge", "phone", "bond.json")


@pytest.mark.parametrize("content, says", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON list"),
    ('{"format": 1, "phone": {"name": "no address"}}', "invalid 'phone' entry"),
    ('{"format": 99, "phone": {"address": "AA:BB:CC:DD:EE:FF"}}', "format 99"),
])
def test_corrupt_file_is_an_error_naming_it(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bond.json"
    path.write_text(content)
    store = BondStore(path)
    with pytest.raises(BondStoreError) as info:
        store.load()
    assert says in str(info.value) and str(path) in str(info.value) and "phone forget" in str(info.value)
    assert path.read_text() == content  # not overwritten, not deleted
    assert store.forget() is None  # forget is the way out, and it works on a corrupt file
    assert not path.exists() and store.load() is None


def test_a_failed_write_keeps_the_old_bond(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BondStore(tmp_path / "bond.json")
    store.save(Bond(address="AA:AA:AA:AA:AA:AA", name="old"))

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(BondStoreError, match="cannot be written"):
        store.save(Bond(address="BB:BB:BB:BB:BB:BB", name="new"))
    monkeypatch.undo()
    assert store.load().name == "old"  # type: ignore[union-attr]
    assert [p.name for p in tmp_path.iterdir()] == ["bond.json"]


def test_forget_returns_what_was_bonded(tmp_path: Path) -> None:
    store = BondStore(tmp_path / "bond.json")
    assert store.forget() is None
    store.save(Bond(address="AA:BB:CC:DD:EE:FF", name="Pixel"))
    old = store.forget()
    assert old is not None and old.name == "Pixel"
    assert store.load() is None
