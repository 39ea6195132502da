"""`glassbridge demo --out DIR`: the assistant's scripted session on the simulated glasses (`make demo`).

Everything the wearer would see and hear, on sim.glasses.SimGlasses (the real firmware behind the UART link
emulator, the BLE rig, the companion with its offline brain, the Assistant with real perception, espeak-ng's
voice and the okay_nabu wake word), driven as a wearer would: buttons and nods on the firmware's control socket,
speech played into the MCU's microphone (WAVs made with espeak-ng), notifications sent from the phone's side.

The session, each step checked (a step that does not happen in time fails the demo, exit 1):

    0 pairing            the six digits on the glasses' display, confirmed with a nod
    1 tap                a person in view: the answer, with the expression (opt-in turned on for the demo)
    2 "okay nabu"        then "what am I looking at?": recognised on the phone, answered
    3 notification       a message from the phone on the display
    4 navigation         a turn, with its arrow
    5 payment            a payment prompt, confirmed with a nod
    6 captions           double tap: a meeting transcribed, captions on the display; double tap again
    7 offline            the phone goes away: a tap answered from the glasses' own perception, queued;
                         the phone comes back: the queued question is delivered and its answer shown

Written to DIR: one PNG per step (the MCU's display, 2x), timeline.json (every event of the Assistant with its
time, and the demo's steps), audio/ (the WAVs), transcripts/, logs of the rig. The transcript with timings goes
to stderr (rich), the parts' logs to DIR/demo.log; with `--json` a summary goes to stdout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["DemoError", "DemoStep", "preflight", "run_demo"]

#: Seconds each step may take before the demo gives up on it (answers come in well under a second on the rig;
#: the wake word and the captions play several seconds of speech first).
STEP_TIMEOUT_S = 30.0


class DemoError(RuntimeError):
    """A step of the demo did not happen; the message names the step and what was waited for."""


@dataclass
class DemoStep:
    number: int
    name: str
    title: str
    started_s: float = 0.0  # since the demo started
    seconds: float = 0.0
    ok: bool = False
    lines: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


class _Session:
    """The demo's driver: runs the steps on one SimGlasses, prints the transcript, keeps the record."""

    def __init__(self, glasses: Any, out: Path, audio: dict[str, Path], console: Console, started: float) -> None:
        self.g = glasses
        self.out = out
        self.audio = audio
        self.console = console
        self.started = started
        self.steps: list[DemoStep] = []

    @property
    def timeline(self) -> Any:
        return self.g.timeline

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, step: DemoStep, text: str) -> None:
        from rich.text import Text

        step.lines.append(Text.from_markup(text).plain)  # timeline.json gets the words, not the colours
        self.console.print(f"[dim]{self.elapsed():7.2f} s[/]     {text}", markup=True, highlight=False,
                           soft_wrap=True)

    async def snapshot(self, step: DemoStep, name: str) -> None:
        png = await self.g.snapshot(f"{step.number}-{name}", self.out)
        step.snapshots.append(png.name)

    async def wait(self, kind: str, after: float, what: str, timeout: float = STEP_TIMEOUT_S, **match: Any) -> Any:
        try:
            return await self.timeline.wait_for(kind, timeout=timeout, after=after, **match)
        except TimeoutError as exc:
            raise DemoError(f"{what}: {exc}") from None

    async def step(self, number: int, name: str, title: str, body: Callable[[DemoStep], Awaitable[None]]) -> None:
        step = DemoStep(number, name, title, started_s=round(self.elapsed(), 3))
        self.steps.append(step)
        self.console.print(f"[dim]{self.elapsed():7.2f} s[/] [bold cyan]{number}. {title}[/]")
        self.timeline.mark("demo_step", step=number, name=name, title=title)
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(body(step), STEP_TIMEOUT_S * 2)
        except asyncio.TimeoutError:
            raise DemoError(f"step {number} ({title}) took longer than {STEP_TIMEOUT_S * 2:g} s") from None
        await self.g.assistant.idle(STEP_TIMEOUT_S)  # its speech and side tasks are done: the next step is clean
        step.seconds = round(time.monotonic() - t0, 3)
        step.ok = True

    # ---- the steps ------------------------------------------------------------------------------------------

    async def answer_of(self, step: DemoStep, q: int, after: float) -> dict[str, Any]:
        """Waits for question q's card and says what was shown and how long it took from the MCU's tap."""
        await self.wait("card_shown", after, f"the answer card of question {q}", question=q)
        final = self.timeline.find("answer_final", question=q)
        offline = self.timeline.find("offline_answer", question=q)
        text = final[-1].detail.get("text", "") if final else offline[-1].detail.get("text", "") if offline else ""
        cards = [e for e in self.timeline.find("card", question=q) if not e.detail.get("partial")]
        title = cards[-1].detail.get("title", "") if cards else ""
        marks = self.timeline.questions().get(q, {})
        start = marks.get("button", marks.get("wake_word"))
        took = (marks["card_shown"] - start) * 1000 if start is not None and "card_shown" in marks else None
        self.say(step, f"[green]card[/] [bold]{_esc(title)}[/]: {_esc(text)}")
        if took is not None:
            self.say(step, f"[dim]{'tap' if 'button' in marks else 'wake word'} -> card in {took:.0f} ms "
                           f"(as the SoC saw it)[/]")
        return {"question": q, "title": title, "text": text, "ms": None if took is None else round(took, 1)}

    async def tap_person(self, step: DemoStep) -> None:
        self.g.camera.set_scene("astronaut")
        self.say(step, "scene: a person in view (astronaut.png); expressions are opt-in and on")
        after = self.timeline.now()
        await self.g.tap()
        button = await self.wait("button", after, "the tap reaching the glasses' SoC", button="main", action="tap")
        q = button.detail["question"]
        seen = await self.wait("perception", after, "the glasses' perception", question=q)
        self.say(step, f"the glasses see: {_esc(seen.detail.get('summary', ''))} "
                       f"({seen.detail.get('elapsed_ms', 0):.0f} ms on the glasses)")
        step.detail.update(await self.answer_of(step, q, after))
        await self.snapshot(step, "answer")
        reminder = self.timeline.find("reminder", question=q)
        if reminder:
            self.say(step, f"[yellow]reminder[/]: {_esc(reminder[-1].detail['text'])}")

    async def wake_word(self, step: DemoStep) -> None:
        self.g.camera.set_scene("chelsea")
        self.say(step, "scene: a cat (chelsea.png); the wearer says \"okay nabu ... what am I looking at\"")
        after = self.timeline.now()
        await self.g.say(self.audio["wake_and_ask.wav"], wait=False)
        heard = await self.wait("wake_word", after, "the wake word")
        q = heard.detail["question"]
        self.say(step, f"wake word heard (p = {heard.detail.get('probability', 0):.2f}); listening")
        recorded = await self.wait("question_recorded", after, "the spoken question", question=q)
        self.say(step, f"question recorded ({_seconds(recorded.detail)}); sent as Opus with the photo")
        step.detail.update(await self.answer_of(step, q, after))
        await self.snapshot(step, "answer")

    async def notification(self, step: DemoStep, request: dict[str, Any], name: str) -> None:
        after = self.timeline.now()
        result = await self.g.companion({"cmd": "notify", **request})
        if result.get("ok") is False or "error" in result:
            raise DemoError(f"the companion refused the notification {request}: {result}")
        note = await self.wait("notification", after, f"the {name} notification on the glasses")
        nid = note.detail["notification"]
        await self.wait("card", after, f"the {name} card on the display", notification=nid)
        self.say(step, f"[green]card[/] [bold]{_esc(note.detail.get('title', ''))}[/]: "
                       f"{_esc(note.detail.get('text', ''))}")
        step.detail.update({"notification": nid, "kind": note.detail.get("kind")})
        await self.snapshot(step, name)

    async def payment(self, step: DemoStep) -> None:
        await self.notification(step, {"kind": "PAYMENT", "app": "Wallet", "title": "Cafe Lumen",
                                       "text": "Pay 23.50 EUR?", "icon": "pay",
                                       "needs_response": True, "timeout_ms": 20000}, "payment")
        after = self.timeline.now()
        await self.g.assistant.idle(STEP_TIMEOUT_S)  # the prompt is read out first
        self.say(step, "the wearer nods")
        await self.g.nod()
        done = await self.wait("responded", after, "the phone's answer to the nod")
        self.say(step, f"[green]phone[/]: {_esc(done.detail.get('outcome', ''))}")
        step.detail["outcome"] = done.detail.get("outcome", "")
        await self.g.assistant.idle(STEP_TIMEOUT_S)
        await self.snapshot(step, "paid")

    async def captions(self, step: DemoStep) -> None:
        after = self.timeline.now()
        await self.g.tap("main", "double")
        on = await self.wait("captions_on", after, "captions to start")
        stream = on.detail["stream"]
        kind = on.detail.get("caption_kind", on.detail.get("kind", "captions"))
        self.say(step, f"double tap: {kind} on; the meeting is spoken (meeting.wav, three sentences)")
        await self.g.say(self.audio["meeting.wav"], wait=False)
        line = await self.wait("caption", after, "a final caption line", stream=stream, final=True)
        self.say(step, f"[green]caption[/]: {_esc(line.detail['text'])}")
        await self.snapshot(step, "captions")
        await self.g.wait_played(STEP_TIMEOUT_S, what="meeting.wav")
        await self._captions_settled(stream)
        after_off = self.timeline.now()
        await self.g.tap("main", "double")
        off = await self.wait("captions_off", after_off, "captions to stop", stream=stream)
        await self.g.assistant.idle(STEP_TIMEOUT_S)
        lines = [e.detail["text"] for e in self.timeline.find("caption", stream=stream, final=True)]
        for text in lines[1:]:
            self.say(step, f"[green]caption[/]: {_esc(text)}")
        self.say(step, f"double tap: captions off ({off.detail.get('packets')} Opus packets sent, "
                       f"{len(lines)} lines, transcript {Path(on.detail.get('transcript', '')).name})")
        step.detail.update({"stream": stream, "lines": lines, "transcript": on.detail.get("transcript", "")})

    async def _captions_settled(self, stream: int, quiet_s: float = 1.5, limit_s: float = 10.0) -> None:
        """The meeting has been played to its end: wait until no new final line came for `quiet_s` (the phone
        finalises a line at each pause), at most `limit_s`."""
        deadline = time.monotonic() + limit_s
        count, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = len(self.timeline.find("caption", stream=stream, final=True))
            if now != count:
                count, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            await asyncio.sleep(0.1)

    async def offline(self, step: DemoStep) -> None:
        self.g.camera.set_scene("astronaut")
        await self.g.drop_phone()
        self.say(step, "the phone goes away (its Bluetooth is off)")
        after = self.timeline.now()
        await self.g.tap()
        button = await self.wait("button", after, "the tap", button="main", action="tap")
        q = button.detail["question"]
        local = await self.wait("offline_answer", after, "the glasses' own answer", question=q)
        await self.wait("card_shown", after, "the offline card", question=q)
        self.say(step, f"[green]offline card[/]: {_esc(local.detail.get('text', ''))}")
        await self.snapshot(step, "offline")
        await self.g.assistant.idle(STEP_TIMEOUT_S)
        back = self.timeline.now()
        await self.g.restore_phone()
        self.say(step, "the phone is back")
        delivered = await self.wait("delivered", back, "the queued question's answer", question=q)
        self.say(step, f"[green]late answer[/] (asked {delivered.detail.get('queued_ms', 0) / 1000:.1f} s "
                       f"earlier): {_esc(delivered.detail.get('text', ''))}")
        await self.snapshot(step, "delivered")
        step.detail.update({"question": q, "offline_text": local.detail.get("text", ""),
                            "delivered_text": delivered.detail.get("text", ""),
                            "queued_ms": delivered.detail.get("queued_ms")})


