"""`OpenAIBrain`: answers through any OpenAI-compatible chat-completions endpoint with image input.

Qwen-VL through DashScope's compatible mode (base URL https://dashscope.aliyuncs.com/compatible-mode/v1, key in
DASHSCOPE_API_KEY), OpenAI itself, or a local server (llama.cpp's llama-server, vLLM, Ollama's /v1) all speak the
subset used here: `POST {base_url}/chat/completions` with

    {"model": M, "stream": true, "messages": [
        {"role": "system", "content": <how to answer on glasses>},
        {"role": "user", "content": [{"type": "text", "text": <question + the glasses' perception>},
                                     {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}}]}]}

and Server-Sent Events of `chat.completion.chunk`s back. The deltas are gathered into `AnswerPart`s at sentence
ends (or every ~120 characters), so the glasses get a few link messages, not one per token.

Failures are answers too: a timeout, a refused connection or an HTTP error becomes a final part the wearer can
hear ("the assistant at https://... did not answer in 8 s"), never an exception on the link. The API key comes
from the environment variable named by `api_key_env` and appears in no log, status or error text.

Uses the `openai` package (PyPI, AsyncOpenAI) with `max_retries=0`: the glasses wait with their own deadline, and a
retry inside it would only make the wearer wait twice as long for the same failure.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from glassbridge_companion.brain import (
    AnswerPart,
    CaptionLine,
    Question,
    _emotion_note,
    describe_perception,
    preamble,
)
from glassbridge.protocol.messages import pb

__all__ = ["OpenAIBrain", "DEFAULT_MODEL", "SYSTEM_PROMPT"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "qwen-vl-plus"
SYSTEM_PROMPT = (
    "You are the assistant of a pair of smart glasses. The wearer asked a question, usually about the photo their "
    "glasses just took of what they are looking at. Your answer is shown on a small display and read aloud: "
    "answer in one to three short sentences, plain text, no lists or markdown. Say so when you cannot tell. "
    "The glasses' own perception results are given; trust them for faces and where people are. Never guess a "
    "person's emotions when the wearer's glasses did not share them."
)
_TASK_WORDS: dict[int, str] = {
    pb.ASSISTANT_TASK_DESCRIBE: "Describe the scene in the photo.",
    pb.ASSISTANT_TASK_READ_TEXT: "Read the sign or text in the photo aloud, word for word.",
    pb.ASSISTANT_TASK_TRANSLATE: "Translate the text (typed, spoken or in the photo).",
    pb.ASSISTANT_TASK_TRANSCRIBE: "Give the words of the recorded question, nothing more.",
}
_PART_CHARS = 120  # a part at a sentence end, or at this many characters if a sentence runs on


class OpenAIBrain:
    """See the module docstring. `timeout_s` bounds the wait for the first token and each later read."""

    def __init__(self, base_url: str, model: str = DEFAULT_MODEL, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 8.0, max_tokens: int = 300) -> None:
        try:
            from openai import AsyncOpenAI
        except ImportError as exc:
            raise RuntimeError("the openai brain needs the openai package: pip install 'openai>=1.40'") from exc
        key = os.environ.get(api_key_env)
        if not key:
            raise ValueError(f"--api-key-env {api_key_env}: that environment variable is empty or not set; export "
                             f"the key in it (a local server without keys accepts any value, e.g. "
                             f"{api_key_env}=none)")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"--base-url {base_url!r}: expected an http:// or https:// URL such as "
                             "https://dashscope.aliyuncs.com/compatible-mode/v1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.name = f"openai:{model}"[:31]
        self.online = True
        self.capabilities = (pb.CAPABILITY_ASSISTANT | pb.CAPABILITY_TRANSCRIPTION | pb.CAPABILITY_TRANSLATION
                             | pb.CAPABILITY_ONLINE)
        self.api_key_env = api_key_env
        self._client: Any = AsyncOpenAI(base_url=self.base_url, api_key=key, timeout=timeout_s, max_retries=0)

    # ---- answers --------------------------------------------------------------------------------------------

    def messages(self, question: Question) -> list[dict[str, Any]]:
        """The chat messages for a question (public so tests and logs can show what is sent, minus the key)."""
        lines: list[str] = []
        if question.task in _TASK_WORDS:
            lines.append(_TASK_WORDS[question.task])
        if question.text:
            lines.append(f"The wearer {'said' if question.spoken else 'asked'}: {question.text}")
        elif question.spoken:
            lines.append("The wearer's spoken question could not be recognised; answer about the photo.")
        if question.language:
            lines.append(f"Answer in the language {question.language}.")
        p = question.perception
        if p is not None:
            seen = describe_perception(p)
            lines.append(f"The glasses' perception ({p.image_width}x{p.image_height} photo): {seen}")
            note = _emotion_note(question, p)
            if note:
                lines.append(f"(Tell the wearer: {note})")
        if question.queued_ms >= 1000:
            lines.append(f"The question was asked {question.queued_ms / 1000:.0f} s ago while the phone was out of "
                         "reach.")
        content: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(lines) or "What am I looking at?"}]
        if question.photo is not None:
            url = "data:image/jpeg;base64," + base64.b64encode(question.photo).decode("ascii")
            content.append({"type": "image_url", "image_url": {"url": url}})
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]

    async def answer(self, question: Question) -> AsyncIterator[AnswerPart]:
        opening = preamble(question)
        if opening:
            yield AnswerPart(opening + " ", final=False, source=self.name, offline=False)
        buffer, said = "", False
        try:
            async for delta in self._stream(self.messages(question)):
                buffer += delta
                cut = _cut(buffer)
                if cut:
                    yield AnswerPart(buffer[:cut], final=False, source=self.name, offline=False)
                    buffer, said = buffer[cut:], True
        except _Failure as exc:
            if said or buffer.strip():
                text = f"{buffer.rstrip()} (The answer was cut: {exc}.)"
            else:
                text = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
            yield AnswerPart(text, final=True, source=self.name, offline=False)
            return
        if not said and not buffer.strip():
            buffer = f"The assistant at {self.base_url} sent an empty answer."
        yield AnswerPart(buffer, final=True, source=self.name, offline=False)

    async def _stream(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        """The answer's text deltas; _Failure (a sentence for the wearer) on any error."""
        import openai

        started = time.monotonic()
        try:
            stream = await asyncio.wait_for(self._client.chat.completions.create(
                model=self.model, messages=messages, stream=True, max_tokens=self.max_tokens), self.timeout_s)
            iterator = stream.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), self.timeout_s)
                except StopAsyncIteration:
                    return
                for choice in getattr(chunk, "choices", None) or []:
                    text = getattr(choice.delta, "content", None)
                    if text:
                        yield text
        except (asyncio.TimeoutError, openai.APITimeoutError) as exc:
            waited = time.monotonic() - started
            log.warning("%s: no answer after %.1f s", self.base_url, waited)
            raise _Failure(f"the assistant at {self.base_url} did not answer in {self.timeout_s:g} s") from exc
        except openai.APIStatusError as exc:
            raise _Failure(self._status_text(exc)) from exc
        except openai.APIConnectionError as exc:
            raise _Failure(f"the assistant at {self.base_url} could not be reached ({_cause(exc)})") from exc
        except openai.OpenAIError as exc:  # a malformed stream, an unexpected body: still an answer
            raise _Failure(f"the assistant at {self.base_url} sent something unreadable ({type(exc).__name__})") \
                from exc

    def _status_text(self, exc: Any) -> str:
        code = int(getattr(exc, "status_code", 0))
        if code in (401, 403):
            why = f"refused the key in ${self.api_key_env}"
        elif code == 404:
            why = f"does not know the model {self.model!r} or the path (is the base URL right?)"
        elif code == 429:
            why = "is rate limiting us; try again in a moment"
        else:
            why = "failed"
        return f"the assistant at {self.base_url} answered HTTP {code}: it {why}"

    # ---- captions -------------------------------------------------------------------------------------------

    async def translate(self, text: str, target: str, source: str = "") -> str:
        """One caption line into `target` through the same endpoint (not streamed: lines are short)."""
        import openai

        src = f" from {source}" if source else ""
        messages = [{"role": "system", "content": f"Translate the user's text{src} into the language {target}. "
                                                  "Reply with the translation only."},
                    {"role": "user", "content": text}]
        try:
            reply = await asyncio.wait_for(self._client.chat.completions.create(
                model=self.model, messages=messages, stream=False, max_tokens=200), self.timeout_s)
        except (asyncio.TimeoutError, openai.APITimeoutError) as exc:
            raise RuntimeError(f"the assistant at {self.base_url} did not translate in {self.timeout_s:g} s") \
                from exc
        except openai.APIStatusError as exc:
            raise RuntimeError(self._status_text(exc)) from exc
        except openai.OpenAIError as exc:
            raise RuntimeError(f"the assistant at {self.base_url} could not be reached ({_cause(exc)})") from exc
        content = reply.choices[0].message.content if reply.choices else None
        return str(content or "").strip()

    def hear(self, stream_id: int, sample_rate: int, first_sample: int, pcm: bytes) -> list[CaptionLine]:
        """Raw mic_audio frames are not transcribed by this brain (captions run on AudioPacket streams)."""
        return []

    async def close(self) -> None:
        await self._client.close()


class _Failure(Exception):
    """A failure of the endpoint, worded for the wearer."""


def _cut(text: str) -> int:
    """Where to end a part: after the last sentence end, or at a space past _PART_CHARS; 0 = not yet."""
    end = max(text.rfind(". "), text.rfind("? "), text.rfind("! "))
    if end >= 0:
        return end + 2
    if len(text) > _PART_CHARS:
        space = text.rfind(" ")
        return space + 1 if space > 0 else len(text)
    return 0


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    text = str(inner or exc) or type(inner or exc).__name__
    return text[:80]
