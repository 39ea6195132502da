"""What must come out the same on the glasses' aarch64 SoC as on the x86_64 machine the figures were taken on.

`compute()` runs, on whatever machine it is on:
- every preprocessing benchmark case (bench/cases.py) on a seeded natural-looking frame, through every kernel path
  this build and CPU have (`pre/<case>/<isa>`); every path is bit-identical to the scalar reference by contract,
  so each is compared with the x86_64 reference path;
- every model of the manifest on a seeded input of its own shape and type, with LiteRT's reference kernels
  (BUILTIN_REF) and with the default resolver the product uses (XNNPACK), one thread (`litert/<model>/<resolver>/<i>`);
- the whole face pipeline (`glassbridge see`) on every test image: boxes and emotions (`see/<image>`, JSON).

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


def compute() -> dict[str, np.ndarray]:
    return {**preprocess_outputs(), **litert_outputs(), **see_outputs()}


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
