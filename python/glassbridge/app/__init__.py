"""The glasses' application: the one place that builds the Assistant from the real parts, for `glassbridge run` on
a dev kit and for the simulated glasses (`glassbridge demo`, `bench e2e`) alike, and the pairing dialog on the
glasses' display (pairing.py).

    assistant = build_assistant(settings, mcu, phone, camera, timeline=timeline)
    task = asyncio.create_task(assistant.run())

Layer: above assistant, mcu, phone, vision and audio; only cli and sim import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glassbridge.app.pairing import McuPairingUI, pairing_title

if TYPE_CHECKING:
    from glassbridge.assistant.config import Settings
    from glassbridge.assistant.loop import Assistant
    from glassbridge.assistant.timeline import Timeline

__all__ = ["McuPairingUI", "build_assistant", "pairing_title"]


def build_assistant(settings: Settings, mcu: Any, phone: Any, camera: Any, *, timeline: Timeline | None = None,
                    **parts: Any) -> Assistant:
    """The Assistant with the real perception (FacePerceiver: BlazeFace, the emotion classifier only when opted
    in), the espeak-ng voice and, when [wake_word] is enabled, the wake word the Assistant builds from the settings
    (assistant.loop.build_wake_word: the one place). `parts` overrides any of perceiver, voice, wake_word, audio,
    clock (tests, other boards)."""
    from glassbridge.assistant.loop import Assistant
    from glassbridge.assistant.perception import FacePerceiver
    from glassbridge.audio import EspeakVoice

    perceiver = parts.pop("perceiver", None) or FacePerceiver()
    voice = parts.pop("voice", None) or EspeakVoice()
    return Assistant(settings, mcu, phone, camera, perceiver, voice, timeline=timeline, **parts)
