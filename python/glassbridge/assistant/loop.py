"""`Assistant`: the asyncio state machine that turns button presses, head gestures, the wake word and phone
events into what the wearer sees and hears.

    assistant = Assistant(load_settings(), mcu, phone, camera, FacePerceiver(), EspeakVoice(), wake_word=WakeWord())
    task = asyncio.create_task(assistant.run())      # until assistant.stop()
    ...
    json.dump(assistant.timeline.to_json(), f)

States: idle, listening (the wake word was heard; recording the question), capturing (the camera is powered),
thinking (perception, JPEG, waiting for the phone), answering (showing and speaking), streaming (captions run;
the base state instead of idle while they do).

Gestures (the MCU's buttons and IMU):
    main tap          ask about what I see (photo + local perception -> the phone's brain)
    capture tap       read the sign ahead (the same, task read_text)
    main long press   cancel the question in progress (else: stop captions)
    main double tap   captions on/off (transcription, or translation with [captions] translate_to)
    nod / shake       confirm / dismiss the card waiting for an answer (payment, call)
    other buttons     the [media] gesture map: music and call controls on the phone

One dispatcher reads every event in arrival order and never waits on the phone or the camera itself: a question
runs as one job task (so a long press can cancel it, and a tap meanwhile is queued or refused with a spoken
reason), everything else that talks to a device runs as a side task. Every wait has a bound from the settings and
ends in a specific card and sentence ("the phone did not answer in 8 s"). Stage timestamps go to the Timeline.

The skills live in their own modules (ask, offline, cards, captions, media, wake, power, mic). Each is built
with a SkillContext (glassbridge.assistant.context), never with this class: the context gives it the effects
(show, speak, notice, spawn, start_job, set_state), the ports, the settings, the clock, the timeline and a
read-only SharedState; what it wants of another skill it asks through a named request on the context, which
_AssistantContext (below) wires to the skill that owns it. The Assistant alone holds the skills.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from glassbridge.assistant.ask import AskSkill
from glassbridge.assistant.audio_tools import AudioTools
from glassbridge.assistant.captions import CaptionSkill
from glassbridge.assistant.cards import CardSkill
from glassbridge.assistant.config import Settings
from glassbridge.assistant.context import SharedState
from glassbridge.assistant.media import MediaSkill
from glassbridge.assistant.mic import MicRouter
from glassbridge.assistant.offline import OfflineQueue
from glassbridge.assistant.ports import CameraPort, McuPort, Perceiver, PhonePort, Ports, Voice, WakeWordPort
from glassbridge.assistant.power import PowerSkill
from glassbridge.assistant.question import Question
from glassbridge.assistant.text import CARD_TEXT_LIMIT, CARD_TITLE_LIMIT, fit, one_line, spoken
from glassbridge.assistant.timeline import Timeline
from glassbridge.assistant.wake import WakeSkill
from glassbridge.protocol.errors import PeerError
from glassbridge.mcu.events import (
    AudioChunk,
    BatteryChanged,
    ButtonPressed,
    CardSpec,
    GestureDetected,
    McuConnected,
    McuDisconnected,
    McuRebooted,
    WakeWordHeard,
)
from glassbridge.phone.events import AnswerPart, Card, CaptionLine, ConnectionChanged, NotificationEvent

if TYPE_CHECKING:
    from glassbridge.assistant.perception import LocalPerception

__all__ = ["Assistant", "STATES", "build_wake_word"]

log = logging.getLogger(__name__)

STATES = ("idle", "listening", "capturing", "thinking", "answering", "streaming")
#: A display or camera-power request to the MCU: the Mcu client's own request timeout (3 s) plus margin.
MCU_TIMEOUT_S = 4.0
#: Seconds stop() gives captions and the microphone to close down cleanly.
SHUTDOWN_S = 3.0
#: On the display once at start when the wearer turned [privacy] blur_faces off.
FACES_NOT_BLURRED = "Faces are not blurred in photos sent to the phone ([privacy] blur_faces = false)."

_STOP = object()


def build_wake_word(settings: Settings) -> WakeWordPort:
    """glassbridge.audio.WakeWord for [wake_word] model and cutoff (0: the model's own cut-off). A missing or
    corrupt model raises the registry's ModelError, which says how to fetch it."""
    from glassbridge.audio import WakeWord

    w = settings.wake_word
    return WakeWord(w.model, cutoff=w.cutoff or None)


class Assistant:
    """The assistant loop (see the module docstring). Devices come in as ports; nothing is opened here."""

    def __init__(
        self,
        settings: Settings,
        mcu: McuPort,
        phone: PhonePort,
        camera: CameraPort,
        perceiver: Perceiver,
        voice: Voice,
        *,
        wake_word: WakeWordPort | None = None,  # None with [wake_word] enabled: built from the settings
        audio: AudioTools | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeline: Timeline | None = None,
    ) -> None:
        if not isinstance(settings, Settings):
            raise TypeError(f"Assistant needs glassbridge.assistant.config.Settings (from load_settings() or "
                            f"settings_from_dict()), got {type(settings).__name__}")
        self.settings = settings
        self.mcu = mcu
        self.phone = phone
        self.camera = camera
        self.perceiver = perceiver
        self.voice = voice
        if wake_word is None and settings.wake_word.enabled:
            wake_word = build_wake_word(settings)
        self.wake_word = wake_word
        #: The devices the skills use themselves (the same objects as the attributes above).
        self.ports = Ports(mcu, phone, camera, perceiver, wake_word)
        self._audio = audio
        self.clock = clock
        self.timeline = timeline or Timeline(clock)
        self._state = "idle"
        self._numbers = itertools.count(1)
        self._job: asyncio.Task[None] | None = None
        self._job_question: int | None = None
        self._side: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[Any]] = set()
        self._inbox: asyncio.Queue[Any] | None = None
        self._speaker: asyncio.Lock | None = None
        self._running = False
        self._stopping = False
        self._stop_requested = False
        #: When the phone link was last seen going down (the assistant's clock); None while up.
        self.phone_down_since: float | None = None
        context = _AssistantContext(self)  # all the skills see of the loop and of each other
        self.ask = AskSkill(context)
        self.offline = OfflineQueue(context)
        self.cards = CardSkill(context)
        self.captions = CaptionSkill(context)
        self.media = MediaSkill(context)
        self.wake = WakeSkill(context)
        self.power = PowerSkill(context)
        self.mic = MicRouter(context)

    # ---- state -----------------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str, **detail: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown assistant state {state!r}; states: {', '.join(STATES)}")
        if state != self._state:
            self.timeline.mark("state", state=state, previous=self._state, **detail)
            self._state = state

    def base_state(self) -> str:
        """Where the loop rests between questions."""
        return "streaming" if self.captions.active else "idle"

    def shared_state(self) -> SharedState:
        """What the skills know of each other, now (SkillContext.state): each field read from its owner."""
        return SharedState(busy=self.busy, stopping=self._stopping, phone_down_since=self.phone_down_since,
                           battery_level=self.power.level, battery_percent=self.power.percent,
                           streaming_allowed=self.power.streaming_allowed, captions_active=self.captions.active,
                           wake_word_enabled=self.wake.enabled, wake_word_on_soc=self.wake.on_soc,
                           listening=self.wake.listening)

    def microphone_users_changed(self) -> None:
        """Captions, the battery, the MCU or the settings changed: the stream (MicRouter) and the MCU's own
        listening (WakeSkill.sync_mcu) follow."""
        self.mic.update()
        self.wake.sync_mcu()

    def settle(self) -> None:
        """Back to the base state unless a question or listening is under way."""
        if not self.busy and not self.wake.listening:
            self.set_state(self.base_state())

    @property
    def busy(self) -> bool:
        return self._job is not None and not self._job.done()

    def next_question(self) -> int:
        return next(self._numbers)

    @property
    def audio(self) -> AudioTools:
        if self._audio is None:
            self._audio = AudioTools.default()
        return self._audio

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot for a status display: state, battery, queue, captions, microphone, prompt."""
        captions = self.captions.session
        prompt = self.cards.pending
        return {
            "state": self.state,
            "busy": self.busy,
            "question_waiting": None if self.ask.waiting is None else self.ask.waiting.number,
            "battery": {"level": self.power.level, "percent": self.power.percent},
            "phone_up": bool(self.phone.up),
            "offline_queue": self.offline.questions(),
            "captions": None if captions is None else {"stream": captions.stream_id, "kind": captions.kind,
                                                       "packets": captions.packets, "lines": len(captions.lines)},
            "microphone": self.mic.streaming,
            "wake_word": self.wake.enabled,
            "listening": self.wake.listening,
            "prompt": None if prompt is None else {"notification": prompt.notification_id, "kind": prompt.kind},
            "events": len(self.timeline.events),
        }

    # ---- running ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Runs until stop(). Subscribes to both devices' events first, so nothing sent after run() started is
        missed; on the way out cancels the question in progress (the camera is powered off by its own finally),
        stops captions and the microphone."""
        if self._running:
            raise RuntimeError("Assistant.run() is already running")
        self._running = True
        self._stopping = False
        self._inbox = asyncio.Queue()
        if self._stop_requested:  # stop() came before run(): start and end at once, cleanly
            self._inbox.put_nowait(_STOP)
            self._stop_requested = False
        self._speaker = asyncio.Lock()
        mcu_events = self.mcu.events()
        phone_events = self.phone.events()
        pumps = [asyncio.create_task(self._pump(mcu_events, "mcu"), name="assistant-mcu-events"),
                 asyncio.create_task(self._pump(phone_events, "phone"), name="assistant-phone-events")]
        self.phone_down_since = None if self.phone.up else self.clock()
        self.timeline.mark("started", phone_up=bool(self.phone.up), wake_word=self.wake.enabled,
                           emotions=self.settings.privacy.emotions,
                           share_emotions=self.settings.privacy.share_emotions,
                           blur_faces=self.settings.privacy.blur_faces)
        if not self.settings.privacy.blur_faces:  # the wearer turned it off: said once, at start, on the display
            self.spawn(self.notice("Privacy", FACES_NOT_BLURRED, icon="warning", speak=False), "privacy notice")
        self.microphone_users_changed()
        # Transcripts past their retention go now, not only when the next caption session starts (the newest stays
        # when retention_days = 0: it is the latest session's).
        await self.captions.sweep(keep_latest=True)
        try:
            while True:
                event = await self._inbox.get()
                if event is _STOP:
                    break
                try:
                    await self._handle(event)
                except Exception as exc:  # one bad event must not end the loop; it is logged and on the timeline
                    log.exception("assistant: handling %r failed", event)
                    self.timeline.mark("error", where="dispatch", event=type(event).__name__, reason=str(exc))
        finally:
            self._stopping = True
            await self._shutdown(pumps, mcu_events, phone_events)
            self._running = False
            self.timeline.mark("stopped")

    def stop(self) -> None:
        """Ends run() (from the loop's thread); before run() started, makes the next run() return at once."""
        if self._inbox is not None and self._running:
            self._inbox.put_nowait(_STOP)
        else:
            self._stop_requested = True

    async def _pump(self, events: Any, source: str) -> None:
        assert self._inbox is not None
        try:
            async for event in events:
                self._inbox.put_nowait(event)
        except Exception as exc:
            log.exception("assistant: the %s event stream failed", source)
            self.timeline.mark("error", where=f"{source} events", reason=str(exc))

    async def _shutdown(self, pumps: list[asyncio.Task[None]], *streams: Any) -> None:
        if self._job is not None and not self._job.done():
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._job, SHUTDOWN_S + MCU_TIMEOUT_S)
        self.wake.cancel()
        if self.captions.active:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.captions.stop("the assistant stopped", announce=False), SHUTDOWN_S)
        await self.mic.close()
        with contextlib.suppress(Exception):  # the MCU stops listening: nobody would take its detections
            await asyncio.wait_for(self.wake.stop_mcu(), SHUTDOWN_S)
        for task in list(self._side):
            task.cancel()
        if self._side:
            await asyncio.wait(list(self._side), timeout=SHUTDOWN_S)
        for stream in streams:
            with contextlib.suppress(Exception):
                await stream.aclose()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    # ---- events ----------------------------------------------------------------------------------------------

    async def _handle(self, event: Any) -> None:
        if isinstance(event, ButtonPressed):
            await self._on_button(event)
        elif isinstance(event, GestureDetected):
            self.timeline.mark("gesture", gesture=event.gesture, confidence_pct=event.confidence_pct)
            if event.gesture in ("nod", "shake"):
                self.cards.answer(confirm=event.gesture == "nod")
        elif isinstance(event, BatteryChanged):
            self.power.on_battery(event.battery)
        elif isinstance(event, McuRebooted):
            # The MCU comes back with the camera off, the display cleared and the stream restarted by Mcu itself;
            # it listens for the wake word no more until told again.
            self.timeline.mark("mcu_rebooted", boot_counter=event.boot_counter, dropped=event.dropped_messages)
            self.wake.mcu_forget()
            self.microphone_users_changed()
        elif isinstance(event, (McuConnected, McuDisconnected)):
            self.timeline.mark("mcu_" + ("connected" if isinstance(event, McuConnected) else "disconnected"),
                               detail=getattr(event, "reason", getattr(event, "firmware_version", "")))
            if isinstance(event, McuConnected):
                self.microphone_users_changed()
        elif isinstance(event, WakeWordHeard):
            self.wake.heard_on_mcu(event)
        elif isinstance(event, ConnectionChanged):
            self.timeline.mark("phone", state=event.state, detail=event.detail)
            if event.state != "up" and self.phone_down_since is None:
                self.phone_down_since = self.clock()
            if event.state == "up":
                self.phone_down_since = None
                self.offline.deliver_when_free(reconnected=True)
        elif isinstance(event, NotificationEvent):
            self.cards.on_notification(event)
        elif isinstance(event, Card):
            self.cards.on_card(event)
        elif isinstance(event, CaptionLine):
            self.captions.on_line(event)
        elif isinstance(event, AnswerPart):
            pass  # the question's own ask_stream consumes its answer parts
        else:
            log.debug("assistant: ignoring %r", event)

    async def _on_button(self, event: ButtonPressed) -> None:
        gesture = f"{event.button}.{event.action}"
        if gesture in ("main.tap", "capture.tap"):
            number = self.next_question()
            self.timeline.mark("button", button=event.button, action=event.action, at_ms=event.at_ms,
                               question=number)
            question = Question.look(number, self.clock()) if gesture == "main.tap" else Question.sign(
                number, self.clock())
            self.ask.request(question)
            return
        self.timeline.mark("button", button=event.button, action=event.action, at_ms=event.at_ms)
        if gesture == "main.long_press":
            self.cancel()
        elif gesture == "main.double_tap":
            self.spawn(self.captions.toggle(), "captions")
        elif gesture in self.settings.media.gestures:
            self.spawn(self.media.send(self.settings.media.gestures[gesture]), "media")
        else:
            self.timeline.mark("gesture_unmapped", gesture=gesture)

    def cancel(self) -> None:
        """Long press: cancel the question in progress (or the listening), else stop captions."""
        if self.busy or self.wake.listening or self.ask.waiting is not None:
            self.ask.drop_waiting()
            if self.wake.listening:
                self.wake.abort("cancelled")
            if self.busy:
                assert self._job is not None
                self._job.cancel()
            else:
                self.spawn(self.notice("Cancelled", "Cancelled.", icon="info"), "cancel notice")
        elif self.captions.active:
            self.spawn(self.captions.stop("stopped by a long press"), "captions stop")
        else:
            self.timeline.mark("cancel_ignored", reason="nothing to cancel")

    # ---- jobs and side tasks ---------------------------------------------------------------------------------

    def start_job(self, coro: Coroutine[Any, Any, None], what: str, question: int | None = None) -> None:
        """Runs `coro` as THE job (a question, the offline queue's delivery). The caller checked `busy`."""
        if self.busy:
            coro.close()
            raise RuntimeError(f"assistant: {what} started while another job runs")
        self._job_question = question
        self._job = asyncio.create_task(self._run_job(coro, what, question), name=f"assistant-{what}")
        self._job.add_done_callback(lambda _t: coro.close())

    async def _run_job(self, coro: Coroutine[Any, Any, None], what: str, question: int | None) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            if self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()  # handled here: later waits (the notice) must not see a pending cancellation
            self.timeline.mark("cancelled", what=what, question=question)
            self.set_state(self.base_state())
            await self.notice("Cancelled", "Cancelled.", icon="info")
        except Exception as exc:  # a bug or an unexpected device error: said, logged, and the loop goes on
            log.exception("assistant: %s failed", what)
            self.timeline.mark("error", where=what, question=question, reason=f"{type(exc).__name__}: {exc}")
            self.set_state(self.base_state())
            # The card says what (one line, never a traceback); the wearer hears one short sentence.
            await self.notice("Sorry", f"Something went wrong: {one_line(exc)}", say="Sorry, something went wrong.",
                              icon="warning")
        finally:
            if not self._stopping:
                self.set_state(self.base_state())
                asyncio.get_running_loop().call_soon(self._after_job)

    def _after_job(self) -> None:
        if self._stopping or self.busy:
            return
        if self.ask.resume_waiting():  # the question that waited behind this job first
            return
        if self.offline.pending and self.phone.up:
            self.offline.deliver_when_free()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str, *, timer: bool = False) -> asyncio.Task[Any]:
        """A side task (display, speech, media, captions): tracked, cancelled at stop, failures logged. A `timer`
        (a prompt's expiry, the listening watchdog) mostly sleeps: idle() does not wait for it."""
        task = asyncio.create_task(self._side_task(coro, what), name=f"assistant-{what}")
        # A task cancelled before its first step never starts `coro`: close it (no "never awaited" warning).
        task.add_done_callback(lambda _t: coro.close())
        self._side.add(task)
        task.add_done_callback(self._side.discard)
        if timer:
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)
        return task

    async def _side_task(self, coro: Coroutine[Any, Any, Any], what: str) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("assistant: %s failed", what)
            self.timeline.mark("error", where=what, reason=f"{type(exc).__name__}: {exc}")
            return None

    async def idle(self, timeout: float) -> None:
        """Waits until no job, listening or side task is left (tests and drivers); TimeoutError says what runs."""
        deadline = time.monotonic() + timeout
        while (self.busy or self.wake.listening or self._side - self._timers
               or (self._inbox is not None and self._inbox.qsize())):
            if time.monotonic() > deadline:
                working = sorted(t.get_name() for t in self._side - self._timers)
                raise TimeoutError(f"assistant still busy after {timeout:g} s: state {self.state}, job "
                                   f"{self._job.get_name() if self.busy and self._job else 'none'}, "
                                   f"side tasks {working}")
            await asyncio.sleep(0.005)

    # ---- the wearer's display and voice ------------------------------------------------------------------------

    async def show(self, card: CardSpec, **mark: Any) -> bool:
        """Shows a card (fields fitted to the display's limits); False when the MCU did not take it in time."""
        card = CardSpec(fit(card.title, CARD_TITLE_LIMIT), fit(card.text, CARD_TEXT_LIMIT), card.kind, card.icon,
                        card.ttl_ms)
        try:
            await asyncio.wait_for(self.mcu.show_card(card), MCU_TIMEOUT_S)
        except (asyncio.TimeoutError, PeerError) as exc:
            reason = str(exc) or f"no answer from the MCU within {MCU_TIMEOUT_S:g} s"
            log.warning("assistant: the card %r was not shown: %s", card.title, reason)
            self.timeline.mark("display_failed", title=card.title, reason=reason, **mark)
            return False
        self.timeline.mark("card", title=card.title, text=card.text, card_kind=card.kind, icon=card.icon, **mark)
        return True

    async def speak(self, text: str) -> None:
        """Says `text` through the glasses' speaker, one sentence at a time (a lock keeps sentences whole).
        Synthesis is bounded by [assistant] speak_timeout_s, playing by the audio's length plus as much; a failure
        is logged and on the timeline (the card shows it)."""
        if not self.settings.assistant.speak or not text.strip():
            return
        text = spoken(text, self.settings.assistant.speak_max_chars)  # the card shows the rest
        limit = self.settings.assistant.speak_timeout_s
        assert self._speaker is not None
        async with self._speaker:
            try:
                pcm = await asyncio.wait_for(self.voice.synthesize(text), limit)
                # The MCU plays at the audio's own pace (Mcu.play_audio paces the frames): the bound is the
                # sentence's length plus the same margin.
                await asyncio.wait_for(self.mcu.play_audio(pcm, 16000), limit + len(pcm) / 32000)
            except asyncio.CancelledError:
                raise
            except asyncio.TimeoutError:
                self.timeline.mark("speak_failed", text=text, reason=f"not spoken within {limit:g} s")
                return
            except Exception as exc:  # espeak-ng missing, the MCU link down: the card still shows the text
                log.warning("assistant: could not speak %r: %s", text, exc)
                self.timeline.mark("speak_failed", text=text, reason=f"{type(exc).__name__}: {exc}")
                return
            self.timeline.mark("spoken", text=text, seconds=round(len(pcm) / 32000, 3))

    async def notice(self, title: str, text: str, *, icon: str = "info", kind: str = "text", speak: bool = True,
                     say: str | None = None, ttl_ms: int = 0, **mark: Any) -> None:
        """A message for the wearer: on the display, and spoken. `say`: what is spoken instead of the card's text
        (an error's short sentence: its details are on the card, not read out for seconds)."""
        self.timeline.mark("notice", title=title, text=text, **({"said": say} if say is not None else {}), **mark)
        await self.show(CardSpec(title=title, text=text, kind=kind, icon=icon, ttl_ms=ttl_ms), **mark)
        if speak:
            await self.speak(text if say is None else say)

    def say_soon(self, title: str, text: str, *, icon: str = "info", kind: str = "text", **mark: Any) -> None:
        """notice() as a side task (from the dispatcher, which must not wait on devices)."""
        self.spawn(self.notice(title, text, icon=icon, kind=kind, **mark), f"notice {title}")


