"""End-to-end tests: glassbridge's Mcu client <-> link emulator <-> the real firmware (host port or QEMU).

Each test starts its own firmware (a few tens of milliseconds for the host port, ~0.1 s for QEMU) in a private
temporary folder, so tests cannot leak state into each other. The firmware is built by `make firmware` before
pytest runs (the runner also builds it when missing, which takes longer).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 90.0) -> T:
    """Runs one test body with a hard ceiling, so a hang fails with a traceback instead of stalling CI."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def ctl_status(fw: Any) -> dict[str, Any]:
    """The host firmware's own view of itself, read over its control socket: independent of the UART link."""
    return json.loads(await fw.control("status"))


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def need_qemu() -> None:
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed (scripts/system-packages.sh firmware)")


def card_reference() -> Any:
    """tests/firmware/card_reference.py: the card layout re-implemented in Python from card.h's rules (the
    independent reference a display dump of the real firmware is compared with)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "firmware" / "card_reference.py"
    spec = importlib.util.spec_from_file_location("card_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
