"""The companion's application: what each message from the glasses means (SPEC.md 10 and 16.5).

    channel 3  TransferBegin / TransferData / TransferQuery  ->  TransferStatus        (transfers.py)
    channel 1  AssistantRequest  ->  AssistantAnswer parts (same request_id, last final) or Result
               (a recorded question, WAV or Opus, is recognised first: speech.py)
    channel 1  CaptionControl start/stop  ->  Result; then Captions of the stream           (captions.py)
    channel 2  AudioPacket (Opus)  ->  partial and final Captions on channel 1
    channel 2  mic_audio frames  ->  the brain's level captions (the older raw PCM path)
    channel 1  MediaCommand  ->  Result OK (recorded: the phone's media session)
    channel 1  NotificationResponse  ->  Result with the outcome ("paid 23.50 EUR to Cafe Lumen", "declined")
    any        a body the companion does not know, with a request_id -> Result{UNKNOWN_MESSAGE}; else ignored

Answers, recognition and captions run as tasks (a brain or the recogniser may take seconds), so one slow
question never holds up the link, transfers or other glasses.

Work per glasses is bounded, so that one misbehaving bonded peer cannot take the phone's memory or its paid
brain: at most `MAX_QUESTIONS` questions are being answered at once (more get BUSY), one caption stream runs at a
time (a new start ends the previous one), and a brain that costs money (`Brain.online`) answers only a session
whose bond is still authenticated (`authorized`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from glassbridge_companion.brain import Brain, Question
from glassbridge_companion.captions import CaptionSession
from glassbridge_companion.session import LinkSession
from glassbridge_companion.speech import CaptionStream, Recogniser, SpeechUnavailable
from glassbridge_companion.transfers import TransferStore
from glassbridge.protocol.errors import MessageDecodeError, MessageLimitError
from glassbridge.protocol.link import Channel, LinkDown, LinkEvent, LinkUp, MessageReceived, PeerReset, VersionMismatch
from glassbridge.protocol.messages import body_name, decode, encode, pb

__all__ = ["CompanionApp", "payment_outcome"]

log = logging.getLogger(__name__)

#: Bodies a phone serves; anything else from the glasses with a request_id gets UNKNOWN_MESSAGE.
_SERVED = {"transfer_begin", "transfer_data", "transfer_query", "assistant_request", "mic_audio", "result",
           "audio_packet", "caption_control", "media_command", "notification_response"}
_AUDIO_KINDS = (pb.TRANSFER_KIND_AUDIO, pb.TRANSFER_KIND_AUDIO_OPUS)
_MEDIA_NAMES = {v: n.removeprefix("MEDIA_ACTION_").lower() for n, v in pb.MediaAction.items() if v}
_DEFAULT_PROMPT_MS = 30_000  # Notification.timeout_ms 0 means 30 s (glassbridge.proto)
_KEPT = 64  # records kept for status per list
#: Questions one glasses may have in the brain at once; one more is answered BUSY. The glasses ask one at a time
#: (the offline queue delivers oldest first, one by one); 4 leaves room for a retry racing a late answer.
MAX_QUESTIONS = 4
_AMOUNT = re.compile(r"(?:[A-Z]{3}|[$€£¥])\s?\d+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?\s?(?:[A-Z]{3}|[$€£¥])")


def payment_outcome(title: str, text: str, amount: str = "", merchant: str = "") -> str:
    """'paid 23.50 EUR to Cafe Lumen' from a payment prompt: the amount and merchant given, or found in it (the
    amount in the title or text, the merchant the field without the amount)."""
    if not amount:
        found = _AMOUNT.search(title) or _AMOUNT.search(text)
        amount = found.group(0) if found else ""
    if not merchant:
        fields = [f for f in (title, text) if f and not (amount and amount in f)]
        merchant = (fields[0] if fields else "").strip().rstrip("?.!")
    paid = f"paid {amount}" if amount else "paid"
    return f"{paid} to {merchant}" if merchant else paid


class CompanionApp:
    def __init__(self, brain: Brain, transfers: TransferStore, *, clock: Callable[[], float] = time.monotonic,
                 notify_event: Callable[[dict[str, object]], None] | None = None,
                 recogniser: Recogniser | Callable[[], Recogniser] | None = None,
                 authorized: Callable[[LinkSession], bool] = lambda _s: True) -> None:
        self.brain = brain
        self.busy_refusals = 0  # questions answered BUSY (over MAX_QUESTIONS in flight)
        self.unauthorized = 0  # questions refused to a session whose bond is gone
        self.transfers = transfers
        self.answer_delay_ms = 0
        self.decode_errors = 0
        self.unknown_messages = 0
        self.link_events: list[dict[str, object]] = []  # the last few, for status
        self.media: list[dict[str, object]] = []  # MediaCommands acted on (a phone would drive its media session)
        self.responses: list[dict[str, object]] = []  # answers to prompts (and prompts that timed out)
        self.questions: list[dict[str, object]] = []  # recorded questions and what was recognised
        self.answers: list[dict[str, object]] = []  # per request answered: where the phone's time went (bench)
        self.audio_packets_ignored = 0  # AudioPackets for a stream no CaptionControl started
        self._clock = clock
        self._notify_event = notify_event or (lambda _e: None)
        self._tasks: set[asyncio.Task[None]] = set()
        self._notification_id = 0
        self._prompts: dict[int, dict[str, Any]] = {}  # notification_id -> prompt waiting for a response
        self._captions: dict[tuple[str, int], CaptionSession] = {}
        self._caption_locks: dict[str, asyncio.Lock] = {}
        self._questions: dict[str, int] = {}  # glasses -> questions in flight
        self._authorized = authorized
        self._captions_done: list[dict[str, Any]] = []
        if isinstance(recogniser, Recogniser):
            self._recogniser: Recogniser | None = recogniser
            self._make_recogniser: Callable[[], Recogniser] = lambda: recogniser
        else:
            self._recogniser = None
            self._make_recogniser = recogniser or Recogniser
        self._recogniser_lock = asyncio.Lock()

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

    def _result(self, session: LinkSession, request_id: int, code: int, message: str) -> None:
        self._reply(session, Channel.CONTROL, pb.Message(request_id=request_id, result=pb.Result(
            code=cast(pb.ErrorCode, code), message=_fit(message, 63))))

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
            if self._questions.get(owner, 0) >= MAX_QUESTIONS:
                self.busy_refusals += 1
                self._result(session, msg.request_id, pb.ERROR_CODE_BUSY,
                             f"{MAX_QUESTIONS} questions are being answered; ask again")
                return
            self._questions[owner] = self._questions.get(owner, 0) + 1
            self._spawn(self._counted(owner, self._answer(session, msg.request_id, msg.assistant_request)))
        elif name == "audio_packet":
            self._on_audio_packet(session, msg.audio_packet)
        elif name == "caption_control":
            self._spawn(self._caption_control(session, msg.request_id, msg.caption_control))
        elif name == "media_command":
            self._on_media(session, msg.request_id, msg.media_command)
        elif name == "notification_response":
            self._on_response(session, msg.request_id, msg.notification_response)
        elif name == "mic_audio":
            frame = msg.mic_audio
            for line in self.brain.hear(frame.stream_id, frame.sample_rate, frame.first_sample, frame.pcm):
                caption = pb.Caption(stream_id=line.stream_id, kind=cast(pb.CaptionKind, line.kind),
                                     text=_fit(line.text, 191), final=line.final, language=line.language)
                self._reply(session, Channel.CONTROL, pb.Message(caption=caption))
        elif name == "result":
            pass  # the glasses' answer to something we sent (e.g. a Notification): nothing to do
        elif msg.request_id:
            self.unknown_messages += 1
            what = name or "an unknown body (a newer glasses version?)"
            self._result(session, msg.request_id, pb.ERROR_CODE_UNKNOWN_MESSAGE, f"companion does not serve {what}")
        else:
            self.unknown_messages += 1  # an event the phone has no use for: ignored (SPEC 16.5)

    # ---- speech -------------------------------------------------------------------------------------------

    async def recogniser(self) -> Recogniser:
        """The shared recogniser, loaded (0.3 s, in a thread) at first use; SpeechUnavailable if it cannot be."""
        async with self._recogniser_lock:
            if self._recogniser is None:
                self._recogniser = await asyncio.to_thread(self._make_recogniser)
            return self._recogniser

    def _recorded_pcm(self, kind: int, data: bytes) -> bytes:
        """The recorded question as PCM16 mono 16 kHz; ValueError saying what is wrong with it."""
        if kind == pb.TRANSFER_KIND_AUDIO_OPUS:
            from glassbridge.audio import OpusDecoder, unpack_opus_stream

            decoder = OpusDecoder(16000)
            return b"".join(decoder.decode(packet) for packet in unpack_opus_stream(data))
        from glassbridge.audio import read_wav  # WavError (a ValueError) names what the file holds

        pcm, rate = read_wav(data)
        if rate != 16000:
            from glassbridge.audio import resample

            pcm = resample(pcm, rate, 16000)
        return pcm

    # ---- the assistant ----------------------------------------------------------------------------------------

    def _verified(self, owner: str, transfer_id: int, kinds: tuple[int, ...]) -> tuple[int, bytes] | None | bool:
        """(kind, bytes) of a verified transfer of one of `kinds`, None when not asked for, False when missing."""
        if transfer_id == 0:
            return None
        t = self.transfers.get(owner, transfer_id)
        if t is None or t.state != pb.TRANSFER_STATE_VERIFIED or t.kind not in kinds:
            return False
        t.last_activity = self._clock()
        return int(t.kind), bytes(t.data)

    async def _counted(self, owner: str, answer: Coroutine[Any, Any, None]) -> None:
        try:
            await answer
        finally:
            self._questions[owner] -= 1
            if not self._questions[owner]:
                del self._questions[owner]

    async def _answer(self, session: LinkSession, request_id: int, req: pb.AssistantRequest) -> None:
        arrived = time.perf_counter()  # the request is handled once its transfers are verified: they are by now
        if self.brain.online and not self._authorized(session):
            # The paid endpoint answers bonded glasses only (the bond may have been forgotten since the session began).
            self.unauthorized += 1
            self._result(session, request_id, pb.ERROR_CODE_NOT_SUPPORTED, "these glasses are not bonded here")
            return
        photo = self._verified(session.identity, req.photo_transfer_id, (pb.TRANSFER_KIND_PHOTO,))
        audio = self._verified(session.identity, req.audio_transfer_id, _AUDIO_KINDS)
        if photo is False or audio is False:
            which = req.photo_transfer_id if photo is False else req.audio_transfer_id
            self._result(session, request_id, pb.ERROR_CODE_NO_SUCH_TRANSFER, f"transfer {which} is not verified here")
            return
        pcm: bytes | None = None
        text, spoken = req.text, False
        if isinstance(audio, tuple):
            try:
                pcm = await asyncio.to_thread(self._recorded_pcm, *audio)
            except Exception as exc:  # a bad recording is the glasses' error: say which and why
                self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST,
                             f"recording {req.audio_transfer_id}: {exc}")
                return
            if not text:
                heard = await self._hear_question(session, request_id, pcm)
                if heard is None:
                    return
                text, spoken = heard, True
        recognised = time.perf_counter()
        if self.answer_delay_ms:
            await asyncio.sleep(self.answer_delay_ms / 1000)
        question = Question(req.task, text, req.language, photo[1] if isinstance(photo, tuple) else None, pcm,
                            perception=req.perception if req.HasField("perception") else None, spoken=spoken,
                            queued_ms=req.queued_ms)
        parts, first_ms, ocr_ms = 0, 0.0, None
        try:
            async for part in self.brain.answer(question):
                answer = pb.AssistantAnswer(text=_fit(part.text, 2047), final=part.final,
                                            source=_fit(part.source, 31), offline=part.offline)
                self._reply(session, Channel.CONTROL, pb.Message(request_id=request_id, assistant_answer=answer))
                parts += 1
                if parts == 1:
                    first_ms = (time.perf_counter() - arrived) * 1000
                ocr_ms = ocr_ms if part.ocr_ms is None else part.ocr_ms
            done = time.perf_counter()
            # brain_ms: arrival to the final part queued on the link, minus the ctl answer-delay (a fault, not work).
            self.answers = (self.answers + [{
                "glasses": session.identity, "request_id": request_id, "parts": parts,
                "brain_ms": round((done - arrived) * 1000 - self.answer_delay_ms, 3),
                "first_part_ms": round(first_ms, 3), "recognise_ms": round((recognised - arrived) * 1000, 3),
                "queued_ms": req.queued_ms, "source": self.brain.name,
                # the offline reading's wall time inside the brain's (None: no OCR ran), for bench e2e's stage
                "ocr_ms": None if ocr_ms is None else round(ocr_ms, 3),
                # faces the glasses pixelated in the photo before sending it (None: no perception came)
                "faces_blurred": req.perception.faces_blurred if req.HasField("perception") else None}])[-100:]
        except Exception as exc:  # a brain failure is an answer too: the glasses must not wait forever
            log.exception("brain %s failed on request %d", self.brain.name, request_id)
            self._result(session, request_id, pb.ERROR_CODE_INTERNAL, f"brain failed: {exc}")

    async def _hear_question(self, session: LinkSession, request_id: int, pcm: bytes) -> str | None:
        """The recognised question ("" when nothing was made out); None after answering NOT_SUPPORTED."""
        try:
            recogniser = await self.recogniser()
        except SpeechUnavailable as exc:
            self._result(session, request_id, pb.ERROR_CODE_NOT_SUPPORTED, f"no speech recognition: {exc}")
            return None
        try:
            heard = await asyncio.to_thread(recogniser.recognise, pcm)
        except Exception as exc:  # a recogniser bug: the glasses still get an answer, not silence
            log.exception("glasses %s: recognition of request %d failed", session.identity, request_id)
            self._result(session, request_id, pb.ERROR_CODE_INTERNAL, f"speech recognition failed: {exc}")
            return None
        record = {"glasses": session.identity, "request_id": request_id, "text": heard.text,
                  "source": heard.source, "confidence": round(heard.confidence, 3),
                  "duration_s": round(heard.duration_s, 2)}
        self.questions = (self.questions + [record])[-_KEPT:]
        log.info("glasses %s asked (%s): %r", session.identity, heard.source, heard.text)
        self._notify_event({"event": "question", **record})
        return heard.text

    # ---- captions -----------------------------------------------------------------------------------------

    async def _caption_control(self, session: LinkSession, request_id: int, cc: pb.CaptionControl) -> None:
        # One control at a time per glasses: two starts racing must not leave two streams running.
        async with self._caption_locks.setdefault(session.identity, asyncio.Lock()):
            await self._caption_control_locked(session, request_id, cc)

    async def _caption_control_locked(self, session: LinkSession, request_id: int, cc: pb.CaptionControl) -> None:
        key = (session.identity, cc.stream_id)
        if not cc.start:
            running = self._captions.pop(key, None)
            if running is None:
                self._result(session, request_id, pb.ERROR_CODE_OK, f"stream {cc.stream_id} was not running")
                return
            await running.stop()
            self._captions_done = (self._captions_done + [running.summary()])[-16:]
            self._result(session, request_id, pb.ERROR_CODE_OK, f"stream {cc.stream_id} stopped")
            return
        if cc.stream_id == 0:
            self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST, "stream_id 0: use a non-zero stream id")
            return
        if cc.kind not in (pb.CAPTION_KIND_TRANSCRIPTION, pb.CAPTION_KIND_TRANSLATION):
            self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST,
                         "kind must be TRANSCRIPTION or TRANSLATION")
            return
        if cc.kind == pb.CAPTION_KIND_TRANSLATION:
            if not self.brain.capabilities & pb.CAPABILITY_TRANSLATION:
                self._result(session, request_id, pb.ERROR_CODE_NOT_SUPPORTED, "translation needs the online brain")
                return
            if not cc.language:
                self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST,
                             "translation needs a target language (BCP 47)")
                return
        spoken_in = (cc.source_language if cc.kind == pb.CAPTION_KIND_TRANSLATION else cc.language) or "en"
        if not spoken_in.lower().startswith("en"):
            self._result(session, request_id, pb.ERROR_CODE_NOT_SUPPORTED,
                         f"speech recognition here knows English only, not {spoken_in}")
            return
        try:
            recogniser = await self.recogniser()
        except SpeechUnavailable as exc:
            self._result(session, request_id, pb.ERROR_CODE_NOT_SUPPORTED, f"no speech recognition: {exc}")
            return
        # One stream per glasses: a restart of the same stream id, or a new stream (the glasses restarted and lost
        # the old one), ends the running one without a last line.
        for other in [k for k in self._captions if k[0] == session.identity]:
            old = self._captions.pop(other)
            await old.cancel()
            self._captions_done = (self._captions_done + [old.summary()])[-16:]

        def send(caption: pb.Caption) -> None:
            self._reply(session, Channel.CONTROL, pb.Message(caption=caption))

        captions = CaptionSession(session.identity, cc.stream_id, int(cc.kind), cc.language, cc.source_language,
                                  CaptionStream(recogniser), send, self.brain)
        captions.start()
        self._captions[key] = captions
        self._result(session, request_id, pb.ERROR_CODE_OK, f"captions of stream {cc.stream_id} started")

    def _on_audio_packet(self, session: LinkSession, packet: pb.AudioPacket) -> None:
        captions = self._captions.get((session.identity, packet.stream_id))
        if captions is None:
            self.audio_packets_ignored += 1
            if self.audio_packets_ignored in (1, 100, 10_000):
                log.warning("glasses %s: AudioPacket for stream %d, which no CaptionControl started (%d ignored)",
                            session.identity, packet.stream_id, self.audio_packets_ignored)
            return
        captions.packet(packet)

    def caption_status(self) -> list[dict[str, Any]]:
        return self._captions_done + [c.summary() for c in self._captions.values()]

    # ---- media and prompts ----------------------------------------------------------------------------------

    def _on_media(self, session: LinkSession, request_id: int, cmd: pb.MediaCommand) -> None:
        action = _MEDIA_NAMES.get(cmd.action)
        if action is None:
            self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST,
                         f"media action {cmd.action}: use one of {', '.join(_MEDIA_NAMES.values())}")
            return
        record = {"glasses": session.identity, "action": action, "at": round(self._clock(), 3)}
        self.media = (self.media + [record])[-_KEPT:]
        self._notify_event({"event": "media", **record})
        self._result(session, request_id, pb.ERROR_CODE_OK, action)

    def _on_response(self, session: LinkSession, request_id: int, r: pb.NotificationResponse) -> None:
        prompt = self._prompts.get(r.notification_id)
        if prompt is None or prompt["glasses"] != session.identity:
            self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST,
                         f"notification {r.notification_id} does not wait for an answer")
            return
        if r.response not in (pb.RESPONSE_CONFIRM, pb.RESPONSE_DISMISS):
            self._result(session, request_id, pb.ERROR_CODE_BAD_REQUEST, "response must be CONFIRM or DISMISS")
            return
        if prompt["outcome"] is not None:  # answered, or timed out: the first decision stands
            self._result(session, request_id, pb.ERROR_CODE_OK, f"already decided: {prompt['outcome']}")
            return
        outcome = self._outcome(prompt, r.response == pb.RESPONSE_CONFIRM)
        self._decide(prompt, "confirm" if r.response == pb.RESPONSE_CONFIRM else "dismiss", outcome)
        self._result(session, request_id, pb.ERROR_CODE_OK, outcome)

    @staticmethod
    def _outcome(prompt: dict[str, Any], confirm: bool) -> str:
        kind, title, text = prompt["kind"], prompt["title"], prompt["text"]
        if kind == pb.NOTIFICATION_KIND_PAYMENT:
            return payment_outcome(title, text, prompt["amount"], prompt["merchant"]) if confirm else "declined"
        if kind == pb.NOTIFICATION_KIND_CALL:
            caller = title or text or "the caller"
            return f"answered the call from {caller}" if confirm else f"declined the call from {caller}"
        return "confirmed" if confirm else "dismissed"

    def _decide(self, prompt: dict[str, Any], response: str, outcome: str) -> None:
        prompt["outcome"] = outcome
        timer = prompt.pop("timer", None)
        if timer is not None:
            timer.cancel()
        record = {"notification_id": prompt["id"], "glasses": prompt["glasses"], "kind": prompt["kind_name"],
                  "response": response, "outcome": outcome, "after_ms": int((self._clock() - prompt["sent"]) * 1000)}
        self.responses = (self.responses + [record])[-_KEPT:]
        log.info("prompt %d (%s): %s -> %s", prompt["id"], prompt["kind_name"], response, outcome)
        self._notify_event({"event": "response", **record})

    def _expire(self, notification_id: int) -> None:
        prompt = self._prompts.get(notification_id)
        if prompt is not None and prompt["outcome"] is None:
            wait = prompt["timeout_ms"] / 1000
            self._decide(prompt, "timeout", f"{self._outcome(prompt, False)} (no answer in {wait:g} s)")

    # ---- background work ------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        async def logged() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in a handler: in the log, never an unretrieved task exception
                log.exception("companion task failed")

        task = asyncio.get_running_loop().create_task(logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- phone -> glasses -----------------------------------------------------------------------------------

    def notify(self, session: LinkSession, kind: int, app: str, title: str, text: str, icon: int = 0, *,
               needs_response: bool = False, timeout_ms: int = 0, amount: str = "", merchant: str = "") -> int:
        """Queue a Notification for these glasses; returns its notification_id. MessageLimitError if too long.

        With `needs_response` the glasses answer with a NotificationResponse; after `timeout_ms` (0: 30 s) without
        one the prompt counts as dismissed (a payment is declined). `amount`/`merchant` word a payment's outcome.
        """
        self._notification_id += 1
        nid = self._notification_id
        note = pb.Notification(notification_id=nid, kind=cast(pb.NotificationKind, kind), app=app, title=title,
                               text=text, icon=cast(pb.Icon, icon), needs_response=needs_response,
                               timeout_ms=timeout_ms)
        session.send(Channel.CONTROL, encode(pb.Message(notification=note)))
        if needs_response:
            wait_ms = timeout_ms or _DEFAULT_PROMPT_MS
            prompt: dict[str, Any] = {
                "id": nid, "glasses": session.identity, "kind": kind,
                "kind_name": pb.NotificationKind.Name(cast(pb.NotificationKind, kind)).removeprefix(
                    "NOTIFICATION_KIND_"),
                "title": title, "text": text, "amount": amount, "merchant": merchant, "timeout_ms": wait_ms,
                "sent": self._clock(), "outcome": None}
            # The glasses count the same timeout; a little slack here covers the link's delivery time.
            prompt["timer"] = asyncio.get_running_loop().call_later(wait_ms / 1000 + 0.5, self._expire, nid)
            self._prompts[nid] = prompt
            for old in [k for k, p in self._prompts.items() if p["outcome"] is not None][:-_KEPT]:
                del self._prompts[old]
        return nid

    async def close(self) -> None:
        for prompt in self._prompts.values():
            timer = prompt.pop("timer", None)
            if timer is not None:
                timer.cancel()
        for captions in list(self._captions.values()):
            await captions.cancel()
        self._captions.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _fit(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8 (the .proto's limits are bytes), cut on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")
