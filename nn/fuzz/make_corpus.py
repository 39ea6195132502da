"""Writes the seed corpus of nn/fuzz/fuzz_model.c: one-op int8 models of every op the random suite generates.

    .venv/bin/python nn/fuzz/make_corpus.py [--out nn/fuzz/corpus_model] [--per-op 2]

The models come from tests/nn/opcases.py (the same generators the TFLM comparison uses, seeded here so the corpus
is reproducible); they are a few hundred bytes each, small enough for libFuzzer's mutations to reach the tables.
The streaming wake word (okay_nabu) is the other seed; `make test-fuzz` copies it from models/cache/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "nn" / "fuzz" / "corpus_model")
    parser.add_argument("--per-op", type=int, default=2, help="models per op (default 2)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.nn import opcases  # noqa: PLC0415 (a test helper, importable once the root is on the path)

    args.out.mkdir(parents=True, exist_ok=True)
    for index, (op, make) in enumerate(sorted(opcases.GENERATORS.items())):
        rng = np.random.default_rng([2026, index])
        for k in range(args.per_op):
            case = make(rng)
            path = args.out / f"{op.lower()}_{k}.tflite"
            path.write_bytes(case.model)
            print(f"{path.relative_to(ROOT)}: {len(case.model)} bytes, {case.variant}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
