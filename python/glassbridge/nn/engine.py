"""Int8Model: a quantised .tflite model run by gbnn, glassbridge's own int8 engine (nn/, portable C11), bit-exact
with TensorFlow Lite Micro.

The same C sources run in the MCU firmware; here they are built into ``glassbridge.nn._nn``. A model whose op,
variant or tensor type gbnn lacks is refused when it is opened (``EngineError`` with ``status`` "GBNN_UNSUPPORTED"
and the op's schema name in the message); a corrupt model gives "GBNN_BAD_MODEL". The arena is sized from the model
(``arena_bytes``: bookkeeping, per-op data, variables and the planned activations).

The API follows LiteRT's Interpreter where it can: ``input_details()`` / ``output_details()`` give, per tensor,
``index``, ``shape`` (numpy int32), ``dtype`` (numpy type), ``quantization`` (scale, zero_point) and
``quantization_parameters`` (``scales``, ``zero_points``, ``quantized_dimension``). Streaming state (resource
variables) persists across ``invoke()`` calls until ``reset()``, which, as TFLM's, puts every variable back to its
zero point (a CALL_ONCE initialiser does not run again). With ``preserve_all_tensors=True`` every tensor keeps its
own space and ``tensor(i)`` reads it after an invoke (tests).

Kernel sets: the convolution, depthwise and fully connected inner loops exist in plain C (``"ref"``) and in SIMD /
DSP forms (``"sse41"``, ``"avx2"`` on x86-64, ``"neon"`` on AArch64, ``"dsp"`` on the Cortex-M4F), each identical
to the plain C. A model uses the fastest set available (``default_isa()``) unless ``isa=`` names one
(``isa_available(name)`` says which this machine has); tests run every set.

No LiteRT here: this module imports numpy and the extension only.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EngineError", "ISAS", "Int8Model", "TensorDetails", "QuantizationParameters", "builtin_name", "default_isa",
    "isa_available",
]

# The extension has no type information of its own: it is used through this module's typed wrappers.
_nn: Any = importlib.import_module("glassbridge.nn._nn")

EngineError: type[RuntimeError] = _nn.EngineError
"""gbnn refused the model or failed: ``status`` (e.g. "GBNN_UNSUPPORTED"), ``message``, ``node``, ``subgraph``
(-1 when not about one node), ``arena_needed``."""

_DTYPES: dict[str, type[np.generic]] = {
    "float32": np.float32, "int32": np.int32, "uint8": np.uint8, "int64": np.int64, "bool": np.bool_,
    "int16": np.int16, "int8": np.int8,
}


class QuantizationParameters(TypedDict):
    scales: NDArray[np.float32]
    zero_points: NDArray[np.int32]
    quantized_dimension: int


class TensorDetails(TypedDict):
    index: int
    shape: NDArray[np.int32]
    dtype: type[np.generic] | None  # None for a resource handle (no data)
    quantization: tuple[float, int]
    quantization_parameters: QuantizationParameters


def builtin_name(code: int) -> str:
    """The .tflite schema's BuiltinOperator name of `code` ("CONV_2D"), "UNKNOWN" past the schema's table."""
    return str(_nn.builtin_name(code))


ISAS: tuple[str, ...] = ("ref", "sse41", "avx2", "neon", "dsp")
"""gbnn's kernel sets, by name (nn/include/gbnn/isa.h)."""


def isa_available(name: str) -> bool:
    """Whether this build and CPU have kernel set `name` (one of ``ISAS``); ValueError for an unknown name."""
    return bool(_nn.isa_available(name))


def default_isa() -> str:
    """The kernel set a model uses when ``isa`` is not given: the fastest this machine has."""
    return str(_nn.default_isa())


def _details(raw: dict[str, Any]) -> TensorDetails:
    return TensorDetails(
        index=int(raw["index"]),
        shape=np.array(raw["shape"], dtype=np.int32),
        dtype=_DTYPES.get(str(raw["dtype"])),
        quantization=(float(raw["scale"]), int(raw["zero_point"])),
        quantization_parameters=QuantizationParameters(
            scales=np.array(raw["scales"], dtype=np.float32),
            zero_points=np.array(raw["zero_points"], dtype=np.int32),
            quantized_dimension=int(raw["quantized_dimension"]),
        ),
    )


class Int8Model:
    """One opened model and its arena (see the module's docstring). Not thread-safe: one invoke at a time."""

    def __init__(self, model: bytes, *, preserve_all_tensors: bool = False, arena_size: int | None = None,
                 isa: str | None = None) -> None:
        """`isa`: the kernel set (one of ``ISAS``; ValueError when unknown or not available here); None: the
        fastest available."""
        self._it: Any = _nn.Interpreter(model, preserve_all_tensors, arena_size, isa)
        self._inputs = [_details(self._it.input_details(i)) for i in range(self._it.input_count)]
        self._outputs = [_details(self._it.output_details(i)) for i in range(self._it.output_count)]

    @classmethod
    def from_bytes(cls, model: bytes, *, preserve_all_tensors: bool = False,
                   arena_size: int | None = None, isa: str | None = None) -> Int8Model:
        return cls(model, preserve_all_tensors=preserve_all_tensors, arena_size=arena_size, isa=isa)

    @classmethod
    def from_file(cls, path: str | Path, *, preserve_all_tensors: bool = False,
                  arena_size: int | None = None, isa: str | None = None) -> Int8Model:
        return cls(Path(path).read_bytes(), preserve_all_tensors=preserve_all_tensors, arena_size=arena_size,
                   isa=isa)

    def input_details(self) -> list[TensorDetails]:
        return list(self._inputs)

    def output_details(self) -> list[TensorDetails]:
        return list(self._outputs)

    def tensor_details(self, index: int) -> TensorDetails:
        """Details of tensor `index` of the main subgraph (the model's own numbering)."""
        return _details(self._it.details(index))

    @property
    def tensor_count(self) -> int:
        return int(self._it.tensor_count)

    @property
    def arena_bytes(self) -> int:
        """Arena bytes the model uses: bookkeeping, per-op data, variables and the planned activations."""
        return int(self._it.arena_used)

    def set_input(self, value: NDArray[Any], index: int = 0) -> None:
        """Copies `value` (the input's dtype and number of elements) into input `index`."""
        self._it.set_input(index, np.ascontiguousarray(value))

    def invoke(self) -> None:
        self._it.invoke()

    def output(self, index: int = 0) -> NDArray[Any]:
        """A copy of output `index` after the last invoke."""
        return np.asarray(self._it.output(index))

    def tensor(self, index: int) -> NDArray[Any]:
        """A copy of tensor `index` (needs preserve_all_tensors=True to be meaningful for intermediate tensors)."""
        return np.asarray(self._it.tensor(index))

    def reset(self) -> None:
        """Forgets the streaming state, as TFLM's reset: every variable back to its zero point."""
        self._it.reset()

    def run(self, *inputs: NDArray[Any]) -> list[NDArray[Any]]:
        """Sets every input in order, invokes, returns every output."""
        for i, x in enumerate(inputs):
            self.set_input(x, i)
        self.invoke()
        return [self.output(i) for i in range(len(self._outputs))]
