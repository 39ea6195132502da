"""Edges a new user hit (the outside review's issue): numbers and language tags refused at parse time, settings and
the camera checked before anything starts, GLASSBRIDGE_ISA checked up front, data found from any folder, one
statement of the detector's range, errors during a question on the card and briefly spoken."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from glassbridge.cli.main import build_parser, main
from tests.checkout import CHECKOUT, package_is_installed


class _Args:
    """glassbridge.cli._args, imported when a test runs (so the other tests of this file run without it)."""

    def __getattr__(self, name: str) -> Any:
        from glassbridge.cli import _args as module

        return getattr(module, name)


_args = _Args()

# ---------------------------------------------------------------------------------------------------------------
# Numbers: -1, inf, nan (and other out-of-range values) are usage errors, before anything starts


BAD_NUMBERS = [
    ("see", "x.png", "--threads", "0"),
    ("see", "x.png", "--threads", "-1"),
    ("camera", "grab", "--fps", "nan"),
    ("camera", "grab", "--fps", "inf"),
    ("camera", "grab", "--fps", "-1"),
    ("camera", "grab", "--fps", "0"),
    ("camera", "grab", "--frames", "0"),
    ("sim", "ble", "--interval", "nan"),
    ("sim", "ble", "--interval", "inf"),
    ("sim", "ble", "--interval", "-1"),
    ("sim", "ble", "--mtu", "5"),
    ("firmware", "run", "--board", "host", "--latency-ms", "-1"),
    ("firmware", "run", "--board", "host", "--latency-ms", "nan"),
    ("firmware", "run", "--board", "host", "--latency-ms", "inf"),
    ("firmware", "run", "--board", "host", "--baud", "-1"),
    ("firmware", "build", "--jobs", "0"),
    ("bench", "e2e", "--interval", "inf"),
    ("bench", "e2e", "--interval", "nan"),
    ("bench", "e2e", "--taps", "-1"),
    ("bench", "e2e", "--warmup", "-1"),
    ("bench", "e2e", "--baud", "0"),
    ("bench", "e2e", "--jpeg-quality", "101"),
    ("bench", "e2e", "--jpeg-size", "10x10"),
    ("bench", "e2e", "--jpeg-size", "big"),
    ("bench", "vision", "--rounds", "0"),
    ("bench", "preprocess", "--rounds", "-5"),
    ("bench", "link", "--runs", "0"),
    ("bench", "ble", "--mtu", "23"),
    ("bench", "ble", "--drops", "0"),
    ("run", "--serial", "/dev/null", "--baud", "0"),
    ("run", "--serial", "/dev/null", "--camera-size", "axb"),
    ("run", "--serial", "/dev/null", "--camera-size", "8x8"),
]


@pytest.mark.parametrize("argv", BAD_NUMBERS, ids=" ".join)
def test_out_of_range_numbers_are_argparse_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    parser = build_parser(only=argv[0])
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(list(argv))  # parsing only: nothing is started whatever the outcome
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    option = argv[-2]  # the option whose value is wrong comes last
    assert f"argument {option}" in err and "Traceback" not in err, err


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "1e999", "-1", "0", "abc", ""])
def test_positive_float_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        _args.positive_float(text)
    assert repr(text) in str(err.value) or text in str(err.value)


def test_number_types_accept_what_they_should() -> None:
    assert _args.positive_float("0.25") == 0.25 and _args.positive_float("1e3") == 1000.0
    assert _args.non_negative_float("0") == 0.0
    assert _args.positive_int("3") == 3 and _args.non_negative_int("0") == 0
    assert _args.float_in(7.5, 4000.0)("7.5") == 7.5
    assert _args.int_in(131, 517)("517") == 517
    assert _args.size_arg(16)("1280x720") == (1280, 720)
    for bad in ("1.5", "0x10", "3e2"):
        with pytest.raises(argparse.ArgumentTypeError):
            _args.positive_int(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="less than 1"):
        _args.float_in(0, 1, high_open=True)("1")


def test_a_clear_message_names_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "ble", "--interval", "2"]) == 2
    assert "argument --interval: must be at least 7.5, got 2" in capsys.readouterr().err
    assert main(["camera", "grab", "--fps", "nan"]) == 2
    assert "argument --fps: expected a finite number, got 'nan'" in capsys.readouterr().err


def test_bench_vision_help_prints_one_percent_sign(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "vision", "--help"]) == 0
    out = capsys.readouterr().out
    assert "at most 15%)" in out and "%%" not in out


# ---------------------------------------------------------------------------------------------------------------
# Language tags


@pytest.mark.parametrize("tag", ["en", "EN", "zh-CN", "zh-Hant-TW", "pt-BR", "es-419", "de-CH-1996", "sr-Latn",
                                 "yue", "x-klingon", "en-US-x-twain"])
def test_well_formed_language_tags_pass(tag: str) -> None:
    assert _args.check_language_tag(tag, "t") == tag
    assert _args.language_tag(tag) == tag


@pytest.mark.parametrize("tag", ["english", "en_US", "e", "en-", "-en", "en us", "en--US", "123", "zh-Hant-TW-",
                                 "fr-toolongsubtag", "de-CH-1996-"])
def test_malformed_language_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="not a BCP 47 language tag"):
        _args.check_language_tag(tag, "t")
    with pytest.raises(argparse.ArgumentTypeError):
        _args.language_tag(tag)


@pytest.mark.parametrize("section,key", [("captions", "translate_to"), ("captions", "language"),
                                         ("assistant", "language")])
def test_config_show_refuses_a_malformed_language(capsys: pytest.CaptureFixture[str], tmp_path: Path, section: str,
                                                  key: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[{section}]\n{key} = "en_US"\n')
    assert main(["config", "show", "--file", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"[{section}] {key}" in err and "'en_US' is not a BCP 47 language tag" in err and str(config) in err
    config.write_text(f'[{section}]\n{key} = "pt-BR"\n')
    assert main(["config", "show", "--file", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[section][key] == "pt-BR"


# ---------------------------------------------------------------------------------------------------------------
# `glassbridge run`: settings and camera checked before the MCU is touched


@pytest.fixture
def no_mcu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Mcu.connect records that it was reached (and fails); an empty settings file."""
    reached: list[str] = []

    async def connect(port: str, **_kw: Any) -> Any:
        reached.append(port)
        raise OSError(f"MCU reached: {port}")

    from glassbridge.mcu.client import Mcu

    monkeypatch.setattr(Mcu, "connect", staticmethod(connect))
    config = tmp_path / "empty.toml"
    config.write_text("")
    monkeypatch.setenv("GLASSBRIDGE_CONFIG", str(config))
    return reached


