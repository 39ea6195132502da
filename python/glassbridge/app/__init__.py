"""The glasses' application: the one place that builds the Assistant from the real parts, for `glassbridge run` on
a dev kit and for the simulated glasses (`glassbridge demo`, `bench e2e`) alike, and the pairing dialog on the
glasses' display (pairing.py).

    assistant = build_assistant(settings, mcu, phone, camera, timeline=timeline)
    task = asyncio.create_task(assistant.run())

Before it builds any model, `build_assistant` runs the model self-test (glassbridge.models.selftest) once per
process on the models it is about to build: a board whose default LiteRT kernels disagree with the stored
reference outputs gets, with a warning naming the models, kernels that agree, instead of a classifier that calls a
smiling person sad. It costs ~0.1 s on x86_64 (a few invokes), so no setting turns it off.

Layer: above assistant, mcu, phone, vision and audio; only cli and sim import it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from glassbridge.app.pairing import McuPairingUI, pairing_title

if TYPE_CHECKING:
    from glassbridge.assistant.config import Settings
    from glassbridge.assistant.loop import Assistant
    from glassbridge.assistant.timeline import Timeline
    from glassbridge.models.selftest import SelfTestReport

__all__ = ["McuPairingUI", "build_assistant", "check_models", "pairing_title"]

log = logging.getLogger(__name__)

#: The perceiver's models (glassbridge.assistant.perception.FacePerceiver: full-range BlazeFace, the classifier).
PERCEPTION_MODELS = ("blazeface_full_range_sparse", "emotion_fer_int8")


def check_models(models: tuple[str, ...] | list[str]) -> SelfTestReport | None:
    """The model self-test on `models`, once per process (later calls return the first report): logs a warning
    naming the models that fell back to other kernels, an error naming those that fail with every kernel.
    Returns the glassbridge.models.selftest.SelfTestReport (None when there is nothing to check)."""
    if not models:
        return None
    from glassbridge.models.selftest import self_test_once

    report = self_test_once(list(models))
    features = " ".join(report.cpu_features) or "unknown"
    for check in report.checks:
        if check.status == "fallback":
            log.warning("model self-test: %s; CPU %s, features: %s", check.line(), report.machine, features)
        elif check.status == "failed":
            log.error("model self-test: %s; CPU %s, features: %s; its results on this board are wrong",
                      check.line(), report.machine, features)
        elif check.status == "skipped":
            log.info("model self-test: %s", check.line())
    if report.fell_back:
        log.warning("model self-test: %s fell back from LiteRT's default kernels (%.2f s)",
                    ", ".join(report.fell_back), report.seconds)
    else:
        log.info("model self-test: %d model(s) checked in %.2f s", len(report.checks), report.seconds)
    return report


def build_assistant(settings: Settings, mcu: Any, phone: Any, camera: Any, *, timeline: Timeline | None = None,
                    **parts: Any) -> Assistant:
    """The Assistant with the real perception (FacePerceiver: BlazeFace, the emotion classifier only when opted
    in), the espeak-ng voice and, when [wake_word] is enabled, the wake word the Assistant builds from the settings
    (assistant.loop.build_wake_word: the one place). `parts` overrides any of perceiver, voice, wake_word, audio,
    clock (tests, other boards). First the model self-test (`check_models`) on the models it builds itself."""
    from glassbridge.assistant.loop import Assistant
    from glassbridge.assistant.perception import FacePerceiver
    from glassbridge.audio import EspeakVoice

    own: list[str] = [] if parts.get("perceiver") else list(PERCEPTION_MODELS)
    if settings.wake_word.enabled and parts.get("wake_word") is None:
        own.append(settings.wake_word.model)
    check_models(own)
    perceiver = parts.pop("perceiver", None) or FacePerceiver()
    voice = parts.pop("voice", None) or EspeakVoice()
    return Assistant(settings, mcu, phone, camera, perceiver, voice, timeline=timeline, **parts)
