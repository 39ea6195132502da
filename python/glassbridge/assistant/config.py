"""The assistant's settings: one TOML file, every key documented, every mistake named.

    settings = load_settings()                 # $GLASSBRIDGE_CONFIG, else <user config dir>/glassbridge/config.toml
    settings = load_settings("glasses.toml")   # an explicit file (must exist)
    print(settings_template())                 # the fully commented file with every default (`glassbridge config init`)

A missing file at the default place means "all defaults": a fresh install works without one. A file that exists
is read strictly: an unknown section or key, or a value of the wrong type or out of range, raises ConfigError
naming the file and the key (`[camera] widht: unknown key; known keys: width, height, ...`), because a typo that
silently falls back to a default is a privacy setting that did not take effect.

The dataclasses below are the single source of truth: the template, `glassbridge config show` and the checks are
all generated from their fields and the `doc` in each field's metadata.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pyproject pulls tomli on 3.10
    import tomli as tomllib

__all__ = [
    "AssistantSettings",
    "CameraSettings",
    "CaptionSettings",
    "ConfigError",
    "MEDIA_ACTIONS",
    "MediaSettings",
    "PowerSettings",
    "PrivacySettings",
    "Settings",
    "WakeWordSettings",
    "check_language_tag",
    "config_path",
    "load_settings",
    "settings_from_dict",
    "settings_template",
]

#: Environment variable naming the config file (overrides the platformdirs location).
CONFIG_ENV = "GLASSBRIDGE_CONFIG"

#: What a button gesture can be mapped to: the phone link's MediaAction names (glassbridge.proto MediaCommand).
MEDIA_ACTIONS = ("play_pause", "next", "previous", "volume_up", "volume_down", "answer_call", "end_call")
#: Gestures the loop keeps for itself (ask, cancel, captions): the media map may not take them.
RESERVED_GESTURES = {"main.tap": "ask about what I see", "main.long_press": "cancel",
                     "main.double_tap": "captions on/off", "capture.tap": "read the sign ahead"}
BUTTONS = ("main", "capture")
ACTIONS = ("tap", "double_tap", "long_press")
#: [wake_word] where: the MCU's firmware (CAPABILITY_WAKE_WORD) or the SoC (the microphone streams to it).
WAKE_WORD_PLACES = ("auto", "mcu", "soc")
#: [camera] text_mode: the photo for reading a sign (glassbridge.assistant.photo.make_text_photo or make_photo).
TEXT_MODES = ("crop", "whole")
#: The settings that hold BCP 47 language tags ("" = the phone's language), checked when settings are loaded.
LANGUAGE_KEYS = (("assistant", "language"), ("captions", "language"), ("captions", "translate_to"))


class ConfigError(ValueError):
    """The config file is unreadable or has a wrong key or value; the message names the file and the key."""


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class AssistantSettings:
    """[assistant]: the question-and-answer loop."""

    answer_timeout_s: float = _doc("seconds the phone has to answer a question, upload included; then the "
                                   "glasses say \"the phone did not answer in N s\"", default=8.0)
    phone_wait_s: float = _doc("how long after the phone link dropped a question still waits for it to come "
                               "back before the glasses answer on their own and queue it", default=2.0)
    capture_timeout_s: float = _doc("seconds to power the camera and get one frame before giving up", default=3.0)
    speak_timeout_s: float = _doc("seconds to synthesise and send one spoken sentence before showing it only",
                                  default=10.0)
    queue_max: int = _doc("questions kept while the phone is away (older ones are delivered first; when full, "
                          "a new one is refused with a spoken reason)", default=5)
    busy: str = _doc("a tap while a question is being answered: \"queue\" (one waits, more are refused) or "
                     "\"refuse\" (always refused; the reason is spoken)", default="queue")
    speak: bool = _doc("speak answers and messages through the glasses' speaker (the display shows them always)",
                       default=True)
    speak_max_chars: int = _doc("say at most this many characters of a text, in whole sentences (at least the "
                                "first, cut at a word); the card shows all of it (0 = say everything). ~14 "
                                "characters per second at espeak-ng's pace", default=200)
    language: str = _doc("BCP 47 tag of the answers wanted (\"\" = the phone's language)", default="")
    card_ttl_ms: int = _doc("how long an answer card stays on the display (0 = until replaced)", default=0)


@dataclass(frozen=True)
class CameraSettings:
    """[camera]: the photo sent to the phone (perception on the glasses always sees the full frame)."""

    width: int = _doc("largest width of the JPEG sent to the phone (the frame is scaled to fit, keeping its "
                      "aspect). Every byte crosses BLE at ~120 KB/s: 480x360 at quality 75 is ~20-30 KB, "
                      "~0.2 s on air; a vision model reads signs and scenes well at this size", default=480)
    height: int = _doc("largest height of the JPEG sent to the phone", default=360)
    quality: int = _doc("JPEG quality 1..100", default=75)
    low_battery_width: int = _doc("largest width on low battery (fewer bytes on the radio)", default=320)
    low_battery_height: int = _doc("largest height on low battery", default=240)
    low_battery_quality: int = _doc("JPEG quality on low battery", default=65)
    text_mode: str = _doc("the photo for \"what does this sign say?\": \"crop\" sends the centre of the frame (half "
                          "its width and height: where the head points) at a higher resolution, in no more bytes "
                          "than the whole frame would take; \"whole\" sends the whole frame shrunk, as for any "
                          "question. crop reads small signs far better at equal bytes (docs/benchmarks.md, Text "
                          "mode); a sign beside the centre is outside it", default="crop")


@dataclass(frozen=True)
class PrivacySettings:
    """[privacy]: faces blurred in photos that leave the glasses; expressions opt-in, kept unless shared."""

    blur_faces: bool = _doc("pixelate every face the glasses find in the photo sent to the phone (the glasses' own "
                            "perception still reads the unblurred frame; turning it off is announced on the display "
                            "at start)", default=True)
    emotions: bool = _doc("recognise the expression of people in view, on the glasses (off by default; "
                          "prohibited at work and in education under the EU AI Act)", default=False)
    share_emotions: bool = _doc("also send the expressions to the phone's brain (needs emotions = true)",
                                default=False)
    remind: bool = _doc("remind the wearer, the first time in a session, that the person should be told",
                        default=True)


@dataclass(frozen=True)
class WakeWordSettings:
    """[wake_word]: "okay nabu" instead of a tap, heard on the MCU (no audio leaves it) or on the SoC (LED lit)."""

    enabled: bool = _doc("listen for the wake word", default=False)
    model: str = _doc("wake word model in models/MANIFEST.toml", default="okay_nabu")
    where: str = _doc("where it listens: \"auto\" (the MCU when its firmware can, else the SoC), \"mcu\" (the MCU "
                      "or not at all), \"soc\" (the microphone streams to the SoC)", default="auto")
    cutoff: float = _doc("detection threshold 0..1 (0 = the model's own cut-off from its manifest)", default=0.0)
    silence_ms: int = _doc("the question ends after this much silence", default=700)
    max_question_ms: int = _doc("the question ends after this long in any case", default=8000)
    no_speech_ms: int = _doc("give up when no speech starts within this long after the wake word", default=3000)
    listen_timeout_s: float = _doc("hard limit on listening, whatever the voice detector says", default=10.0)


@dataclass(frozen=True)
class CaptionSettings:
    """[captions]: meeting transcription or live translation (main button double tap)."""

    language: str = _doc("spoken language of the meeting (BCP 47; \"\" = the phone's)", default="en")
    translate_to: str = _doc("translate into this language instead of transcribing (\"\" = transcribe; "
                             "needs the phone's online brain)", default="")
    transcript_dir: str = _doc("where transcripts are kept (\"\" = <user data dir>/glassbridge/transcripts)",
                               default="")
    keep_transcripts: bool = _doc("write each session's final lines to a text file", default=True)
    retention_days: int = _doc("delete transcripts older than this many days, at start-up and as sessions start "
                               "and end (0 = keep only the latest session's)", default=30)
    bitrate: int = _doc("Opus bitrate of the microphone audio sent to the phone, bits/s", default=24000)
    start_timeout_s: float = _doc("seconds the phone has to accept or refuse captions", default=5.0)


@dataclass(frozen=True)
class PowerSettings:
    """[power]: what the glasses give up as the battery runs down."""

    low_smaller_frames: bool = _doc("on low battery send the [camera] low_battery_* size", default=True)
    low_min_interval_s: float = _doc("on low battery, at most one photo per this many seconds (0 = no limit)",
                                     default=2.0)
    critical_stop_streaming: bool = _doc("on critical battery stop captions and the wake word's microphone",
                                         default=True)


@dataclass(frozen=True)
class MediaSettings:
    """[media]: button gestures forwarded to the phone as music and call controls."""

    gestures: dict[str, str] = _doc(
        "\"button.action\" = media action; buttons: main, capture; actions: tap, double_tap, long_press; media "
        "actions: " + ", ".join(MEDIA_ACTIONS) + ". main.tap, main.double_tap, main.long_press and capture.tap "
        "belong to the assistant",
        default_factory=lambda: {"capture.double_tap": "play_pause", "capture.long_press": "next"},
    )


@dataclass(frozen=True)
class Settings:
    """Everything the assistant loop reads from the config file."""

    assistant: AssistantSettings = field(default_factory=AssistantSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    wake_word: WakeWordSettings = field(default_factory=WakeWordSettings)
    captions: CaptionSettings = field(default_factory=CaptionSettings)
    power: PowerSettings = field(default_factory=PowerSettings)
    media: MediaSettings = field(default_factory=MediaSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The settings as TOML (what `glassbridge config show` prints): readable back by load_settings."""
        return _render(self, comments=False)


