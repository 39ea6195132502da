"""The `host_fw` fixture: a running glassbridge-fw-host in a short socket directory, stopped with SIGTERM
(which must exit 0) after the test. Helpers live in fwrig.py."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fwrig import HostFirmware, start_host_firmware, stop


@pytest.fixture
def host_fw(tmp_path: Path) -> Iterator[HostFirmware]:
    # unix socket paths are limited to 107 bytes: pytest's tmp_path can be longer, so use a short directory.
    short = Path(f"/tmp/gbfw-{os.getpid()}-{time.monotonic_ns() % 10**9}")
    fw = start_host_firmware(short)
    try:
        yield fw
    finally:
        code = stop(fw.proc)
        shutil.rmtree(short, ignore_errors=True)
        assert code == 0, f"glassbridge-fw-host exited with {code} on SIGTERM"
