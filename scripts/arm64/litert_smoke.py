"""LiteRT smoke run for the arm64 rootfs: each model once with the default resolver (XNNPACK) and the reference kernels.

    python scripts/arm64/litert_smoke.py [--json OUT]

Needs only the runtime dependencies (numpy, pillow, ai-edge-litert), not glassbridge itself. The face detector
(models/cache/face_detection_full_range_sparse.tflite, float32) gets tests/data/images/astronaut.png letterboxed to
192x192 in [-1, 1]; the project's int8 emotion model (models/emotion_fer_int8.tflite) gets the same picture in gray,
64x64, quantised. Prints one line per model and resolver: the best face score or the emotion, and a digest of the
raw outputs, so a run on the host and runs on each pinned core can be compared line by line (`--json`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = Path(__file__).resolve().parents[2]
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def letterbox(img: Image.Image, size: int) -> Image.Image:
    scale = size / max(img.size)
    w, h = round(img.width * scale), round(img.height * scale)
    out = Image.new(img.mode, (size, size))
    out.paste(img.resize((w, h), Image.BILINEAR), ((size - w) // 2, (size - h) // 2))
    return out


def run(model: Path, inp: np.ndarray, resolver: OpResolverType) -> tuple[list[np.ndarray], float]:
    it = Interpreter(model_path=str(model), experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], inp)
    t = time.perf_counter()
    it.invoke()
    dt = time.perf_counter() - t
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()], dt


def digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--npz", type=Path, help="also save every raw output here (numpy .npz), to diff two machines")
    args = ap.parse_args()

    cpu = Path("/proc/cpuinfo").read_text()
    part = next((l.split(":")[1].strip() for l in cpu.splitlines() if l.startswith("CPU part")), "-")
    print(f"machine {platform.machine()}, python {platform.python_version()}, numpy {np.__version__}, "
          f"/proc/cpuinfo CPU part {part}, {cpu.count('processor')} processors")

    img = Image.open(ROOT / "tests/data/images/astronaut.png").convert("RGB")
    face_in = (np.asarray(letterbox(img, 192), np.float32) / 127.5 - 1.0)[None]
    gray = np.asarray(img.convert("L").resize((64, 64), Image.BILINEAR), np.float32)
    emo_in = np.clip(np.round(((gray / 255 - 0.5) * 2) / (2 / 255)) - 1, -128, 127).astype(np.int8)[None, :, :, None]

    results = {}
    raw: dict[str, np.ndarray] = {}
    cases = [("face", ROOT / "models/cache/face_detection_full_range_sparse.tflite", face_in),
             ("emotion", ROOT / "models/emotion_fer_int8.tflite", emo_in)]
    for name, model, inp in cases:
        for rname, resolver in (("default", OpResolverType.AUTO), ("reference", OpResolverType.BUILTIN_REF)):
            outs, dt = run(model, inp, resolver)
            if name == "face":
                scores = 1 / (1 + np.exp(-np.clip(outs[1].astype(np.float64), -100, 100)))
                summary = f"best face score {scores.max():.4f} at anchor {int(scores.argmax())}"
            else:
                q = outs[0][0].astype(np.int32)
                summary = f"{EMOTIONS[int(q.argmax())]} (int8 logits {q.tolist()})"
            raw.update({f"{name}/{rname}/{i}": o for i, o in enumerate(outs)})
            results[f"{name}/{rname}"] = {"digest": digest(outs), "summary": summary, "seconds": round(dt, 3),
                                          "outputs": [o.tolist() for o in outs] if name == "emotion" else None}
            print(f"{name:8s} {rname:9s} {digest(outs)}  {summary}  ({dt * 1000:.0f} ms)")
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.machine(), "cpu_part": part, "results": results}))
    if args.npz:
        np.savez(args.npz, **raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
