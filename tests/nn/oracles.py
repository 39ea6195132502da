"""The oracles gbnn must match bit for bit: TFLite Micro (in a subprocess worker) and LiteRT's reference kernels.

* ``run_tflm(cases)`` runs each case (model bytes, a list of invocations, each a list of input arrays) through
  TFLM's Python runtime (``tflite_micro``, x86_64 wheels only) in a worker process, many cases per worker. TFLM
  aborts or segfaults on some malformed or unsupported models: the case that killed the worker is reported as a
  crash (``Outcome.crashed``) and a fresh worker goes on with the next case. An error TFLM reports (a refused
  model) is ``Outcome.error``.
* ``run_litert_ref(model, invocations)`` runs the same in process through LiteRT's ``BUILTIN_REF`` resolver
  (never its default or XNNPACK kernels, which round differently).

``tflm_available()`` / ``litert_available()`` say whether each can run here. Run as a script, this module is the
worker (``python oracles.py --worker``): length-prefixed pickles on stdin and stdout.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
import platform
import struct
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Invocation = list[Array]


@dataclasses.dataclass
class Outcome:
    """What one model did: per invocation, its outputs; or an error message; or a crash."""

    outputs: list[list[Array]] = dataclasses.field(default_factory=list)
    error: str | None = None
    crashed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.crashed


def output_count(model: bytes) -> int:
    """The number of outputs of the model's first subgraph."""
    import tflite  # type: ignore[import-untyped]

    return int(tflite.Model.GetRootAsModel(model, 0).Subgraphs(0).OutputsLength())


def tflm_available() -> bool:
    return platform.machine() == "x86_64" and importlib.util.find_spec("tflite_micro") is not None


def litert_available() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


# ---- the worker (runs in the subprocess) ----

def _read_msg(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


def _write_msg(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _tflm_one(model: bytes, invocations: list[Invocation]) -> Outcome:
    from tflite_micro import runtime  # type: ignore[import-untyped]

    try:
        interp = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20))
        n_outputs = output_count(model)  # an index past the last output would segfault TFLM
        out = Outcome()
        for inputs in invocations:
            for i, x in enumerate(inputs):
                interp.set_input(x, i)
            interp.invoke()
            out.outputs.append([np.array(interp.get_output(k)) for k in range(n_outputs)])
        return out
    except Exception as e:  # TFLM refused the model or an input
        return Outcome(error=f"{type(e).__name__}: {e}")


def _worker() -> None:
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        msg = _read_msg(stdin)
        if msg is None:
            return
        model, invocations = msg
        got = _tflm_one(model, invocations)
        _write_msg(stdout, (got.outputs, got.error))  # plain data: the parent's module is not __main__ here


# ---- the parent side ----

def run_tflm(cases: Sequence[tuple[bytes, list[Invocation]]]) -> list[Outcome]:
    """Every case through TFLM, in order, in as few worker processes as crashes allow."""
    results: list[Outcome] = []
    pending = list(cases)
    while pending:
        done = 0
        with subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                for model, invocations in pending:
                    _write_msg(proc.stdin, (model, invocations))
                    reply = _read_msg(proc.stdout)
                    if reply is None:  # the worker died on this case
                        break
                    results.append(Outcome(outputs=reply[0], error=reply[1]))
                    done += 1
                proc.stdin.close()
            except BrokenPipeError:
                pass
        if done < len(pending):
            results.append(Outcome(crashed=True, error=f"TFLM worker died (exit {proc.returncode})"))
            done += 1
        pending = pending[done:]
    return results


def run_litert_ref(model: bytes, invocations: list[Invocation]) -> Outcome:
    """The model through LiteRT's reference kernels (BUILTIN_REF), in process."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        interp = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        interp.allocate_tensors()
        ins = interp.get_input_details()
        outs = interp.get_output_details()
        out = Outcome()
        for inputs in invocations:
            for d, x in zip(ins, inputs, strict=True):
                interp.set_tensor(d["index"], x)
            interp.invoke()
            out.outputs.append([np.array(interp.get_tensor(d["index"])) for d in outs])
        return out
    except Exception as e:
        return Outcome(error=f"{type(e).__name__}: {e}")


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker()
