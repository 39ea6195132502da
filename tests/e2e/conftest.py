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


def pair_on_the_command_line(argv: list[str], companion_ctl: Callable[[dict[str, Any]], dict[str, Any]], *,
                             env: dict[str, str], cwd: Any = None, timeout: float = 60.0,
                             python: str | None = None) -> tuple[int, str, str]:
    """Runs `glassbridge phone pair ...` (argv after the interpreter) as a person at its terminal prompt: reads the
    six digits it shows, types them into the phone's prompt (the companion's ctl, which accepts only its own
    digits: sim.person.confirm_on_phone) and answers the glasses' prompt "y" only when the phone took them.
    `python`: the interpreter (default: this one; the glasses' wheel venv's in test_glasses_wheel.py).
    Returns (exit status, stdout, stderr)."""
    import re
    import subprocess
    import sys

    from glassbridge_rig.person import PhoneMismatch, confirm_on_phone

    proc = subprocess.Popen([python or sys.executable, *argv], cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stderr is not None and proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stderr:  # the prompt: "Pair with NAME? Check that the phone shows 123456."
            seen.append(line)
            found = re.search(r"phone shows (\d{6})", line)
            if found:
                try:
                    asyncio.run(confirm_on_phone(companion_ctl, int(found.group(1))))
                    answer = "y\n"
                except PhoneMismatch:
                    answer = "n\n"
                proc.stdin.write(answer)
                proc.stdin.flush()
                break
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, "".join(seen) + err


@pytest.fixture(scope="session")
def glasses_wheel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The glasses' package as a dev kit gets it: a wheel built from this checkout (its own CMake build folder,
    build/wheel-<tag>, so the editable build is left alone) and installed with its dependencies from the package
    index into a fresh venv that has neither the companion, the rig, bumble nor pocketsphinx.

    Returns (wheel path, venv folder). Building takes ~30 s cold, installing ~20 s from pip's cache."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path_factory.mktemp("glasses-wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out / "dist"), "-C", f"build-dir={root}/build/wheel-{{wheel_tag}}"],
                   check=True, timeout=900)
    (wheel,) = (out / "dist").glob("glassbridge-*.whl")
    venv = out / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, timeout=900)
    return wheel, venv
