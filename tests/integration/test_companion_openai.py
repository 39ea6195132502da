"""OpenAIBrain (glassbridge_companion.brain_openai) against a local OpenAI-compatible server (openai_stub.py).

The stub records every request, so the tests check the request's shape as the API documents it (path, bearer
key, model, stream flag, the image as a data URL that decodes back to the JPEG the glasses sent) and the answers
as the glasses receive them through CompanionApp (streamed parts, failures worded for the wearer).
"""

from __future__ import annotations

import base64
import logging
import socket
from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("pocketsphinx")

from glassbridge_companion.app import CompanionApp  # noqa: E402
from glassbridge_companion.brain import Question  # noqa: E402
from glassbridge_companion.brain_openai import OpenAIBrain  # noqa: E402
from glassbridge_companion.speech import Recogniser  # noqa: E402
from glassbridge_companion.transfers import TransferStore  # noqa: E402
from glassbridge.protocol.messages import pb  # noqa: E402
from tests.integration.openai_stub import OpenAIStub, Reply  # noqa: E402
from tests.integration.test_companion_assistant import (  # noqa: E402
    ONE_HAPPY_FACE,
    FakeGlasses,
    jpeg,
    opus_packets,
    run,
    wav_bytes,
)
from tests.integration.test_companion_speech import spoken  # noqa: E402

KEY_ENV, KEY = "GLASSBRIDGE_TEST_KEY", "sk-test-5f3a9c"
ANSWER = "One person is ahead of you. They are smiling and look happy. The room behind them is bright."


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser()


def brain(stub: OpenAIStub, **kw: Any) -> OpenAIBrain:
    return OpenAIBrain(stub.base_url, "qwen-vl-test", api_key_env=KEY_ENV, **kw)


def test_a_photo_question_is_sent_in_the_documented_shape_and_streamed_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    photo = jpeg()

    async def body(stub: OpenAIStub) -> FakeGlasses:
        b = brain(stub)
        app = CompanionApp(b, TransferStore())
        g = FakeGlasses(app)
        try:
            g.upload(1, photo, pb.TRANSFER_KIND_PHOTO)
            g.deliver(1, pb.Message(request_id=5, assistant_request=pb.AssistantRequest(
                task=pb.ASSISTANT_TASK_ASK, text="how do they feel?", photo_transfer_id=1,
                perception=ONE_HAPPY_FACE, language="en")))
            await g.wait(lambda m: m.request_id == 5 and m.assistant_answer.final, "the streamed answer")
        finally:
            await app.close()
            await b.close()
        return g

    with OpenAIStub([Reply(ANSWER)]) as stub:
        g = run(body(stub))
        (req,) = stub.requests
    parts = [m.assistant_answer for _, m in g.received if m.request_id == 5]
    assert "".join(p.text for p in parts) == ANSWER
    assert len(parts) >= 3 and [p.final for p in parts] == [False] * (len(parts) - 1) + [True]  # sentence by sentence
    assert all(p.source == "openai:qwen-vl-test" and not p.offline for p in parts)

    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body["model"] == "qwen-vl-test" and req.body["stream"] is True
    system, user = req.body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    text_part, image_part = user["content"]
    assert text_part["type"] == "text" and "how do they feel?" in text_part["text"]
    assert "One person ahead, looking happy." in text_part["text"] and "language en" in text_part["text"]
    assert image_part["type"] == "image_url"
    prefix, _, data = image_part["image_url"]["url"].partition(",")
    assert prefix == "data:image/jpeg;base64" and base64.b64decode(data) == photo
    assert KEY not in caplog.text  # the key is never logged


