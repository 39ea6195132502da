"""Children end with their parent, SIGKILL included, and a killed run's temporary folder is reclaimed by the next.

`glassbridge firmware run` and `glassbridge sim ble` are started as real processes, killed with SIGKILL (no cleanup
of their own can run), and then checked from outside: /proc for the children, the file system for the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a container's init may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def descendants(root: int) -> list[int]:
    """Every process below `root` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if running(p)]
    return left


#: Processes the commands under test started (their descendants when ready): killed at the end if still there,
#: so that a failing test leaves nothing behind.
_started: list[int] = []


@contextlib.contextmanager
def glassbridge(*argv: str, cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`glassbridge <argv>` as a child of the test; ended (SIGKILL, by pid) whatever happens, with whatever it
    left running."""
    with open(log, "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "glassbridge.cli.main", *argv], cwd=cwd,
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pid in wait_gone(_started, 5.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _started.clear()
        assert proc.stdout is not None
        proc.stdout.close()


def first_json_line(proc: subprocess.Popen[bytes], timeout: float, log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not ready:
            raise AssertionError(f"no ready line within {timeout} s; stderr:\n{log.read_text()[-3000:]}")
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise AssertionError(f"exited ({proc.wait()}) before its ready line; stderr:\n{log.read_text()[-3000:]}")
        buf += chunk
    doc: dict[str, Any] = json.loads(buf.split(b"\n", 1)[0])
    return doc


def stop_gracefully(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


# ---- the building blocks ---------------------------------------------------------------------------------------


def test_reclaim_removes_only_folders_of_owners_that_are_gone(tmp_path: Path) -> None:
    from glassbridge.lifetime import MARKER, reclaim_stale, run_dir

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / "gb-x-stale"
    stale.mkdir()
    (stale / MARKER).write_text(f"{dead.pid} 1\n")
    (stale / "sock").write_text("")
    reused = tmp_path / "gb-x-reused"  # our own pid, but another process's start time: the pid was reused
    reused.mkdir()
    (reused / MARKER).write_text(f"{os.getpid()} 1\n")
    alive = run_dir("gb-x-", tmp_path)  # ours, running: kept (and it reclaimed the two above)
    unmarked = tmp_path / "gb-x-unmarked"  # no marker: another program's, or one being made: never touched
    unmarked.mkdir()
    other = tmp_path / "other-prefix"
    other.mkdir()
    (other / MARKER).write_text(f"{dead.pid} 1\n")
    assert not stale.exists() and not reused.exists()
    assert reclaim_stale("gb-x-", tmp_path) == []
    assert alive.is_dir() and unmarked.is_dir() and other.is_dir()
    assert (alive / MARKER).read_text().split()[0] == str(os.getpid())


def test_popen_from_a_short_lived_thread_keeps_its_child(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG fires when the forking *thread* ends: popen forks on a thread that lives on."""
    from glassbridge.lifetime import popen

    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(target=lambda: started.append(popen(["sleep", "30"])))
    thread.start()
    thread.join()
    child = started[0]
    try:
        time.sleep(0.5)  # long enough for a death signal to arrive, had it been tied to the ended thread
        assert child.poll() is None, "the child died with the thread that asked for it"
    finally:
        child.kill()
        child.wait()


def test_a_child_of_popen_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = ("import threading, time\n"
              "from glassbridge.lifetime import popen\n"
              "kids = []\n"
              "kids.append(popen(['sleep', '60']))\n"  # main thread
              "t = threading.Thread(target=lambda: kids.append(popen(['sleep', '60'])))\n"  # another thread
              "t.start(); t.join()\n"
              "print(' '.join(str(k.pid) for k in kids), flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(running(p) for p in pids)
        parent.kill()
        parent.wait()
        assert wait_gone(pids, 5.0) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


# ---- the commands ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_firmware() -> Path:
    """The host port's build (built if missing; an existing one is used as is: the test is not about building),
    or the image in $GLASSBRIDGE_FIRMWARE_DIR where that is set (the aarch64 rootfs has no compiler)."""
    from glassbridge_rig.runner import artifact_path, board, build_firmware, prebuilt_image, repo_root

    prebuilt = prebuilt_image(board("host"))
    if prebuilt is not None:
        return prebuilt
    artifact = artifact_path(board("host"), repo_root())
    return artifact if artifact.is_file() else build_firmware(board("host"))


def test_firmware_run_killed_leaves_no_process_and_its_folder_is_reclaimed(tmp_path: Path,
                                                                           host_firmware: Path) -> None:
    log = tmp_path / "stderr.log"
    with glassbridge("firmware", "run", "--board", "host", "--no-build", "--json", "--link", str(tmp_path / "mcu0"),
                     cwd=tmp_path, log=log) as first:
        ready = first_json_line(first, 120, log)
        folder = Path(ready["log"]).parent
        firmware = int(ready["pid"])
        _started.extend(descendants(first.pid))
        assert firmware in _started and running(firmware) and folder.is_dir()
        first.kill()  # SIGKILL: no cleanup of its own runs
        first.wait(10)
        assert wait_gone([firmware], 5.0) == [], "the firmware outlived the killed `glassbridge firmware run`"
        assert folder.is_dir()  # nobody could remove it...
    with glassbridge("firmware", "run", "--board", "host", "--no-build", "--json", "--link", str(tmp_path / "mcu1"),
                     cwd=tmp_path, log=log) as second:
        again = first_json_line(second, 120, log)
        assert not folder.exists(), "the next start did not reclaim the killed run's folder"
        _started.extend(descendants(second.pid))
        assert stop_gracefully(second) == 0
        assert wait_gone([int(again["pid"])], 5.0) == []
        assert not Path(again["log"]).parent.exists()  # a clean stop removes its own


@pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon not installed")
def test_sim_ble_killed_leaves_no_process_and_its_folder_is_reclaimed(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    with glassbridge("sim", "ble", "--json", cwd=tmp_path, log=log) as first:
        info = first_json_line(first, 120, log)
        workdir, pids = Path(info["workdir"]), descendants(first.pid)
        _started.extend(pids)
        names = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:100] for pid in pids]
        assert len(pids) == 3 and all(running(p) for p in pids), names  # rig, companion, dbus-daemon
        assert workdir.is_dir()
        first.kill()
        first.wait(10)
        assert wait_gone(pids, 10.0) == [], "rig processes outlived the killed `glassbridge sim ble`"
        assert workdir.is_dir()
    with glassbridge("sim", "ble", "--json", "--no-companion", cwd=tmp_path, log=log) as second:
        again = first_json_line(second, 120, log)
        assert not workdir.exists(), "the next start did not reclaim the killed run's folder"
        kids = descendants(second.pid)
        _started.extend(kids)
        assert stop_gracefully(second) == 0
        assert wait_gone(kids, 10.0) == []
        shutil.rmtree(again["workdir"], ignore_errors=True)  # kept for its logs until the next start: not needed
