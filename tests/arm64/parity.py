"""What must come out the same on the glasses' aarch64 SoC as on the x86_64 machine the figures were taken on.

`compute()` runs, on whatever machine it is on:
- every preprocessing benchmark case (bench/cases.py) on a seeded natural-looking frame, through every kernel path
  this build and CPU have (`pre/<case>/<isa>`); every path is bit-identical to the scalar reference by contract,
  so each is compared with the x86_64 reference path;
- every model of the manifest on a seeded input of its own shape and type, with LiteRT's reference kernels
  (BUILTIN_REF) and with the default resolver the product uses (XNNPACK), one thread (`litert/<model>/<resolver>/<i>`);
- the whole face pipeline (`glassbridge see`) on every test image: boxes and emotions (`see/<image>`, JSON);
- gbnn, glassbridge's own int8 engine (glassbridge.nn.Int8Model, plain C11): okay_nabu streamed over the self-test's
  stored "okay nabu" features then a fixed random sequence (every step's output, and every tensor after the last
  step, its streaming state included) and
  emotion_fer_int8 on a few inputs (noise, blocks, a gradient, the astronaut's face through glassbridge's
  preprocessing: each output and every tensor), and the wake word's audio frontend (glassbridge.nn.Frontend) over
  19 s of integer-made audio (silence, noise from 1 LSB to full scale, clipped noise, a square wave, -32768 DC,
  Nyquist, clicks), its values and their int8 quantisation for okay_nabu (`gbnn/...`). tests/nn checks gbnn against
  TFLite Micro and pymicro-features on x86_64 and against LiteRT's reference kernels on both; this checks that the
  aarch64 build computes what the x86_64 one does. (pymicro-features is no oracle on aarch64: its aarch64 build
  differs from its x86_64 one on rare frames, scripts/arm64/host-only-tests.txt.)

`python -m tests.arm64.parity write OUT.npz` stores the host's results; tests/arm64/test_parity.py (run inside the
arm64 rootfs by `make test-arm64`, pinned to a real core) computes the same there and compares. LiteRT is driven
directly (ai_edge_litert.Interpreter), not through glassbridge's runner, so the comparison does not rest on the code
whose behaviour it checks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261206


def preprocess_outputs() -> dict[str, np.ndarray]:
    from glassbridge.bench.cases import CASES
    from glassbridge.bench.synthetic import frame_buffer, wrap
    from glassbridge.vision import preprocess as api

    out: dict[str, np.ndarray] = {}
    for case in CASES:
        job = case.job(api.Normalization, api.letterbox_rect)
        norm = api.Normalization(tuple(job.mul), tuple(job.add))
        item = wrap(case.fmt, frame_buffer(case.fmt, case.src_width, case.src_height, seed=1), case.src_width,
                    case.src_height)
        crop = (job.crop.x, job.crop.y, job.crop.width, job.crop.height)
        dst = (job.dst.x, job.dst.y, job.dst.width, job.dst.height)
        for isa in api.available_isas():
            result = job.new_output()
            with api.force_isa(str(isa)):
                api.preprocess(item.frame, result, crop=crop, channels=job.channels, norm=norm, dst=dst, pad=job.pad,
                               interpolation=job.interpolation)
            out[f"pre/{case.name}/{isa}"] = result.copy()
    return out


def _seeded_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    shape, dtype = tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, shape, dtype=dtype)
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)


def litert_outputs() -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from glassbridge.models.registry import load_manifest, model_path

    out: dict[str, np.ndarray] = {}
    for info in load_manifest().models.values():
        path = str(model_path(info))
        rng = np.random.default_rng(SEED)
        inputs: list[np.ndarray] | None = None
        for name, resolver in (("ref", OpResolverType.BUILTIN_REF), ("default", OpResolverType.AUTO)):
            interp = Interpreter(model_path=path, num_threads=1, experimental_op_resolver_type=resolver)
            interp.allocate_tensors()
            details = interp.get_input_details()
            if inputs is None:
                inputs = [_seeded_input(d, rng) for d in details]
            for d, value in zip(details, inputs):
                interp.set_tensor(d["index"], value)
            interp.invoke()
            for i, d in enumerate(interp.get_output_details()):
                out[f"litert/{info.id}/{name}/{i}"] = np.array(interp.get_tensor(d["index"]))
    return out


def see_outputs() -> dict[str, np.ndarray]:
    from glassbridge.camera.files import read_image
    from glassbridge.models.registry import test_image_paths
    from glassbridge.vision import FacePipeline

    pipeline = FacePipeline(threads=1)
    out: dict[str, np.ndarray] = {}
    for name, path in sorted(test_image_paths().items()):
        faces = [face.to_json() for face in pipeline.run(read_image(path))]
        out[f"see/{name}"] = np.frombuffer(json.dumps(faces, sort_keys=True).encode(), dtype=np.uint8)
    return out


NABU_STEPS = 300


def tensor_bytes(model: Any) -> np.ndarray:
    """Every data tensor of a gbnn model opened with preserve_all_tensors, after an invoke, one after another (resource
    handles hold no data); tensor_layout() says where each begins."""
    parts = [model.tensor(i).reshape(-1).view(np.uint8) for i, _ in tensor_layout(model)]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint8)


def tensor_layout(model: Any) -> list[tuple[int, int]]:
    """(tensor index, byte offset in tensor_bytes()) of each data tensor."""
    layout, offset = [], 0
    for i in range(model.tensor_count):
        details = model.tensor_details(i)
        if details["dtype"] is None:
            continue
        layout.append((i, offset))
        offset += int(np.prod(details["shape"], dtype=np.int64)) * np.dtype(details["dtype"]).itemsize
    return layout


def emotion_inputs(shape: tuple[int, ...], scale: float, zero_point: int, rng: np.random.Generator) -> list[np.ndarray]:
    """emotion_fer_int8's parity inputs, integer arithmetic only (the same on every machine): white noise, random 8x8
    blocks, a diagonal gradient, and the astronaut's face as glassbridge.vision.emotion crops and quantises it."""
    from glassbridge.camera.files import read_image
    from glassbridge.models.registry import test_image_path
    from glassbridge.vision.emotion import face_crop
    from glassbridge.vision.preprocess import Normalization, preprocess

    h, w = shape[1], shape[2]
    noise = rng.integers(-128, 128, shape, dtype=np.int8)
    blocks = np.kron(rng.integers(-128, 128, (h // 8, w // 8), dtype=np.int16), np.ones((8, 8), np.int16))
    yy, xx = np.mgrid[0:h, 0:w]
    gradient = (yy + xx) * 255 // (h + w - 2) - 128
    frame = read_image(test_image_path("astronaut"))
    face = np.zeros(shape, np.int8)
    norm = Normalization.for_range(-1.0, 1.0, scale=scale, zero_point=zero_point)
    preprocess(frame, face, crop=face_crop((170.0, 60.0, 260.0, 175.0), frame.width, frame.height, 0.25),
               channels="gray", norm=norm)
    return [noise, blocks.astype(np.int8).reshape(shape), gradient.astype(np.int8).reshape(shape), face]


def frontend_audio(rng: np.random.Generator) -> np.ndarray:
    """19 s of 16 kHz PCM16 made with integer arithmetic only (the same samples on every machine)."""
    sr = 16000
    parts = [np.zeros(sr, np.int64)]
    parts += [rng.integers(-a, a + 1, 2 * sr) for a in (1, 16, 300, 4000, 20000, 32767)]
    parts.append(rng.integers(-60000, 60001, sr))  # clipped below
    n = np.arange(2 * sr)
    parts.append(np.where((n // 18) % 2 == 0, 20000, -20000))  # a square wave of 36 samples' period
    parts.append(np.full(sr // 2, -32768))
    parts.append(np.where(n[:sr] % 2 == 0, 32767, -32767))  # Nyquist
    clicks = np.zeros(sr + sr // 2, np.int64)
    clicks[::1000] = 32767
    parts.append(clicks)
    return np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)


def gbnn_outputs() -> dict[str, np.ndarray]:
    from glassbridge.models.registry import model_path
    from glassbridge.models.selftest import load_references
    from glassbridge.nn.engine import Int8Model
    from glassbridge.nn.frontend import Frontend, FrontendQuantizer

    out: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(SEED)
    nabu = Int8Model.from_file(model_path("okay_nabu"), preserve_all_tensors=True)
    shape = tuple(int(v) for v in nabu.input_details()[0]["shape"])
    # A spoken "okay nabu" first (the self-test's stored features: the output rises), then the random sequence.
    speech = [x.reshape(shape) for x in load_references()["okay_nabu"].inputs()]
    noise = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(NABU_STEPS)]
    steps = [nabu.run(x)[0] for x in speech + noise]
    out["gbnn/okay_nabu/outputs"] = np.stack(steps)
    out["gbnn/okay_nabu/tensors"] = tensor_bytes(nabu)
    emotion = Int8Model.from_file(model_path("emotion_fer_int8"), preserve_all_tensors=True)
    details = emotion.input_details()[0]
    shape = tuple(int(v) for v in details["shape"])
    scale, zero_point = details["quantization"]
    for k, x in enumerate(emotion_inputs(shape, float(scale), int(zero_point), rng)):
        out[f"gbnn/emotion/{k}/outputs"] = emotion.run(x)[0]
        out[f"gbnn/emotion/{k}/tensors"] = tensor_bytes(emotion)
    values = Frontend().process_stream(frontend_audio(rng))
    scale, zero_point = nabu.input_details()[0]["quantization"]
    out["gbnn/frontend/values"] = values
    out["gbnn/frontend/int8"] = FrontendQuantizer(float(scale), int(zero_point)).quantize(values)
    return out


def compute() -> dict[str, np.ndarray]:
    return {**preprocess_outputs(), **litert_outputs(), **see_outputs(), **gbnn_outputs()}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "write":
        print("usage: python -m tests.arm64.parity write OUT.npz", file=sys.stderr)
        return 2
    results = compute()
    Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(argv[1], **results)
    print(f"{len(results)} results written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
