"""`Phone`: the typed asyncio client of the phone companion, over BLE.

    async with await Phone.open() as phone:               # the bonded phone (BondStore); reconnects by itself
        await phone.wait_until_up(timeout=30)
        answer = await phone.ask("What does this sign say?", photo=jpeg_bytes, task="read_text")
        print(answer.text)
        async for event in phone.events():                 # Notification, Caption, Card, AnswerPart, ConnectionChanged
            ...

Under it: Central (bleak on BlueZ: only the bonded identity, reconnect with backoff) attaches each connection to
a BleLink, which drives the C link engine (profile "packet"): reliable, in-order messages across drops; and the
client layer both links share (glassbridge.protocol.client: request/answer matching, the patience rule, what a
link restart fails and resumes, resumable uploads, errors that say what was being waited for). This module is
the phone's face of that layer: its requests (questions with their photo and recording, captions, media,
answers to prompts), its events, the connection's state as Central sees it, TransferData sized to the link's
fragments as the uploads' data message (SPEC.md 16.5), and the phone's words in its errors.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from dataclasses import asdict
from typing import Any

from glassbridge.phone.agent import PairingUI
from glassbridge.phone.ble import Attached, BleLink, Detached, LinkReplaced, TransportEvent, own_versions
from glassbridge.phone.bonds import Bond, BondStore
from glassbridge.phone.central import Central, ReconnectPolicy, pair_phone
from glassbridge.phone.errors import NotBonded, incompatible_phone
from glassbridge.phone.events import (
    Answer,
    AnswerPart,
    Card,
    CaptionLine,
    ConnectionChanged,
    NotificationEvent,
    PhoneEvent,
    PhoneStatus,
)
from glassbridge.protocol.client import LinkClient, PeerClient
from glassbridge.protocol.errors import LinkLost, NotConnected, PeerError, PeerIncompatible, PeerRestarted
from glassbridge.protocol.link import Channel, LinkState, PeerInfo, PeerReset
from glassbridge.protocol.messages import enum_name, enum_value, pb
from glassbridge.protocol.transfer import TransferDataChunks, UploadReport

__all__ = [
    "Phone",
    # its value types, defined in glassbridge.phone.events and re-exported here
    "Answer",
    "AnswerPart",
    "Card",
    "CaptionLine",
    "ConnectionChanged",
    "NotificationEvent",
    "PhoneEvent",
    "PhoneStatus",
]

log = logging.getLogger(__name__)

#: Microphone audio on the phone link: PCM16 mono 16 kHz, at most 1280 bytes (40 ms) per AudioFrame (its limit).
SAMPLE_RATE = 16000
AUDIO_FRAME_MAX = 1280
#: Events waiting for a slow events() consumer; older ones are dropped (and counted) past this.
EVENT_QUEUE = 256


# ---- the client ---------------------------------------------------------------------------------------------


class Phone(PeerClient["_PhoneLink", PhoneEvent]):
    """The bonded phone's companion over BLE. Create with `await Phone.open(...)`; close with `close()` or
    `async with`. Its events: notifications, captions, cards, answer parts and connection changes (dropped
    ones counted in status().events_dropped too)."""

    def __init__(
        self,
        bond: Bond,
        *,
        bonds: BondStore | None = None,
        policy: ReconnectPolicy = ReconnectPolicy(),
        request_timeout: float = 15.0,
        link_patience: float = 30.0,
        adapter: str | None = None,
        link_options: dict[str, Any] | None = None,
    ) -> None:
        self.bond = bond
        self.transport = BleLink(self._on_transport_event, link_options=link_options)
        super().__init__(_PhoneLink(self, self.transport, request_timeout=request_timeout,
                                    link_patience=link_patience), EVENT_QUEUE)
        self.central = Central(bond, self.transport, policy=policy, on_state=self._on_state, bonds=bonds,
                               adapter=adapter)
        self.state = "closed"
        self._audio_streams = itertools.count(secrets.randbits(16) | 1)

    @classmethod
    async def open(
        cls,
        *,
        bonds: BondStore | None = None,
        pairing_ui: PairingUI | None = None,
        pair_name: str | None = None,
        policy: ReconnectPolicy = ReconnectPolicy(),
        request_timeout: float = 15.0,
        link_patience: float = 30.0,
        adapter: str | None = None,
        link_options: dict[str, Any] | None = None,
    ) -> Phone:
        """Starts connecting to the bonded phone (returns at once; `wait_until_up` waits for the link).

        Not bonded: with a `pairing_ui` (and optionally `pair_name`) pairs first (see central.pair_phone);
        without one raises NotBonded. BondStoreError when the bond file is corrupt (never silently unbonded).
        """
        bonds = bonds or BondStore()
        bond = bonds.load()
        if bond is None:
            if pairing_ui is None:
                raise NotBonded(f"no bond in {bonds.path}")
            bond = await pair_phone(bonds, pairing_ui, name=pair_name, adapter=adapter)
        phone = cls(bond, bonds=bonds, policy=policy, request_timeout=request_timeout, link_patience=link_patience,
                    adapter=adapter, link_options=link_options)
        phone.transport.start()
        phone.central.start()
        return phone

    async def close(self) -> None:
        await super().close()
        self._set_state("closed", "")

    async def _shutdown(self) -> None:
        await self.central.close()
        await self.transport.close()

    # ---- state ------------------------------------------------------------------------------------------

    async def wait_until_up(self, timeout: float) -> None:
        """Waits until messages flow (BLE connected, secured, link handshake done). NotConnected says what was
        seen meanwhile; PeerIncompatible when the companion's versions do not fit."""
        await self._link.wait_up(timeout)

    @property
    def peer_resets(self) -> int:
        """Link restarts seen: the companion's (PeerReset) and our own new sessions (LinkReplaced)."""
        return self._link.restarts

    def _set_state(self, state: str, detail: str) -> None:
        if state == self.state and state != "disconnected":
            return
        self.state = state
        self._link.set_up(state == "up")
        self._publish(ConnectionChanged(state, detail))

    def _on_state(self, state: str, detail: str) -> None:
        if state == "connected" and self.transport.state is not None and self.transport.link is not None:
            if self.transport.link.state == LinkState.UP:
                state = "up"
        self._set_state(state, detail)

    async def status(self) -> PhoneStatus:
        info = self.transport.info
        link_state = self.transport.state
        connected = self.transport.connected
        # The link session outlives a lost connection (SPEC 16.4), but no link runs without one: say "down" then,
        # not the engine's last state.
        shown = "down" if not connected else link_state.name.lower() if link_state is not None else "none"
        return PhoneStatus(
            bonded=self.bond.to_dict(),
            state=self.state,
            connected=connected,
            mtu=self.transport.mtu,
            link_state=shown,
            link=self.transport.stats(),
            companion=None if info is None else asdict(info),
            connections=self.central.connections,
            reconnect_failures=self.central.failures,
            last_error="" if self.central.last_error is None else str(self.central.last_error),
            refused=dict(self.central.refused),
            events_dropped=self.events_dropped,
        )

    # ---- events -----------------------------------------------------------------------------------------

    def _on_transport_event(self, event: TransportEvent) -> None:
        """Everything BleLink reports, the link's events and its own, in order (called in the loop)."""
        self._link.on_event(event)

    def _on_message(self, msg: pb.Message) -> bool:
        """The phone's events (notifications, captions, cards, answer parts); False for anything else."""
        body = msg.WhichOneof("body")
        if body == "notification":
            n = msg.notification
            self._publish(NotificationEvent(
                n.notification_id, enum_name(pb.NotificationKind, n.kind, "NOTIFICATION_KIND_"), n.app, n.title,
                n.text, enum_name(pb.Icon, n.icon, "ICON_"), n.needs_response, n.timeout_ms))
        elif body == "caption":
            c = msg.caption
            self._publish(CaptionLine(c.stream_id, enum_name(pb.CaptionKind, c.kind, "CAPTION_KIND_"), c.text,
                                      c.final, c.language))
        elif body == "card":
            d = msg.card
            self._publish(Card(d.card_id, enum_name(pb.CardKind, d.kind, "CARD_KIND_"),
                               enum_name(pb.Icon, d.icon, "ICON_"), d.title, d.text, d.ttl_ms))
        elif body == "assistant_answer":
            a = msg.assistant_answer
            self._publish(AnswerPart(msg.request_id, a.text, a.final, a.source, a.offline))
        else:
            return False
        return True

    # ---- requests ---------------------------------------------------------------------------------------

    async def send_message(self, msg: pb.Message, channel: int = Channel.CONTROL) -> None:
        """Queues one Message on the link (waits for room, not for delivery)."""
        await self._link.send(msg, channel)

    async def request(self, what: str, msg: pb.Message, channel: int = Channel.CONTROL) -> pb.Message:
        """Sends one request, returns its first answer (a Result with an error raises RequestFailed). Each answer
        is awaited `request_timeout` while the link is up and up to `link_patience` more while it is down (the
        phone walked away), then PeerTimeout / LinkLost name what was awaited."""
        return await self._link.request(what, msg, channel)

    # ---- assistant ----------------------------------------------------------------------------------------

    async def ask_stream(
        self,
        text: str,
        *,
        photo: bytes | None = None,
        audio_wav: bytes | None = None,
        audio_opus: bytes | None = None,
        task: str = "unspecified",
        language: str = "",
        perception: pb.Perception | None = None,
        queued_ms: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> AsyncGenerator[AnswerPart, None]:
        """Asks the phone's assistant; yields the answer's parts as they arrive (the last has final=True).

        `photo` (JPEG bytes) and the spoken question, `audio_wav` (WAV, PCM16 mono 16 kHz) or `audio_opus` (Opus
        packets, each preceded by its 2-byte little-endian length: glassbridge.audio.pack_opus_stream), are
        uploaded first as transfers (resumable). `task`: unspecified, ask, describe, read_text, translate,
        transcribe. `perception`: what the glasses' own perception found in the photo (emotions only when the
        wearer shares them). `queued_ms`: how long the request waited on the glasses for the phone. `progress(done,
        total)`: the uploads' confirmed bytes, as the phone confirms them (for a progress bar)."""
        task_value = enum_value(pb.AssistantTask, task, "ASSISTANT_TASK_")
        if audio_wav is not None and audio_opus is not None:
            raise ValueError("a question has one recording: pass audio_wav or audio_opus, not both")
        request = pb.AssistantRequest(task=task_value, text=text, language=language, queued_ms=queued_ms)
        if perception is not None:
            request.perception.CopyFrom(perception)
        what = f"the assistant's answer to {text[:40]!r}"
        uploads: list[asyncio.Task[UploadReport]] = []
        try:
            for field_name, kind, data, name in (("photo_transfer_id", "photo", photo, "photo.jpg"),
                                                 ("audio_transfer_id", "audio", audio_wav, "question.wav"),
                                                 ("audio_transfer_id", "audio_opus", audio_opus, "question.opus")):
                if data is None:
                    continue
                uploads.append(await self._start_upload(request, field_name, kind, data, name, progress))
            # The request is queued right behind the uploads' last bytes: the link delivers in order (one FIFO,
            # SPEC 6.1), so it reaches the phone after them, one round trip earlier than waiting for VERIFIED. If
            # the phone did not verify them by then (a resumed or failed upload), it answers NO_SUCH_TRANSFER or
            # the link restarted: the request is sent again once the uploads are done (or their error raised).
            for attempt in range(2):
                answers = self._link.answers(what, pb.Message(assistant_request=request))
                try:
                    async for msg in answers:
                        body = msg.WhichOneof("body")
                        if body == "result":
                            if (uploads and attempt == 0 and msg.result.code == pb.ERROR_CODE_NO_SUCH_TRANSFER):
                                break
                            self._link.check(what, msg)
                            continue  # Result OK without an answer: keep waiting for the answer parts
                        if body != "assistant_answer":
                            log.debug("ignoring %s answering an AssistantRequest", body)
                            continue
                        a = msg.assistant_answer
                        yield AnswerPart(msg.request_id, a.text, a.final, a.source, a.offline)
                        if a.final:
                            return
                except LinkLost:
                    if not uploads or attempt:
                        raise
                finally:
                    await answers.aclose()
                await asyncio.gather(*uploads)  # the uploads' own errors (TransferFailed, LinkLost) surface
        finally:
            for upload in uploads:
                if not upload.done():
                    upload.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)

    async def _start_upload(self, request: pb.AssistantRequest, field_name: str, kind: str, data: bytes,
                            name: str, progress: Callable[[int, int], None] | None = None
                            ) -> asyncio.Task[UploadReport]:
        """Starts uploading `data` for `request` (sets its transfer id) and returns once every byte is queued on
        the link, or raises the upload's error."""
        tid = secrets.randbits(31) | 1
        setattr(request, field_name, tid)
        queued = asyncio.Event()
        task = asyncio.ensure_future(self.upload_report(kind, data, name, transfer_id=tid, all_sent=queued,
                                                        fresh=True, progress=progress))
        waiter = asyncio.ensure_future(queued.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            task.result()  # raises what went wrong
        return task

    async def ask(
        self,
        text: str,
        *,
        photo: bytes | None = None,
        audio_wav: bytes | None = None,
        audio_opus: bytes | None = None,
        task: str = "unspecified",
        language: str = "",
        perception: pb.Perception | None = None,
        queued_ms: int = 0,
    ) -> Answer:
        """Asks the phone's assistant and returns the whole answer (see ask_stream)."""
        started = time.monotonic()
        parts: list[AnswerPart] = []
        async for part in self.ask_stream(text, photo=photo, audio_wav=audio_wav, audio_opus=audio_opus, task=task,
                                          language=language, perception=perception, queued_ms=queued_ms):
            parts.append(part)
        last = parts[-1]
        return Answer(last.request_id, "".join(p.text for p in parts), last.source, last.offline, len(parts),
                      time.monotonic() - started)

    # ---- transfers and audio ----------------------------------------------------------------------------

    async def upload(
        self,
        kind: str,
        data: bytes,
        name: str = "",
        *,
        transfer_id: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Sends `data` as a transfer (kind "photo" or "audio"); returns its transfer_id once the phone verified
        its SHA-256. Survives drops and reconnections; after a link restart it asks the phone where the transfer
        stands and resumes from the confirmed offset (SPEC.md 10, 16.5). TransferFailed when refused,
        TransferStalled when the phone confirms no progress for 60 s."""
        return (await self.upload_report(kind, data, name, transfer_id=transfer_id, progress=progress)).transfer_id

    async def upload_report(
        self,
        kind: str,
        data: bytes,
        name: str = "",
        *,
        transfer_id: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        all_sent: asyncio.Event | None = None,
        fresh: bool | None = None,
    ) -> UploadReport:
        """As upload(), returning the report (time, restarts, offsets resumed from, bytes sent). Without a
        `transfer_id` a new one is made, and the data follows TransferBegin at once (no round trip first; also
        with `fresh=True`, for an id the caller just made). `all_sent` is set when every byte is queued on the
        link (before the phone verified it)."""
        fresh = transfer_id is None if fresh is None else fresh
        tid = transfer_id or (secrets.randbits(31) | 1)
        return await self._link.upload(kind, data, name, TransferDataChunks(self.frame_payload, self.max_message),
                                       transfer_id=tid, progress=progress, fresh=fresh, all_sent=all_sent)

    def max_message(self) -> int:
        link = self.transport.link
        if link is None:
            raise LinkLost("no link to the phone yet", peer="phone")
        return link.max_message

    def frame_payload(self) -> int:
        """Payload bytes of one data frame on the current link session: min(both max_frames) - 10."""
        link = self.transport.link
        if link is None:
            raise LinkLost("no link to the phone yet", peer="phone")
        frame = link.config["max_frame"]
        if link.peer is not None:
            frame = min(frame, link.peer.max_frame)
        return frame - 10

    async def stream_audio(self, frames: AsyncIterable[bytes] | Iterable[bytes], *,
                           sample_rate: int = SAMPLE_RATE) -> int:
        """Streams microphone audio (PCM16 mono) to the phone as mic_audio frames on the audio channel; Captions
        come back as events. Returns the stream_id. Each input chunk is cut to AudioFrame's 1280-byte limit."""
        stream_id = next(self._audio_streams) & 0xFFFFFFFF or 1
        sample = 0

        async def chunks() -> AsyncGenerator[bytes, None]:
            if isinstance(frames, AsyncIterable):
                async for f in frames:
                    yield f
            else:
                for f in frames:
                    yield f

        async for pcm in chunks():
            if len(pcm) % 2:
                raise ValueError(f"PCM16 audio comes in whole 2-byte samples; got a chunk of {len(pcm)} bytes")
            for start in range(0, len(pcm), AUDIO_FRAME_MAX):
                piece = pcm[start:start + AUDIO_FRAME_MAX]
                frame = pb.AudioFrame(sample_rate=sample_rate, first_sample=sample, pcm=piece, stream_id=stream_id)
                await self.send_message(pb.Message(mic_audio=frame), Channel.AUDIO)
                sample += len(piece) // 2
        return stream_id

    # ---- captions, media, responses ---------------------------------------------------------------------

    async def start_captions(self, stream_id: int, kind: str = "transcription", language: str = "",
                             source_language: str = "") -> None:
        """Asks the phone to caption the microphone stream `stream_id` (sent with send_audio_packet); CaptionLine
        events follow. `kind`: transcription or translation (`language` = the target). RequestFailed with the
        phone's reason when it cannot (NOT_SUPPORTED: translation without an online brain, say)."""
        control = pb.CaptionControl(stream_id=stream_id, start=True, kind=enum_value(pb.CaptionKind, kind, "CAPTION_KIND_"),
                                    language=language, source_language=source_language)
        await self.request(f"captions ({kind}) for stream {stream_id}", pb.Message(caption_control=control))

    async def stop_captions(self, stream_id: int) -> None:
        """Stops the captions of `stream_id`; the phone sends the final line of what it heard."""
        await self.request(f"the end of the captions of stream {stream_id}",
                           pb.Message(caption_control=pb.CaptionControl(stream_id=stream_id, start=False)))

    async def send_audio_packet(self, stream_id: int, first_sample: int, data: bytes, *, codec: str = "opus",
                                frame_samples: int = 320, gap_before: bool = False,
                                sample_rate: int = SAMPLE_RATE) -> None:
        """One packet of live microphone audio (an Opus packet, or PCM16) on the audio channel; no answer.
        `first_sample` counts samples since the stream started, so the phone sees gaps (`gap_before` marks one)."""
        packet = pb.AudioPacket(stream_id=stream_id, first_sample=first_sample, gap_before=gap_before,
                                codec=enum_value(pb.AudioCodec, codec, "AUDIO_CODEC_"), sample_rate=sample_rate,
                                frame_samples=frame_samples, data=data)
        await self.send_message(pb.Message(audio_packet=packet), Channel.AUDIO)

    async def media(self, action: str) -> None:
        """A music or call control: play_pause, next, previous, volume_up, volume_down, answer_call, end_call."""
        command = pb.MediaCommand(action=enum_value(pb.MediaAction, action, "MEDIA_ACTION_"))
        await self.request(f"the media command {action}", pb.Message(media_command=command))

    async def respond(self, notification_id: int, confirm: bool) -> str:
        """The wearer's answer to a notification with needs_response (confirm: pay, answer the call; else
        dismiss). Returns the phone's outcome ("paid 23.50 EUR to Cafe Lumen"); RequestFailed when refused."""
        response = pb.NotificationResponse(notification_id=notification_id,
                                           response=pb.RESPONSE_CONFIRM if confirm else pb.RESPONSE_DISMISS)
        answer = await self.request(f"the answer to notification {notification_id}",
                                    pb.Message(notification_response=response))
        return answer.result.message if answer.WhichOneof("body") == "result" else ""


class _PhoneLink(LinkClient):
    """The client layer with the phone's words and events: what the hooks of LinkClient say and do for the phone
    (its connection state as Central and BleLink report it, the companion's restarts and our own new sessions)."""

    def __init__(self, phone: Phone, transport: BleLink, *, request_timeout: float, link_patience: float) -> None:
        super().__init__(transport, peer="phone", request_timeout=request_timeout, link_patience=link_patience)
        self.phone = phone

    def on_message(self, msg: pb.Message, channel: int) -> bool:
        return self.phone._on_message(msg)

    def on_answer(self, msg: pb.Message) -> None:
        if msg.WhichOneof("body") == "assistant_answer":
            a = msg.assistant_answer
            self.phone._publish(AnswerPart(msg.request_id, a.text, a.final, a.source, a.offline))

    def on_link_up(self, peer: PeerInfo) -> None:
        self.phone._set_state("up", f"link up with the companion ({peer.firmware_version or 'no version'})")

    def on_link_down(self) -> None:
        self.phone._set_state("connected" if self.phone.transport.connected else "disconnected",
                              "nothing heard from the phone for the link timeout")

    def restart_error(self, event: PeerReset) -> PeerRestarted:
        return PeerRestarted(f"the companion restarted its link: {event.dropped} unacknowledged messages were "
                             "dropped; send the request again", peer=self.peer)

    def own_versions(self) -> tuple[int, int]:
        return own_versions()

    def incompatible(self, peer: PeerInfo) -> PeerIncompatible:
        return incompatible_phone(peer.min_protocol_version, peer.protocol_version, *self.own_versions(),
                                  peer.firmware_version)

    def on_incompatible(self, error: PeerIncompatible) -> None:
        self.phone._set_state("incompatible", str(error))

    def on_other(self, event: object) -> None:
        if isinstance(event, LinkReplaced):
            self.restarted(PeerRestarted(
                f"a new link session (smaller frames on this connection): {event.dropped} unacknowledged messages "
                "were dropped; send the request again", peer=self.peer))
        elif isinstance(event, Attached):
            log.info("attached to %s, ATT MTU %d, companion %s", event.address, event.mtu, event.info.app_version)
        elif isinstance(event, Detached):
            self.phone._set_state("disconnected", event.reason)

    def down_detail(self, since: dict[str, Any]) -> str:
        return f"state {self.phone.state}; is the phone in range?"

    def silent_detail(self, since: dict[str, Any]) -> str:
        return "the link is up; the companion may not handle this request"

    def fatal(self) -> PeerError | None:
        fatal = self.phone.central.fatal
        return fatal if isinstance(fatal, PeerIncompatible) else None

    def not_connected(self, timeout: float) -> NotConnected:
        central, bond = self.phone.central, self.phone.bond
        return NotConnected(
            f"link to the bonded phone {bond.name} ({bond.address})", timeout,
            f"state {self.phone.state}; {central.failures} failed attempts"
            + (f", last: {central.last_error}" if central.last_error else ""), peer=self.peer)
