"""Ask about what I see (and read the sign ahead, and how do they feel): one question, from tap to answer.

    capture   the MCU powers the camera (and its LED), one frame, the MCU powers it off: always, in a finally
    perceive  faces on the glasses; expressions only when [privacy] emotions (the wearer opted in)
    photo     the frame scaled for the link, faces pixelated ([privacy] blur_faces), JPEG ([camera] size; smaller
              on low battery); Perception.faces_blurred tells the phone how many. Reading a sign (task
              read_text) with [camera] text_mode = "crop": the centre of the frame at a higher resolution, in no
              more bytes than the whole frame (assistant.photo.make_text_photo)
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
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.photo import make_photo, make_text_photo
from glassbridge.assistant.question import AnswerTimeout, Question
from glassbridge.assistant.text import one_line, sentence
from glassbridge.camera.frame import Frame
from glassbridge.camera.source import CameraError
from glassbridge.mcu.events import CardSpec
from glassbridge.protocol.errors import LinkLost, PeerError, RequestFailed

if TYPE_CHECKING:
    from glassbridge.assistant.context import SkillContext
    from glassbridge.assistant.perception import LocalPerception

# AnswerTimeout and Question (glassbridge.assistant.question) and one_line (text) lived here: still importable.
__all__ = ["AnswerTimeout", "AskSkill", "CaptureFailed", "Question", "REMINDER", "one_line"]

REMINDER = "Remember: the person should be told that the glasses read their expression."
#: An error's sentence is spoken whole only up to this many characters (~4 s of espeak-ng); a longer one is on
#: the card, and a few words are said.
SPOKEN_ERROR_CHARS = 60
#: Card updates while an answer streams in: at most one per this many seconds (each costs a UART round trip).
STREAM_CARD_INTERVAL_S = 0.5


class CaptureFailed(Exception):
    """The camera gave no frame (power refused, timeout, CameraError): the message goes on the card, `brief` (a
    few words, "the camera failed") is what the wearer hears."""

    def __init__(self, message: str, brief: str = "the camera failed") -> None:
        super().__init__(message)
        self.brief = brief


class AskSkill:
    """Runs questions as the assistant's job; `waiting` holds the one question queued behind a busy job."""

    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx
        self._waiting: Question | None = None
        self._last_capture: float | None = None
        self._reminded = False

    @property
    def waiting(self) -> Question | None:
        return self._waiting

    def drop_waiting(self) -> None:
        """Forgets the question queued behind the job (a long press cancelled it)."""
        self._waiting = None

    def resume_waiting(self) -> bool:
        """Asks the question that waited behind the job that just ended; False when none waited."""
        waiting, self._waiting = self._waiting, None
        if waiting is None:
            return False
        self.request(waiting)
        return True

    # ---- admission -------------------------------------------------------------------------------------------

    def request(self, q: Question) -> None:
        """Start `q`, or queue it behind the busy job (one), or refuse it with a spoken reason."""
        ctx = self.ctx
        if ctx.state.busy:
            if ctx.settings.assistant.busy == "queue" and self._waiting is None:
                self._waiting = q
                ctx.timeline.mark("question_waiting", question=q.number, source=q.source)
                ctx.say_soon("One moment", "One moment: I will look again when this answer is done.",
                             question=q.number)
            else:
                why = ("one question is already waiting" if self._waiting is not None
                       else "questions are not queued ([assistant] busy = refuse)")
                ctx.timeline.mark("question_refused", question=q.number, source=q.source, reason=why)
                ctx.say_soon("Busy", f"I am still answering; {why}. Ask again in a moment.", question=q.number)
            return
        refusal = ctx.capture_refusal(self._last_capture)
        if refusal:
            ctx.timeline.mark("question_refused", question=q.number, source=q.source, reason=refusal)
            ctx.say_soon("Battery low", refusal, icon="warning", question=q.number)
            return
        ctx.start_job(self.answer(q), f"question {q.number}", q.number)

    # ---- the question ----------------------------------------------------------------------------------------

    async def answer(self, q: Question) -> None:
        ctx, settings = self.ctx, self.ctx.settings
        n = q.number
        try:
            frame = await self.capture(n)
        except CaptureFailed as exc:
            ctx.timeline.mark("capture_failed", question=n, reason=str(exc))
            ctx.set_state(ctx.state.base_state)
            # Errors during a question: the reason on the card, a short sentence spoken (not a read-out of it).
            await ctx.notice("Camera", f"No photo: {one_line(exc)}.", say=f"No photo: {exc.brief}.",
                             icon="warning", question=n)
            return
        ctx.set_state("thinking", question=n)
        emotions = settings.privacy.emotions
        local: LocalPerception = await asyncio.to_thread(ctx.ports.perceiver.perceive, frame, emotions=emotions)
        ctx.timeline.mark("perception", question=n, faces=len(local.faces), summary=local.summary,
                          emotions=local.emotions_computed, elapsed_ms=round(local.elapsed_s * 1000, 2))
        width, height, quality = ctx.photo_size()
        # Faces from the perception that just ran on the full frame (no second detection), pixelated in the
        # upload image only ([privacy] blur_faces): `local` keeps what the unblurred frame showed. Reading a sign
        # in text mode ([camera] text_mode = "crop"): the centre of the frame, sharper, in the same bytes.
        text_mode = q.task == "read_text" and settings.camera.text_mode == "crop"
        photo = await asyncio.to_thread(make_text_photo if text_mode else make_photo, frame,
                                        [f.box for f in local.faces], max_width=width, max_height=height,
                                        quality=quality, blur_faces=settings.privacy.blur_faces)
        jpeg = photo.jpeg
        ctx.timeline.mark("faces_blurred", question=n, faces=photo.faces_blurred,
                          elapsed_ms=round(photo.blur_s * 1000, 3))
        crop = {"crop": list(photo.crop) if photo.crop else None, "budget": photo.budget,
                "encodes": photo.encodes} if text_mode else {}
        ctx.timeline.mark("jpeg", question=n, bytes=len(jpeg), width=photo.size[0], height=photo.size[1],
                          quality=photo.quality, **crop)
        perception = local.to_pb(share_emotions=settings.privacy.share_emotions)
        perception.faces_blurred = photo.faces_blurred
        audio_opus = await self.encode_question(q)

        if not await self.phone_ready(n):
            await ctx.answer_offline(q, local, jpeg, perception, audio_opus, "the phone is not connected")
            return
        try:
            text = await self.ask_phone(q, jpeg, perception, audio_opus, queued_ms=0, local=local)
        except LinkLost as exc:
            await ctx.answer_offline(q, local, jpeg, perception, audio_opus, str(exc), lost=True)
            return
        except AnswerTimeout:
            if not ctx.ports.phone.up:  # it went away while we waited (the link rides out drops, then gives up)
                await ctx.answer_offline(q, local, jpeg, perception, audio_opus,
                                         "the phone went away while answering")
                return
            t = settings.assistant.answer_timeout_s
            ctx.timeline.mark("answer_timeout", question=n, seconds=t)
            ctx.set_state(ctx.state.base_state)
            await ctx.notice("No answer", f"The phone did not answer in {t:g} s.", icon="warning", question=n)
            return
        except RequestFailed as exc:
            ctx.timeline.mark("answer_refused", question=n, code=exc.code_name, reason=exc.peer_message)
            ctx.set_state(ctx.state.base_state)
            reason = " ".join((exc.peer_message or exc.code_name).split())
            text = f"The phone could not answer: {reason}."
            # The phone's reason is written for the wearer: said when it is short, else only on the card.
            await ctx.notice("No answer", text, say=text if len(text) <= SPOKEN_ERROR_CHARS else
                             "The phone could not answer.", icon="warning", question=n)
            return
        except PeerError as exc:
            ctx.timeline.mark("answer_failed", question=n, reason=str(exc))
            ctx.set_state(ctx.state.base_state)
            await ctx.notice("No answer", f"The phone link failed: {one_line(exc)}", say="The phone link failed.",
                             icon="warning", question=n)
            return
        await self.after_answer(q, text, local)

    async def capture(self, n: int) -> Frame:
        """One frame with the camera powered only meanwhile: power on, capture, and power off in a finally
        (errors, timeouts and a cancelling long press included)."""
        ctx = self.ctx
        limit = ctx.settings.assistant.capture_timeout_s
        ctx.set_state("capturing", question=n)
        self._last_capture = ctx.clock()
        try:
            try:
                powered = await asyncio.wait_for(ctx.ports.mcu.set_camera_power(True), limit)
            except asyncio.TimeoutError:
                raise CaptureFailed(f"the glasses did not power the camera within {limit:g} s",
                                    "the camera did not turn on") from None
            except PeerError as exc:
                raise CaptureFailed(f"the glasses could not power the camera ({one_line(exc)})",
                                    "the camera did not turn on") from exc
            if not powered:
                raise CaptureFailed("the glasses report the camera still off", "the camera did not turn on")
            ctx.timeline.mark("camera_on", question=n)
            try:
                frame = await asyncio.wait_for(ctx.ports.camera.capture(), limit)
            except asyncio.TimeoutError:
                raise CaptureFailed(f"the camera gave no frame within {limit:g} s", "the camera gave no frame") \
                    from None
            except CameraError as exc:
                raise CaptureFailed(f"the camera failed ({one_line(exc)})") from exc
            ctx.timeline.mark("frame", question=n, width=frame.width, height=frame.height,
                              format=frame.format.name)
            return frame
        finally:
            await self._camera_off(n)

    async def _camera_off(self, n: int) -> None:
        ctx = self.ctx
        try:
            await asyncio.wait_for(ctx.ports.mcu.set_camera_power(False), ctx.settings.assistant.capture_timeout_s)
            ctx.timeline.mark("camera_off", question=n)
        except (asyncio.TimeoutError, PeerError) as exc:
            # Nothing more the SoC can do: the firmware lights the LED whenever the camera has power, so the
            # wearer and the people around see it; the error stays on the timeline and in the log.
            reason = str(exc) or "no answer from the MCU"
            ctx.timeline.mark("camera_off_failed", question=n, reason=reason)

    async def encode_question(self, q: Question) -> bytes | None:
        """The recorded question as an Opus stream (TRANSFER_KIND_AUDIO_OPUS), ~6x smaller than WAV on BLE."""
        if q.pcm is None:
            return None
        audio = self.ctx.audio

        def encode(pcm: bytes) -> bytes:
            encoder = audio.encoder(self.ctx.settings.captions.bitrate)
            return audio.pack(list(encoder.encode(pcm)) + list(encoder.flush()))

        data = await asyncio.to_thread(encode, q.pcm)
        self.ctx.timeline.mark("question_encoded", question=q.number, pcm_bytes=len(q.pcm), opus_bytes=len(data))
        return data

    async def phone_ready(self, n: int) -> bool:
        """Up now, or up before [assistant] phone_wait_s have passed since the link dropped: a phone that is
        reconnecting gets a moment; one that has been away longer is not waited for again at every question."""
        ctx = self.ctx
        if ctx.ports.phone.up:
            return True
        since = ctx.state.phone_down_since
        wait = ctx.settings.assistant.phone_wait_s
        if since is not None:
            wait -= max(0.0, ctx.clock() - since)
        if wait > 0:
            try:
                await asyncio.wait_for(ctx.ports.phone.wait_until_up(wait), wait + 0.5)
                return True
            except (asyncio.TimeoutError, PeerError) as exc:
                ctx.timeline.mark("phone_not_up", question=n, waited_s=round(wait, 3), reason=str(exc))
        return bool(ctx.ports.phone.up)

    async def ask_phone(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None, *,
                        queued_ms: int, local: LocalPerception | None = None, title: str | None = None) -> str:
        """Asks the phone and streams the answer onto the display; returns the whole text. AnswerTimeout after
        [assistant] answer_timeout_s; PeerErrors as the phone raised them."""
        ctx = self.ctx
        limit = ctx.settings.assistant.answer_timeout_s
        card_title = title or self._title(q, local)
        try:
            return await asyncio.wait_for(
                self._stream(q, jpeg, perception, audio_opus, queued_ms, card_title), limit)
        except asyncio.TimeoutError:
            raise AnswerTimeout(f"no answer within {limit:g} s") from None

    def _title(self, q: Question, local: LocalPerception | None) -> str:
        privacy = self.ctx.settings.privacy
        if local is not None and local.has_emotions and not privacy.share_emotions:
            return sentence(local.summary)  # the expression stays on the glasses: shown to the wearer only
        return q.title

    async def _stream(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None,
                      queued_ms: int, title: str) -> str:
        ctx, settings = self.ctx, self.ctx.settings
        n = q.number
        ctx.timeline.mark("request_sent", question=n, photo_bytes=len(jpeg or b""), queued_ms=queued_ms,
                          audio_bytes=len(audio_opus or b""), faces=len(perception.faces) if perception else 0,
                          emotions_sent=any(f.emotion for f in perception.faces) if perception else False)
        parts: list[str] = []
        shown, last_show = "", 0.0
        stream = ctx.ports.phone.ask_stream(q.text, photo=jpeg, audio_opus=audio_opus, task=q.task,
                                            language=settings.assistant.language, perception=perception,
                                            queued_ms=queued_ms)
        try:
            async for part in stream:
                if not parts:
                    ctx.timeline.mark("answer_first", question=n, source=part.source, offline=part.offline)
                    ctx.set_state("answering", question=n)
                parts.append(part.text)
                text = "".join(parts)
                now = time.monotonic()
                if part.final:
                    ctx.timeline.mark("answer_final", question=n, source=part.source, offline=part.offline,
                                      text=text, parts=len(parts))
                    break
                if text != shown and now - last_show >= STREAM_CARD_INTERVAL_S:
                    await ctx.show(self._card(title, text), question=n, partial=True)
                    shown, last_show = text, now
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not parts:
            raise PeerError("the phone ended its answer without any text", peer="phone")
        text = "".join(parts)
        if await ctx.show(self._card(title, text), question=n):
            ctx.timeline.mark("card_shown", question=n)
        return text

    def _card(self, title: str, text: str) -> CardSpec:
        return CardSpec(title=title, text=text, kind="answer", icon="info",
                        ttl_ms=self.ctx.settings.assistant.card_ttl_ms)

    async def after_answer(self, q: Question, text: str, local: LocalPerception | None) -> None:
        """Speaks the answer; when expressions stayed on the glasses, the glasses' own sentence after it; the
        privacy reminder once per session."""
        ctx, privacy = self.ctx, self.ctx.settings.privacy
        await ctx.speak(text)
        if local is not None and local.has_emotions:
            if not privacy.share_emotions:
                await ctx.speak("On the glasses: " + sentence(local.summary))
            if privacy.remind and not self._reminded:
                self._reminded = True
                ctx.timeline.mark("reminder", question=q.number, text=REMINDER)
                await ctx.speak(REMINDER)
