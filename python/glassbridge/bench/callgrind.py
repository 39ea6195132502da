"""Instruction counts per frame with callgrind: the benchmark figure that does not depend on the machine's load.

Wall-clock medians on a shared 2-core VM move by 5-10% from run to run; instructions executed per frame do not
(callgrind repeats to about 0.01%). scripts/callgrind_preprocess.sh drives this module:

    python -m glassbridge.bench.callgrind frames DIR            # write the benchmark frames once (natively)
    python -m glassbridge.bench.callgrind contenders CASE       # contender names for a case, one per line
    valgrind --tool=callgrind python -m glassbridge.bench.callgrind run CONTENDER CASE N DIR

`run` calls the contender once (warm-up: lazy tables, first-touch page faults) then N times. The script takes
(Ir(N=11) - Ir(N=1)) / 10, so start-up, imports and the warm-up cancel out and what remains is one steady-state
call: the very code the timing benchmark measures, Python wrapper included (a few thousand instructions).

valgrind 3.19 cannot decode AVX-512 but hides it from CPUID, so every library dispatches to AVX2 at most under
it; our extension is built without -march flags (per-file -msse4.1 / -mavx2 only), which valgrind decodes.

scripts/arm64/insn_counts.sh runs the same commands on aarch64 under qemu-aarch64 with QEMU's instruction-count
plugin; it sets GLASSBRIDGE_BENCH_NO_LIBYUV=1, because with `qemu-aarch64 -L ROOTFS` a guest path missing from
the rootfs falls through to the host's file, and the host's x86_64 libyuv would be found (and fail to load).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from glassbridge.bench.cases import CASES, select


def _frame_file(directory: Path, case_name: str) -> Path:
    (case,) = select([case_name])
    return directory / f"{case.fmt.name.lower()}_{case.src_width}x{case.src_height}.npy"


def write_frames(directory: Path) -> None:
    from glassbridge.bench.synthetic import frame_buffer

    directory.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        path = _frame_file(directory, case.name)
        if not path.exists():
            np.save(path, frame_buffer(case.fmt, case.src_width, case.src_height, seed=1))


def _lineup(case_name: str, directory: Path | None):  # type: ignore[no-untyped-def]
    from glassbridge.bench.contenders import build_lineup, kernel_api
    from glassbridge.bench.synthetic import frame_buffer, wrap

    (case,) = select([case_name])
    api = kernel_api()
    job = case.job(api.Normalization, api.letterbox_rect)
    norm = api.Normalization(tuple(job.mul), tuple(job.add))
    if directory is None:
        buf = frame_buffer(case.fmt, case.src_width, case.src_height, seed=1)
    else:
        buf = np.load(_frame_file(directory, case_name))
    with_libyuv = os.environ.get("GLASSBRIDGE_BENCH_NO_LIBYUV", "") != "1"
    return build_lineup(job, norm, with_libyuv=with_libyuv), wrap(case.fmt, buf, case.src_width, case.src_height)


def main(argv: list[str]) -> int:
    usage = ("usage: python -m glassbridge.bench.callgrind frames DIR | contenders CASE | "
             "run CONTENDER CASE N DIR")
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "frames" and len(rest) == 1:
            write_frames(Path(rest[0]))
            return 0
        if cmd == "cases" and not rest:
            print("\n".join(c.name for c in CASES))
            return 0
        if cmd == "contenders" and len(rest) == 1:
            lineup, _ = _lineup(rest[0], None)
            print("\n".join(c.name for c in lineup.candidates))
            return 0
        if cmd == "run" and len(rest) == 4:
            name, case_name, n, directory = rest[0], rest[1], int(rest[2]), Path(rest[3])
            lineup, item = _lineup(case_name, directory)
            cand = {c.name: c for c in lineup.candidates}.get(name)
            if cand is None:
                raise ValueError(f"no contender {name!r} for {case_name}; have "
                                 f"{', '.join(c.name for c in lineup.candidates)}")
            cand.run(item)
            for _ in range(n):
                cand.run(item)
            return 0
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"glassbridge.bench.callgrind: {exc}", file=sys.stderr)
        return 2
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