class _AssistantContext:
    """The SkillContext the Assistant gives its skills: its own effects, a SharedState snapshot per read, and each
    request wired to the skill that serves it. Coroutines are handed through as they are (no extra await)."""

    __slots__ = ("_assistant",)

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant

    # ---- reading ---------------------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._assistant.settings

    @property
    def timeline(self) -> Timeline:
        return self._assistant.timeline

    @property
    def ports(self) -> Ports:
        return self._assistant.ports

    @property
    def audio(self) -> AudioTools:
        return self._assistant.audio

    @property
    def state(self) -> SharedState:
        return self._assistant.shared_state()

    def clock(self) -> float:
        return self._assistant.clock()

    # ---- the wearer's display and voice ----------------------------------------------------------------------

    def show(self, card: CardSpec, **mark: Any) -> Coroutine[Any, Any, bool]:
        return self._assistant.show(card, **mark)

    def speak(self, text: str) -> Coroutine[Any, Any, None]:
        return self._assistant.speak(text)

    def notice(self, title: str, text: str, *, icon: str = "info", kind: str = "text", speak: bool = True,
               say: str | None = None, ttl_ms: int = 0, **mark: Any) -> Coroutine[Any, Any, None]:
        return self._assistant.notice(title, text, icon=icon, kind=kind, speak=speak, say=say, ttl_ms=ttl_ms,
                                      **mark)

    def say_soon(self, title: str, text: str, *, icon: str = "info", kind: str = "text", **mark: Any) -> None:
        self._assistant.say_soon(title, text, icon=icon, kind=kind, **mark)

    # ---- the loop --------------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str, *, timer: bool = False) -> asyncio.Task[Any]:
        return self._assistant.spawn(coro, what, timer=timer)

    def start_job(self, coro: Coroutine[Any, Any, None], what: str, question: int | None = None) -> None:
        self._assistant.start_job(coro, what, question)

    def set_state(self, state: str, **detail: Any) -> None:
        self._assistant.set_state(state, **detail)

    def settle(self) -> None:
        self._assistant.settle()

    def next_question(self) -> int:
        return self._assistant.next_question()

    # ---- requests: each to the skill that owns it ------------------------------------------------------------

    def ask(self, question: Question) -> None:
        self._assistant.ask.request(question)

    def ask_phone(self, q: Question, jpeg: bytes | None, perception: Any, audio_opus: bytes | None, *,
                  queued_ms: int, local: LocalPerception | None = None,
                  title: str | None = None) -> Coroutine[Any, Any, str]:
        return self._assistant.ask.ask_phone(q, jpeg, perception, audio_opus, queued_ms=queued_ms, local=local,
                                             title=title)

    def answer_offline(self, q: Question, local: LocalPerception, jpeg: bytes, perception: Any,
                       audio_opus: bytes | None, why: str, *, lost: bool = False) -> Coroutine[Any, Any, None]:
        return self._assistant.offline.answer_locally(q, local, jpeg, perception, audio_opus, why, lost=lost)

    def photo_size(self) -> tuple[int, int, int]:
        return self._assistant.power.photo_size()

    def capture_refusal(self, last_capture: float | None) -> str:
        return self._assistant.power.capture_refusal(last_capture)

    def stop_captions(self, reason: str, *, announce: bool = True) -> None:
        assistant = self._assistant
        assistant.spawn(assistant.captions.stop(reason, announce=announce), "captions stop")

    def feed_captions(self, chunk: AudioChunk) -> Coroutine[Any, Any, None]:
        return self._assistant.captions.feed(chunk)

    def update_microphone(self) -> None:
        self._assistant.microphone_users_changed()

    def abort_listening(self, reason: str) -> None:
        self._assistant.wake.abort(reason)

    def feed_wake_word(self, chunk: AudioChunk) -> None:
        self._assistant.wake.feed(chunk)
