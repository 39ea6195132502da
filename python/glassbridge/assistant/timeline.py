"""Timeline: every event of an assistant session, with its time, for the demo's timeline.json and the e2e bench.

    timeline = Timeline()                     # t = seconds since creation, on the loop's clock
    timeline.mark("button", button="main", action="tap", question=3)
    timeline.to_json()                        # {"clock": "monotonic", "started_wall": ..., "events": [...]}
    timeline.questions()[3]                   # {"button": 0.0, "camera_on": 0.012, ..., "card_shown": 0.198}
    await timeline.wait_for("card_shown", question=3, timeout=10)

Stages of a question (each event carries `question`, the question's number in the session), in order:
button (the event arrived from the MCU), camera_on (the MCU confirmed power), frame, camera_off, perception,
jpeg, request_sent, answer_first (first part from the phone), answer_final, card_shown (the MCU confirmed the
answer card). Offline answers have offline_answer/queued, and later delivered (with queued_ms).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STAGES", "Timeline", "TimelineEvent"]

log = logging.getLogger(__name__)

#: The stage events of one question, in the order they happen.
STAGES = ("button", "wake_word", "question_recorded", "camera_on", "frame", "camera_off", "perception",
          "faces_blurred", "jpeg", "request_sent", "answer_first", "answer_final", "card_shown")


@dataclass(frozen=True)
class TimelineEvent:
    t: float  # seconds since the timeline started
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "kind": self.kind, **self.detail}


class Timeline:
    """An append-only list of events; awaitable (wait_for) so drivers can follow the loop without sleeping."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, limit: int = 100_000) -> None:
        self.clock = clock
        self.start = clock()
        self.started_wall = time.time()
        self.limit = limit  # a long session keeps the latest `limit` events (memory stays bounded)
        self.events: list[TimelineEvent] = []
        self.dropped = 0
        self._waiters: list[tuple[str, dict[str, Any], asyncio.Future[TimelineEvent]]] = []
        self._listeners: list[Callable[[TimelineEvent], None]] = []

    def subscribe(self, listener: Callable[[TimelineEvent], None]) -> None:
        """Calls `listener(event)` for every event from now on (a live transcript: the demo prints them). A
        listener that raises is removed and the error logged: a printer must not break the loop."""
        self._listeners.append(listener)

    def now(self) -> float:
        return self.clock() - self.start

    def mark(self, kind: str, /, **detail: Any) -> TimelineEvent:
        """Records one event now. Detail keys "t" and "kind" are the event's own: refused."""
        if "t" in detail or "kind" in detail:
            raise ValueError(f"timeline event {kind!r}: detail keys 't' and 'kind' are reserved; rename them")
        event = TimelineEvent(self.now(), kind, detail)
        self.events.append(event)
        if len(self.events) > self.limit:
            del self.events[0]
            self.dropped += 1
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("timeline listener %r failed; removed", listener)
                self._listeners.remove(listener)
        for waiter in list(self._waiters):
            want, match, future = waiter
            if want == kind and all(detail.get(k) == v for k, v in match.items()) and not future.done():
                future.set_result(event)
                self._waiters.remove(waiter)
        return event

    def find(self, kind: str, /, **match: Any) -> list[TimelineEvent]:
        return [e for e in self.events if e.kind == kind and all(e.detail.get(k) == v for k, v in match.items())]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    async def wait_for(self, kind: str, /, *, timeout: float, after: float | None = None, **match: Any
                       ) -> TimelineEvent:
        """The first event of `kind` whose detail has `match` (already recorded at or after `after`, or coming).
        TimeoutError names what was awaited and the last events seen."""
        for e in self.events:
            if e.kind == kind and (after is None or e.t >= after) and all(
                    e.detail.get(k) == v for k, v in match.items()):
                return e
        future: asyncio.Future[TimelineEvent] = asyncio.get_running_loop().create_future()
        entry = (kind, match, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            last = ", ".join(f"{e.kind}@{e.t:.2f}" for e in self.events[-6:])
            raise TimeoutError(f"no {kind} event {match or ''} within {timeout:g} s; last events: {last or 'none'}"
                               ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def questions(self) -> dict[int, dict[str, float]]:
        """Per question number: the time of the first event of each kind that carried that number."""
        out: dict[int, dict[str, float]] = {}
        for e in self.events:
            q = e.detail.get("question")
            if isinstance(q, int):
                out.setdefault(q, {}).setdefault(e.kind, e.t)
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the clock, the wall time at t=0, and every event {t, kind, ...detail}."""
        return {"clock": getattr(self.clock, "__name__", "clock"), "started_wall": self.started_wall,
                "dropped": self.dropped, "events": [e.to_json() for e in self.events]}
