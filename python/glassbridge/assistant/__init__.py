"""The assistant loop: what the glasses do with a tap, a nod, "okay nabu" and the phone's events.

    from glassbridge.assistant import Assistant, FacePerceiver, load_settings
    assistant = Assistant(load_settings(), mcu, phone, camera, FacePerceiver(), voice, wake_word=wake)
    await assistant.run()                                  # until assistant.stop()

Modules: config (Settings from TOML), ports (what the loop needs from the Mcu, the Phone, the camera, perception,
the voice and the wake word), loop (Assistant, the state machine), the skills (ask, offline, cards, captions,
media, wake, power, mic), context (SkillContext and SharedState: all a skill sees of the loop and of the other
skills), question (Question), perception (FacePerceiver, LocalPerception -> pb.Perception), photo (the JPEG for
the phone), timeline (every event with its time), transcripts, text.
"""

from __future__ import annotations

from glassbridge.assistant.audio_tools import AudioTools
from glassbridge.assistant.config import ConfigError, Settings, config_path, load_settings, settings_template
from glassbridge.assistant.loop import STATES, Assistant
from glassbridge.assistant.perception import FacePerceiver, LocalPerception, SeenFace
from glassbridge.assistant.photo import photo_for_phone
from glassbridge.assistant.question import Question
from glassbridge.assistant.timeline import Timeline, TimelineEvent

__all__ = [
    "Assistant",
    "AudioTools",
    "ConfigError",
    "FacePerceiver",
    "LocalPerception",
    "Question",
    "STATES",
    "SeenFace",
    "Settings",
    "Timeline",
    "TimelineEvent",
    "config_path",
    "load_settings",
    "photo_for_phone",
    "settings_template",
]
