"""Settings from TOML: the template documents every key and parses back to the defaults (tomllib is the
reference), every mistake is an error naming the file and the key, and `glassbridge config path|show|init`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from glassbridge.assistant.config import (
    ConfigError,
    Settings,
    config_path,
    load_settings,
    settings_from_dict,
    settings_template,
)


def test_template_documents_every_key_and_parses_back_to_the_defaults() -> None:
    text = settings_template()
    assert settings_from_dict(tomllib.loads(text)) == Settings()
    lines = text.splitlines()
    for section in dataclasses.fields(Settings):
        assert f"[{section.name}]" in lines
        for f in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            key_line = next(i for i, line in enumerate(lines) if line.startswith(f"{f.name} = ")
                            or line == f"[{section.name}.{f.name}]")
            assert lines[key_line - 1].startswith("# "), f"{section.name}.{f.name} has no comment"
    assert "emotions = false" in lines and "share_emotions = false" in lines and "answer_timeout_s = 8.0" in lines


def test_show_form_parses_back_to_the_same_settings() -> None:
    s = settings_from_dict({"privacy": {"emotions": True, "share_emotions": True}, "camera": {"width": 320},
                            "media": {"gestures": {"capture.double_tap": "next"}}})
    assert settings_from_dict(tomllib.loads(s.to_toml())) == s
    assert s.media.gestures == {"capture.double_tap": "next"}


@pytest.mark.parametrize("doc, message", [
    ({"camra": {}}, "[camra]: unknown section; known sections: assistant, camera"),
    ({"camera": {"widht": 3}}, "[camera] widht: unknown key; known keys: width, height"),
    ({"camera": {"width": "640"}}, "[camera] width: expected a whole number, got '640'"),
    ({"camera": {"width": 64.0}}, "[camera] width: expected a whole number"),
    ({"privacy": {"emotions": 1}}, "[privacy] emotions: expected true or false, got 1"),
    ({"assistant": {"answer_timeout_s": "8"}}, "[assistant] answer_timeout_s: expected a number"),
    ({"assistant": {"answer_timeout_s": 0}}, "[assistant] answer_timeout_s: must be more than 0 s"),
    ({"assistant": {"busy": "drop"}}, "[assistant] busy: must be \"queue\" or \"refuse\""),
    ({"camera": {"quality": 101}}, "[camera] quality: must be 1..100, got 101"),
    ({"privacy": {"share_emotions": True}}, "[privacy] share_emotions: is true but emotions is false"),
    ({"wake_word": {"cutoff": 1.5}}, "[wake_word] cutoff: must be 0 (the model's) or between 0 and 1"),
    ({"captions": {"bitrate": 1000}}, "[captions] bitrate: must be 6000..128000"),
    ({"media": {"gestures": {"main.tap": "next"}}}, "'main.tap': belongs to the assistant (ask about what I see)"),
    ({"media": {"gestures": {"capture.triple_tap": "next"}}}, "'capture.triple_tap': not a gesture"),
    ({"media": {"gestures": {"capture.double_tap": "shuffle"}}}, "unknown media action 'shuffle'"),
    ({"media": {"gestures": ["capture.double_tap"]}}, "[media] gestures: expected a table"),
    ({"camera": 5}, "camera: expected a [camera] table"),
])
def test_mistakes_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(doc, source="glasses.toml")
    assert str(info.value).startswith("glasses.toml: ") and message in str(info.value)


def test_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLASSBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "glassbridge" / "config.toml"
    assert load_settings() == Settings()  # no file at the default place: defaults
    good = tmp_path / "good.toml"
    good.write_text("[privacy]\nemotions = true\n")
    assert load_settings(good).privacy.emotions is True
    monkeypatch.setenv("GLASSBRIDGE_CONFIG", str(good))
    assert config_path() == good and load_settings().privacy.emotions is True
    monkeypatch.setenv("GLASSBRIDGE_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone.toml: the config file named by \$GLASSBRIDGE_CONFIG does not"):
        load_settings()
    with pytest.raises(ConfigError, match="missing.toml: the config file given does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera\nwidth = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_settings(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[camera]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(binary)
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings(tmp_path)


def _cli(argv: list[str]) -> int:
    from glassbridge.cli import config as cli

    parser = argparse.ArgumentParser(prog="glassbridge")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_path_init_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cfg" / "config.toml"
    monkeypatch.setenv("GLASSBRIDGE_CONFIG", str(target))
    assert _cli(["config", "path", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(target), "exists": False,
                                                   "source": "$GLASSBRIDGE_CONFIG"}
    assert _cli(["config", "init", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(target), "written": True}
    assert tomllib.loads(target.read_text()) == tomllib.loads(settings_template())
    with pytest.raises(FileExistsError, match="already exists: pass --force"):
        _cli(["config", "init"])
    target.write_text(target.read_text().replace("emotions = false", "emotions = true", 1))
    assert _cli(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["privacy"]["emotions"] is True and shown["camera"]["width"] == 480
    assert _cli(["config", "show"]) == 0
    assert tomllib.loads(capsys.readouterr().out)["privacy"]["emotions"] is True
