"""The last "new user" rough edges: the rig camera's default scenes from any working directory, language tags in
the settings file, run folders of killed runs reclaimed, and espeak-ng bounded in time and tied to its parent.

Expectations are independent of the code under test: the test images are read off models/MANIFEST.toml and the
checkout's tests/data/images by hand, the language tags are hand-picked, a dead owner is a process this test ran
to completion, and the voice's children are watched from outside through /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.checkout import CHECKOUT, use_checkout_data

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = CHECKOUT
MARKER = ".glassbridge-owner"  # the owner marker's name, as documented in glassbridge.lifetime


# ---------------------------------------------------------------------------------------------------------------
# helpers


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a container's init may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if running(p)]
    return left


def read_pid(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text()
            if text.endswith("\n"):
                return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def end(pids: list[int]) -> None:
    """Kills (by pid) what a failing test left running."""
    for pid in pids:
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def manifest_images() -> dict[str, Path]:
    """id -> the checkout's tests/data/images/<file>, read straight from models/MANIFEST.toml."""
    data = tomllib.loads((ROOT / "models" / "MANIFEST.toml").read_text(encoding="utf-8"))
    return {table["id"]: ROOT / "tests" / "data" / "images" / table["file"] for table in data["image"]}


@pytest.fixture
def checkout_images(monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    use_checkout_data(monkeypatch)  # the checkout's images, not a folder of one's own
    images = manifest_images()
    missing = [p.name for p in images.values() if not p.is_file()]
    if missing:
        pytest.skip(f"test images not fetched ({', '.join(missing)}): `glassbridge models fetch`")
    return images


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary folder of this test's own standing in for /tmp (run folders are made and reclaimed there). A
    short path: the private bus puts its unix socket in it (at most ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="gbt-", dir="/tmp" if os.path.isdir("/tmp") else None))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class NoFirmware:
    async def control(self, command: str, *, timeout: float = 5.0) -> str:
        raise AssertionError("not asked in these tests")


# ---------------------------------------------------------------------------------------------------------------
# 1. The rig camera's default scenes, from any working directory