SECTIONS: dict[str, type[Any]] = {f.name: f.default_factory for f in dataclasses.fields(Settings)}  # type: ignore[misc]


# ---- checks ------------------------------------------------------------------------------------------------------

# BCP 47 (RFC 5646 section 2.1) language tags: language[-extlang][-script][-region](-variant)*(-extension)*
# [-privateuse], or a private-use tag alone; case-insensitive. The primary language subtag must be 2-3 letters
# (ISO 639): the grammar also allows 4-8 letters, but the IANA registry has no such subtag, and "english" or
# "chinese" are the mistakes worth catching. "en", "zh-Hant-TW", "de-CH-1996", "sr-Latn", "x-klingon" pass;
# "english", "en_US", "e", "en-", "en us" do not. Subtags are not checked against the registry.
# The settings are checked with it when loaded (_check_ranges). The command line's `language_tag` argparse type
# (glassbridge.cli._args) applies the same grammar; cli sits above assistant, so cli is the side that imports this
# check, never the other way round.
_LANGTAG = re.compile(
    r"""^(?:
        [a-z]{2,3}(?:-[a-z]{3}){0,3}                          # language (+ extlang)
        (?:-[a-z]{4})?                                        # script
        (?:-(?:[a-z]{2}|[0-9]{3}))?                           # region
        (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*              # variants
        (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*                   # extensions
        (?:-x(?:-[a-z0-9]{1,8})+)?                            # private use
      | x(?:-[a-z0-9]{1,8})+                                  # a private-use tag alone
    )$""", re.IGNORECASE | re.VERBOSE)


