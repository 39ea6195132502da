"""Child processes that end with their parent, and temporary folders that do not outlive their run.

The rig's parts (the firmware or QEMU, dbus-daemon, the BLE rig process, the phone companion) are separate
processes. Stopped in order they clean up after themselves; but a parent killed outright (SIGKILL, the OOM
killer, a closed terminal's lost SIGHUP) runs no cleanup, and its children would go on holding ports, sockets
and CPU. Two measures:

* `die_with_parent(sig)` is a `preexec_fn`: in the child, before exec, Linux's prctl(PR_SET_PDEATHSIG) asks the
  kernel to send `sig` (SIGTERM by default, so the child still tidies up) when the parent dies; if the parent
  died between fork and prctl, the child signals itself at once. A no-op where prctl does not exist.

  Caveat: the kernel sends the death signal when the *thread* that forked the child ends, not the process.
  `popen()` therefore forks on the main thread, or, when called from any other thread (an `asyncio.to_thread`
  worker, a short-lived thread), on one long-lived daemon thread, "glassbridge-spawner", that lasts as long as the
  process. Children started with `asyncio.create_subprocess_exec(preexec_fn=die_with_parent)` are forked on the
  event loop's thread: the main thread in every glassbridge command (asyncio.run), and in any case a thread that
  outlives the children it starts.

* `run_dir(prefix)` makes a temporary folder like `tempfile.mkdtemp` and writes an owner marker into it (the
  process id and its start time, so a reused pid is not mistaken for the owner). Before making it,
  `reclaim_stale(prefix)` removes the folders with the same prefix whose owner is gone: a killed run's sockets,
  logs and state are reclaimed at the next start. A folder without a marker (another program's, or one being
  created) or whose owner still runs is never touched, nor one of another user.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "die_with_parent", "owner_alive", "popen", "reclaim_stale", "run_dir"]

#: The owner marker's file name inside a run folder: "<pid> <start time>\n".
MARKER = ".glassbridge-owner"

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _load_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
        return prctl
    except (OSError, AttributeError):  # not Linux (or no libc symbol): no death signal
        return None


# Resolved in the parent, once: the child only calls it (no dlopen between fork and exec).
_PRCTL = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn for subprocess.Popen / asyncio.create_subprocess_exec: the child gets `sig` when the thread
    that forked it ends (see the module docstring for why that must be a long-lived thread)."""
    parent = os.getpid()

    def preexec() -> None:
        if _PRCTL is None:
            return
        _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect: nobody would signal us
            os.kill(os.getpid(), sig)

    return preexec


# ---- forking from a thread that lives as long as the process --------------------------------------------------

_spawner_lock = threading.Lock()
_spawner_queue: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] | None = None


def _serve(jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]) -> None:
    while True:
        job, future = jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(job())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            future.set_exception(exc)


def _spawner() -> queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]:
    global _spawner_queue
    with _spawner_lock:
        if _spawner_queue is None:
            jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(jobs,), name="glassbridge-spawner", daemon=True).start()
            _spawner_queue = jobs
        return _spawner_queue


def _forget_spawner() -> None:  # a forked child has no spawner thread: it makes its own when needed
    global _spawner_queue, _spawner_lock
    _spawner_queue = None
    _spawner_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_spawner)


def popen(argv: list[str], *, death_signal: int = signal.SIGTERM, **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen(argv, **kwargs) whose child gets `death_signal` when this process dies (SIGKILL
    included), forked on the main thread or the spawner thread (module docstring)."""
    if "preexec_fn" in kwargs:
        raise TypeError("popen() sets preexec_fn itself (the death signal)")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, preexec_fn=die_with_parent(death_signal), **kwargs)

    if threading.current_thread() is threading.main_thread():
        return start()
    future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    _spawner().put((start, future))
    return future.result()


# ---- run folders ------------------------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None  # fields[0] is field 3 (state)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


def owner_alive(pid: int, start: str | None) -> bool:
    """Whether process `pid` runs and (when `start` is known) is the same process that wrote the marker."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if _state(pid) in ("Z", "X"):  # a zombie nobody reaped (a container without an init) is gone too
        return False
    if start is not None and start != "?":
        now = _start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused by another process
    return True


def _marker_text() -> str:
    return f"{os.getpid()} {_start_time(os.getpid()) or '?'}\n"


def reclaim_stale(prefix: str, folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Removes the folders `<folder>/<prefix>*` (default: the temporary folder) that carry an owner marker whose
    process is gone and belong to this user; returns them. Never raises: reclaiming is a courtesy."""
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        try:
            if candidate.is_symlink() or not candidate.is_dir() or candidate.stat().st_uid != os.getuid():
                continue
            text = (candidate / MARKER).read_text()
        except OSError:
            continue  # no marker: not ours to judge
        parts = text.split()
        try:
            pid = int(parts[0])
        except (IndexError, ValueError):
            continue
        if owner_alive(pid, parts[1] if len(parts) > 1 else None):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        if not candidate.exists():
            removed.append(candidate)
    return removed


def run_dir(prefix: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """A new private temporary folder `<prefix>XXXXXXXX` with this process's owner marker, after reclaiming
    the stale ones of killed runs (reclaim_stale). Removing it when done is still the caller's job."""
    reclaim_stale(prefix, folder)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    with contextlib.suppress(OSError):  # without a marker the folder is merely never reclaimed
        (path / MARKER).write_text(_marker_text())
    return path
