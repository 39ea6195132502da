"""Meeting transcription and live translation: microphone -> Opus -> phone -> captions on the display.

Double tap on the main button starts a session: the phone accepts it (CaptionControl; the offline brain refuses
translation with "translation needs the online brain", which the wearer then hears), the microphone's 20 ms chunks
are encoded with Opus ([captions] bitrate) and sent as AudioPackets of 320 samples, numbered by sample so the
phone sees gaps (an MCU reboot marks one: the encoder restarts and the next packet has gap_before). Caption lines
come back as phone events: each replaces the caption card on the display (CARD_KIND_CAPTION); final lines go to
the session's transcript file (glassbridge.assistant.transcripts). Another double tap, a long press, the phone
going away or a critical battery stop it; the phone's last line after the stop is still written down.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.audio_tools import OPUS_FRAME_SAMPLES
from glassbridge.assistant.ports import OpusEncoderPort
from glassbridge.assistant.transcripts import Transcript, default_transcript_dir, sweep_transcripts
from glassbridge.mcu.events import AudioChunk, CardSpec
from glassbridge.protocol.errors import LinkLost, PeerError, RequestFailed
from glassbridge.phone.events import CaptionLine

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext

__all__ = ["CaptionSession", "CaptionSkill"]

log = logging.getLogger(__name__)
#: Finished sessions whose late lines are still written to their transcript.
KEEP_FINISHED = 4
#: A packet that cannot be queued on the phone link within this long means the phone is gone for good (the link
#: itself rides out short drops: it queues and retransmits).
SEND_TIMEOUT_S = 3.0


@dataclass
class CaptionSession:
    stream_id: int
    kind: str  # transcription, translation
    language: str
    encoder: OpusEncoderPort
    transcript: Transcript | None
    started: float
    stream_start: int | None = None  # the MCU stream's sample index of our sample 0
    next_sample: int = 0  # our index of the encoder's next packet's first sample
    gap: bool = False
    packets: int = 0
    lines: list[str] = field(default_factory=list)


class CaptionSkill:
    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self.session: CaptionSession | None = None
        self.finished: dict[int, CaptionSession] = {}
        self._lock: asyncio.Lock | None = None
        self._failing = False

    @property
    def active(self) -> bool:
        return self.session is not None

    def _folder(self) -> Path:
        configured = self.ctx.settings.captions.transcript_dir
        return Path(configured).expanduser() if configured else default_transcript_dir()

    async def toggle(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.session is None:
                await self._start()
            else:
                await self._stop("stopped by a double tap", announce=True)

    async def sweep(self, *, keep: Path | None = None, keep_latest: bool = False) -> None:
        """[captions] retention_days applied to the transcript folder (at start-up, and as sessions start and end);
        a folder that cannot be swept is logged, never fatal."""
        c = self.ctx.settings.captions
        if not c.keep_transcripts:
            return
        try:
            deleted = await asyncio.to_thread(sweep_transcripts, self._folder(), c.retention_days, keep=keep,
                                              keep_latest=keep_latest)
        except OSError as exc:
            log.warning("captions: the transcript folder %s could not be swept: %s", self._folder(), exc)
            return
        if deleted:
            self.ctx.timeline.mark("transcripts_deleted", count=len(deleted), retention_days=c.retention_days)

    async def stop(self, reason: str, *, announce: bool = True) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._stop(reason, announce=announce)

    async def _start(self) -> None:
        ctx, c = self.ctx, self.ctx.settings.captions
        if not ctx.state.streaming_allowed:
            await ctx.notice("Captions", "The battery is critical: captions stay off.", icon="warning")
            return
        if not ctx.ports.phone.up:
            await ctx.notice("Captions", "Captions need the phone, and it is not connected.", icon="warning")
            return
        stream_id = secrets.randbits(31) | 1
        kind = "translation" if c.translate_to else "transcription"
        language, source = (c.translate_to, c.language) if c.translate_to else (c.language, "")
        try:
            await asyncio.wait_for(ctx.ports.phone.start_captions(stream_id, kind, language, source),
                                   c.start_timeout_s)
        except asyncio.TimeoutError:
            reason = f"the phone did not start them in {c.start_timeout_s:g} s"
        except RequestFailed as exc:
            reason = exc.peer_message or exc.code_name
        except PeerError as exc:
            reason = str(exc)
        else:
            reason = ""
        if reason:
            ctx.timeline.mark("captions_refused", caption_kind=kind, reason=reason)
            await ctx.notice("Captions", f"No {kind}: {reason}.", icon="warning", kind="caption")
            return
        transcript = None
        if c.keep_transcripts:
            await self.sweep()
            transcript = await asyncio.to_thread(Transcript, self._folder(), stream_id, kind, language)
        self.session = CaptionSession(stream_id, kind, language, ctx.audio.encoder(c.bitrate), transcript,
                                      ctx.clock())
        self._failing = False
        ctx.timeline.mark("captions_on", stream=stream_id, caption_kind=kind, language=language,
                          transcript=str(transcript.path) if transcript else "")
        ctx.settle()
        ctx.update_microphone()
        title = "Translation" if kind == "translation" else "Captions"
        await ctx.show(CardSpec(title=title, text="Listening. Double tap to stop.", kind="caption", icon="mic"))

    async def _stop(self, reason: str, *, announce: bool) -> None:
        ctx = self.ctx
        session, self.session = self.session, None
        if session is None:
            return
        ctx.update_microphone()
        try:
            await self._send(session, list(session.encoder.flush()))
        except PeerError as exc:
            log.info("captions: the last packets did not go: %s", exc)
        limit = ctx.settings.captions.start_timeout_s
        try:
            await asyncio.wait_for(ctx.ports.phone.stop_captions(session.stream_id), limit)
        except (asyncio.TimeoutError, PeerError) as exc:
            ctx.timeline.mark("captions_stop_failed", stream=session.stream_id,
                              reason=str(exc) or f"no answer in {limit:g} s")
        self.finished[session.stream_id] = session
        while len(self.finished) > KEEP_FINISHED:
            self.finished.pop(next(iter(self.finished)))
        ctx.timeline.mark("captions_off", stream=session.stream_id, reason=reason, packets=session.packets,
                          lines=len(session.lines))
        if session.transcript is not None:
            await self.sweep(keep=session.transcript.path)
        ctx.settle()
        if announce:
            where = f" Transcript: {session.transcript.path.name}." if session.transcript else ""
            # The file's name is for the display; read aloud, its digits would take longer than the captions.
            await ctx.notice("Captions off", f"Captions off: {reason}.{where}", kind="caption", icon="mic",
                             speak=False)
            await ctx.speak(f"Captions off: {reason}.")

    # ---- audio out -------------------------------------------------------------------------------------------

    async def feed(self, chunk: AudioChunk) -> None:
        """One microphone chunk: encoded, sent as Opus packets numbered by sample."""
        session = self.session
        if session is None:
            return
        if session.stream_start is None:
            session.stream_start = chunk.first_sample
        elif chunk.gap_before:
            # Lost audio: the encoder's remainder belongs before the gap; start again at this chunk's sample.
            session.encoder = self.ctx.audio.encoder(self.ctx.settings.captions.bitrate)
            session.next_sample = chunk.first_sample - session.stream_start
            session.gap = True
        try:
            await self._send(session, list(session.encoder.encode(chunk.pcm)))
        except PeerError as exc:
            if not self._failing:
                self._failing = True
                self.ctx.spawn(self.stop(f"the phone went away ({exc})"), "captions stop")

    async def _send(self, session: CaptionSession, packets: list[bytes]) -> None:
        phone = self.ctx.ports.phone
        for data in packets:
            send = phone.send_audio_packet(session.stream_id, session.next_sample, data, codec="opus",
                                           frame_samples=OPUS_FRAME_SAMPLES, gap_before=session.gap)
            try:
                await asyncio.wait_for(send, SEND_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise LinkLost(f"no room on the phone link for {SEND_TIMEOUT_S:g} s", peer="phone") from None
            session.gap = False
            session.next_sample += OPUS_FRAME_SAMPLES
            session.packets += 1

    # ---- captions in -----------------------------------------------------------------------------------------

    def on_line(self, line: CaptionLine) -> None:
        ctx = self.ctx
        session = self.session if self.session and self.session.stream_id == line.stream_id else None
        late = self.finished.get(line.stream_id)
        target = session or late
        ctx.timeline.mark("caption", stream=line.stream_id, text=line.text, final=line.final,
                          caption_kind=line.kind, known=target is not None)
        if target is None:
            return
        if line.final and line.text.strip():
            target.lines.append(line.text)
            if target.transcript is not None:
                # Written here, in order (a thread per line could reorder them); one short append to a local file.
                try:
                    target.transcript.append(line.text)
                except OSError as exc:
                    ctx.timeline.mark("transcript_failed", stream=line.stream_id, reason=str(exc))
        if session is not None:
            title = "Translation" if session.kind == "translation" else "Captions"
            ctx.spawn(ctx.show(CardSpec(title=title, text=line.text, kind="caption", icon="mic"),
                               stream=line.stream_id), "caption card")

    def transcript_of(self, stream_id: int) -> Any:
        s = self.session if self.session and self.session.stream_id == stream_id else self.finished.get(stream_id)
        return None if s is None else s.transcript
