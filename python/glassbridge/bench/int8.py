"""The SoC half of `glassbridge bench int8`: per-invoke time of the int8 models on gbnn (glassbridge.nn.Int8Model)
against LiteRT with one thread (glassbridge.models.runtime.TfliteModel from the manifest: the resolver its users
get, XNNPACK by default), and callgrind instructions per invoke of gbnn.

Both contenders do the same work per call: copy an int8 input in, invoke, copy the output out, from Python. The
harness (glassbridge.bench.harness) times them in one process, interleaved, after a warm-up; medians and ratios
are the figures. Inputs: okay_nabu streams its self-test features (real speech through a detection, cycled, so
its streaming state follows real audio on both); emotion_fer_int8 gets seeded random 64x64 crops (its cost does
not depend on the values).

The MCU half (QEMU instruction counts, sizes, detections, UART bytes) needs the rig: glassbridge_rig.bench.int8.

    python -m glassbridge.bench.int8 callgrind MODEL_ID N    # what valgrind runs: open, one warm-up, N invokes
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassbridge.bench.harness import Contender, Cycle, run_interleaved, speedup

MODELS = ("okay_nabu", "emotion_fer_int8")
# Invokes of the two callgrind runs per model (their difference is what is divided).
CALLGRIND_INVOKES = {"okay_nabu": (10, 40), "emotion_fer_int8": (2, 6)}


@dataclass
class SocSettings:
    models: tuple[str, ...] = MODELS
    rounds: int = 300
    seed: int = 1
    callgrind: bool = True

    @classmethod
    def quick_settings(cls) -> SocSettings:
        return cls(rounds=30, callgrind=False)


def _inputs(model_id: str, shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    if model_id == "okay_nabu":
        from glassbridge.models.selftest import DATA_DIR

        npz = DATA_DIR / "okay_nabu.npz"
        if npz.is_file():
            return [np.ascontiguousarray(x.reshape(shape)) for x in np.load(npz)["input"]]
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(16)]


def _model_file(model_id: str) -> Path:
    from glassbridge.models.registry import model_info, model_path

    return Path(model_path(model_info(model_id)))


def _gbnn(model_id: str) -> Any:
    from glassbridge.nn.engine import Int8Model

    return Int8Model.from_file(_model_file(model_id))


def time_models(settings: SocSettings, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Per model: each contender's median, p10, p90 per invoke, the ratio LiteRT / gbnn and the arena sizes."""
    from glassbridge.models.runtime import TfliteModel

    out = []
    for model_id in settings.models:
        progress(f"SoC: {model_id}, gbnn vs LiteRT (1 thread), {settings.rounds} interleaved rounds")
        ours = _gbnn(model_id)
        litert = TfliteModel.from_manifest(model_id, threads=1)
        shape = tuple(int(s) for s in litert.input.shape)
        items = _inputs(model_id, shape, settings.seed)

        def run_gbnn(x: np.ndarray, m: Any = ours) -> object:
            return m.run(x)

        def run_litert(x: np.ndarray, m: TfliteModel = litert) -> object:
            return m.run(x, dequantize=False)

        # Same outputs first (LiteRT's default kernels may round differently from TFLM: reported, not asserted).
        same = all(np.array_equal(run_gbnn(x)[0], run_litert(x)[0]) for x in items[:8])  # type: ignore[index]
        ours.reset()
        contenders = [Contender("gbnn", run_gbnn, "glassbridge.nn.Int8Model"),
                      Contender("litert", run_litert, f"LiteRT 1 thread, resolver {litert.resolver}")]
        result = run_interleaved(contenders, Cycle(items), rounds=settings.rounds, seed=settings.seed, hot=False)
        g, lt = result.stats["gbnn"], result.stats["litert"]
        out.append({
            "model": model_id, "input_shape": list(shape), "rounds": result.rounds,
            "gbnn": g.to_json(), "litert": lt.to_json(), "litert_resolver": litert.resolver,
            # > 1: gbnn is faster; < 1: gbnn takes 1 / this times LiteRT's time.
            "speedup_vs_litert": speedup(lt.median_ms, g.median_ms),
            "gbnn_arena_bytes": ours.arena_bytes, "first_outputs_equal_to_litert": same,
        })
    return out


def callgrind_per_invoke(settings: SocSettings, progress: Callable[[str], None]) -> dict[str, Any]:
    """Instructions per invoke of gbnn under valgrind's callgrind, counted inside gbnn_invoke only
    (--collect-atstart=no --toggle-collect=gbnn_invoke: the engine's work, not Python's), run with N1 and N2
    invokes: (Ir(N2) - Ir(N1)) / (N2 - N1). Empty with a reason when valgrind is missing."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind is not installed (scripts/system-packages.sh bench)"}
    out: dict[str, Any] = {"counted": "inside gbnn_invoke (callgrind --toggle-collect=gbnn_invoke)"}
    with tempfile.TemporaryDirectory(prefix="gb-int8-callgrind-") as tmp:
        for model_id in settings.models:
            n1, n2 = CALLGRIND_INVOKES.get(model_id, (2, 6))
            counts = []
            for k in (n1, n2):
                progress(f"SoC: callgrind, {model_id}, {k} invokes")
                outfile = Path(tmp) / f"{model_id}-{k}.out"
                cmd = [valgrind, "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=gbnn_invoke",
                       f"--callgrind-out-file={outfile}",
                       sys.executable, "-m", "glassbridge.bench.int8", "callgrind", model_id, str(k)]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False,
                                      env=dict(os.environ, PYTHONHASHSEED="0"))
                if proc.returncode != 0:
                    raise RuntimeError(f"callgrind of {model_id} failed: {proc.stderr[-500:]}")
                counts.append(_callgrind_total(outfile))
            out[model_id] = {"instructions_per_invoke": (counts[1] - counts[0]) / (n2 - n1), "n": [n1, n2],
                             "ir": counts}
    return out


def _callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def _callgrind_main(model_id: str, n: int) -> int:
    model = _gbnn(model_id)
    shape = tuple(int(s) for s in model.input_details()[0]["shape"])
    items = _inputs(model_id, shape, 1)
    model.run(items[0])  # warm-up, in both runs
    for k in range(n):
        model.run(items[(k + 1) % len(items)])
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "callgrind":
        return _callgrind_main(argv[1], int(argv[2]))
    print("usage: python -m glassbridge.bench.int8 callgrind MODEL_ID N", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
