"""Wake word on the microphone stream: microWakeWord's "okay nabu" (int8, streaming) through LiteRT.

The pipeline, as microWakeWord was trained:

1. **Features.** The TFLite-Micro audio frontend that microWakeWord was trained with turns each 10 ms of 16 kHz
   PCM16 (160 samples) into 40 log-mel channels, once it holds its first 30 ms window. glassbridge computes it
   with gbnn's fixed-point frontend (glassbridge.nn.Frontend, the same C the MCU runs): identical to
   pymicro-features' `MicroFrontend` on x86_64 on every step (tests/nn/test_frontend.py), and the same on every
   CPU, where pymicro-features' own aarch64 build differs by a few units on some frames.
2. **Model.** Every 3 feature frames (30 ms of audio) the streaming model is invoked once on a (1, 3, 40) int8
   tensor, quantised with the input tensor's scale and zero point (q = round(f / scale + zero_point)). The model
   keeps its own streaming state (ring buffers of earlier activations) inside LiteRT between invokes: that is
   why `reset()` builds a new interpreter rather than clearing anything.
3. **Decision.** The output is a probability per 30 ms step; the wake word is detected when the mean of the last
   `window` steps exceeds `cutoff` (both from the model's `[model.wake_word]` table in models/MANIFEST.toml).
   After a detection the window is emptied and further steps are ignored for `refractory_ms`, because the
   probability stays high for several steps after one utterance: one "okay nabu" gives one detection.

Feed any chunk size (whole samples); the remainder below 10 ms is kept for the next call. Detections carry the
sample index (counted from construction or the last `reset()`) of the end of the step that crossed the cut-off.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np

from glassbridge.audio.wav import SAMPLE_RATE, check_pcm
from glassbridge.models.registry import ModelError, model_info
from glassbridge.models.runtime import TfliteModel

__all__ = ["Detection", "WakeWord", "DEFAULT_REFRACTORY_MS"]

# One utterance of "okay nabu" keeps the probability above the cut-off for up to ~300 ms; 1 s also covers the
# wearer repeating it at once. A question spoken right after still reaches the VAD, which is not muted.
DEFAULT_REFRACTORY_MS = 1000
_STEP_SAMPLES = SAMPLE_RATE // 100  # the frontend consumes exactly 10 ms per call
_STEP_BYTES = 2 * _STEP_SAMPLES


class Detection(NamedTuple):
    """One wake word: `sample` is the index (from the start of the stream) where the deciding step ended."""

    sample: int
    probability: float  # the smoothed (windowed mean) probability that crossed the cut-off

    @property
    def seconds(self) -> float:
        return self.sample / SAMPLE_RATE


class WakeWord:
    """Streaming wake-word detector; see the module docstring.

    `model` is a model id of models/MANIFEST.toml with a `[model.wake_word]` table (found and sha256-verified by
    `glassbridge.models.registry`; a missing or wrong file raises its `ModelError` with the fix). `cutoff` and
    `window` override the table's `probability_cutoff` and `sliding_window_size`.
    """

    def __init__(self, model: str = "okay_nabu", *, cutoff: float | None = None, window: int | None = None,
                 refractory_ms: int = DEFAULT_REFRACTORY_MS) -> None:
        # Imported here: `import glassbridge.audio` stays light.
        from glassbridge.nn.frontend import Frontend

        info = model_info(model)
        table: Any = info.extra.get("wake_word")
        if not isinstance(table, dict):
            raise ModelError(info.file, f"model {model!r} has no [model.wake_word] table in the manifest, so it "
                             "is not a wake-word model", "use a wake-word model id such as 'okay_nabu'")
        self.model_id = model
        self.phrase: str = str(table.get("phrase", model))
        self.cutoff = float(table["probability_cutoff"] if cutoff is None else cutoff)
        self.window = int(table["sliding_window_size"] if window is None else window)
        if not 0.0 < self.cutoff < 1.0:
            raise ValueError(f"cutoff must be between 0 and 1 (exclusive), got {self.cutoff}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1 step, got {self.window}")
        if refractory_ms < 0:
            raise ValueError(f"refractory_ms must not be negative, got {refractory_ms}")
        step_ms = int(table.get("feature_step_ms", 10))
        if step_ms * SAMPLE_RATE // 1000 != _STEP_SAMPLES:
            raise ModelError(info.file, f"model {model!r} wants {step_ms} ms feature steps; the frontend makes 10 ms",
                             "fix models/MANIFEST.toml or use a microWakeWord model")
        self.refractory_samples = refractory_ms * SAMPLE_RATE // 1000
        spec_in, spec_out = info.inputs[0], info.outputs[0]
        self._frames_per_invoke = spec_in.shape[1]  # 3 feature frames of 10 ms: 30 ms per invoke
        self._in_scale = float(spec_in.scale or 1.0)
        self._in_zero = int(spec_in.zero_point or 0)
        self._out_scale = float(spec_out.scale or 1.0)
        self._out_zero = int(spec_out.zero_point or 0)
        self._frontend = Frontend()
        self._model = TfliteModel.from_manifest(model)
        self._pending = bytearray()
        self._features: list[list[float]] = []
        self._recent: deque[float] = deque(maxlen=self.window)
        self._samples = 0
        self._quiet_until = 0
        self.last_probability = 0.0  # raw probability of the latest step (for meters and debugging)
        self.invokes = 0  # model invocations since construction or reset()

    @property
    def samples(self) -> int:
        """Samples consumed so far (fed minus the kept remainder)."""
        return self._samples

    def reset(self) -> None:
        """Forget everything: a new interpreter (LiteRT keeps the model's streaming state), a fresh frontend, an
        empty window; sample indices count from 0 again."""
        self._model = TfliteModel.from_manifest(self.model_id)
        self._frontend.reset()
        self._pending.clear()
        self._features.clear()
        self._recent.clear()
        self._samples = 0
        self._quiet_until = 0
        self.last_probability = 0.0
        self.invokes = 0

    def feed(self, pcm: bytes | bytearray | memoryview) -> list[Detection]:
        """Process PCM16 mono 16 kHz of any length; return the detections it completed (usually none)."""
        check_pcm(pcm)
        self._pending += pcm
        detections: list[Detection] = []
        usable = len(self._pending) - len(self._pending) % _STEP_BYTES
        view = memoryview(self._pending)
        try:
            for offset in range(0, usable, _STEP_BYTES):
                features = self._frontend.process(view[offset:offset + _STEP_BYTES])
                self._samples += _STEP_SAMPLES
                if features is None:
                    continue  # the frontend's first 30 ms window is still filling
                self._features.append(features)
                if len(self._features) == self._frames_per_invoke:
                    detection = self._step()
                    if detection is not None:
                        detections.append(detection)
        finally:
            view.release()  # a bytearray with an exported view cannot be resized
        del self._pending[:usable]
        return detections

    def _step(self) -> Detection | None:
        features = np.asarray(self._features, dtype=np.float32)
        self._features.clear()
        q = np.clip(np.rint(features / self._in_scale + self._in_zero), -128, 127).astype(np.int8)
        (out,) = self._model.run(q[np.newaxis], dequantize=False)
        self.invokes += 1
        probability = self._out_scale * (float(out.reshape(-1)[0]) - self._out_zero)
        self.last_probability = probability
        if self._samples < self._quiet_until:
            return None  # refractory: the model still runs so its streaming state follows the audio
        self._recent.append(probability)
        if len(self._recent) < self.window:
            return None
        mean = sum(self._recent) / self.window
        if mean <= self.cutoff:
            return None
        self._recent.clear()
        self._quiet_until = self._samples + self.refractory_samples
        return Detection(self._samples, mean)

    def __repr__(self) -> str:
        return (f"WakeWord({self.model_id!r}, phrase={self.phrase!r}, cutoff={self.cutoff}, window={self.window}, "
                f"refractory_ms={self.refractory_samples * 1000 // SAMPLE_RATE})")
