"""The companion's control socket: one JSON object per line each way, on a unix stream socket (COMMON.md).

    {"cmd":"status"}                                          -> {"ok":true, "identity":..., "connections":[...], ...}
    {"cmd":"confirm","policy":"auto|refuse"}                  numeric comparison answer from now on
    {"cmd":"fail-writes","count":N,"error":14}                the next N uplink writes fail with that ATT error
    {"cmd":"disconnect"}                                      drop every connection
    {"cmd":"notify","kind":"MESSAGE","app":..,"title":..,"text":..}   a Notification to the connected glasses
        kinds MESSAGE, CALL, NAVIGATION, PAYMENT, OTHER; "icon":"arrow_left" (any Icon name, any case);
        "needs_response":true + "timeout_ms":N (0 = 30 s): a prompt the wearer confirms or dismisses; payments
        may add "amount":"23.50 EUR","merchant":"Cafe Lumen" (else found in the title/text)
    {"cmd":"brain"}                                           {"name":..,"online":..} (and base_url, model)
    {"cmd":"answer-delay","ms":N}                             the brain answers N ms later (timeouts, races)

status also lists "media" (MediaCommands acted on), "responses" (prompt outcomes, timeouts included),
"captions" (streams with their lines sent), "questions" (recorded questions and what was recognised) and
"answers" (per request: brain_ms from arrival to the final part queued, first_part_ms, recognise_ms, parts,
ocr_ms: the offline reading's share of first_part_ms, null when none ran).

Every answer has "ok"; a failure is {"ok":false,"error":"what went wrong and what to do"}. Used by the rig and
the tests; a person can use it with `socat - UNIX-CONNECT:PATH`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

__all__ = ["CtlServer", "ctl_request"]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_LINE_LIMIT = 1 << 16


class CtlServer:
    def __init__(self, path: str | Path, handler: Handler) -> None:
        self.path = Path(path)
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()  # a socket left by an earlier run that was killed
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=_LINE_LIMIT)
        os.chmod(self.path, 0o600)  # the socket can pair, disconnect and inject faults: owner only

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._write(writer, {"ok": False, "error": f"request line longer than {_LINE_LIMIT} bytes"})
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                await self._write(writer, await self.answer(line))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return {"ok": False, "error": f"not a JSON object: {exc}; send one object per line, e.g. "
                                          '{"cmd":"status"}'}
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": 'expected a JSON object with a "cmd" string, e.g. {"cmd":"status"}'}
        try:
            return await self._handler(request)
        except (ValueError, TypeError, KeyError) as exc:
            return {"ok": False, "error": f"{request['cmd']}: {exc}"}
        except Exception as exc:  # a bug: say so, keep the socket and the companion alive
            log.exception("ctl %s failed", request.get("cmd"))
            return {"ok": False, "error": f"{request['cmd']}: internal error {type(exc).__name__}: {exc}"}

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()


async def ctl_request(path: str | Path, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """One request/answer on a companion's control socket (for tools and tests)."""
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        answer: dict[str, Any] = json.loads(line)
        return answer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
