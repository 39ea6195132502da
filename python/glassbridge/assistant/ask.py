"""Ask about what I see (and read the sign ahead, and how do they feel): one question, from tap to answer.

    capture   the MCU powers the camera (and its LED), one frame, the MCU powers it off: always, in a finally
    perceive  faces on the glasses; expressions only when [privacy] emotions (the wearer opted in)
    photo     the frame scaled for the link, JPEG ([camera] size; smaller on low battery)
    ask       the phone's brain gets the question, the photo and pb.Perception (expressions only when shared)
    answer    streamed parts update the answer card; the final one is shown and spoken

Phone away (not up within [assistant] phone_wait_s, or lost while asking): the glasses answer from their own
perception now and queue the question (glassbridge.assistant.offline). Phone slow: "The phone did not answer in
8 s." Errors during a question (no photo, the phone refusing or failing, a bug): the reason on the card, in one
line; a short sentence spoken ("No photo: the camera failed."), never a read-out of the details. Expressions
computed but not shared: the answer card's title is the glasses' own sentence ("One person ahead, looks happy")
and the wearer hears it after the phone's answer; the first time in a session the wearer is reminded that the
person should be told ([privacy] remind).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.photo import photo_for_phone
from glassbridge.assistant.text import sentence
from glassbridge.camera.frame import Frame
from glassbridge.camera.source import CameraError
from glassbridge.mcu.client import CardSpec
from glassbridge.mcu.errors import McuError
from glassbridge.phone.errors import ConnectionLost, PhoneError, RequestFailed

if TYPE_CHECKING:
    from glassbridge.assistant.loop import Assistant
    from glassbridge.assistant.perception import LocalPerception

__all__ = ["AnswerTimeout", "AskSkill", "CaptureFailed", "Question", "REMINDER", "one_line"]

REMINDER = "Remember: the person should be told that the glasses read their expression."
#: An error's sentence is spoken whole only up to this many characters (~4 s of espeak-ng); a longer one is on
#: the card, and a few words are said.
SPOKEN_ERROR_CHARS = 60
#: Card updates while an answer streams in: at most one per this many seconds (each costs a UART round trip).
STREAM_CARD_INTERVAL_S = 0.5


def one_line(exc: BaseException) -> str:
    """An error as one line for the display: the first line of its message (never a traceback, a log's tail or
    a subprocess's output), whitespace collapsed; its type's name when it has no message."""
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else ""
    return text or type(exc).__name__


class CaptureFailed(Exception):
    """The camera gave no frame (power refused, timeout, CameraError): the message goes on the card, `brief` (a
    few words, "the camera failed") is what the wearer hears."""

    def __init__(self, message: str, brief: str = "the camera failed") -> None:
        super().__init__(message)
        self.brief = brief


class AnswerTimeout(Exception):
    """The phone did not finish answering within [assistant] answer_timeout_s."""


@dataclass
class Question:
    """One question: what triggered it, its text (empty for a recorded one) and the phone task."""

    number: int
    source: str  # "tap", "sign", "voice"
    text: str
    task: str  # glassbridge.proto AssistantTask: ask, describe, read_text
    asked_at: float  # on the assistant's clock
    pcm: bytes | None = None  # the recorded question (wake word), PCM16 16 kHz

    @classmethod
    def look(cls, number: int, now: float) -> Question:
        return cls(number, "tap", "What am I looking at?", "describe", now)

    @classmethod
    def sign(cls, number: int, now: float) -> Question:
        return cls(number, "sign", "What does this sign say?", "read_text", now)

    @classmethod
    def voice(cls, number: int, now: float, pcm: bytes) -> Question:
        return cls(number, "voice", "", "ask", now, pcm)

    @property
    def title(self) -> str:
        return self.text or "Your question"


class AskSkill:
    """Runs questions as the assistant's job; `waiting` holds the one question queued behind a busy job."""

    def __init__(self, host: Assistant) -> None:
        self.host = host
        self.waiting: Question | None = None
        self._last_capture: float | None = None
        self._reminded = False

    # ---- admission -------------------------------------------------------------------------------------------

    def request(self, q: Question) -> None:
        """Start `q`, or queue it behind the busy job (one), or refuse it with a spoken reason."""
        host = self.host
        if host.busy:
            if host.settings.assistant.busy == "queue" and self.waiting is None:
                self.waiting = q
                host.timeline.mark("question_waiting", question=q.number, source=q.source)
                host.say_soon("One moment", "One moment: I will look again when this answer is done.",
                              question=q.number)
            else:
                why = ("one question is already waiting" if self.waiting is not None
                       else "questions are not queued ([assistant] busy = refuse)")
                host.timeline.mark("question_refused", question=q.number, source=q.source, reason=why)
                host.say_soon("Busy", f"I am still answering; {why}. Ask again in a moment.", question=q.number)
            return
        refusal = host.power.capture_refusal(self._last_capture)
        if refusal:
            host.timeline.mark("question_refused", question=q.number, source=q.source, reason=refusal)
            host.say_soon("Battery low", refusal, icon="warning", question=q.number)
            return
        host.start_job(self.answer(q), f"question {q.number}", q.number)

    # ---- the question ----------------------------------------------------------------------------------------

    async def answer(self, q: Question) -> None:
        host, settings = self.host, self.host.settings
        n = q.number
        try:
            frame = await self.capture(n)
        except CaptureFailed as exc:
            host.timeline.mark("capture_failed", question=n, reason=str(exc))
            host.set_state(host.base_state())
            # Errors during a question: the reason on the card, a short sentence spoken (not a read-out of it).
            await host.notice("Camera", f"No photo: {one_line(exc)}.", say=f"No photo: {exc.brief}.",
                              icon="warning", question=n)
            return
        host.set_state("thinking", question=n)
        emotions = settings.privacy.emotions
        local: LocalPerception = await asyncio.to_thread(host.perceiver.perceive, frame, emotions=emotions)
        host.timeline.mark("perception", question=n, faces=len(local.faces), summary=local.summary,
                           emotions=local.emotions_computed, elapsed_ms=round(local.elapsed_s * 1000, 2))
        width, height, quality = host.power.photo_size()
        jpeg, size = await asyncio.to_thread(photo_for_phone, frame, max_width=width, max_height=height,
                                             quality=quality)
        host.timeline.mark("jpeg", question=n, bytes=len(jpeg), width=size[0], height=size[1], quality=quality)
        perception = local.to_pb(share_emotions=settings.privacy.share_emotions)
        audio_opus = await self.encode_question(q)

        if not await self.phone_ready(n):
            await host.offline.answer_locally(q, local, jpeg, perception, audio_opus, "the phone is not connected")
            return
        try:
            text = await self.ask_phone(q, jpeg, perception, audio_opus, queued_ms=0, local=local)
        except ConnectionLost as exc:
            await host.offline.answer_locally(q, local, jpeg, perception, audio_opus, str(exc), lost=True)
            return
        except AnswerTimeout:
            if not host.phone.up:  # it went away while we waited (the link rides out drops, then gives up)
                await host.offline.answer_locally(q, local, jpeg, perception, audio_opus,
                                                  "the phone went away while answering")
                return
            t = settings.assistant.answer_timeout_s
            host.timeline.mark("answer_timeout", question=n, seconds=t)
            host.set_state(host.base_state())
            await host.notice("No answer", f"The phone did not answer in {t:g} s.", icon="warning", question=n)
            return
        except RequestFailed as exc:
            host.timeline.mark("answer_refused", question=n, code=exc.code_name, reason=exc.phone_message)
            host.set_state(host.base_state())
            reason = " ".join((exc.phone_message or exc.code_name).split())
            text = f"The phone could not answer: {reason}."
            # The phone's reason is written for the wearer: said when it is short, else only on the card.
            await host.notice("No answer", text, say=text if len(text) <= SPOKEN_ERROR_CHARS else
                              "The phone could not answer.", icon="warning", question=n)
            return
        except PhoneError as exc:
            host.timeline.mark("answer_failed", question=n, reason=str(exc))
            host.set_state(host.base_state())
            await host.notice("No answer", f"The phone link failed: {one_line(exc)}", say="The phone link failed.",
                              icon="warning", question=n)
            return
        await self.after_answer(q, text, local)

    async def capture(self, n: int) -> Frame:
        """One frame with the camera powered only meanwhile: power on, capture, and power off in a finally
        (errors, timeouts and a cancelling long press included)."""
        host = self.host
        limit = host.settings.assistant.capture_timeout_s
        host.set_state("capturing", question=n)
        self._last_capture = host.clock()
        try:
            try:
                powered = await asyncio.wait_for(host.mcu.set_camera_power(True), limit)
            except asyncio.TimeoutError:
                raise CaptureFailed(f"the glasses did not power the camera within {limit:g} s",
                                    "the camera did not turn on") from None
            except McuError as exc:
                raise CaptureFailed(f"the glasses could not power the camera ({one_line(exc)})",
                                    "the camera did not turn on") from exc
            if not powered:
                raise CaptureFailed("the glasses report the camera still off", "the camera did not turn on")
            host.timeline.mark("camera_on", question=n)
            try:
                frame = await asyncio.wait_for(host.camera.capture(), limit)
            except asyncio.TimeoutError:
                raise CaptureFailed(f"the camera gave no frame within {limit:g} s", "the camera gave no frame") \
                    from None
            except CameraError as exc:
                raise CaptureFailed(f"the camera failed ({one_line(exc)})") from exc
            host.timeline.mark("frame", question=n, width=frame.width, height=frame.height,
                               format=frame.format.name)
            return frame
        finally:
            await self._camera_off(n)

    async def _camera_off(self, n: int) -> None:
        host = self.host
        try:
            await asyncio.wait_for(host.mcu.set_camera_power(False), host.settings.assistant.capture_timeout_s)
            host.timeline.mark("camera_off", question=n)
        except (asyncio.TimeoutError, McuError) as exc:
            # Nothing more the SoC can do: the firmware lights the LED whenever the camera has power, so the
            # wearer and the people around see it; the error stays on the timeline and in the log.
            reason = str(exc) or "no answer from the MCU"
            host.timeline.mark("camera_off_failed", question=n, reason=reason)

    async def encode_question(self, q: Question) -> bytes | None:
        """The recorded question as an Opus stream (TRANSFER_KIND_AUDIO_OPUS), ~6x smaller than WAV on BLE."""
        if q.pcm is None:
            return None
        audio = self.host.audio

        def encode(pcm: bytes) -> bytes:
            encoder = audio.encoder(self.host.settings.captions.bitrate)
            return audio.pack(list(encoder.encode(pcm)) + list(encoder.flush()))

        data = await asyncio.to_thread(encode, q.pcm)
        self.host.timeline.mark("question_encoded", question=q.number, pcm_bytes=len(q.pcm), opus_bytes=len(data))
        return data

    async def phone_ready(self, n: int) -> bool:
        """Up now, or up before [assistant] phone_wait_s have passed since the link dropped: a phone that is
        reconnecting gets a moment; one that has been away longer is not waited for again at every question."""
        host = self.host
        if host.phone.up:
            return True
        since = host.phone_down_since
        wait = host.settings.assistant.phone_wait_s
        if since is not None:
            wait -= max(0.0, host.clock() - since)
        if wait > 0:
            try:
                await asyncio.wait_for(host.phone.wait_until_up(wait), wait + 0.5)
                return True
            except (asyncio.TimeoutError, PhoneError) as exc:
                host.timeline.mark("phone_not_up", question=n, waited_s=round(wait, 3), reason=str(exc))
        return bool(host.phone.up)

    async def ask_phone(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None, *,
                        queued_ms: int, local: LocalPerception | None = None, title: str | None = None) -> str:
        """Asks the phone and streams the answer onto the display; returns the whole text. AnswerTimeout after
        [assistant] answer_timeout_s; PhoneError subclasses as the phone raised them."""
        host = self.host
        limit = host.settings.assistant.answer_timeout_s
        card_title = title or self._title(q, local)
        try:
            return await asyncio.wait_for(
                self._stream(q, jpeg, perception, audio_opus, queued_ms, card_title), limit)
        except asyncio.TimeoutError:
            raise AnswerTimeout(f"no answer within {limit:g} s") from None

    def _title(self, q: Question, local: LocalPerception | None) -> str:
        privacy = self.host.settings.privacy
        if local is not None and local.has_emotions and not privacy.share_emotions:
            return sentence(local.summary)  # the expression stays on the glasses: shown to the wearer only
        return q.title

    async def _stream(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None,
                      queued_ms: int, title: str) -> str:
        host, settings = self.host, self.host.settings
        n = q.number
        host.timeline.mark("request_sent", question=n, photo_bytes=len(jpeg or b""), queued_ms=queued_ms,
                           audio_bytes=len(audio_opus or b""), faces=len(perception.faces) if perception else 0,
                           emotions_sent=any(f.emotion for f in perception.faces) if perception else False)
        parts: list[str] = []
        shown, last_show = "", 0.0
        stream = host.phone.ask_stream(q.text, photo=jpeg, audio_opus=audio_opus, task=q.task,
                                       language=settings.assistant.language, perception=perception,
                                       queued_ms=queued_ms)
        try:
            async for part in stream:
                if not parts:
                    host.timeline.mark("answer_first", question=n, source=part.source, offline=part.offline)
                    host.set_state("answering", question=n)
                parts.append(part.text)
                text = "".join(parts)
                now = time.monotonic()
                if part.final:
                    host.timeline.mark("answer_final", question=n, source=part.source, offline=part.offline,
                                       text=text, parts=len(parts))
                    break
                if text != shown and now - last_show >= STREAM_CARD_INTERVAL_S:
                    await host.show(self._card(title, text), question=n, partial=True)
                    shown, last_show = text, now
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not parts:
            raise PhoneError("the phone ended its answer without any text")
        text = "".join(parts)
        if await host.show(self._card(title, text), question=n):
            host.timeline.mark("card_shown", question=n)
        return text

    def _card(self, title: str, text: str) -> CardSpec:
        return CardSpec(title=title, text=text, kind="answer", icon="info",
                        ttl_ms=self.host.settings.assistant.card_ttl_ms)

    async def after_answer(self, q: Question, text: str, local: LocalPerception | None) -> None:
        """Speaks the answer; when expressions stayed on the glasses, the glasses' own sentence after it; the
        privacy reminder once per session."""
        host, privacy = self.host, self.host.settings.privacy
        await host.speak(text)
        if local is not None and local.has_emotions:
            if not privacy.share_emotions:
                await host.speak("On the glasses: " + sentence(local.summary))
            if privacy.remind and not self._reminded:
                self._reminded = True
                host.timeline.mark("reminder", question=q.number, text=REMINDER)
                await host.speak(REMINDER)
