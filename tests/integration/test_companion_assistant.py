"""The companion's assistant loop messages (issue 5) through CompanionApp, without a radio.

A fake glasses session stands where the BLE link session would be: messages go in as the link delivers them
(MessageReceived with the encoded bytes, channel by channel) and what the app sends back is decoded with Python's
protobuf. The radio path itself is covered by test_companion.py; here the subject is what each new message means.

References: espeak-ng speech with known words (test_companion_speech.spoken), Opus packets made here with
opuslib_next's own encoder (not glassbridge.audio's), WAVs written with Python's wave module, SHA-256 from hashlib,
and the texts of the wire (payment outcomes, answers) as the brief words them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import time
import wave
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

pytest.importorskip("pocketsphinx")

from glassbridge_companion.app import CompanionApp, payment_outcome  # noqa: E402
from glassbridge_companion.brain import OfflineBrain  # noqa: E402
from glassbridge_companion.speech import Recogniser  # noqa: E402
from glassbridge_companion.transfers import TransferStore  # noqa: E402
from glassbridge.protocol.link import MessageReceived  # noqa: E402
from glassbridge.protocol.messages import decode, encode, pb  # noqa: E402
from tests.integration.test_companion_speech import spoken, wer  # noqa: E402

T = TypeVar("T")
GLASSES = "F5:F4:F3:F2:F1:F0"
ONE_HAPPY_FACE = pb.Perception(faces=[pb.Face(x=0.4, y=0.2, width=0.2, height=0.3, score=0.93, emotion="happy",
                                              emotion_score=0.81)], image_width=640, image_height=480,
                               summary="one person ahead, looks happy")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class FakeGlasses:
    """The app's view of one glasses' link session: `identity` and `send(channel, bytes)`."""

    def __init__(self, app: CompanionApp, identity: str = GLASSES) -> None:
        self.app = app
        self.identity = identity
        self.received: list[tuple[int, pb.Message]] = []

    def send(self, channel: int, data: bytes) -> None:  # the app -> the glasses
        self.received.append((channel, decode(data)))

    def deliver(self, channel: int, msg: pb.Message) -> None:  # the glasses -> the app, as the link delivers
        self.app.on_link_event(self, MessageReceived(channel, encode(msg)))  # type: ignore[arg-type]

    def upload(self, transfer_id: int, data: bytes, kind: int) -> None:
        self.deliver(3, pb.Message(request_id=transfer_id, transfer_begin=pb.TransferBegin(
            transfer_id=transfer_id, kind=kind, size=len(data), sha256=hashlib.sha256(data).digest())))  # type: ignore
        for off in range(0, len(data), 16384):
            self.deliver(3, pb.Message(transfer_data=pb.TransferData(transfer_id=transfer_id, offset=off,
                                                                     data=data[off:off + 16384])))

    async def wait(self, predicate: Callable[[pb.Message], bool], what: str, timeout: float = 10.0) -> pb.Message:
        end = time.monotonic() + timeout
        while True:
            for _, m in self.received:
                if predicate(m):
                    return m
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; got "
                                     f"{[m.WhichOneof('body') for _, m in self.received]}")
            await asyncio.sleep(0.01)

    def answer_text(self, request_id: int) -> str:
        return "".join(m.assistant_answer.text for _, m in self.received if m.request_id == request_id
                       and m.WhichOneof("body") == "assistant_answer")

    def result(self, request_id: int) -> Callable[[pb.Message], bool]:
        return lambda m: m.request_id == request_id and m.WhichOneof("body") == "result"


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser()


def opus_packets(pcm: bytes) -> list[bytes]:
    """20 ms Opus packets (VOIP, 24 kbit/s) by opuslib_next directly: the reference encoder."""
    import opuslib_next  # type: ignore[import-untyped]

    enc = opuslib_next.Encoder(16000, 1, opuslib_next.APPLICATION_VOIP)
    enc.bitrate = 24000
    pcm += bytes(-len(pcm) % 640)
    return [enc.encode(pcm[off:off + 640], 320) for off in range(0, len(pcm), 640)]


def wav_bytes(pcm: bytes, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 180, 160)).save(out, "JPEG")
    return out.getvalue()


# ---- spoken questions --------------------------------------------------------------------------------------


def test_spoken_questions_as_wav_and_opus_are_recognised_quoted_and_answered(recogniser: Recogniser) -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.upload(1, wav_bytes(spoken("what am I looking at")), pb.TRANSFER_KIND_AUDIO)
            g.upload(2, jpeg(), pb.TRANSFER_KIND_PHOTO)
            g.deliver(1, pb.Message(request_id=10, assistant_request=pb.AssistantRequest(
                task=pb.ASSISTANT_TASK_ASK, audio_transfer_id=1, photo_transfer_id=2, perception=ONE_HAPPY_FACE)))
            await g.wait(lambda m: m.request_id == 10 and m.assistant_answer.final, "the WAV question's answer")
            text = g.answer_text(10)
            assert text.startswith('You asked: "what am I looking at". One person ahead, looking happy.'), text
            assert "offline" in text.lower() and "64x48 JPEG" in text

            # The same question as Opus (2-byte little-endian length before each packet), asked 40 s ago.
            packets = opus_packets(spoken("how do they feel"))
            body_ = b"".join(struct.pack("<H", len(p)) + p for p in packets)
            g.upload(3, body_, pb.TRANSFER_KIND_AUDIO_OPUS)
            withheld = pb.Perception(faces=[pb.Face(x=0.05, y=0.3, width=0.2, height=0.3, score=0.9),
                                            pb.Face(x=0.75, y=0.3, width=0.2, height=0.3, score=0.8)],
                                     emotions_withheld=True)
            g.deliver(1, pb.Message(request_id=11, assistant_request=pb.AssistantRequest(
                audio_transfer_id=3, perception=withheld, queued_ms=40_000)))
            await g.wait(lambda m: m.request_id == 11 and m.assistant_answer.final, "the Opus question's answer")
            text = g.answer_text(11)
            assert text.startswith('You asked this 40 s ago: "how do they feel".'), text
            assert "Two people: one on your left; one on your right." in text
            assert "emotions stayed on your glasses" in text and "happy" not in text

            assert [(q["request_id"], q["text"], q["source"]) for q in app.questions] == [
                (10, "what am I looking at", "command"), (11, "how do they feel", "command")]
            assert app.questions[1]["duration_s"] == pytest.approx(len(packets) * 0.02, abs=0.01)
            # Where the phone's time went, per request (the bench's "brain" stage).
            assert [(a["request_id"], a["parts"], a["queued_ms"]) for a in app.answers] == [(10, 2, 0),
                                                                                           (11, 2, 40_000)]
            assert all(0 < a["recognise_ms"] <= a["first_part_ms"] <= a["brain_ms"] for a in app.answers)  # type: ignore
        finally:
            await app.close()

    run(body())


def test_reading_without_a_photo_and_bad_recordings_get_a_clear_result(recogniser: Recogniser) -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=20, assistant_request=pb.AssistantRequest(
                task=pb.ASSISTANT_TASK_READ_TEXT, text="what does this sign say", perception=pb.Perception())))
            await g.wait(lambda m: m.request_id == 20 and m.assistant_answer.final, "the reading answer")
            text = g.answer_text(20)
            assert text.startswith("Reading text needs a photo, and none came") and "No one in view." in text

            g.upload(4, b"RIFF not a wav at all", pb.TRANSFER_KIND_AUDIO)
            g.deliver(1, pb.Message(request_id=21, assistant_request=pb.AssistantRequest(audio_transfer_id=4)))
            res = await g.wait(g.result(21), "the Result for a broken WAV")
            assert res.result.code == pb.ERROR_CODE_BAD_REQUEST and "not a WAV" in res.result.message

            # Silence: nothing recognised, said so, and the answer still comes.
            g.upload(5, wav_bytes(bytes(32000)), pb.TRANSFER_KIND_AUDIO)
            g.deliver(1, pb.Message(request_id=22, assistant_request=pb.AssistantRequest(audio_transfer_id=5)))
            await g.wait(lambda m: m.request_id == 22 and m.assistant_answer.final, "the answer to silence")
            assert g.answer_text(22).startswith("I could not make out the question in the recording.")

            # A 22050 Hz WAV is resampled before recognition.
            import numpy as np

            from tests.integration.test_companion_speech import resample_sinc

            pcm16 = np.frombuffer(spoken("describe this"), dtype="<i2").astype(np.float64)
            pcm22 = np.clip(np.round(resample_sinc(pcm16, 16000, 22050)), -32768, 32767).astype("<i2").tobytes()
            g.upload(6, wav_bytes(pcm22, 22050), pb.TRANSFER_KIND_AUDIO)
            g.deliver(1, pb.Message(request_id=23, assistant_request=pb.AssistantRequest(audio_transfer_id=6)))
            await g.wait(lambda m: m.request_id == 23 and m.assistant_answer.final, "the 22 kHz answer")
            assert g.answer_text(23).startswith('You asked: "describe this".')
        finally:
            await app.close()

    run(body())


# ---- live captions ----------------------------------------------------------------------------------------


def test_captions_over_opus_audio_packets_with_a_gap(recogniser: Recogniser) -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=30, caption_control=pb.CaptionControl(
                stream_id=7, start=True, kind=pb.CAPTION_KIND_TRANSCRIPTION, language="en")))
            assert (await g.wait(g.result(30), "start Result")).result.code == pb.ERROR_CODE_OK
            sentences = ["good morning everyone", "the meeting starts at ten tomorrow morning"]
            # Capitals matter: espeak-ng pauses (0.33 s) only before a capitalised sentence.
            pcm = spoken(". ".join(s.capitalize() for s in sentences) + ".", wpm=165)
            lost = 40  # packet 40 (0.8-0.82 s) never arrives: the next one says where it starts
            for i, packet in enumerate(opus_packets(pcm)):
                if i != lost:
                    g.deliver(2, pb.Message(audio_packet=pb.AudioPacket(
                        stream_id=7, first_sample=i * 320, gap_before=i == lost + 1, codec=pb.AUDIO_CODEC_OPUS,
                        sample_rate=16000, frame_samples=320, data=packet)))
                if i % 25 == 0:
                    await asyncio.sleep(0)  # let the worker run as packets trickle in
            g.deliver(2, pb.Message(audio_packet=pb.AudioPacket(stream_id=99, codec=pb.AUDIO_CODEC_OPUS,
                                                                data=b"\x08")))  # no such stream: ignored
            g.deliver(1, pb.Message(request_id=31, caption_control=pb.CaptionControl(stream_id=7, start=False)))
            # The stop waits for the recogniser to finish the queued audio: ~3 s here, ~20 s under qemu-user on a
            # loaded machine (make test-arm64); the bound only keeps a hang from lasting.
            await g.wait(g.result(31), "stop Result", timeout=90)
            captions = [m.caption for _, m in g.received if m.WhichOneof("body") == "caption"]
            finals = [c.text for c in captions if c.final]
            assert all(c.stream_id == 7 and c.kind == pb.CAPTION_KIND_TRANSCRIPTION for c in captions)
            assert len(finals) == 2 and any(not c.final for c in captions), [(c.text, c.final) for c in captions]
            assert wer(" ".join(sentences), " ".join(finals)) <= 0.3, finals
            # The stop's Result comes after the last caption (the final line of what it heard).
            order = [m.WhichOneof("body") for _, m in g.received if m.request_id in (0, 31)]
            assert order[-1] == "result"
            (status,) = app.caption_status()
            assert status["concealed_samples"] == 320 and status["active"] is False
            assert [line["text"] for line in status["lines"] if line["final"]] == finals
            assert app.audio_packets_ignored == 1
        finally:
            await app.close()

    run(body())


def test_translation_needs_the_online_brain_and_bad_controls_are_refused(recogniser: Recogniser) -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=40, caption_control=pb.CaptionControl(
                stream_id=8, start=True, kind=pb.CAPTION_KIND_TRANSLATION, language="de")))
            res = (await g.wait(g.result(40), "translation Result")).result
            assert (res.code, res.message) == (pb.ERROR_CODE_NOT_SUPPORTED, "translation needs the online brain")
            g.deliver(1, pb.Message(request_id=41, caption_control=pb.CaptionControl(stream_id=0, start=True,
                                                                                     kind=1)))  # type: ignore
            assert (await g.wait(g.result(41), "stream 0")).result.code == pb.ERROR_CODE_BAD_REQUEST
            g.deliver(1, pb.Message(request_id=43, caption_control=pb.CaptionControl(
                stream_id=9, start=True, kind=pb.CAPTION_KIND_TRANSCRIPTION, language="fr")))
            res = (await g.wait(g.result(43), "French transcription")).result
            assert res.code == pb.ERROR_CODE_NOT_SUPPORTED and "English only" in res.message
            g.deliver(1, pb.Message(request_id=42, caption_control=pb.CaptionControl(stream_id=9, start=False)))
            res = (await g.wait(g.result(42), "stop of nothing")).result
            assert res.code == pb.ERROR_CODE_OK and "not running" in res.message
        finally:
            await app.close()

    run(body())


# ---- media and prompts ------------------------------------------------------------------------------------


def test_media_commands_are_acted_on_and_recorded() -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore())
        g = FakeGlasses(app)
        try:
            for rid, action in ((50, pb.MEDIA_ACTION_PLAY_PAUSE), (51, pb.MEDIA_ACTION_END_CALL)):
                g.deliver(1, pb.Message(request_id=rid, media_command=pb.MediaCommand(action=action)))
            g.deliver(1, pb.Message(request_id=52, media_command=pb.MediaCommand()))
            ok1, ok2, bad = [(await g.wait(g.result(r), f"Result {r}")).result for r in (50, 51, 52)]
            assert (ok1.code, ok1.message, ok2.message) == (pb.ERROR_CODE_OK, "play_pause", "end_call")
            assert bad.code == pb.ERROR_CODE_BAD_REQUEST and "play_pause" in bad.message
            assert [m["action"] for m in app.media] == ["play_pause", "end_call"]
        finally:
            await app.close()

    run(body())


def test_payment_and_call_prompts_their_outcomes_and_the_timeout() -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore())
        g = FakeGlasses(app)
        try:
            pay = app.notify(g, pb.NOTIFICATION_KIND_PAYMENT, "Wallet", "Cafe Lumen", "Pay 23.50 EUR?",  # type: ignore
                             pb.ICON_PAY, needs_response=True, timeout_ms=5000)
            note = (await g.wait(lambda m: m.WhichOneof("body") == "notification", "the prompt")).notification
            assert (note.notification_id, note.needs_response, note.timeout_ms, note.icon) == (pay, True, 5000,
                                                                                               pb.ICON_PAY)
            call = app.notify(g, pb.NOTIFICATION_KIND_CALL, "Phone", "Ana", "calling", needs_response=True)  # type: ignore
            late = app.notify(g, pb.NOTIFICATION_KIND_PAYMENT, "Wallet", "Kiosk", "4.00 EUR",  # type: ignore
                              needs_response=True, timeout_ms=100)
            plain = app.notify(g, pb.NOTIFICATION_KIND_MESSAGE, "chat", "Ana", "on my way")  # type: ignore

            def respond(rid: int, nid: int, response: int) -> None:
                g.deliver(1, pb.Message(request_id=rid, notification_response=pb.NotificationResponse(
                    notification_id=nid, response=response)))  # type: ignore[arg-type]

            respond(60, pay, pb.RESPONSE_CONFIRM)
            respond(61, call, pb.RESPONSE_DISMISS)
            respond(62, plain, pb.RESPONSE_CONFIRM)
            respond(63, pay, pb.RESPONSE_DISMISS)  # too late to change a payment
            r60, r61, r62, r63 = [(await g.wait(g.result(r), f"Result {r}")).result for r in (60, 61, 62, 63)]
            assert (r60.code, r60.message) == (pb.ERROR_CODE_OK, "paid 23.50 EUR to Cafe Lumen")
            assert r61.message == "declined the call from Ana"
            assert r62.code == pb.ERROR_CODE_BAD_REQUEST and "does not wait" in r62.message
            assert r63.message == "already decided: paid 23.50 EUR to Cafe Lumen"

            await asyncio.sleep(0.8)  # the 100 ms prompt (+0.5 s slack for the link) counts as dismissed
            respond(64, late, pb.RESPONSE_CONFIRM)
            r64 = (await g.wait(g.result(64), "Result 64")).result
            assert r64.message == "already decided: declined (no answer in 0.1 s)"
            assert [(r["notification_id"], r["response"], r["outcome"]) for r in app.responses] == [
                (pay, "confirm", "paid 23.50 EUR to Cafe Lumen"), (call, "dismiss", "declined the call from Ana"),
                (late, "timeout", "declined (no answer in 0.1 s)")]
        finally:
            await app.close()

    run(body())


@pytest.mark.parametrize(("title", "text", "extra", "outcome"), [
    ("Cafe Lumen", "Pay 23.50 EUR?", {}, "paid 23.50 EUR to Cafe Lumen"),
    ("Pay EUR 4.20", "Bakery Sol", {}, "paid EUR 4.20 to Bakery Sol"),
    ("Metro", "ticket", {"amount": "2.90 CNY", "merchant": "Metro Line 2"}, "paid 2.90 CNY to Metro Line 2"),
])
def test_payment_outcome_wording(title: str, text: str, extra: dict[str, Any], outcome: str) -> None:
    assert payment_outcome(title, text, **extra) == outcome


# ---- bounded work per glasses (a bonded peer that misbehaves) ----------------------------------------------------


class CountingBrain(OfflineBrain):
    """The offline brain's answers, slowed and counted; `online` says whether it stands for a paid endpoint."""

    def __init__(self, online: bool, delay_s: float = 0.0) -> None:
        super().__init__()
        self.online = online
        self.delay_s = delay_s
        self.calls = 0

    async def answer(self, question: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        async for part in super().answer(question):
            yield part


def test_a_flood_of_questions_gets_busy_beyond_the_bound_and_the_rest_are_answered() -> None:
    from glassbridge_companion.app import MAX_QUESTIONS

    async def body() -> None:
        brain = CountingBrain(online=False, delay_s=0.3)
        app = CompanionApp(brain, TransferStore())
        g = FakeGlasses(app)
        other = FakeGlasses(app, "C1:C2:C3:C4:C5:C6")  # another bonded glasses is not held up by the flood
        try:
            for rid in range(1, 301):
                g.deliver(1, pb.Message(request_id=rid, assistant_request=pb.AssistantRequest(text="hi")))
            other.deliver(1, pb.Message(request_id=7, assistant_request=pb.AssistantRequest(text="hi")))
            busy = [m.request_id for _, m in g.received if m.WhichOneof("body") == "result"
                    and m.result.code == pb.ERROR_CODE_BUSY]
            assert busy == list(range(MAX_QUESTIONS + 1, 301))  # at once, in order, none lost without an answer
            for rid in range(1, MAX_QUESTIONS + 1):
                await g.wait(lambda m, rid=rid: m.request_id == rid and m.assistant_answer.final, f"answer {rid}")
            await other.wait(lambda m: m.request_id == 7 and m.assistant_answer.final, "the other glasses' answer")
            assert brain.calls == MAX_QUESTIONS + 1 and app.busy_refusals == 300 - MAX_QUESTIONS
            # Once answered, the glasses may ask again.
            g.deliver(1, pb.Message(request_id=400, assistant_request=pb.AssistantRequest(text="again")))
            await g.wait(lambda m: m.request_id == 400 and m.assistant_answer.final, "a later question")
        finally:
            await app.close()

    run(body())


def test_fifty_caption_starts_leave_one_stream_running(recogniser: Recogniser) -> None:
    async def body() -> None:
        app = CompanionApp(OfflineBrain(), TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            for sid in range(1, 51):
                g.deliver(1, pb.Message(request_id=sid, caption_control=pb.CaptionControl(
                    stream_id=sid, start=True, kind=pb.CAPTION_KIND_TRANSCRIPTION, language="en")))
            for sid in range(1, 51):
                assert (await g.wait(g.result(sid), f"start {sid}")).result.code == pb.ERROR_CODE_OK
            running = [s for s in app.caption_status() if s["active"]]
            assert [s["stream_id"] for s in running] == [50], running
            assert len(app.caption_status()) <= 16 + 1  # ended streams: the last 16 summaries, no more
        finally:
            await app.close()

    run(body())


@pytest.mark.parametrize("online", [True, False])
def test_a_paid_brain_answers_only_a_session_whose_bond_stands(online: bool) -> None:
    async def body() -> None:
        brain = CountingBrain(online=online)
        app = CompanionApp(brain, TransferStore(), authorized=lambda session: False)  # the bond is gone
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=9, assistant_request=pb.AssistantRequest(text="hi")))
            if online:
                res = (await g.wait(g.result(9), "the refusal")).result
                assert res.code == pb.ERROR_CODE_NOT_SUPPORTED and "not bonded" in res.message
                assert brain.calls == 0 and app.unauthorized == 1
            else:  # the offline brain costs nothing and reveals nothing the glasses did not send
                await g.wait(lambda m: m.request_id == 9 and m.assistant_answer.final, "the offline answer")
                assert brain.calls == 1
        finally:
            await app.close()

    run(body())
