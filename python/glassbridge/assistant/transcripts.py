"""Transcripts of caption sessions, kept on the glasses (never sent anywhere) for [captions] retention_days.

Each session writes transcript-YYYYMMDD-HHMMSS-<stream id>.txt in the transcript folder: a header line, then one
line per final caption, "HH:MM:SS text". Old files are deleted when a session starts and when it ends (by their
modification time, so a transcript counts from its last line) when the assistant starts, when a session starts,
and when one ends (keeping the session just ended, whose late lines may still come). Only files named like ours
are ever deleted. retention_days = 0 keeps only the latest session's.
What people said near the wearer is personal data: the folder is 0700 and each file 0600 (tightened, and logged,
when an earlier version left them readable by other users: glassbridge.private).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from glassbridge.private import FILE_MODE, private_dir, tighten

__all__ = ["Transcript", "default_transcript_dir", "sweep_transcripts"]

_NAME = re.compile(r"^transcript-\d{8}-\d{6}-\d+\.txt$")


def default_transcript_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("glassbridge")) / "transcripts"


def sweep_transcripts(folder: Path, retention_days: float, *, now: float | None = None, keep: Path | None = None,
                      keep_latest: bool = False) -> list[Path]:
    """Deletes our transcript files older than retention_days (0: all of them) but `keep` and, with keep_latest,
    the most recently written one; returns what was deleted."""
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400
    deleted = []
    tighten(folder)
    ours = [p for p in sorted(folder.iterdir()) if _NAME.match(p.name) and p.is_file()]
    spared = {keep} if keep is not None else set()
    if keep_latest and ours:
        spared.add(max(ours, key=lambda p: (p.stat().st_mtime, p.name)))
    for path in ours:
        if path in spared:
            tighten(path)
            continue
        if retention_days == 0 or path.stat().st_mtime < cutoff:
            path.unlink()
            deleted.append(path)
        else:
            tighten(path)
    return deleted


class Transcript:
    """One session's file. Lines are appended and flushed one by one: a crash loses at most the current line."""

    def __init__(self, folder: Path, stream_id: int, kind: str, language: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        try:
            private_dir(folder)
        except OSError as exc:
            raise OSError(f"cannot create the transcript folder {folder} ({exc.strerror or exc}); set [captions] "
                          "transcript_dir to a writable folder or keep_transcripts = false") from exc
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        self.path = folder / f"transcript-{stamp}-{stream_id}.txt"
        self.lines = 0
        header = f"# glassbridge {kind}, {language or 'default language'}, started {time.ctime(now)}\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(header)
        tighten(self.path)  # a file of the same name from an earlier version keeps its mode through O_TRUNC

    def append(self, text: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%H:%M:%S', time.localtime(now))} {' '.join(text.split())}\n")
        self.lines += 1
