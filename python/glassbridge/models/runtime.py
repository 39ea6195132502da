"""LiteRT runner: one .tflite model, its input filled in place by a native kernel, its outputs read back.

LiteRT (ai-edge-litert) ships no C/C++ headers, so Python drives ``invoke()`` while C++ writes the input straight
into the interpreter's own tensor memory: ``interpreter.tensor(i)()`` is a numpy view of that memory, the
preprocessing kernel writes into it with the GIL released, and nothing is copied on the way in.

The pitfall (ARCHITECTURE decision 1): while any reference to such a view is alive, ``invoke()`` refuses to run
("There is at least 1 reference to internal data"). `TfliteModel.fill` therefore takes the view, hands it to your
writer, drops it, and only then invokes. Outputs can be read the same way: a `read` callback gets views of the
output tensors (the C++ decoder reads them in place) and must not keep them either.

Safety: a model file listed in models/MANIFEST.toml is verified (size, sha256) by `glassbridge.models.registry`
before LiteRT sees it. Any other file (a path a user gives) is first loaded, allocated and invoked once in a
child process: LiteRT can crash the whole process on a corrupt flatbuffer, and a crash in the child becomes a
`ModelError` naming the file instead of killing the caller.

Kernels: every model runs with LiteRT's default op resolver (XNNPACK) unless told otherwise: `resolver="builtin"`
(LiteRT's optimised kernels without XNNPACK) or `"reference"` (its reference kernels: slow, but bit-identical across
x86_64 and aarch64 for int8). `TfliteModel.from_manifest` uses `preferred_resolver(model_id)`, which is "default"
until the model self-test (glassbridge.models.selftest) finds that the default kernels of this board disagree with
the stored reference outputs and records, with `set_preferred_resolver`, one that agrees.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, overload

import numpy as np

from glassbridge.models.registry import TFLITE_IDENTIFIER, ModelError, check_tensors, model_info, model_path

__all__ = ["TensorInfo", "TfliteModel", "PROBE_TIMEOUT_S", "RESOLVERS", "Resolver", "dequantize_output",
           "preferred_resolver", "preferred_resolvers", "reset_preferred_resolvers", "set_preferred_resolver"]

# Loading, allocating and invoking a small model takes well under a second; the child also imports LiteRT
# (~0.5 s). A model that needs longer than this to load is not one for the glasses.
PROBE_TIMEOUT_S = 30.0

T = TypeVar("T")

_USER_MODEL_ADVICE = "check the path, or re-export the model with the TFLite converter"

log = logging.getLogger(__name__)

#: LiteRT's op resolvers by our name: "default" is what LiteRT picks (its optimised kernels with the XNNPACK
#: delegate), "builtin" the optimised kernels without XNNPACK, "reference" the reference kernels.
Resolver = Literal["default", "builtin", "reference"]
RESOLVERS: tuple[Resolver, ...] = get_args(Resolver)
_LITERT_RESOLVER = {"default": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "reference": "BUILTIN_REF"}

# model id -> the resolver `from_manifest` uses for it; set by the model self-test only, per process.
_preferred: dict[str, Resolver] = {}


def preferred_resolver(model_id: str) -> Resolver:
    """The resolver `TfliteModel.from_manifest(model_id)` uses: "default" unless the self-test recorded another."""
    return _preferred.get(model_id, "default")


def preferred_resolvers() -> dict[str, Resolver]:
    """A copy of every recorded preference (model id -> resolver)."""
    return dict(_preferred)


def set_preferred_resolver(model_id: str, resolver: Resolver | None) -> None:
    """Make `from_manifest(model_id)` use `resolver` from now on (None or "default": forget the preference).
    Models already built keep the resolver they were built with."""
    if resolver is not None and resolver not in RESOLVERS:
        raise ValueError(f"resolver must be one of {', '.join(RESOLVERS)}, got {resolver!r}")
    if resolver is None or resolver == "default":
        _preferred.pop(model_id, None)
    else:
        _preferred[model_id] = resolver


def reset_preferred_resolvers() -> None:
    """Forget every preference (tests; a new self-test)."""
    _preferred.clear()


@contextlib.contextmanager
def _litert_info_to_log() -> Iterator[None]:
    """Route what LiteRT's C++ logging writes to stderr while a model loads into this module's logger.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to file descriptor 2, in
    the middle of a command's output. INFO lines become debug records; anything else (warnings, errors) goes back
    to stderr unchanged, so nothing is lost.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreter): leave stderr alone
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.startswith("INFO: "):
                    log.debug("LiteRT: %s", line[6:])
                elif line:
                    print(line, file=sys.stderr)