def check_language_tag(value: str, where: str, *, allow_empty: bool = True) -> str:
    """`value` if it is a well-formed BCP 47 language tag (or "" with allow_empty: "the phone's language");
    ValueError naming `where` otherwise."""
    if value == "" and allow_empty:
        return value
    if not isinstance(value, str) or not _LANGTAG.match(value):
        hint = " (BCP 47 uses '-', not '_')" if isinstance(value, str) and "_" in value else ""
        raise ValueError(f"{where}: {value!r} is not a BCP 47 language tag{hint}; use e.g. \"en\", \"zh-CN\", "
                         "\"pt-BR\"" + (" or \"\" for the phone's language" if allow_empty else ""))
    return value


def _check_value(where: str, name: str, kind: Any, value: Any) -> Any:
    """`value` if it has the TOML type of `kind` (an int is accepted for a float); else ConfigError."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} {name}: expected true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} {name}: expected a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} {name}: expected a number, got {value!r}")
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} {name}: expected a string in quotes, got {value!r}")
    else:  # dict[str, str]: the media gesture map
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in value.items()):
            raise ConfigError(f"{where} {name}: expected a table of \"button.action\" = \"media action\" strings")
        value = dict(value)
    return value


def _check_ranges(s: Settings, where: str) -> None:
    """Values of the right type that still make no sense."""
    def need(ok: bool, key: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"{where}{key}: {why}")

    a, c, w, cap, p = s.assistant, s.camera, s.wake_word, s.captions, s.power
    for key, v in (("answer_timeout_s", a.answer_timeout_s), ("capture_timeout_s", a.capture_timeout_s),
                   ("speak_timeout_s", a.speak_timeout_s)):
        need(v > 0, f"[assistant] {key}", f"must be more than 0 s, got {v:g}")
    need(a.phone_wait_s >= 0, "[assistant] phone_wait_s", f"must be 0 or more, got {a.phone_wait_s:g}")
    need(1 <= a.queue_max <= 100, "[assistant] queue_max", f"must be 1..100, got {a.queue_max}")
    need(a.busy in ("queue", "refuse"), "[assistant] busy", f"must be \"queue\" or \"refuse\", got {a.busy!r}")
    need(a.card_ttl_ms >= 0, "[assistant] card_ttl_ms", f"must be 0 or more, got {a.card_ttl_ms}")
    need(a.speak_max_chars >= 0, "[assistant] speak_max_chars", f"must be 0 or more, got {a.speak_max_chars}")
    for key in ("width", "height", "low_battery_width", "low_battery_height"):
        v = getattr(c, key)
        need(16 <= v <= 4096, f"[camera] {key}", f"must be 16..4096 pixels, got {v}")
    for key in ("quality", "low_battery_quality"):
        v = getattr(c, key)
        need(1 <= v <= 100, f"[camera] {key}", f"must be 1..100, got {v}")
    need(c.text_mode in TEXT_MODES, "[camera] text_mode",
         f"must be \"crop\" or \"whole\", got \"{c.text_mode}\"")
    need(not (s.privacy.share_emotions and not s.privacy.emotions), "[privacy] share_emotions",
         "is true but emotions is false: nothing would be computed to share; set emotions = true as well")
    need(w.where in WAKE_WORD_PLACES, "[wake_word] where",
         f"must be \"auto\", \"mcu\" or \"soc\", got \"{w.where}\"")
    need(0 <= w.cutoff < 1, "[wake_word] cutoff", f"must be 0 (the model's) or between 0 and 1, got {w.cutoff:g}")
    for key in ("silence_ms", "max_question_ms", "no_speech_ms"):
        need(getattr(w, key) > 0, f"[wake_word] {key}", f"must be more than 0, got {getattr(w, key)}")
    need(w.listen_timeout_s > 0, "[wake_word] listen_timeout_s", f"must be more than 0, got {w.listen_timeout_s:g}")
    need(cap.retention_days >= 0, "[captions] retention_days", f"must be 0 or more, got {cap.retention_days}")
    need(6000 <= cap.bitrate <= 128000, "[captions] bitrate", f"must be 6000..128000 (Opus), got {cap.bitrate}")
    need(cap.start_timeout_s > 0, "[captions] start_timeout_s", f"must be more than 0, got {cap.start_timeout_s:g}")
    need(p.low_min_interval_s >= 0, "[power] low_min_interval_s", f"must be 0 or more, got {p.low_min_interval_s:g}")
    for section, key in LANGUAGE_KEYS:  # "english" or "en_US" would reach the phone and fail there, or be ignored
        try:
            check_language_tag(getattr(getattr(s, section), key), f"{where}[{section}] {key}")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    for gesture, action in s.media.gestures.items():
        button, _, act = gesture.partition(".")
        need(button in BUTTONS and act in ACTIONS, f"[media.gestures] {gesture!r}",
             f"not a gesture: use \"button.action\" with button {' or '.join(BUTTONS)} and action "
             f"{', '.join(ACTIONS)}")
        need(gesture not in RESERVED_GESTURES, f"[media.gestures] {gesture!r}",
             f"belongs to the assistant ({RESERVED_GESTURES.get(gesture)}); map another gesture")
        need(action in MEDIA_ACTIONS, f"[media.gestures] {gesture!r}",
             f"unknown media action {action!r}; use one of {', '.join(MEDIA_ACTIONS)}")


def settings_from_dict(data: dict[str, Any], *, source: str = "settings") -> Settings:
    """Settings from a parsed TOML document; ConfigError names `source` and the offending section or key."""
    where = f"{source}: "
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where}[{section}]: unknown section; known sections: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}{section}: expected a [{section}] table, got {values!r}")
        cls = SECTIONS[section]
        hints = get_type_hints(cls)
        known = [f.name for f in dataclasses.fields(cls)]
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}[{section}] {key}: unknown key; known keys: {', '.join(known)}")
            kwargs[key] = _check_value(f"{where}[{section}]", key, hints[key], value)
        sections[section] = cls(**kwargs)
    settings = Settings(**sections)
    _check_ranges(settings, where)
    return settings


# ---- files -------------------------------------------------------------------------------------------------------


def config_path() -> Path:
    """Where the config file is read from: $GLASSBRIDGE_CONFIG, else platformdirs' user config dir."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("glassbridge")) / "config.toml"


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from `path` (must exist), else from config_path() (defaults when absent at the default place,
    an error when $GLASSBRIDGE_CONFIG names a missing file)."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    p = Path(path) if path is not None else config_path()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        if explicit:
            how = "given" if path is not None else f"named by ${CONFIG_ENV}"
            raise ConfigError(f"{p}: the config file {how} does not exist; create it with "
                              f"`glassbridge config init` (GLASSBRIDGE_CONFIG={p})") from None
        return Settings()
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the config file ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start}); a TOML file is UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return settings_from_dict(data, source=str(p))