def test_run_checks_the_camera_before_the_mcu(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              no_mcu: list[str]) -> None:
    missing = tmp_path / "video9"
    assert main(["run", "--serial", "/dev/ttyS99", "--camera", str(missing)]) == 1
    err = capsys.readouterr().err
    assert no_mcu == [] and f"{missing}: no such video device" in err and "MCU reached" not in err
    assert main(["run", "--serial", "/dev/ttyS99", "--camera", "/dev/null"]) == 1  # not a V4L2 device
    err = capsys.readouterr().err
    assert no_mcu == [] and "/dev/null: not a usable V4L2 device" in err


def test_run_checks_the_language_settings_before_the_mcu(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         no_mcu: list[str]) -> None:
    config = tmp_path / "lang.toml"
    config.write_text('[captions]\ntranslate_to = "english"\n')
    assert main(["run", "--serial", "/dev/ttyS99", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert no_mcu == [] and "[captions] translate_to" in err and "'english'" in err


# ---------------------------------------------------------------------------------------------------------------
# GLASSBRIDGE_ISA: checked before a command that runs the kernels starts


@pytest.mark.parametrize("value,expected", [("bogus", "is not a kernel path"), ("NEON2", "is not a kernel path")])
def test_a_bad_isa_stops_the_demo_before_it_starts(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    started: list[Path] = []
    import glassbridge_rig.demo as demo

    monkeypatch.setattr(demo, "run_demo", lambda out, **_kw: started.append(out) or {})
    monkeypatch.setenv("GLASSBRIDGE_ISA", value)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert started == [] and f"GLASSBRIDGE_ISA={value!r} {expected}" in err and "ref, sse41, avx2, neon" in err


def test_an_isa_this_cpu_lacks_is_refused_naming_the_available_ones(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.vision.preprocess import available_isas

    missing = [name for name in ("ref", "sse41", "avx2", "neon") if name not in available_isas()]
    if not missing:
        pytest.skip("every kernel path is available here")
    monkeypatch.setenv("GLASSBRIDGE_ISA", missing[0])
    assert main(["see", "nonexistent.png"]) == 2
    err = capsys.readouterr().err
    assert f"GLASSBRIDGE_ISA={missing[0]}: not available" in err and ", ".join(available_isas()) in err
    monkeypatch.setenv("GLASSBRIDGE_ISA", "ref")  # a good one: the command runs (and fails on the file)
    assert main(["see", "nonexistent.png"]) == 1
    assert "no such file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Data found from any folder; a missing file is named with the command that gets it


def test_test_images_are_found_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.models.registry import ModelError, test_image_path, test_image_paths

    try:
        expected = {name: test_image_path(name) for name in ("astronaut", "chelsea")}
    except ModelError as exc:
        pytest.skip(f"test images not fetched (run `make setup`): {exc}")
    monkeypatch.chdir(tmp_path)
    found = test_image_paths(["astronaut", "chelsea"])
    assert found == expected and all(p.is_absolute() and p.is_file() for p in found.values())

    from glassbridge_rig.bench.e2e import E2eBenchSettings, scenes
    from glassbridge_rig.demo import preflight

    assert scenes(E2eBenchSettings()) == {"astronaut": expected["astronaut"]}
    import shutil

    if all(shutil.which(program) for program in ("dbus-daemon", "espeak-ng")):  # the demo's other needs
        assert preflight() == expected


def test_phone_demo_finds_its_photo_from_any_working_directory(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.models.registry import ModelError, test_image_path

    try:
        expected = test_image_path("astronaut")
    except ModelError as exc:
        pytest.skip(f"test images not fetched (run `make setup`): {exc}")

    class Reached(Exception):
        pass

    class StopAtTheRig:
        def __init__(self, workdir: Path, **_kw: Any) -> None:
            raise Reached(str(workdir))

    import glassbridge_rig.ble_rig as ble_rig
    import glassbridge_rig.phone_demo as phone_demo

    monkeypatch.setattr(ble_rig, "BleRig", StopAtTheRig)
    seen: list[Path] = []
    monkeypatch.setattr(phone_demo, "_jpeg", lambda photo: seen.append(photo) or b"")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Reached):  # past the photo check: the rig would start next
        phone_demo.run_phone_demo(tmp_path / "out")
    assert expected.is_file()


def test_a_missing_test_image_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.models import registry

    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.setattr(registry, "image_search_dirs", lambda: [empty])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(registry.ModelError) as err:
        registry.test_image_paths(["astronaut", "chelsea"])
    message = str(err.value)
    assert "astronaut.png, chelsea.png not found" in message and str(empty) in message
    assert "`glassbridge models fetch`" in message and "from any folder" in message

    from glassbridge_rig.bench.e2e import E2eBenchSettings, run_e2e_benchmark

    with pytest.raises(registry.ModelError, match="glassbridge models fetch"):
        run_e2e_benchmark(E2eBenchSettings(taps=1))  # refused before the rig starts


def test_an_explicit_root_that_is_not_a_checkout_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge_rig.runner import FirmwareError, repo_root

    with pytest.raises(FirmwareError, match="not a glassbridge checkout"):
        repo_root(tmp_path)
    checkout = CHECKOUT
    assert repo_root(checkout) == checkout and repo_root(checkout / "firmware" / "src") == checkout
    monkeypatch.chdir(tmp_path)
    # No --root: an editable install finds its checkout whatever the folder; a wheel (scripts/arm64/test.sh) has no
    # sources beside it, and outside a clone says so.
    if package_is_installed("glassbridge_rig"):
        with pytest.raises(FirmwareError, match="this installation has none .*pass --root <clone>"):
            repo_root()
    else:
        assert repo_root() == checkout
    assert main(["firmware", "build", "--board", "host", "--root", str(tmp_path)]) == 1
    assert f"--root {tmp_path}: not a glassbridge checkout" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# One statement of the detectors' range, from the manifest


def test_the_detectors_range_is_stated_once_from_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.models.registry import load_manifest

    models = load_manifest().models
    full = models["blazeface_full_range_sparse"].extra["distance"]
    short = models["blazeface_short_range"].extra["distance"]
    assert main(["see", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"faces at {full}" in help_text and short in help_text
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| BlazeFace full-range sparse"))
    assert f"faces at {full}" in row
    import glassbridge.vision.detector as detector

    places = {"README.md": readme, "models/README.md": (root / "models" / "README.md").read_text(),
              "models/cards/blazeface.md": (root / "models" / "cards" / "blazeface.md").read_text(),
              "models/MANIFEST.toml": (root / "models" / "MANIFEST.toml").read_text(),
              "detector": detector.__doc__ or "", "see --help": help_text}
    for name, text in places.items():  # every "N-M m" range said of a face detector is the manifest's
        ranges = set(re.findall(r"faces (?:at|up to) (?:about )?(\d+-\d+ m)", text))
        assert ranges <= {full}, (name, ranges)


# ---------------------------------------------------------------------------------------------------------------
# Errors during a question: on the card (one line), briefly spoken


def _rig_run(body: Any) -> Any:
    return asyncio.run(asyncio.wait_for(body(), 30))


def test_an_unexpected_error_is_one_line_on_the_card_and_one_short_sentence() -> None:
    from tests.unit.assistant_fakes import start_rig, stop_rig

    class Broken:
        def perceive(self, frame: Any, *, emotions: bool) -> Any:
            raise RuntimeError("model exploded\nTraceback (most recent call last):\n  File \"x.py\", line 1")

    async def body() -> Any:
        rig = await start_rig(perceiver=Broken())
        rig.mcu.press()
        await rig.timeline.wait_for("error", timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = _rig_run(body)
    card = rig.mcu.last_card
    assert (card.title, card.text, card.icon) == ("Sorry", "Something went wrong: model exploded", "warning")
    assert rig.voice.said == ["Sorry, something went wrong."]


def test_a_camera_error_with_advice_is_on_the_card_and_not_read_out() -> None:
    from glassbridge.camera import CameraError
    from tests.unit.assistant_fakes import start_rig, stop_rig

    advice = "start glassbridge run with --camera /dev/videoN, and check `glassbridge camera list` for the nodes"

    async def body() -> Any:
        rig = await start_rig()

        async def capture() -> Any:
            raise CameraError("no camera configured", advice=advice)

        rig.camera.capture = capture  # type: ignore[method-assign]
        rig.mcu.press()
        await rig.timeline.wait_for("capture_failed", question=1, timeout=5)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = _rig_run(body)
    assert "no camera configured" in rig.mcu.last_card.text and "\n" not in rig.mcu.last_card.text
    assert rig.voice.said == ["No photo: the camera failed."]
    assert not any(advice[:20] in said for said in rig.voice.said)


def test_a_long_phone_refusal_is_on_the_card_a_short_one_is_said() -> None:
    from glassbridge.phone.errors import PhoneError
    from glassbridge.protocol.errors import RequestFailed
    from glassbridge.protocol.messages import pb
    from tests.unit.assistant_fakes import Script, start_rig, stop_rig

    long_reason = "the brain's endpoint https://example.invalid/v1 answered HTTP 503 after 3 retries; " * 3

    async def body() -> Any:
        rig = await start_rig()
        rig.phone.scripts = [Script(error=RequestFailed("ask", pb.ERROR_CODE_TOO_LARGE, "too_large", long_reason,
                                                           peer="phone")),
                             Script(error=PhoneError("link lost\nlast frames: 01 02 03"))]
        for q in (1, 2):
            rig.mcu.press()
            await rig.timeline.wait_for("notice", question=q, timeout=5)
            await rig.settle()
        await stop_rig(rig)
        return rig

    rig = _rig_run(body)
    texts = [card.text for card in rig.mcu.cards]
    assert any(text.startswith("The phone could not answer: the brain's endpoint") for text in texts), texts
    assert "The phone link failed: link lost" in texts
    assert rig.voice.said == ["The phone could not answer.", "The phone link failed."]