def test_a_spoken_question_is_recognised_then_quoted_before_the_model_answers(recogniser: Recogniser) -> None:
    async def body(stub: OpenAIStub) -> str:
        b = brain(stub)
        app = CompanionApp(b, TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.upload(2, wav_bytes(spoken("what does this sign say")), pb.TRANSFER_KIND_AUDIO)
            g.upload(3, jpeg(), pb.TRANSFER_KIND_PHOTO)
            g.deliver(1, pb.Message(request_id=6, assistant_request=pb.AssistantRequest(
                task=pb.ASSISTANT_TASK_READ_TEXT, audio_transfer_id=2, photo_transfer_id=3, queued_ms=12_000)))
            await g.wait(lambda m: m.request_id == 6 and m.assistant_answer.final, "the answer")
            return g.answer_text(6)
        finally:
            await app.close()
            await b.close()

    with OpenAIStub([Reply("The sign says: Platform 2.")]) as stub:
        text = run(body(stub))
        user_text = stub.requests[0].body["messages"][1]["content"][0]["text"]
    assert text == 'You asked this 12 s ago: "what does this sign say". The sign says: Platform 2.'
    assert "The wearer said: what does this sign say" in user_text and "word for word" in user_text


@pytest.mark.parametrize(("reply", "timeout_s", "expected"), [
    (Reply("late", delay_s=3.0), 0.5, "The assistant at {url} did not answer in 0.5 s."),
    (Reply(status=500), 2.0, "The assistant at {url} answered HTTP 500: it failed."),
    (Reply(status=401), 2.0, f"The assistant at {{url}} answered HTTP 401: it refused the key in ${KEY_ENV}."),
    (Reply("one two three four five six", stall_after=2, delay_s=3.0), 0.5,
     "one two three four (The answer was cut: the assistant at {url} did not answer in 0.5 s.)"),
])
def test_failures_become_an_answer_the_wearer_can_hear(reply: Reply, timeout_s: float, expected: str) -> None:
    async def body(stub: OpenAIStub) -> list[pb.AssistantAnswer]:
        b = brain(stub, timeout_s=timeout_s)
        app = CompanionApp(b, TransferStore())
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=7, assistant_request=pb.AssistantRequest(text="hello?")))
            await g.wait(lambda m: m.request_id == 7 and m.assistant_answer.final, "an answer", timeout=5)
            return [m.assistant_answer for _, m in g.received if m.request_id == 7]
        finally:
            await app.close()
            await b.close()

    with OpenAIStub([reply]) as stub:
        parts = run(body(stub))
        url = stub.base_url
    assert "".join(p.text for p in parts) == expected.format(url=url) and parts[-1].final
    assert KEY not in "".join(p.text for p in parts)


def test_an_unreachable_endpoint_is_an_answer_too() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"

    async def body() -> list[str]:
        b = OpenAIBrain(url, "m", api_key_env=KEY_ENV, timeout_s=2.0)
        try:
            return [p.text async for p in b.answer(Question(pb.ASSISTANT_TASK_ASK, "hi"))]
        finally:
            await b.close()

    (text,) = run(body())
    assert text.startswith(f"The assistant at {url} could not be reached")


def test_captions_are_translated_through_the_same_endpoint(recogniser: Recogniser) -> None:
    async def body(stub: OpenAIStub) -> list[pb.Caption]:
        b = brain(stub)
        app = CompanionApp(b, TransferStore(), recogniser=recogniser)
        g = FakeGlasses(app)
        try:
            g.deliver(1, pb.Message(request_id=8, caption_control=pb.CaptionControl(
                stream_id=3, start=True, kind=pb.CAPTION_KIND_TRANSLATION, language="de", source_language="en")))
            assert (await g.wait(g.result(8), "start")).result.code == pb.ERROR_CODE_OK
            for i, packet in enumerate(opus_packets(spoken("Good morning everyone."))):
                g.deliver(2, pb.Message(audio_packet=pb.AudioPacket(stream_id=3, first_sample=i * 320,
                                                                    codec=pb.AUDIO_CODEC_OPUS, data=packet)))
            g.deliver(1, pb.Message(request_id=9, caption_control=pb.CaptionControl(stream_id=3, start=False)))
            await g.wait(g.result(9), "stop", timeout=15)
            return [m.caption for _, m in g.received if m.WhichOneof("body") == "caption"]
        finally:
            await app.close()
            await b.close()

    with OpenAIStub([Reply("Guten Morgen zusammen.")]) as stub:
        captions = run(body(stub))
        requests = stub.requests
    # Translation sends finals only: one line, translated, in the target language.
    assert [(c.text, c.final, c.kind, c.language) for c in captions] == [
        ("Guten Morgen zusammen.", True, pb.CAPTION_KIND_TRANSLATION, "de")]
    (req,) = requests
    assert req.body["stream"] is False and "from en into the language de" in req.body["messages"][0]["content"]
    assert req.body["messages"][1]["content"] == "good morning everyone"  # what pocketsphinx heard


def test_configuration_errors_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match=f"--api-key-env {KEY_ENV}: that environment variable is empty"):
        OpenAIBrain("http://127.0.0.1:1/v1", "m", api_key_env=KEY_ENV)
    monkeypatch.setenv(KEY_ENV, KEY)
    with pytest.raises(ValueError, match="--base-url 'localhost:8080'"):
        OpenAIBrain("localhost:8080", "m", api_key_env=KEY_ENV)

    async def caps() -> int:
        b = OpenAIBrain("http://127.0.0.1:1/v1", "m", api_key_env=KEY_ENV)
        await b.close()
        return b.capabilities

    assert run(caps()) & pb.CAPABILITY_TRANSLATION and run(caps()) & pb.CAPABILITY_ONLINE


def test_command_line_refuses_an_incomplete_openai_brain(capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.cli.main import main

    assert main(["companion", "--transport", "unix:/nonexistent", "--brain", "openai", "--model", "m"]) == 1
    err = capsys.readouterr().err
    assert "--brain openai needs --base-url URL and --model NAME" in err and "Traceback" not in err
