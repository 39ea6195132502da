"""Offline mode: the phone is away, so the glasses answer what they can see now and ask the rest later.

    "One person ahead, looks happy. The rest will come when the phone is back."

The question (its photo, perception and recorded audio) waits in a bounded queue ([assistant] queue_max; when
full the new one is refused, with the reason said). When the phone link is up again the queue is delivered,
oldest first, as the assistant's job (so it never interleaves with a live question), each request carrying
`queued_ms`, how long it waited; the late answer is shown as "Earlier question (40 s ago)" and spoken. A question
whose delivery fails because the phone went away again stays queued; one the phone refuses or does not answer in
time is dropped with a message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.question import AnswerTimeout, Question
from glassbridge.assistant.text import sentence
from glassbridge.mcu.events import CardSpec
from glassbridge.protocol.errors import LinkLost, PeerError

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext
    from glassbridge.assistant.perception import LocalPerception

__all__ = ["OfflineQueue", "QueuedQuestion", "LATER"]

LATER = "The rest will come when the phone is back."


@dataclass(frozen=True)
class QueuedQuestion:
    question: Question
    jpeg: bytes
    perception: Any  # pb.Perception, already stripped of expressions unless shared
    audio_opus: bytes | None
    queued_at: float  # on the assistant's clock


class OfflineQueue:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self._queue: deque[QueuedQuestion] = deque()
        # After a delivery lost the phone again, wait for the next "up" event rather than retrying at once
        # (a link that reports up but drops every request would otherwise be retried in a tight loop).
        self._wait_for_up = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    def questions(self) -> list[int]:
        return [item.question.number for item in self._queue]

    async def answer_locally(self, q: Question, local: LocalPerception, jpeg: bytes, perception: Any,
                             audio_opus: bytes | None, why: str, *, lost: bool = False) -> None:
        """The glasses' own answer now, and the question queued for the phone (when there is room). `lost`: the
        phone went away during the request (deliver after its next "up", not at once)."""
        ctx = self.ctx
        if lost:
            self._wait_for_up = True
        limit = ctx.settings.assistant.queue_max
        queued = len(self._queue) < limit
        if queued:
            self._queue.append(QueuedQuestion(q, jpeg, perception, audio_opus, ctx.clock()))
            text = f"{sentence(local.summary)} {LATER}"
        else:
            text = (f"{sentence(local.summary)} The phone is away and {limit} questions already wait for it, "
                    "so this one will not be sent.")
        ctx.timeline.mark("offline_answer", question=q.number, text=text, queued=queued, reason=why,
                          waiting=len(self._queue))
        ctx.set_state("answering", question=q.number)
        card = CardSpec(title=f"Offline: {q.title}", text=text, kind="answer", icon="bluetooth",
                        ttl_ms=ctx.settings.assistant.card_ttl_ms)
        if await ctx.show(card, question=q.number, offline=True):
            ctx.timeline.mark("card_shown", question=q.number, offline=True)
        await ctx.speak(text)

    def deliver_when_free(self, *, reconnected: bool = False) -> None:
        """Starts delivering the queue now, or after the running job (the job's end checks again)."""
        ctx = self.ctx
        if reconnected:
            self._wait_for_up = False
        if self._queue and not ctx.state.busy and ctx.ports.phone.up and not self._wait_for_up:
            ctx.start_job(self.deliver(), "delivery")

    async def deliver(self) -> None:
        ctx = self.ctx
        while self._queue and ctx.ports.phone.up:
            item = self._queue[0]
            q = item.question
            queued_ms = int(round((ctx.clock() - item.queued_at) * 1000))
            ago = max(1, round(queued_ms / 1000))
            ctx.timeline.mark("delivering", question=q.number, queued_ms=queued_ms)
            ctx.set_state("thinking", question=q.number)
            try:
                text = await ctx.ask_phone(q, item.jpeg, item.perception, item.audio_opus, queued_ms=queued_ms,
                                           title=f"Earlier question ({ago} s ago)")
            except LinkLost as exc:
                ctx.timeline.mark("delivery_interrupted", question=q.number, reason=str(exc))
                self._wait_for_up = True
                return  # still queued: the next "up" tries again
            except (AnswerTimeout, PeerError) as exc:
                self._queue.popleft()
                reason = (f"the phone did not answer in {ctx.settings.assistant.answer_timeout_s:g} s"
                          if isinstance(exc, AnswerTimeout) else str(exc))
                ctx.timeline.mark("delivery_failed", question=q.number, reason=reason)
                await ctx.notice("Earlier question", f"The earlier question got no answer: {reason}.",
                                 icon="warning", question=q.number)
                continue
            self._queue.popleft()
            ctx.timeline.mark("delivered", question=q.number, queued_ms=queued_ms, text=text)
            await ctx.speak(text)
