"""A minimal QMP client: enough to reset an emulated MCU (`system_reset`) or ask QEMU to quit.

QEMU is started with `-qmp unix:QMP,server=on,wait=off`. The protocol is JSON lines: QEMU greets, the client
sends `qmp_capabilities` to leave negotiation mode, then commands; replies carry "return" or "error", and
asynchronous "event" lines (RESET, STOP, ...) may arrive in between and are skipped here.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any


class QmpError(RuntimeError):
    """QEMU refused a command or could not be reached."""


async def qmp_command(path: str | os.PathLike[str], command: str, arguments: dict[str, Any] | None = None,
                      *, timeout: float = 5.0) -> Any:
    """Run one QMP command on a fresh connection and return its "return" value."""
    try:
        return await asyncio.wait_for(_run(os.fspath(path), command, arguments), timeout)
    except asyncio.TimeoutError:
        raise QmpError(f"QEMU did not answer {command!r} on {path} within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise QmpError(f"QMP {command!r} on {path} failed: {exc}") from exc


async def _run(path: str, command: str, arguments: dict[str, Any] | None) -> Any:
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        greeting = await _next(reader, path)
        # An event of the previous connection (RESUME after a system_reset) can still sit in the monitor's
        # output buffer and come out on this one before the greeting (seen in CI): skip events, nothing else.
        for _ in range(16):
            if "event" not in greeting:
                break
            greeting = await _next(reader, path)
        if "QMP" not in greeting:
            raise QmpError(f"{path} did not greet like QMP: {greeting!r}")
        await _execute(reader, writer, path, "qmp_capabilities", None)
        return await _execute(reader, writer, path, command, arguments)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # QEMU may close first (after "quit")


async def _execute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, command: str,
                   arguments: dict[str, Any] | None) -> Any:
    request: dict[str, Any] = {"execute": command}
    if arguments:
        request["arguments"] = arguments
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    while True:
        reply = await _next(reader, path)
        if "return" in reply:
            return reply["return"]
        if "error" in reply:
            err = reply["error"]
            raise QmpError(f"QEMU refused {command!r}: {err.get('class', '?')}: {err.get('desc', err)}")
        # an "event" line: not the answer, keep reading


async def _next(reader: asyncio.StreamReader, path: str) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise QmpError(f"QEMU closed the QMP socket {path}")
    value = json.loads(line)
    if not isinstance(value, dict):
        raise QmpError(f"unexpected QMP line from {path}: {line!r}")
    return value
