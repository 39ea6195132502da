"""Secrets and personal data on disk: owner-only, whatever the umask and whatever was there before.

Bond keys, the companion's identity, the rig's BlueZ keys, caption transcripts and recordings are readable by
nobody but their owner: folders 0700, files 0600. The rules, everywhere glassbridge keeps such data:

- `private_dir(path)` creates the folder 0700, or, when it already existed with group or other bits, tightens it
  and logs a warning naming it (an older glassbridge, a copied folder, a umask of 022).
- `write_private(path, data)` writes a file atomically (a 0600 temporary file in the same folder, fsync, rename),
  so no reader ever sees a half-written or world-readable key. Folders it has to create are 0700; a folder that
  exists is left as it is (it may be the user's own, named on the command line): the stores call `private_dir` on
  the folders that are glassbridge's.
- `tighten(path)` does the same check on an existing file (0600) or folder (0700); the stores call it on every
  file they load, so a keys.json left 0644 by an earlier version is fixed at start, and the log says so.

Nothing here imports the rest of the package.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "tighten", "write_private"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def tighten(path: str | os.PathLike[str]) -> bool:
    """Removes group and other permissions from an existing file (-> 0600 at most) or folder (-> 0700 at most).

    Returns True when the mode was changed (and logs a warning naming the path and both modes). A missing path is
    not an error (False). A symbolic link is never followed: it is refused with PermissionError, because a link
    in a private folder could point anywhere (another user's file, /etc/shadow)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise PermissionError(f"{p} is a symbolic link: private data is kept in regular files and folders only")
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return False
    target = mode & (DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE)
    os.chmod(p, target)
    log.warning("%s was readable by other users (mode %o): tightened to %o", p, mode, target)
    return True


def private_dir(path: str | os.PathLike[str]) -> Path:
    """The folder `path`, created 0700 (with its missing parents) or tightened to owner-only when it existed.

    Parents that already exist are left as they are (a home folder, /tmp); parents created here get 0700 too."""
    p = _make_dirs(path)
    tighten(p)
    return p


def _make_dirs(path: str | os.PathLike[str]) -> Path:
    """Creates `path` and its missing parents 0700 (whatever the umask); existing folders are not changed."""
    p = Path(path)
    missing = []
    parent = p
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by someone else meanwhile: checked below
            os.mkdir(folder, DIR_MODE)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not p.is_dir():
        raise NotADirectoryError(f"{p} is not a folder")
    return p


def write_private(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Writes `data` to `path` atomically as an owner-only file (0600); missing folders are created 0700."""
    p = Path(path)
    _make_dirs(p.parent)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}-", suffix=".tmp", dir=p.parent)  # mkstemp: 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
