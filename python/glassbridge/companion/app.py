"""The companion's application: what each message from the glasses means (SPEC.md 10 and 16.5).

    channel 3  TransferBegin / TransferData / TransferQuery  ->  TransferStatus        (transfers.py)
    channel 1  AssistantRequest  ->  AssistantAnswer parts (same request_id, last final) or Result
    channel 2  mic_audio frames  ->  Captions (the brain's, channel 1)
    any        a body the companion does not know, with a request_id -> Result{UNKNOWN_MESSAGE}; else ignored

Answers run as tasks (a brain may take seconds), so one slow question never holds up the link or transfers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from glassbridge.companion.brain import Brain, Question
from glassbridge.companion.session import LinkSession
from glassbridge.companion.transfers import TransferStore
from glassbridge.protocol.errors import MessageDecodeError, MessageLimitError
from glassbridge.protocol.link import Channel, LinkDown, LinkEvent, LinkUp, MessageReceived, PeerReset, VersionMismatch
from glassbridge.protocol.messages import body_name, decode, encode, pb

__all__ = ["CompanionApp"]

log = logging.getLogger(__name__)

#: Bodies a phone serves; anything else from the glasses with a request_id gets UNKNOWN_MESSAGE.
_SERVED = {"transfer_begin", "transfer_data", "transfer_query", "assistant_request", "mic_audio", "result"}


class CompanionApp:
    def __init__(self, brain: Brain, transfers: TransferStore, *, clock: Callable[[], float] = time.monotonic,
                 notify_event: Callable[[dict[str, object]], None] | None = None) -> None:
        self.brain = brain
        self.transfers = transfers
        self.answer_delay_ms = 0
        self.decode_errors = 0
        self.unknown_messages = 0
        self.link_events: list[dict[str, object]] = []  # the last few, for status
        self._clock = clock
        self._notify_event = notify_event or (lambda _e: None)
        self._tasks: set[asyncio.Task[None]] = set()
        self._notification_id = 0

    # ---- link events --------------------------------------------------------------------------------------

    def on_link_event(self, session: LinkSession, event: LinkEvent) -> None:
        if isinstance(event, MessageReceived):
            self._on_message(session, event.channel, event.data)
            return
        record: dict[str, object] = {"glasses": session.identity, "event": type(event).__name__}
        if isinstance(event, PeerReset):
            record["dropped"] = event.dropped  # our unacknowledged messages to the old glasses session
        if isinstance(event, (LinkUp, PeerReset, VersionMismatch)):
            record["peer_session"] = event.peer.session
        if isinstance(event, VersionMismatch):
            log.error("glasses %s speak link protocol %d..%d; this companion 1..1: update the older side",
                      session.identity, event.peer.min_protocol_version, event.peer.protocol_version)
        elif not isinstance(event, LinkDown):
            log.info("glasses %s: %s", session.identity, record)
        self.link_events = (self.link_events + [record])[-16:]
        self._notify_event(record)

    # ---- messages -----------------------------------------------------------------------------------------

    def _reply(self, session: LinkSession, channel: int, msg: pb.Message) -> None:
        try:
            session.send(channel, encode(msg))
        except MessageLimitError as exc:  # our own bug (e.g. a brain's answer too long): say it, do not crash
            log.error("reply to %s not sent: %s", session.identity, exc)

    def _on_message(self, session: LinkSession, channel: int, data: bytes) -> None:
        try:
            msg = decode(data)
        except MessageDecodeError as exc:
            self.decode_errors += 1
            log.warning("glasses %s, channel %d: %s", session.identity, channel, exc)
            return
        name = body_name(msg)
        now = self._clock()
        owner = session.identity
        if name == "transfer_begin":
            status = self.transfers.begin(owner, msg.transfer_begin, now)
            self._reply(session, Channel.BULK, pb.Message(request_id=msg.request_id, transfer_status=status))
        elif name == "transfer_data":
            maybe = self.transfers.data(owner, msg.transfer_data, now)
            if maybe is not None:
                self._reply(session, Channel.BULK, pb.Message(request_id=msg.request_id, transfer_status=maybe))
        elif name == "transfer_query":
            status = self.transfers.query(owner, msg.transfer_query, now)
            self._reply(session, Channel.BULK, pb.Message(request_id=msg.request_id, transfer_status=status))
        elif name == "assistant_request":
            self._spawn(self._answer(session, msg.request_id, msg.assistant_request))
        elif name == "mic_audio":
            frame = msg.mic_audio
            for line in self.brain.hear(frame.stream_id, frame.sample_rate, frame.first_sample, frame.pcm):
                caption = pb.Caption(stream_id=line.stream_id, kind=cast(pb.CaptionKind, line.kind),
                                     text=line.text[:191],
                                     final=line.final, language=line.language)
                self._reply(session, Channel.CONTROL, pb.Message(caption=caption))
        elif name == "result":
            pass  # the glasses' answer to something we sent (e.g. a Notification): nothing to do
        elif msg.request_id:
            self.unknown_messages += 1
            what = name or "an unknown body (a newer glasses version?)"
            self._reply(session, channel, pb.Message(request_id=msg.request_id, result=pb.Result(
                code=pb.ERROR_CODE_UNKNOWN_MESSAGE, message=f"companion does not serve {what}"[:63])))
        else:
            self.unknown_messages += 1  # an event the phone has no use for: ignored (SPEC 16.5)

    # ---- the assistant ----------------------------------------------------------------------------------------

    def _verified(self, owner: str, transfer_id: int, kind: int) -> bytes | None | bool:
        """The bytes of a verified transfer of that kind, None when not asked for, False when not available."""
        if transfer_id == 0:
            return None
        t = self.transfers.get(owner, transfer_id)
        if t is None or t.state != pb.TRANSFER_STATE_VERIFIED or t.kind != kind:
            return False
        t.last_activity = self._clock()
        return bytes(t.data)

    async def _answer(self, session: LinkSession, request_id: int, req: pb.AssistantRequest) -> None:
        photo = self._verified(session.identity, req.photo_transfer_id, pb.TRANSFER_KIND_PHOTO)
        audio = self._verified(session.identity, req.audio_transfer_id, pb.TRANSFER_KIND_AUDIO)
        if photo is False or audio is False:
            which = req.photo_transfer_id if photo is False else req.audio_transfer_id
            self._reply(session, Channel.CONTROL, pb.Message(request_id=request_id, result=pb.Result(
                code=pb.ERROR_CODE_NO_SUCH_TRANSFER, message=f"transfer {which} is not verified here"[:63])))
            return
        if self.answer_delay_ms:
            await asyncio.sleep(self.answer_delay_ms / 1000)
        question = Question(req.task, req.text, req.language,
                            photo if isinstance(photo, bytes) else None, audio if isinstance(audio, bytes) else None)
        try:
            async for part in self.brain.answer(question):
                answer = pb.AssistantAnswer(text=part.text[:2047], final=part.final, source=part.source[:31],
                                            offline=part.offline)
                self._reply(session, Channel.CONTROL, pb.Message(request_id=request_id, assistant_answer=answer))
        except Exception as exc:  # a brain failure is an answer too: the glasses must not wait forever
            log.exception("brain %s failed on request %d", self.brain.name, request_id)
            self._reply(session, Channel.CONTROL, pb.Message(request_id=request_id, result=pb.Result(
                code=pb.ERROR_CODE_INTERNAL, message=f"brain failed: {exc}"[:63])))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- phone -> glasses -----------------------------------------------------------------------------------

    def notify(self, session: LinkSession, kind: int, app: str, title: str, text: str, icon: int = 0) -> int:
        """Queue a Notification for these glasses; returns its notification_id. MessageLimitError if too long."""
        self._notification_id += 1
        note = pb.Notification(notification_id=self._notification_id, kind=cast(pb.NotificationKind, kind), app=app,
                               title=title, text=text, icon=cast(pb.Icon, icon))
        session.send(Channel.CONTROL, encode(pb.Message(notification=note)))
        return self._notification_id

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