def test_default_scenes_are_the_test_images_from_any_working_directory(
        checkout_images: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from glassbridge_rig.camera import DEFAULT_IMAGES, RigCamera, scenes_from
    from glassbridge_rig.glasses import SimGlasses

    monkeypatch.chdir(tmp_path)  # nothing relative to the working directory can be found from here
    scenes = scenes_from(DEFAULT_IMAGES)
    assert {k: v.resolve() for k, v in scenes.items()} == {k: v.resolve() for k, v in checkout_images.items()}
    assert all(p.is_absolute() for p in scenes.values())

    camera = RigCamera(DEFAULT_IMAGES, NoFirmware(), fps=None)
    camera.set_scene("astronaut")
    frame = camera.image()
    with Image.open(checkout_images["astronaut"]) as img:
        assert (frame.width, frame.height) == img.size

    glasses = SimGlasses(tmp_path / "rig")  # only constructed: nothing starts
    assert {k: v.resolve() for k, v in glasses.images.items()} == {k: v.resolve() for k, v in checkout_images.items()}
    with pytest.raises(ValueError, match="'nowhere'.*astronaut"):
        SimGlasses(tmp_path / "rig", scene="nowhere")


def test_a_missing_default_image_is_named_with_the_fetch_command(tmp_path: Path, private_tmp: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge_rig.camera import DEFAULT_IMAGES, scenes_from
    from glassbridge_rig.glasses import SimGlasses
    from glassbridge.models import registry

    empty = tmp_path / "no-images"
    empty.mkdir()
    monkeypatch.setattr(registry, "image_search_dirs", lambda: [empty])
    monkeypatch.chdir(tmp_path)
    files = [p.name for p in manifest_images().values()]
    for attempt in (lambda: scenes_from(DEFAULT_IMAGES), lambda: SimGlasses()):
        with pytest.raises(ValueError) as err:  # the registry's ModelError
            attempt()
        message = str(err.value)
        assert all(name in message for name in files), message
        assert "`glassbridge models fetch`" in message and "make setup" not in message
    assert not list(private_tmp.iterdir())  # refused before SimGlasses made its folder


def test_an_explicit_missing_image_is_named_with_what_to_do(checkout_images: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.camera import CameraError
    from glassbridge_rig.camera import scenes_from

    monkeypatch.chdir(tmp_path)
    # One of the test images by its old relative path, from another folder: named, with the fetch command.
    with pytest.raises(CameraError) as err:
        scenes_from({"person": "tests/data/images/astronaut.png"})
    message = str(err.value)
    assert str(tmp_path / "tests" / "data" / "images" / "astronaut.png") in message
    assert "`glassbridge models fetch`" in message and "make setup" not in message
    # Any other image: named, with where a relative path is looked for.
    with pytest.raises(CameraError) as err:
        scenes_from(["holiday.png"])
    message = str(err.value)
    assert "holiday.png" in message and str(tmp_path) in message and "make setup" not in message


# ---------------------------------------------------------------------------------------------------------------
# 2. Language tags in the settings file


@pytest.mark.parametrize("section, key", [("captions", "language"), ("captions", "translate_to"),
                                          ("assistant", "language")])
@pytest.mark.parametrize("value", ["english", "en_US", "e", "en-", "en us", "zh-"])
def test_malformed_language_tags_are_refused_naming_the_key(tmp_path: Path, section: str, key: str,
                                                            value: str) -> None:
    from glassbridge.assistant.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text(f'[{section}]\n{key} = "{value}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert message.startswith(f"{path}: [{section}] {key}: {value!r}"), message
    assert "BCP 47" in message
    if "_" in value:
        assert "'-', not '_'" in message


@pytest.mark.parametrize("value", ["en", "zh-Hans", "pt-BR", "zh-Hant-TW", "de-CH-1996", "sr-Latn", "es-419",
                                   "x-klingon", "EN-us"])
def test_well_formed_language_tags_are_kept(tmp_path: Path, value: str) -> None:
    from glassbridge.assistant.config import load_settings

    path = tmp_path / "config.toml"
    path.write_text(f'[captions]\nlanguage = "{value}"\ntranslate_to = "{value}"\n'
                    f'[assistant]\nlanguage = "{value}"\n', encoding="utf-8")
    settings = load_settings(path)
    assert (settings.captions.language, settings.captions.translate_to, settings.assistant.language) == (
        value, value, value)


def test_empty_language_means_the_phones_and_defaults_pass() -> None:
    from glassbridge.assistant.config import Settings, settings_from_dict

    assert settings_from_dict({"captions": {"language": "", "translate_to": ""}}).captions.language == ""
    assert settings_from_dict({}) == Settings()


def test_the_command_line_and_the_settings_agree_on_language_tags() -> None:
    import argparse

    from glassbridge.assistant.config import ConfigError, settings_from_dict
    from glassbridge.cli._args import language_tag

    good = ["en", "zh-Hans", "pt-BR", "x-klingon", ""]
    bad = ["english", "en_US", "e", "en-", "en us"]
    for value in good + bad:
        try:
            language_tag(value)
            cli_ok = True
        except argparse.ArgumentTypeError:
            cli_ok = False
        try:
            settings_from_dict({"captions": {"language": value}})
            config_ok = True
        except ConfigError:
            config_ok = False
        assert cli_ok == config_ok == (value in good), value


# ---------------------------------------------------------------------------------------------------------------
# 3. Run folders of killed runs are reclaimed at the next start


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def own_start_time() -> str:
    return Path("/proc/self/stat").read_text().rsplit(")", 1)[-1].split()[19]


def plant(folder: Path, prefix: str) -> dict[str, Path]:
    """A killed run's folder (its owner's pid is gone), a live one (ours) and one without a marker."""
    stale = folder / f"{prefix}killed00"
    stale.mkdir()
    (stale / MARKER).write_text(f"{dead_pid()} 4242\n")
    (stale / "leftover.log").write_text("from a run that was killed\n")
    alive = folder / f"{prefix}running0"
    alive.mkdir()
    (alive / MARKER).write_text(f"{os.getpid()} {own_start_time()}\n")
    unmarked = folder / f"{prefix}unmarked"
    unmarked.mkdir()
    return {"stale": stale, "alive": alive, "unmarked": unmarked}


def check_reclaimed(planted: dict[str, Path]) -> None:
    assert not planted["stale"].exists()
    assert planted["alive"].is_dir() and planted["unmarked"].is_dir()


def new_folders(folder: Path, prefix: str, planted: dict[str, Path]) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(prefix) and p not in planted.values()]


def test_link_emulator_reclaims_a_killed_runs_folder(private_tmp: Path, tmp_path: Path) -> None:
    from glassbridge_rig.link_emulator import LinkEmulator

    planted = plant(private_tmp, "glassbridge-link-")

    async def run() -> None:
        async with LinkEmulator(tmp_path / "no-firmware.sock"):
            check_reclaimed(planted)
            mine = new_folders(private_tmp, "glassbridge-link-", planted)
            assert len(mine) == 1
            assert (mine[0] / MARKER).read_text().split()[0] == str(os.getpid())

    asyncio.run(run())
    assert not new_folders(private_tmp, "glassbridge-link-", planted)  # its own folder removed at stop


def test_private_bus_reclaims_a_killed_runs_folder(private_tmp: Path) -> None:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    from glassbridge_rig.dbus import PrivateBus

    planted = plant(private_tmp, "gb-dbus-")
    with PrivateBus():
        check_reclaimed(planted)
        mine = new_folders(private_tmp, "gb-dbus-", planted)
        assert mine and all((p / MARKER).read_text().split()[0] == str(os.getpid()) for p in mine)
    assert not new_folders(private_tmp, "gb-dbus-", planted)


class Reached(Exception):
    pass


def test_benchmarks_reclaim_killed_runs_folders(private_tmp: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/usr/bin/dbus-daemon").exists() and shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (the benchmarks check for it first)")
    import glassbridge_rig.ble_rig as ble_rig
    from glassbridge_rig.bench import ble, e2e

    seen: list[Path] = []

    def stop_at_the_rig(workdir: Path, *_a: Any, **_kw: Any) -> Any:
        seen.append(Path(workdir))
        raise Reached()

    async def stop_at_the_session(_settings: Any, workdir: Path, _say: Any) -> Any:
        seen.append(Path(workdir))
        raise Reached()

    monkeypatch.setattr(ble_rig, "BleRig", stop_at_the_rig)
    monkeypatch.setattr(e2e, "_session", stop_at_the_session)
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    runs: list[tuple[str, Callable[[], object]]] = [
        ("gb-bench-ble-", lambda: ble.run_ble_benchmark(ble.BleBenchSettings())),
        ("gb-bench-e2e-", lambda: e2e.run_e2e_benchmark(e2e.E2eBenchSettings(images=scenes))),
    ]
    for prefix, run in runs:
        planted = plant(private_tmp, prefix)
        seen.clear()
        with pytest.raises(Reached):
            run()
        check_reclaimed(planted)
        assert seen and (seen[0].name.startswith(prefix) or seen[0].parent.name.startswith(prefix)), seen
        assert not new_folders(private_tmp, prefix, planted)  # its own folder removed afterwards


# ---------------------------------------------------------------------------------------------------------------
# 4. espeak-ng: bounded in time, and never outliving its parent


def fake_espeak(folder: Path, body: str) -> Path:
    script = folder / "slow-espeak"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body).strip() + "\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("mode", ["async", "blocking"])
def test_a_slow_espeak_is_stopped_within_the_bound(mode: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A hung synthesiser that also started a child of its own holding the pipes: the error comes within the
    bound, and neither process is left."""
    from glassbridge.audio import voice

    pid_file, child_file = tmp_path / "pid", tmp_path / "child"
    script = fake_espeak(tmp_path, f"""
        echo $$ > "{pid_file}"
        sleep 30 &
        echo $! > "{child_file}"
        wait
    """)
    monkeypatch.setattr(voice, "ESPEAK", str(script))
    bound = 0.5
    started = time.monotonic()
    try:
        with pytest.raises(voice.VoiceError) as err:
            if mode == "async":
                asyncio.run(voice.EspeakVoice(timeout_s=bound).synthesize("hello"))
            else:
                voice.synthesize_blocking("hello", timeout_s=bound)
        took = time.monotonic() - started
        message = str(err.value)
        assert f"did not finish within {bound:g} s" in message and "killed" in message, message
        assert str(script) in message
        assert took < bound + 2.0, f"the error came after {took:.1f} s"  # not the 5 s grace, nor the 30 s sleep
        pids = [read_pid(pid_file), read_pid(child_file)]
        assert not wait_gone(pids, 2.0), "a process of the hung synthesiser was left running"
    finally:
        with contextlib.suppress(AssertionError):
            end([read_pid(pid_file, 0.1), read_pid(child_file, 0.1)])


def test_timeouts_that_bound_nothing_are_refused() -> None:
    from glassbridge.audio.voice import EspeakVoice, synthesize_blocking

    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout_s"):
            EspeakVoice(timeout_s=bad)
        with pytest.raises(ValueError, match="timeout_s"):
            synthesize_blocking("hello", timeout_s=bad)


_PARENT = """
import asyncio, sys, threading
from glassbridge.audio import voice
voice.ESPEAK = sys.argv[1]
mode = sys.argv[2]
if mode == "async":
    asyncio.run(voice.EspeakVoice(timeout_s=60).synthesize("hello"))
elif mode == "blocking":
    voice.synthesize_blocking("hello", timeout_s=60)
else:  # from a short-lived worker thread, as asyncio.to_thread would
    t = threading.Thread(target=voice.synthesize_blocking, args=("hello",), kwargs={"timeout_s": 60})
    t.start()
    t.join()
"""


@pytest.mark.parametrize("mode", ["async", "blocking", "thread"])
def test_espeak_dies_with_its_parent(mode: str, tmp_path: Path) -> None:
    """The parent is SIGKILLed mid-synthesis (no cleanup of its own runs): the kernel ends espeak-ng too."""
    pid_file = tmp_path / "pid"
    script = fake_espeak(tmp_path, f"""
        echo $$ > "{pid_file}"
        exec sleep 30
    """)
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(script), mode], stdin=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    child = -1
    try:
        child = read_pid(pid_file)
        assert running(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert not wait_gone([child], 5.0), f"espeak-ng ({child}) outlived its killed parent ({mode})"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stderr is not None:
            parent.stderr.close()
        if child > 0:
            end([child])