# ---- the template ------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    raise TypeError(f"no TOML form for {value!r}")


def _wrap(text: str, width: int = 110) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def _render(settings: Settings, *, comments: bool) -> str:
    out: list[str] = []
    if comments:
        out += ["# glassbridge assistant settings (`glassbridge config init` wrote this file with every default).",
                "# Delete a line to keep its default. Unknown keys are errors, so a typo cannot go unnoticed.", ""]
    for section_field in dataclasses.fields(settings):
        section = getattr(settings, section_field.name)
        tables: list[tuple[str, dict[str, str], str]] = []
        if comments and section.__doc__:
            out.append("# " + section.__doc__.strip().split(": ", 1)[-1])
        out.append(f"[{section_field.name}]")
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, dict):
                tables.append((f.name, value, f.metadata.get("doc", "")))
                continue
            if comments:
                out += [f"# {line}" for line in _wrap(f.metadata.get("doc", ""))]
            out.append(f"{f.name} = {_toml_value(value)}")
        for name, table, doc in tables:
            out.append("")
            if comments:
                out += [f"# {line}" for line in _wrap(doc)]
            out.append(f"[{section_field.name}.{name}]")
            out += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
        out.append("")
    return "\n".join(out)


def settings_template() -> str:
    """The fully commented config file with every default (parses back to `Settings()`)."""
    return _render(Settings(), comments=True)