def dequantize_output(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32((q - zero_point)) * float32(scale): the affine dequantisation TFLite defines, rounded exactly as the
    C++ postprocess kernel does (the difference is exact in float32 for 8-bit values, then one float32 multiply).
    In numpy so the runner (used by vision and audio alike) needs no native module: outputs are small."""
    s = np.float32(scale)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"dequantize: scale must be finite and > 0, got {scale}")
    return (q.astype(np.int32) - np.int32(zero_point)).astype(np.float32) * s


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor as LiteRT reports it. `scale` is None for float tensors."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float | None = None
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale is not None


def _tensor_info(path: Path, kind: str, d: dict[str, Any]) -> TensorInfo:
    params = d.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", ()))
    if scales.size > 1:
        # Per-channel quantisation of an input or output would need a per-channel (de)quantiser: not supported.
        raise ModelError(path, f"{kind} {d['name']!r} is quantised per channel ({scales.size} scales)",
                         "use a model with per-tensor quantised inputs and outputs")
    scale, zero_point = d["quantization"]
    quantized = scale != 0.0 and np.dtype(d["dtype"]) != np.float32
    return TensorInfo(
        index=int(d["index"]),
        name=str(d["name"]),
        shape=tuple(int(x) for x in d["shape"]),
        dtype=np.dtype(d["dtype"]),
        scale=float(scale) if quantized else None,
        zero_point=int(zero_point) if quantized else 0,
    )


def _check_identifier(path: Path, advice: str) -> None:
    """Refuse files that are missing or are not TFLite flatbuffers before LiteRT reads them."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise ModelError(path, "missing", advice) from None
    except IsADirectoryError:
        raise ModelError(path, "is a directory, not a model file", advice) from None
    except OSError as exc:
        raise ModelError(path, f"cannot be read ({exc.strerror or exc})", advice) from exc
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        found = "an empty file" if not head else f"file identifier {head[4:8]!r} at bytes 4..8"
        raise ModelError(path, f"is not a TFLite flatbuffer ({found}, expected {TFLITE_IDENTIFIER!r})", advice)


# Run in the child: load, allocate, invoke once on zeros, report the input tensors as JSON on the last line.
_PROBE = r"""
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1], num_threads=1)
it.allocate_tensors()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
it.invoke()
print(json.dumps([len(it.get_input_details()), len(it.get_output_details())]))
"""


def probe_in_child(path: Path, *, timeout: float = PROBE_TIMEOUT_S, advice: str = _USER_MODEL_ADVICE) -> None:
    """Load, allocate and invoke `path` once in a child process; raise ModelError if LiteRT fails or crashes."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(path, f"LiteRT did not load and run it within {timeout:.0f} s", advice) from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise ModelError(path, f"LiteRT crashed ({name}) while loading it: the file is corrupt", advice)
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ModelError(path, f"LiteRT cannot load it ({reason})", advice)
    try:
        json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ModelError(path, "LiteRT's check of it gave no result", advice) from None


class TfliteModel:
    """One LiteRT interpreter (`resolver`: XNNPACK by default; `threads` threads) with zero-copy input filling.

    Build it from the manifest (`TfliteModel.from_manifest("blazeface_full_range_sparse")`: verified file,
    tensors checked against the manifest) or from a path (`TfliteModel(path)`: probed in a child process first).
    `input_shape` / `input_dtype` state what the calling code will write; a model that differs is refused with a
    ModelError naming the file, before anything is written into its memory.

    One model object may be shared between threads: `fill` and `run` hold a lock (the interpreter itself is not
    thread-safe).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int = 1,
        input_shape: Sequence[int] | None = None,
        input_dtype: Any = None,
        verified: bool = False,
        advice: str = _USER_MODEL_ADVICE,
        resolver: Resolver = "default",
    ) -> None:
        """verified=True skips the child-process probe: only for files whose sha256 the registry checked.
        resolver: LiteRT's kernels, "default" (XNNPACK), "builtin" (no XNNPACK) or "reference" (module docstring)."""
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if resolver not in RESOLVERS:
            raise ValueError(f"resolver must be one of {', '.join(RESOLVERS)}, got {resolver!r}")
        self.path = Path(path)
        self.threads = int(threads)
        self.resolver: Resolver = resolver
        _check_identifier(self.path, advice)
        if not verified:
            probe_in_child(self.path, advice=advice)
        from ai_edge_litert.interpreter import Interpreter, OpResolverType  # on first model: keeps `import` light

        try:
            with _litert_info_to_log():
                self._interp = Interpreter(model_path=str(self.path), num_threads=self.threads,
                                           experimental_op_resolver_type=OpResolverType[_LITERT_RESOLVER[resolver]])
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(self.path, f"LiteRT cannot load it ({exc})", advice) from exc
        self.input_details = self._interp.get_input_details()
        self.output_details = self._interp.get_output_details()
        if len(self.input_details) != 1:
            raise ModelError(self.path, f"has {len(self.input_details)} inputs; TfliteModel runs one-input models",
                             advice)
        self.input = _tensor_info(self.path, "input", self.input_details[0])
        self.outputs = tuple(_tensor_info(self.path, "output", d) for d in self.output_details)
        if input_shape is not None and tuple(int(x) for x in input_shape) != self.input.shape:
            raise ModelError(self.path, f"input {self.input.name!r} has shape {list(self.input.shape)}, expected "
                             f"{[int(x) for x in input_shape]}", advice)
        if input_dtype is not None and np.dtype(input_dtype) != self.input.dtype:
            raise ModelError(self.path, f"input {self.input.name!r} has type {self.input.dtype.name}, expected "
                             f"{np.dtype(input_dtype).name}", advice)
        self._lock = threading.Lock()

    @classmethod
    def from_manifest(cls, model_id: str, *, threads: int = 1, resolver: Resolver | None = None) -> TfliteModel:
        """The manifest's model `model_id`, verified, with its tensors checked against the manifest; with
        `preferred_resolver(model_id)` unless `resolver` is given."""
        info = model_info(model_id)
        path = model_path(info)
        spec = info.inputs[0]
        model = cls(path, threads=threads, input_shape=spec.shape, input_dtype=spec.dtype, verified=True,
                    resolver=preferred_resolver(model_id) if resolver is None else resolver)
        check_tensors(info, path, model.input_details, model.output_details)
        return model

    # -----------------------------------------------------------------------------------------------------------

    @overload
    def fill(self, writer: Callable[[np.ndarray], None], *, dequantize: bool = True) -> list[np.ndarray]: ...

    @overload
    def fill(
        self, writer: Callable[[np.ndarray], None], *, read: Callable[[list[np.ndarray]], T], dequantize: bool = True
    ) -> T: ...

    def fill(
        self,
        writer: Callable[[np.ndarray], None],
        *,
        read: Callable[[list[np.ndarray]], T] | None = None,
        dequantize: bool = True,
    ) -> T | list[np.ndarray]:
        """Let `writer` fill the input tensor in place, invoke, and return the outputs.

        writer(view): gets the (1, H, W, C) view of the interpreter's input memory and must write every element
          (the kernel `glassbridge.vision.preprocess` does, GIL released). It must not keep the view.
        read(views): optional; gets views of the output tensors (raw, not dequantised), returns what fill
          returns, and must not keep the views either. Without it, fill returns copies of the outputs,
          dequantised to float32 when `dequantize` and the output is quantised.
        """
        with self._lock:
            view = self._interp.tensor(self.input.index)()  # the function tensor() returns is dropped at once
            try:
                writer(view)
            finally:
                del view
            self._invoke()
            if read is not None:
                views = [self._interp.tensor(o.index)() for o in self.outputs]
                try:
                    return read(views)
                finally:
                    del views
            return self._read_outputs(dequantize)

    def run(self, array: np.ndarray, *, dequantize: bool = True) -> list[np.ndarray]:
        """Copy `array` into the input (set_tensor), invoke, return the outputs. For tests and references."""
        array = np.asarray(array)
        if array.shape != self.input.shape or array.dtype != self.input.dtype:
            raise ValueError(f"{self.path.name}: input must be {self.input.dtype.name} {list(self.input.shape)}, "
                             f"got {array.dtype.name} {list(array.shape)}")
        with self._lock:
            self._interp.set_tensor(self.input.index, array)
            self._invoke()
            return self._read_outputs(dequantize)

    def input_address(self) -> int:
        """Address of the interpreter's input buffer (stable across invokes): lets tests prove zero-copy."""
        with self._lock:
            view = self._interp.tensor(self.input.index)()
            address = int(view.ctypes.data)
            del view
            return address

    def get_input(self) -> np.ndarray:
        """A copy of what the input tensor holds now (tests: check what a writer wrote)."""
        with self._lock:
            return np.array(self._interp.get_tensor(self.input.index))

    def invoke_only(self) -> None:
        """Invoke on whatever the input holds (benchmarks: the model's time alone)."""
        with self._lock:
            self._invoke()

    # -----------------------------------------------------------------------------------------------------------

    def _invoke(self) -> None:
        try:
            self._interp.invoke()
        except RuntimeError as exc:
            if "reference to internal data" in str(exc):
                raise RuntimeError(
                    f"{self.path.name}: a view of LiteRT's tensor memory is still referenced, so invoke() refused "
                    "to run; writers and readers passed to TfliteModel.fill must not keep the array they get"
                ) from exc
            raise

    def _read_outputs(self, dequantize: bool) -> list[np.ndarray]:
        outs = []
        for o in self.outputs:
            value = self._interp.get_tensor(o.index)  # a copy: safe to keep
            if dequantize and o.scale is not None and value.dtype in (np.int8, np.uint8):
                value = dequantize_output(value, o.scale, o.zero_point)
            outs.append(value)
        return outs

    def __repr__(self) -> str:
        kernels = "" if self.resolver == "default" else f", resolver={self.resolver!r}"
        return (f"TfliteModel({self.path.name!r}, threads={self.threads}{kernels}, input={self.input.dtype.name}"
                f"{list(self.input.shape)}, outputs={[list(o.shape) for o in self.outputs]})")
