"""The wake word's audio frontend in fixed-point C (nn/src/frontend.c), bit-identical to pymicro-features.

`Frontend` is pymicro-features' `MicroFrontend` (the TFLite-Micro audio frontend as microWakeWord configures it:
16 kHz PCM16, 30 ms window, 10 ms step, 40 log-mel channels with noise reduction, PCAN gain control and log scale)
rewritten in portable C11 for the MCU, built into `glassbridge.nn._nn` for the SoC and the tests. Each 10 ms step
(160 samples) gives a frame of 40 uint16 values once the first 30 ms window is full (the third step on);
`process` returns them as pymicro-features does, as floats equal to value * 5/128 exactly, and `process_raw` the
integers. The C state is one fixed-size struct (`STATE_BYTES`), no allocation.

`FrontendQuantizer` maps the uint16 values to the wake-word model's int8 input exactly as
glassbridge.audio.wakeword does with floats (q = clip(rint(value * 5/128 / scale + zero_point), -128, 127) in
float32), with integers only per value; the caller reads scale and zero point from the model's input tensor.
"""

from __future__ import annotations

import importlib
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["Frontend", "FrontendQuantizer", "Pcm", "STEP_SAMPLES", "WINDOW_SAMPLES", "CHANNELS", "FEATURE_SCALE",
           "STATE_BYTES"]

# The extension has no type information of its own here: it is used through this module's typed wrappers.
_nn: Any = importlib.import_module("glassbridge.nn._nn")

STEP_SAMPLES: int = int(_nn.FRONTEND_STEP_SAMPLES)  # 160: 10 ms at 16 kHz, what each step consumes
WINDOW_SAMPLES: int = int(_nn.FRONTEND_WINDOW_SAMPLES)  # 480: 30 ms
CHANNELS: int = int(_nn.FRONTEND_CHANNELS)  # 40
FEATURE_SCALE: float = float(_nn.FRONTEND_FEATURE_SCALE)  # 0.0390625: pymicro-features' float = value * this
STATE_BYTES: int = int(_nn.FRONTEND_STATE_BYTES)  # sizeof(gbnn_frontend): all the memory one stream needs

# PCM16 little-endian bytes, or int16 samples.
Pcm = Union[bytes, bytearray, memoryview, NDArray[np.int16]]


class Frontend:
    """One audio stream through the fixed-point frontend; see the module docstring."""

    def __init__(self) -> None:
        self._fe = _nn.Frontend()

    def process_raw(self, pcm: Pcm) -> NDArray[np.uint16] | None:
        """One step of exactly 160 samples: the frame's 40 uint16 values, or None while the first window fills."""
        out: NDArray[np.uint16] | None = self._fe.process_raw(pcm)
        return out

    def process(self, pcm: Pcm) -> list[float] | None:
        """One step of exactly 160 samples: the 40 features as pymicro-features returns them (value * 5/128),
        or None while the first window fills (pymicro-features returns an empty list then)."""
        raw = self.process_raw(pcm)
        if raw is None:
            return None
        return [int(v) * FEATURE_SCALE for v in raw]

    def process_stream(self, pcm: Pcm) -> NDArray[np.uint16]:
        """Steps over a multiple of 160 samples: a (frames, 40) uint16 array, one row per step that made a frame
        (the stream continues from and into this object's state)."""
        out: NDArray[np.uint16] = self._fe.process_stream(pcm)
        return out

    def reset(self) -> None:
        """Forget the stream: empty window, zero noise estimates (as pymicro-features' reset())."""
        self._fe.reset()


class FrontendQuantizer:
    """uint16 frontend values -> int8 model input for one (scale, zero_point); see the module docstring."""

    def __init__(self, scale: float, zero_point: int) -> None:
        """`scale` > 0 and finite (as a float32, as the model stores it), `zero_point` in -128..127; ValueError
        otherwise."""
        self._q = _nn.FrontendQuantizer(scale, zero_point)
        self.scale = float(self._q.scale)
        self.zero_point = int(self._q.zero_point)

    @property
    def thresholds(self) -> NDArray[np.uint32]:
        """255 values: thresholds[j] is the smallest value mapping to at least -127 + j (65536: none does)."""
        out: NDArray[np.uint32] = self._q.thresholds
        return out

    def quantize(self, values: NDArray[np.uint16]) -> NDArray[np.int8]:
        """int8 of each value, any shape."""
        out: NDArray[np.int8] = self._q.quantize(values)
        return out

    def __repr__(self) -> str:
        return f"FrontendQuantizer(scale={self.scale!r}, zero_point={self.zero_point})"
