#!/usr/bin/env bash
# Guest instructions per frame of the preprocessing contenders on aarch64 (NEON path, scalar reference, OpenCV's
# aarch64 wheel), counted by QEMU's TCG instruction-count plugin: the NEON counterpart of
# scripts/callgrind_preprocess.sh (issue 13).
#
#   scripts/arm64/insn_counts.sh [OUT.json]     # default build/arm64-insn/preprocess_insn.json (relative: to the checkout)
#   CASES="nv12_1920x1080_to_224x224_int8" CONTENDERS="ours[neon] opencv" scripts/arm64/insn_counts.sh
#
# Per case and contender: insns/frame = (count(N=11) - count(N=1)) / 10, N the steady-state calls after one
# warm-up call of `python -m glassbridge.bench.callgrind run CONTENDER CASE N FRAMES` (the x86 method: start-up,
# imports and the warm-up cancel). ours[neon] and ours[ref] force the path with force_isa, as GLASSBRIDGE_ISA would.
# CPU model: QEMU_CPU=cortex-a53 by default (INSN_CPU=neoverse-n1 to change it; the count depends on the
# features the libraries dispatch on, not on the core's timing).
#
# How: the plugin (scripts/arm64/insn-plugin.sh, built from Debian's qemu source package) loads only in the
# dynamically linked host qemu-aarch64, not in the static one binfmt_misc runs inside scripts/arm64/run.sh. So
# the guest's Python is started by the host's qemu-aarch64 directly: `-L ROOTFS` (guest paths are looked up in
# the rootfs first, then on the host: the checkout and the frames are read at their host paths), `-0` to give it
# the venv's bin/python as argv[0] (so it finds the venv), `-plugin libinsn.so,inline=on -d plugin -D LOG`.
# The environment is emptied and fixed (PYTHONHASHSEED=0, one thread for OpenBLAS/OpenMP; OpenCV is set to one
# thread by the bench module): the same command counts the same to the instruction. The memory layout moves
# the start-up's count (tens of thousands of instructions with the environment's or argv's size), so both runs
# get the same layout (N=1 is passed as "01"); what is left is ~100 instructions per frame.
# Not like run.sh: no mount namespace, so the guest sees the host's /proc/cpuinfo (numpy and OpenCV take the CPU's
# features from the auxiliary vector, which qemu sets for the emulated core), and a guest path missing from the
# rootfs falls through to the host's file: hence GLASSBRIDGE_BENCH_NO_LIBYUV=1 (the host's x86_64 libyuv would
# be found; the rootfs has none). The set-up (rootfs, the venv) needs root.
#
# What it uses, made when missing: the arm64 rootfs (scripts/arm64-rootfs.sh); the glassbridge aarch64 wheel
# (scripts/arm64/wheel.sh --out build/arm64-insn/wheel); a venv of its own in the rootfs,
# /opt/glassbridge-bench-venv (numpy and opencv-python-headless at the host .venv's versions, aarch64 wheels,
# and that wheel), so /opt/glassbridge-venv of `make test-arm64` is never touched; the benchmark frames
# (build/arm64-insn/frames, written in the guest). Takes ~3 min (2 min 45 s here for the 5 cases x 5 contenders:
# 2-10 s per run under qemu, two runs per figure), plus ~2 min the first time for the venv.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-insn
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[[ ${1:-} == -h || ${1:-} == --help ]] && { gb_usage "$0"; exit 0; }
cd "$GB_CHECKOUT"

WORK=$GB_CHECKOUT/build/arm64-insn
OUT=${1:-$WORK/preprocess_insn.json}
CPU=${INSN_CPU:-cortex-a53}
HOSTPY=${PY:-.venv/bin/python}
VENV=/opt/glassbridge-bench-venv
[[ " ${GB_ARM64_CORES[*]} " == *" $CPU "* ]] || gb_die "INSN_CPU=$CPU: one of ${GB_ARM64_CORES[*]}"
mkdir -p "$WORK"

rootfs=$(readlink -f "$(scripts/arm64-rootfs.sh --quiet)")
plugin=$(scripts/arm64/insn-plugin.sh)
wheel=$(scripts/arm64/wheel.sh --out "$WORK/wheel" 2>"$WORK/wheel.log") \
  || { tail -20 "$WORK/wheel.log" >&2; gb_die "scripts/arm64/wheel.sh failed ($WORK/wheel.log)"; }
wheel=$(readlink -f "$wheel")

