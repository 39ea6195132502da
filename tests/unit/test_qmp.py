"""The QMP client against a scripted stand-in for QEMU's monitor (the real QEMU is in tests/integration)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from glassbridge_rig.qmp import QmpError, qmp_command


async def _serve(path: Path, first_lines: list[dict[str, object]]) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for line in first_lines:
            writer.write(json.dumps(line).encode() + b"\n")
        while (request := await reader.readline()):
            command = json.loads(request)["execute"]
            writer.write(json.dumps({"event": "RESET"}).encode() + b"\n")  # events may come between answers
            writer.write(json.dumps({"return": {"ran": command}}).encode() + b"\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path))


GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}, "capabilities": []}}


def test_an_event_left_from_an_earlier_connection_before_the_greeting_is_skipped(tmp_path: Path) -> None:
    async def body() -> object:
        server = await _serve(tmp_path / "qmp.sock", [{"event": "RESUME"}, GREETING])
        async with server:
            return await qmp_command(tmp_path / "qmp.sock", "system_reset")

    assert asyncio.run(body()) == {"ran": "system_reset"}


def test_something_that_is_not_qmp_is_refused(tmp_path: Path) -> None:
    async def body() -> object:
        server = await _serve(tmp_path / "qmp.sock", [{"hello": "not qemu"}])
        async with server:
            return await qmp_command(tmp_path / "qmp.sock", "system_reset", timeout=2)

    with pytest.raises(QmpError, match="did not greet like QMP"):
        asyncio.run(body())
