#!/usr/bin/env bash
# Instructions per frame of every preprocessing contender, counted by callgrind: the stable benchmark figure.
#
#   scripts/callgrind_preprocess.sh [OUT.json]
#   CASES="nv12_1920x1080_to_224x224_int8" CONTENDERS="ours[avx2] opencv" scripts/callgrind_preprocess.sh
#
# Per case and contender: Ir/frame = (Ir(N=11) - Ir(N=1)) / 10, where N is the number of steady-state calls after
# one warm-up call in `python -m glassbridge.bench.callgrind run` (see that module for why this cancels start-up).
# Our kernel is counted per ISA path (ref, sse41, avx2: valgrind 3.19 decodes up to AVX2 and hides AVX-512 from
# CPUID, and the extension is built without -march flags). Needs valgrind (scripts/system-packages.sh bench) and
# the built extension (make native). Takes a few minutes: about 5 s per valgrind run, two runs per figure.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
OUT=${1:-build/callgrind/preprocess_ir.json}
WORK=build/callgrind
command -v valgrind >/dev/null || { echo "valgrind is missing: scripts/system-packages.sh bench" >&2; exit 1; }
"$PY" -c "import glassbridge.vision._kernels" 2>/dev/null || { echo "glassbridge.vision._kernels is not built: make native" >&2; exit 1; }

mkdir -p "$WORK"
"$PY" -m glassbridge.bench.callgrind frames "$WORK/frames"
cases=${CASES:-$("$PY" -m glassbridge.bench.callgrind cases)}

# Deterministic interpreter (hash seed) and single-threaded libraries, so two runs differ only by the calls.
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
unset GLASSBRIDGE_ISA

ir() {  # ir CONTENDER CASE N -> total instructions of the run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$PY" -m glassbridge.bench.callgrind run "$1" "$2" "$3" "$WORK/frames" 2>&1 |
    sed -n 's/.*Collected : //p'
}

rows=()
printf '%-40s %-14s %14s\n' case contender "Ir/frame"
for c in $cases; do
  contenders=${CONTENDERS:-$("$PY" -m glassbridge.bench.callgrind contenders "$c" | grep -vx ours)}
  for k in $contenders; do
    a=$(ir "$k" "$c" 1)
    b=$(ir "$k" "$c" 11)
    if [[ -z $a || -z $b ]]; then echo "callgrind failed for $k on $c" >&2; exit 1; fi
    per=$(( (b - a) / 10 ))
    printf '%-40s %-14s %14d\n' "$c" "$k" "$per"
    rows+=("{\"case\": \"$c\", \"contender\": \"$k\", \"ir_per_frame\": $per}")
  done
done

{
  echo "{\"schema\": \"glassbridge.bench.callgrind/1\", \"valgrind\": \"$(valgrind --version)\","
  echo " \"method\": \"(Ir(N=11) - Ir(N=1)) / 10\", \"results\": ["
  for i in "${!rows[@]}"; do
    sep=","; [[ $i -eq $((${#rows[@]} - 1)) ]] && sep=""
    echo "  ${rows[$i]}$sep"
  done
  echo "]}"
} >"$OUT"
echo "written: $OUT"
