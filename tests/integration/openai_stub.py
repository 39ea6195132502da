"""A local HTTP server speaking the subset of the OpenAI chat-completions API the companion's OpenAIBrain uses.

    with OpenAIStub([Reply("One person ahead. They look happy.")]) as stub:
        brain = OpenAIBrain(stub.base_url, "test-model", api_key_env="STUB_KEY")
        ...
        stub.requests[0].body["stream"]          # what the client sent: path, headers, the JSON body

`POST /v1/chat/completions` answers from the script (one `Reply` per request, in order; the last one repeats):
with `"stream": true` as Server-Sent Events of `chat.completion.chunk` objects ending in `data: [DONE]`, else one
`chat.completion` object. A reply can wait (`delay_s`, for timeouts), fail (`status`, with an OpenAI-style error
body) or stall mid-stream (`stall_after` chunks, then `delay_s`). Any other path is 404.

Written from the API's documented wire format with the standard library only (http.server in a thread), so the
`openai` client under test is checked against bytes it did not produce.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAIStub", "Recorded", "Reply"]


@dataclass(frozen=True)
class Reply:
    text: str = "I see a test pattern."
    status: int = 200
    delay_s: float = 0.0  # before answering (or, with stall_after, before the rest of the stream)
    stall_after: int | None = None  # stream this many chunks, then wait delay_s
    words_per_chunk: int = 2


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    script: list[Reply]
    requests: list[Recorded] = field(default_factory=list)
    served: int = 0
    closing: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OpenAIStub:
    def __init__(self, script: list[Reply] | None = None) -> None:
        self.state = _State(list(script or [Reply()]))
        state = self.state

        class Handler(_Handler):
            shared = state

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.closing.set()  # ends any delay at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    shared: _State
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not access logs
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw)
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        with self.shared.lock:
            self.shared.requests.append(Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                                 body))
            script = self.shared.script
            reply = script[min(self.shared.served, len(script) - 1)]
            self.shared.served += 1
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        if reply.stall_after is None and reply.delay_s and self.shared.closing.wait(reply.delay_s):
            return
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": f"scripted HTTP {reply.status}", "type": "api_error",
                                                "code": str(reply.status)}})
            return
        model = body.get("model", "") if isinstance(body, dict) else ""
        if isinstance(body, dict) and body.get("stream"):
            self._stream(reply, model)
        else:
            self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                             "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                 "role": "assistant", "content": reply.text}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: Reply, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        words = reply.text.split(" ")
        pieces = [" ".join(words[i:i + reply.words_per_chunk]) + (" " if i + reply.words_per_chunk < len(words)
                                                                    else "")
                  for i in range(0, len(words), reply.words_per_chunk)]
        try:
            for n, piece in enumerate(pieces):
                if reply.stall_after is not None and n == reply.stall_after:
                    if self.shared.closing.wait(reply.delay_s):
                        return
                delta: dict[str, str] = {"content": piece}
                if n == 0:
                    delta["role"] = "assistant"
                self._event({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            self._event({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to tell it
        self.close_connection = True

    def _event(self, obj: Any) -> None:
        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.flush()