# The bench venv: numpy and OpenCV at the host's versions (the x86 callgrind table's), then the wheel (no deps).
hostver() { "$HOSTPY" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
np_ver=$(hostver numpy) cv_ver=$(hostver opencv-python-headless)
reqs="numpy${np_ver:+==$np_ver} opencv-python-headless${cv_ver:+==$cv_ver}"
stamp=$rootfs$VENV/.glassbridge-bench
want="$reqs $(unzip -p "$wheel" | sha256sum | cut -c1-16)"  # its content: a rebuild changes the zip's dates
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  gb_say "making $VENV in the rootfs: $reqs (aarch64 wheels) and $(basename "$wheel")"
  scripts/arm64/run.sh "$CPU" -- /bin/sh -euc '
    venv=$1 wheel=$2; shift 2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: "$@"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel"
  ' sh "$VENV" "$wheel" $reqs >&2
  echo "$want" > "$stamp"
fi

# The venv's interpreter in the rootfs (bin/python links to the rootfs's /usr/bin/python3.X, which the host
# would resolve to its own): pyvenv.cfg's home and version.
cfg=$rootfs$VENV/pyvenv.cfg
home=$(sed -n 's/^home *= *//p' "$cfg") pyver=$(sed -n 's/^version *= *\([0-9]*\.[0-9]*\).*/\1/p' "$cfg")
guest_py=$rootfs$home/python$pyver
[[ -x $guest_py ]] || gb_die "no interpreter $guest_py for $VENV"

pyrun() {  # pyrun LOG ARGS... : the bench venv's python ARGS under qemu-aarch64 (with the plugin if LOG)
  local log=$1; shift
  local plug=()
  [[ -n $log ]] && plug=(-plugin "$plugin,inline=on" -d plugin -D "$log")
  (cd "$WORK" && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 PYTHONHASHSEED=0 \
      GLASSBRIDGE_BENCH_NO_LIBYUV=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
      qemu-aarch64 -L "$rootfs" -cpu "$CPU" "${plug[@]}" -0 "$VENV/bin/python" "$guest_py" "$@")
}
guest() { local log=$1; shift; pyrun "$log" -m glassbridge.bench.callgrind "$@"; }

count() {  # count CONTENDER CASE N -> guest instructions of the whole run
  local log=$WORK/insn.log
  rm -f "$log"
  guest "$log" run "$1" "$2" "$3" "$WORK/frames" >&2 || return 1
  sed -n 's/^insns: //p' "$log"
}

guest "" frames "$WORK/frames"
info=$(pyrun "" -c 'import cv2, numpy, glassbridge.vision.preprocess as p; print(cv2.__version__, numpy.__version__, p.isa())')
read -r g_cv g_np g_isa <<<"$info"
gb_say "guest: $CPU, glassbridge active ISA $g_isa, OpenCV $g_cv, numpy $g_np"
cases=${CASES:-$(guest "" cases)}

rows=()
printf '%-40s %-14s %14s\n' case contender "insns/frame"
for c in $cases; do
  contenders=${CONTENDERS:-$(guest "" contenders "$c" | grep -vx ours)}
  for k in $contenders; do
    # N=1 given as "01": the same argv length as "11", so both runs start with the same memory layout (with "1",
    # the layout's effect on the start-up moved a figure by up to ~10 k instructions per frame).
    a=$(count "$k" "$c" 01) && b=$(count "$k" "$c" 11) || gb_die "the run of $k on $c failed"
    [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] || gb_die "no count for $k on $c ($WORK/insn.log)"
    per=$(( (b - a) / 10 ))
    printf '%-40s %-14s %14d\n' "$c" "$k" "$per"
    rows+=("{\"case\": \"$c\", \"contender\": \"$k\", \"ir_per_frame\": $per}")
  done
done

qv=$(qemu-aarch64 -version | head -1)
{
  echo "{\"schema\": \"glassbridge.bench.callgrind/1\", \"counter\": \"qemu-tcg-plugin-insn\","
  echo " \"note\": \"guest (aarch64) instructions executed, counted by QEMU's TCG plugin tests/plugin/insn.c (inline), not valgrind Ir: no cache, pipeline or timing effects\","
  echo " \"qemu\": \"$qv\", \"cpu\": \"$CPU\", \"opencv\": \"$g_cv\", \"numpy\": \"$g_np\","
  echo " \"method\": \"(count(N=11) - count(N=1)) / 10\", \"results\": ["
  for i in "${!rows[@]}"; do
    sep=","; [[ $i -eq $((${#rows[@]} - 1)) ]] && sep=""
    echo "  ${rows[$i]}$sep"
  done
  echo "]}"
} >"$OUT"
echo "written: $OUT"
