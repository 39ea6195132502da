"""Live captions on the phone: CaptionControl starts a stream, AudioPacket (channel 2) feeds it, Captions go back.

    glasses                                   phone (this module)
    CaptionControl{stream 7, start, kind} ->  Result OK (or NOT_SUPPORTED with the reason)
    AudioPacket{7, first_sample, opus}    ->  Opus decoded (gaps concealed) -> speech.CaptionStream
                                          <-  Caption{7, partial lines..., final line at each pause}
    CaptionControl{stream 7, stop}        ->  the last final Caption, then Result OK

Packet order is the link's (it delivers in order, exactly once), so gaps come only from the glasses' side
(`first_sample` jumps, `gap_before`): a jump of up to `MAX_CONCEAL_S` is filled by libopus' packet-loss
concealment (`OpusDecoder.decode_lost`), longer ones by silence, so the recogniser's timeline stays the stream's.
A packet behind the expected sample (a replay) is dropped and counted.

Recognition is slow compared with 20 ms packets (a decode of a few seconds of speech takes 0.1-0.5 s), so each
stream has a queue and one worker task that feeds everything queued at once to the recogniser in a thread; the
link's event handler only decodes Opus and queues. Translation (kind TRANSLATION) sends only final lines, each
translated by the brain; transcription sends partials too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glassbridge_companion.brain import Brain
from glassbridge_companion.speech import CaptionStream, CaptionText
from glassbridge.protocol.messages import pb

__all__ = ["CaptionSession", "LINES_KEPT", "MAX_CONCEAL_S", "fit_caption"]

log = logging.getLogger(__name__)

MAX_CONCEAL_S = 1.0  # longer gaps are silence: concealment over seconds would invent speech-like noise
LINES_KEPT = 50  # per stream, for the ctl status
_CAPTION_LIMIT = 191  # Caption.text limit (bytes, UTF-8)

Send = Callable[[pb.Caption], None]


def fit_caption(text: str, limit: int = _CAPTION_LIMIT) -> str:
    """The newest words that fit the Caption's byte limit (the display shows the end of a long line)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[-(limit - 4):].decode("utf-8", "ignore")
    space = cut.find(" ")
    return "... " + (cut[space + 1:] if 0 <= space < 40 else cut)


@dataclass
class CaptionSession:
    """One caption stream of one glasses."""

    glasses: str
    stream_id: int
    kind: int  # pb.CaptionKind
    language: str  # translation target, or the spoken language for transcription
    source_language: str
    stream: CaptionStream
    send: Send
    brain: Brain
    sample_rate: int = 16000
    decoder: Any = None  # glassbridge.audio.OpusDecoder, made at the first Opus packet
    expected: int | None = None  # the next first_sample
    packets: int = 0
    concealed_samples: int = 0
    silenced_samples: int = 0
    dropped_packets: int = 0
    bad_packets: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    _queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"captions {self.stream_id}")

    # ---- packets (called from the link's event handler: fast, no recognition here) -------------------------

    def packet(self, p: pb.AudioPacket) -> None:
        if not self.active:
            self.dropped_packets += 1
            return
        self.packets += 1
        frame = p.frame_samples or self.sample_rate // 50
        if self.expected is None:
            self.expected = p.first_sample
        if p.first_sample < self.expected:
            self.dropped_packets += 1  # a replay of audio already fed: the timeline only moves forward
            return
        pcm = bytearray()
        gap = p.first_sample - self.expected
        if gap:
            pcm += self._fill(gap)
        try:
            decoded = self._decode(p, frame)
        except Exception as exc:  # a corrupt packet: conceal its length, keep the stream alive
            self.bad_packets += 1
            log.warning("glasses %s stream %d: packet at sample %d not decoded (%s); concealed", self.glasses,
                        self.stream_id, p.first_sample, exc)
            decoded = self._fill(frame)
        pcm += decoded
        self.expected = p.first_sample + len(decoded) // 2
        self._queue.put_nowait(bytes(pcm))

    def _decode(self, p: pb.AudioPacket, frame: int) -> bytes:
        if p.codec == pb.AUDIO_CODEC_PCM16:
            if p.sample_rate not in (0, self.sample_rate):
                from glassbridge.audio import resample

                return bytes(resample(p.data, p.sample_rate, self.sample_rate))
            return bytes(p.data)
        if p.codec != pb.AUDIO_CODEC_OPUS:
            raise ValueError(f"codec {p.codec} is neither OPUS nor PCM16")
        if self.decoder is None:
            from glassbridge.audio import OpusDecoder

            self.decoder = OpusDecoder(self.sample_rate)
        return bytes(self.decoder.decode(p.data))

    def _fill(self, samples: int) -> bytes:
        if self.decoder is not None and samples <= MAX_CONCEAL_S * self.sample_rate:
            try:
                out = bytes(self.decoder.decode_lost(samples))
                self.concealed_samples += samples
                return out
            except Exception as exc:
                log.warning("stream %d: concealment failed (%s); silence instead", self.stream_id, exc)
        self.silenced_samples += samples
        return bytes(2 * samples)

    # ---- recognition ---------------------------------------------------------------------------------------

    async def stop(self, timeout: float = 15.0) -> None:
        """No more audio: recognise what is queued, send the last final line. Bounded by `timeout`."""
        if not self.active:
            return
        self.active = False
        self._queue.put_nowait(None)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                log.error("glasses %s stream %d: recognition still busy after %.0f s at stop; cancelled",
                          self.glasses, self.stream_id, timeout)
                self._task.cancel()

    async def cancel(self) -> None:
        self.active = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        done = False
        while not done:
            pcm = bytearray()
            item = await self._queue.get()
            while True:
                if item is None:
                    done = True
                    break
                pcm += item
                if self._queue.empty():
                    break
                item = self._queue.get_nowait()
            try:
                if pcm:
                    for line in await asyncio.to_thread(self.stream.feed, bytes(pcm)):
                        await self._emit(line)
                if done:
                    for line in await asyncio.to_thread(self.stream.finish):
                        await self._emit(line)
            except Exception:  # a recogniser bug must not end the stream silently: log it, keep going
                log.exception("glasses %s stream %d: recognition failed", self.glasses, self.stream_id)

    async def _emit(self, line: CaptionText) -> None:
        text, kind, language = line.text, pb.CAPTION_KIND_TRANSCRIPTION, self.source_language or self.language
        if self.kind == pb.CAPTION_KIND_TRANSLATION:
            if not line.final:
                return  # partials are not worth a translation round trip each
            kind, language = pb.CAPTION_KIND_TRANSLATION, self.language
            try:
                text = await self.brain.translate(line.text, self.language, self.source_language)
            except Exception as exc:
                text = f"[not translated: {exc}] {line.text}"
        caption = pb.Caption(stream_id=self.stream_id, kind=kind, text=fit_caption(text), final=line.final,
                             language=language[:15])
        self.send(caption)
        self.lines = (self.lines + [{"text": caption.text, "final": line.final, "heard": line.text,
                                     "start_s": round(line.start_s, 2), "end_s": round(line.end_s, 2)}])[-LINES_KEPT:]

    def summary(self) -> dict[str, Any]:
        return {"glasses": self.glasses, "stream_id": self.stream_id,
                "kind": "translation" if self.kind == pb.CAPTION_KIND_TRANSLATION else "transcription",
                "language": self.language, "active": self.active, "packets": self.packets,
                "concealed_samples": self.concealed_samples, "silenced_samples": self.silenced_samples,
                "dropped_packets": self.dropped_packets, "bad_packets": self.bad_packets, "lines": list(self.lines)}

