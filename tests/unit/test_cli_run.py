"""`glassbridge run`'s status line and JSON logs (the session itself runs in tests/e2e/test_assistant_rig.py)."""

from __future__ import annotations

import json
import logging
import sys
from types import SimpleNamespace

from glassbridge.cli.run import JsonLogFormatter, status_text


def _assistant(state: str, up: bool, percent: int | None, level: str, pending: int, captions: bool) -> object:
    return SimpleNamespace(state=state, phone=SimpleNamespace(up=up),
                           power=SimpleNamespace(percent=percent, level=level),
                           offline=SimpleNamespace(pending=pending), captions=SimpleNamespace(active=captions))


def test_status_line_says_what_the_loop_is_doing() -> None:
    assert status_text(_assistant("idle", True, None, "ok", 0, False)) == "idle | phone up"
    assert status_text(_assistant("thinking", False, 12, "low", 2, True)) == (
        "thinking | phone away | battery 12 % (low) | 2 questions waiting for the phone | captions on")
    assert "1 question waiting" in status_text(_assistant("idle", False, 80, "ok", 1, False))


def test_json_logs_are_one_object_per_line_with_the_record_fields() -> None:
    formatter = JsonLogFormatter()
    record = logging.LogRecord("glassbridge.run", logging.WARNING, __file__, 1, "phone %s for %d s", ("away", 3),
                               None)
    entry = json.loads(formatter.format(record))
    assert entry == {"t": round(record.created, 3), "level": "warning", "logger": "glassbridge.run",
                     "message": "phone away for 3 s"}
    try:
        raise ValueError("bad frame")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "ValueError: bad frame" in json.loads(line)["exc"]