def _esc(text: str) -> str:
    """Text from the devices, printed literally (rich would read [brackets] as markup)."""
    from rich.markup import escape

    return escape(str(text))


def _seconds(detail: dict[str, Any]) -> str:
    if detail.get("seconds"):
        return f"{float(detail['seconds']):.1f} s, ended by {detail.get('reason', 'the endpointer')}"
    samples = detail.get("samples") or (detail.get("pcm_bytes", 0) // 2)
    return f"{samples / 16000:.1f} s" if samples else "done"


def demo_settings(out: Path) -> Any:
    """The product's settings with the demo's opt-ins: expressions recognised (kept on the glasses), the wake
    word on, transcripts in the output folder."""
    from glassbridge.assistant.config import settings_from_dict

    return settings_from_dict({
        "privacy": {"emotions": True},
        "wake_word": {"enabled": True},
        "captions": {"transcript_dir": str((out / "transcripts").resolve())},
    }, source="glassbridge demo")


#: The camera's scenes in the demo: test images of the manifest, found like the models (from any folder).
DEMO_SCENES = ("astronaut", "chelsea")


async def _run(out: Path, images: dict[str, Path], console: Console) -> dict[str, Any]:
    from glassbridge.audio.speech_samples import generate
    from glassbridge_rig.glasses import SimGlasses

    started = time.monotonic()
    console.print(f"[dim]{0.0:7.2f} s[/] [bold]glassbridge demo[/]: the assistant on simulated glasses -> {out}")
    audio = await asyncio.to_thread(generate, out / "audio", ["wake_and_ask.wav", "meeting.wav"])
    steps: list[DemoStep] = []
    pairing_step = DemoStep(0, "pairing", "Pairing: the code on the glasses' display, confirmed with a nod")

    async def code_shown(code: int, glasses: Any) -> None:
        png = await glasses.snapshot("0-pairing", out)
        pairing_step.snapshots.append(png.name)

    with console.status("starting the glasses: firmware, BLE rig, phone companion, models"):
        glasses = SimGlasses(out / "rig-state", settings=demo_settings(out), images=images, scene="astronaut",
                             on_pairing_code=code_shown)
        await glasses.__aenter__()
    session = _Session(glasses, out, audio, console, started)
    failure: BaseException | None = None
    try:
        assert glasses.pairing is not None
        pairing_step.ok = True
        pairing_step.started_s = 0.0
        pairing_step.seconds = round(glasses.startup_seconds, 3)
        pairing_step.detail = {"code": glasses.pairing.code, "phone_code": glasses.pairing.phone_code}
        session.steps.append(pairing_step)
        console.print(f"[dim]{session.elapsed():7.2f} s[/] [bold cyan]0. {pairing_step.title}[/]")
        session.say(pairing_step, f"code {glasses.pairing.code:06d} on the glasses, {glasses.pairing.phone_code:06d}"
                                  f" on the phone: bonded; glasses up in {glasses.startup_seconds:.1f} s")
        await session.step(1, "tap", "Tap: what am I looking at? (a person in view)", session.tap_person)
        await session.step(2, "wake_word", "\"Okay nabu, what am I looking at?\"", session.wake_word)
        await session.step(3, "notification", "A message from the phone",
                           lambda s: session.notification(s, {"kind": "MESSAGE", "app": "Messages", "title": "Mei",
                                                              "text": "Lunch at 12:30?"}, "message"))
        await session.step(4, "navigation", "Navigation: a turn",
                           lambda s: session.notification(s, {"kind": "NAVIGATION", "app": "Maps",
                                                              "title": "In 200 m",
                                                              "text": "Turn left onto Rue Oberkampf",
                                                              "icon": "arrow_left"}, "navigation"))
        await session.step(5, "payment", "A payment, confirmed with a nod", session.payment)
        await session.step(6, "captions", "Meeting transcription: captions on the display", session.captions)
        await session.step(7, "offline", "The phone drops out: an offline answer, then the queued one",
                           session.offline)
    except BaseException as exc:
        failure = exc
    finally:
        steps = session.steps
        document = {
            "demo": "glassbridge demo",
            "ok": failure is None,
            "error": None if failure is None else f"{type(failure).__name__}: {failure}",
            "seconds": round(time.monotonic() - started, 2),
            "steps": [asdict(s) for s in steps],
            "timeline": glasses.timeline.to_json() if glasses.timeline is not None else None,
        }
        try:
            document["firmware"] = await glasses.status()
            document["companion"] = {k: v for k, v in (await glasses.companion()).items()
                                     if k in ("media", "responses", "captions", "questions", "brain")}
        except Exception as exc:  # noqa: BLE001 - the record is written whatever state the rig is in
            document["status_error"] = str(exc)
        (out / "timeline.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
        await glasses.__aexit__(None, None, None)
    if failure is not None:
        raise failure
    return document


#: The models the demo's glasses load (perception with expressions on, the wake word).
DEMO_MODELS = ("blazeface_full_range_sparse", "emotion_fer_int8", "okay_nabu")
#: Programs the demo starts, with the Debian package that has each.
DEMO_PROGRAMS = {"dbus-daemon": "dbus-daemon", "espeak-ng": "espeak-ng"}


def preflight() -> dict[str, Path]:
    """What the demo needs, checked before anything starts, from any working directory: the models and the
    camera's scenes (found like the models: $GLASSBRIDGE_MODEL_DIR, the checkout, the package, the user data
    folder; ModelError names what is missing and `glassbridge models fetch`) and the programs it runs
    (FileNotFoundError with the apt-get line). Returns the scenes (id -> file)."""
    import shutil

    from glassbridge.models.registry import model_path, test_image_paths

    for model in DEMO_MODELS:
        model_path(model)
    images = test_image_paths(DEMO_SCENES)
    missing = [name for name in DEMO_PROGRAMS if shutil.which(name) is None]
    if missing:
        packages = " ".join(DEMO_PROGRAMS[name] for name in missing)
        raise FileNotFoundError(f"the demo needs {', '.join(missing)}, not found on PATH: install "
                                f"{'it' if len(missing) == 1 else 'them'} with `sudo apt-get install {packages}` "
                                "(or `scripts/system-packages.sh` in a checkout)")
    return images


def run_demo(out: Path, *, console: Console | None = None) -> dict[str, Any]:
    """Runs the scripted session (see the module docstring) into `out`; returns the timeline.json document.
    DemoError (or the rig's own error) when a step does not happen; timeline.json is written either way."""
    console = console or Console(stderr=True)
    images = preflight()
    out.mkdir(parents=True, exist_ok=True)
    # The parts' logs (warnings and tracebacks included) go to DIR/demo.log: stderr is the wearer's transcript.
    handler = logging.FileHandler(out / "demo.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        document = asyncio.run(_run(out, images, console))
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        handler.close()
    total = sum(1 for s in document["steps"] if s["ok"])
    console.print(f"[dim]{document['seconds']:7.2f} s[/] [bold green]done[/]: {total} steps; "
                  f"{sum(len(s['snapshots']) for s in document['steps'])} display snapshots and timeline.json "
                  f"({len(document['timeline']['events'])} events) in {out}")
    return document
