"""The glasses' package on its own, as a dev kit installs it: a wheel of python/glassbridge in a fresh venv with
its dependencies from the package index, and none of the phone's or the rig's software (no bumble, pocketsphinx,
openai, glassbridge-companion or glassbridge-rig). From that venv `glassbridge see`, `mcu status` and `run` work
(the rig, driven from this test's own interpreter, stands in for the hardware), and the CLI offers no command of
the parts that are not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from tests.e2e.conftest import run
from tests.e2e.test_assistant_rig import drive_glassbridge_run

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    """A plain environment: no PYTHONPATH (nothing of the checkout leaks in), no VIRTUAL_ENV of the dev venv."""
    keep = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**keep, "COLUMNS": "200", **extra}


def _cli(venv: Path, *argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "glassbridge"), *argv], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=120)


def test_the_wheel_holds_the_glasses_package_only(glasses_wheel: Any) -> None:
    wheel, _ = glasses_wheel
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"glassbridge", "glassbridge-0.1.0.dist-info"}, tops
    assert not any(n.startswith(("glassbridge/sim/", "glassbridge/companion/")) for n in names)
    # The native code by area: the link engine under protocol, the image kernels under vision; test-only bindings
    # (the codec round trip) are built for the tests and left out.
    assert any(n.startswith("glassbridge/protocol/_link.") and n.endswith(".so") for n in names), names
    assert any(n.startswith("glassbridge/vision/_kernels.") and n.endswith(".so") for n in names), names
    assert not any("testing" in n for n in names), [n for n in names if "testing" in n]
    assert "glassbridge/models/MANIFEST.toml" in names and "glassbridge/py.typed" in names
    metadata = next(n for n in names if n.endswith("dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any(name in line.lower() for line in requires for name in ("bumble", "pocketsphinx", "openai")), requires


def test_the_venv_has_no_phone_or_rig_software(glasses_wheel: Any, tmp_path: Path) -> None:
    _, venv = glasses_wheel
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], env=_env(),
                            capture_output=True, text=True, timeout=120, check=True)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"glassbridge", "bleak", "ai-edge-litert", "pyserial"} <= installed
    assert not installed & {"bumble", "pocketsphinx", "openai", "glassbridge-companion", "glassbridge-rig"}, installed
    done = _cli(venv, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    offered = {line.split()[0] for line in done.stdout.split("commands:")[1].split("examples:")[0].splitlines()
               if line.startswith("    ") and not line.startswith("      ")}
    assert offered == {"see", "photo", "camera", "models", "bench", "mcu", "phone", "run", "config", "info"}, offered
    bench = _cli(venv, "bench", "--help", cwd=tmp_path)
    assert bench.returncode == 0 and "preprocess" in bench.stdout
    assert "unavailable" not in bench.stdout
    sim = _cli(venv, "sim", cwd=tmp_path)
    assert sim.returncode == 2 and "invalid choice: 'sim'" in sim.stderr, sim.stderr


def test_see_from_the_wheel(glasses_wheel: Any, tmp_path: Path) -> None:
    """The fetched face detector from $GLASSBRIDGE_MODEL_DIR, the committed emotion model from inside the wheel."""
    _, venv = glasses_wheel
    done = _cli(venv, "see", str(ROOT / "tests" / "data" / "images" / "astronaut.png"), "--json", cwd=tmp_path,
                GLASSBRIDGE_MODEL_DIR=str(ROOT / "models" / "cache"))
    assert done.returncode == 0, done.stderr
    faces = json.loads(done.stdout)["faces"]
    assert len(faces) == 1 and faces[0]["emotion"] == "happy", faces


def test_mcu_status_from_the_wheel(glasses_wheel: Any, tmp_path: Path) -> None:
    """`glassbridge mcu status` of the wheel, over the link emulator's pty in front of the real firmware."""
    from glassbridge_rig.runner import FirmwareRunner

    _, venv = glasses_wheel

    async def body() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        async with FirmwareRunner("host") as fw:
            done = await asyncio.to_thread(_cli, venv, "mcu", "status", "--port", fw.port, "--json", cwd=tmp_path)
            return done, json.loads(await fw.control("status"))  # the firmware's own view, over its ctl socket

    done, own = run(body(), 60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["board"] == "host" and report["firmware_version"] and report["uptime_ms"] > 0, report
    assert report["camera_powered"] is own["camera_powered"] is False
    assert report["link"]["messages_rx"] >= 1 and report["link"]["crc_errors"] == 0, report["link"]


def test_run_from_the_wheel(glasses_wheel: Any, tmp_path: Path) -> None:
    """`glassbridge phone pair` and `glassbridge run` of the wheel against the rig: the same session as the
    source checkout's test (a tap, a notification card, SIGTERM)."""
    _, venv = glasses_wheel
    drive_glassbridge_run(tmp_path, str(venv / "bin" / "python"), tmp_path,
                          {"GLASSBRIDGE_MODEL_DIR": str(ROOT / "models" / "cache")})


def test_the_companion_and_rig_wheels_add_their_commands(glasses_wheel: Any, tmp_path: Path) -> None:
    """Last in this file (it changes the shared venv): the two other parts' wheels, installed beside the glasses',
    add their commands through entry points: companion; firmware, sim, demo; bench link, ble, e2e."""
    import sys

    _, venv = glasses_wheel
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT / "companion"), str(ROOT / "rig"), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(dist)], check=True, timeout=300)
    wheels = sorted(str(p) for p in dist.glob("glassbridge_*.whl"))
    assert [Path(w).name.split("-")[0] for w in wheels] == ["glassbridge_companion", "glassbridge_rig"], wheels
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *wheels], env=_env(), check=True, timeout=900)
    done = _cli(venv, "--help", cwd=tmp_path)
    offered = {line.split()[0] for line in done.stdout.split("commands:")[1].split("examples:")[0].splitlines()
               if line.startswith("    ") and not line.startswith("      ")}
    assert {"companion", "firmware", "sim", "demo"} <= offered, offered
    bench = _cli(venv, "bench", "--help", cwd=tmp_path)
    assert all(name in bench.stdout for name in ("link", "ble", "e2e")) and "unavailable" not in bench.stdout
    companion = _cli(venv, "companion", "--help", cwd=tmp_path)
    assert companion.returncode == 0 and "--confirm" in companion.stdout, companion.stderr
