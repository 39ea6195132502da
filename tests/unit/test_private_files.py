"""Secrets and personal data on disk are the owner's alone (issue 11, item 2): folders 0700, files 0600, also when
the folder or the file already existed with wider modes (tightened at start, and the log says so).

The reference is the file system itself (os.stat), with the umask set to 022 as on a usual system, so that a file
created with default permissions would be 0644 and a folder 0755.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from glassbridge.private import private_dir, tighten, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_write_private_creates_owner_only_files_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "secret.json"
    os.chmod(tmp_path, 0o755)
    write_private(target, '{"k": 1}')
    assert mode(tmp_path) == 0o755  # an existing folder is not write_private's to change
    assert target.read_text() == '{"k": 1}'
    assert mode(target) == 0o600 and mode(target.parent) == 0o700 and mode(target.parent.parent) == 0o700
    write_private(target, b"again")  # replaced atomically, still private, no temporary file left behind
    assert target.read_bytes() == b"again" and mode(target) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.json"]


def test_existing_wide_modes_are_tightened_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o755)
    f = folder / "keys.json"
    f.write_text("{}")
    os.chmod(f, 0o664)
    with caplog.at_level(logging.WARNING, logger="glassbridge.private"):
        private_dir(folder)
        assert tighten(f) is True
    assert mode(folder) == 0o700 and mode(f) == 0o600
    assert tighten(f) is False and tighten(folder / "missing") is False
    assert sum("readable by other users" in r.getMessage() for r in caplog.records) == 2
    link = folder / "link"
    link.symlink_to(f)
    with pytest.raises(PermissionError, match="symbolic link"):
        tighten(link)


def test_the_companion_state_keys_and_identity_are_private(tmp_path: Path) -> None:
    pytest.importorskip("bumble")
    from bumble.keys import PairingKeys

    from glassbridge_companion.identity import load_or_create_identity
    from glassbridge_companion.keystore import PrivateKeyStore

    state = tmp_path / "companion"
    state.mkdir()
    os.chmod(state, 0o755)  # made by an earlier version, or by hand
    (state / "keys.json").write_text("{}")
    os.chmod(state / "keys.json", 0o644)
    load_or_create_identity(state)
    assert mode(state) == 0o700 and mode(state / "identity.json") == 0o600 and mode(state / "keys.json") == 0o600

    store = PrivateKeyStore(namespace="C4:00:00:00:00:01", filename=str(state / "keys.json"))
    keys = PairingKeys()
    keys.ltk = PairingKeys.Key(value=bytes(range(16)), authenticated=True)
    asyncio.run(store.update("F5:F4:F3:F2:F1:F0", keys))
    assert mode(state / "keys.json") == 0o600
    saved = json.loads((state / "keys.json").read_text())
    assert saved["C4:00:00:00:00:01"]["F5:F4:F3:F2:F1:F0"]["ltk"]["value"] == bytes(range(16)).hex()


def test_the_glasses_bond_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.phone.bonds import Bond, BondStore

    monkeypatch.setenv("GLASSBRIDGE_STATE_DIR", str(tmp_path / "state"))
    store = BondStore()  # the default place: glassbridge's own folder
    path = store.path
    store.save(Bond("C4:12:34:56:78:9A", "phone"))
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    assert store.load() is not None
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    # A bond file the caller names: the file is private, the caller's folder is left alone.
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o755)
    BondStore(mine / "bond.json").save(Bond("C4:12:34:56:78:9A"))
    assert mode(mine / "bond.json") == 0o600 and mode(mine) == 0o755


def test_the_rig_bluez_keys_and_settings_are_private(tmp_path: Path) -> None:
    pytest.importorskip("bumble")
    from bumble import hci

    from glassbridge_rig.bluez.store import DeviceInfo, DeviceStore

    state = tmp_path / "bluez"
    state.mkdir()
    os.chmod(state, 0o755)
    (state / "devices.json").write_text("{}")
    os.chmod(state / "devices.json", 0o644)
    store = DeviceStore(state, "C6:1A:55:60:0B:01")
    assert mode(state) == 0o700 and mode(state / "devices.json") == 0o600
    store.set_info(hci.Address("C4:12:34:56:78:9A"), DeviceInfo(name="phone", trusted=True))
    assert mode(state / "devices.json") == 0o600


def test_caption_transcripts_are_private(tmp_path: Path) -> None:
    from glassbridge.assistant.transcripts import Transcript, sweep_transcripts

    folder = tmp_path / "transcripts"
    t = Transcript(folder, 3, "transcription", "en")
    t.append("the meeting starts at ten")
    assert mode(folder) == 0o700 and mode(t.path) == 0o600
    os.chmod(folder, 0o755)
    os.chmod(t.path, 0o644)
    assert sweep_transcripts(folder, 30) == []  # kept, and tightened
    assert mode(folder) == 0o700 and mode(t.path) == 0o600
