#!/usr/bin/env bash
# The package's tests on aarch64 under qemu-user, on each pinned core side by side (what `make test-arm64` runs).
#   scripts/arm64/test.sh [--python PY] [--cores "cortex-a53 neoverse-n1"] [--full-core CORE] [-- PYTEST_ARGS...]
# 1. the arm64 rootfs (scripts/arm64-rootfs.sh: cached, built when missing or stale);
# 2. the glassbridge wheel cross-built with the test bindings (scripts/arm64/wheel.sh --test-bindings) and the
#    companion's and rig's pure-Python wheels, in build/arm64-test-wheel/;
# 3. the rootfs's venv with their dependencies and the test extra, as aarch64 wheels (scripts/arm64/venv.sh:
#    made again only when the requirements change), then the three wheels installed into it;
# 4. on each core: `glassbridge info` must report the NEON kernels active; then pytest: tests/unit,
#    tests/conformance, tests/nn and tests/integration (but test_runner.py) split between the cores, which run side by side:
#    the tests of the NEON kernels, LiteRT with the wake word, and the parity
#    (scripts/arm64/native-tests.txt) on each, the rest once (scripts/arm64/a53-tests.txt on Cortex-A53, all
#    others on the --full-core, neoverse-n1; scripts/arm64/host-only-tests.txt nowhere). PYTEST_ARGS
#    replace those selections. Each core's output: prefixed with its name, and in build/arm64-test-<core>.log.
# Models and test images: the checkout's (`make models-fetch`), through GLASSBRIDGE_MODEL_DIR (build/arm64-models,
# links to models/cache and tests/data/images; the committed model ships in the wheel). The tests know they test
# an installed package (tests/checkout.py). CI is passed on (a skip fails in CI).
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-test
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

py=$GB_CHECKOUT/.venv/bin/python cores="${GB_ARM64_CORES[*]}" full_core=neoverse-n1 pytest_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --python) py=$2; shift 2 ;;
    --cores) cores=$2; shift 2 ;;
    --full-core) full_core=$2; shift 2 ;;
    --) shift; pytest_args=("$@"); break ;;
    -h|--help) gb_usage "$0"; exit 0 ;;
    *) gb_die "unknown argument '$1' (try --help)" ;;
  esac
done
cd "$GB_CHECKOUT"
T0=$(date +%s)
lap() { gb_say "$1 ($(( $(date +%s) - T0 )) s so far)"; }

"$GB_CHECKOUT/scripts/arm64-rootfs.sh" >/dev/null
lap "rootfs ready"

wheels=$GB_CHECKOUT/build/arm64-test-wheel
rm -f "$wheels"/*.whl
"$GB_ARM64_DIR/wheel.sh" --python "$py" --test-bindings --out "$wheels" >/dev/null
"$py" -m pip wheel ./companion ./rig --no-deps --no-build-isolation -q -w "$wheels"
lap "wheels built: $(cd "$wheels" && echo *.whl)"

# The companion with its offline OCR (the `ocr` extra, then the engine without its declared opencv-python, as
# `make setup` installs it on the host).
vpy=$("$GB_ARM64_DIR/venv.sh" --extras test --also "companion[ocr]" --no-deps companion/ocr-engine.txt --also rig)
(cd "$wheels" && "$GB_ARM64_DIR/run.sh" --workdir "$wheels" neoverse-n1 -- \
  "$vpy" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall ./*.whl)
lap "venv ready, wheels installed"

# The firmware's host port, cross-built for aarch64 (the rootfs has no compiler): the integration tests that run it
# take it from $GLASSBRIDGE_FIRMWARE_DIR (glassbridge_rig.runner: images used as they are, nothing built).
fw=$GB_CHECKOUT/build/arm64-fw cmake=${py%/python}/cmake
"$cmake" -S firmware -B "$fw/fw-host" -G Ninja -DGB_BOARD=host \
  -DCMAKE_TOOLCHAIN_FILE="$GB_CHECKOUT/cmake/aarch64-linux-gnu.cmake" >/dev/null \
  && "$cmake" --build "$fw/fw-host" --target glassbridge-fw-host >/dev/null \
  || gb_die "cross-building the firmware's host port failed: $cmake --build $fw/fw-host --target glassbridge-fw-host"
lap "firmware host port cross-built"

# The models and images where an installed package finds them ($GLASSBRIDGE_MODEL_DIR, images in its images/):
# links to the checkout's fetched ones (the committed model ships in the wheel, and the tests check that copy).
models=$GB_CHECKOUT/build/arm64-models
rm -rf "$models"; mkdir -p "$models/images"
for f in models/cache/*.tflite; do [[ -e $f ]] && ln -sfn "$GB_CHECKOUT/$f" "$models/"; done
for f in tests/data/images/*; do [[ -e $f ]] && ln -sfn "$GB_CHECKOUT/$f" "$models/images/"; done

# The x86_64 side of the parity tests (tests/arm64/parity.py), computed here on the host with the checkout's build,
# compared inside on every core by tests/arm64/test_parity.py (collected only where this variable is set).
parity=$GB_CHECKOUT/build/arm64-parity-x86.npz
(cd "$GB_CHECKOUT" && "$py" -m tests.arm64.parity write "$parity" >/dev/null 2>&1) \
  || gb_die "the x86_64 parity reference could not be computed: (cd $GB_CHECKOUT && $py -m tests.arm64.parity write $parity)"
lap "x86_64 parity reference written"

# What each core runs (PYTEST_ARGS replace both): native-tests.txt on every core (what can differ between cores:
# the NEON kernels, LiteRT with the wake word, the parity tests); the rest of tests/unit, tests/conformance, tests/nn
# and tests/integration is split in two, a53-tests.txt on Cortex-A53 and everything else (new test files included) on
# the --full-core.
list_of() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$GB_ARM64_DIR/$1" | grep -v '^$'; }
mapfile -t native_tests < <(list_of native-tests.txt)
mapfile -t a53_tests < <(list_of a53-tests.txt)
mapfile -t host_only_tests < <(list_of host-only-tests.txt)
for t in "${native_tests[@]}" "${a53_tests[@]}" "${host_only_tests[@]}"; do
  [[ -e ${t%%::*} ]] || gb_die "$t (scripts/arm64/*-tests.txt): no such test"
done
# A host-only file is left out whole (--ignore), a host-only test by its node id (--deselect), on either core.
host_only_args=()
for t in "${host_only_tests[@]}"; do
  if [[ $t == *::* ]]; then host_only_args+=(--deselect "$t"); else host_only_args+=(--ignore "$t"); fi
done
# tests/integration too, but test_runner.py: it runs the MCU boards under qemu-system-arm (a system emulator) and
# builds the firmware (the rootfs has no compiler). tests/e2e: all of it runs a system emulator.
full_sel=(tests/unit tests/conformance tests/nn tests/arm64 tests/integration --ignore tests/integration/test_runner.py)
if [[ " $cores " == *" cortex-a53 "* && $full_core != cortex-a53 ]]; then  # else the full core runs them all
  for t in "${a53_tests[@]}"; do full_sel+=(--ignore "$t"); done
else
  a53_tests=()
fi

# Each core's check and tests, the cores side by side (one emulated process each, on this machine's cores); the
# output of each is prefixed with its core's name and kept in build/arm64-test-<core>.log.
run_core() {  # run_core CORE SELECTION...
  local core=$1 info t rc; shift
  info=$("$GB_ARM64_DIR/run.sh" "$core" -- "${vpy%/python}/glassbridge" info) || { echo "$info"; return 1; }
  if ! grep -q '^native kernels: active neon' <<< "$info"; then
    echo "$info"; gb_say "$core: the NEON kernels are not active"; return 1
  fi
  gb_say "$core: $(grep '^native kernels:' <<< "$info"); pytest $*"
  t=$(date +%s)
  # --durations: each core's 15 slowest tests in its log, for balancing a53-tests.txt and host-only-tests.txt.
  # Bounded: a warm run takes ~5 min; an emulated test that hangs ends the core's run after GB_ARM64_TEST_TIMEOUT s
  # (timeout's status 124 is reported below) rather than holding `make test` until CI's own limit.
  timeout --kill-after=30 "${GB_ARM64_TEST_TIMEOUT:-1800}" \
  "$GB_ARM64_DIR/run.sh" "$core" -- env "CI=${CI:-}" "GLASSBRIDGE_MODEL_DIR=$models" \
    "GLASSBRIDGE_PARITY_REFERENCE=$parity" "GLASSBRIDGE_ARM64_CORE=$core" "GLASSBRIDGE_FIRMWARE_DIR=$fw" \
    "$vpy" -m pytest -q -p no:cacheprovider --durations=15 "$@" && rc=0 || rc=$?
  [[ $rc -ne 124 ]] || gb_say "$core: pytest did not finish within ${GB_ARM64_TEST_TIMEOUT:-1800} s (GB_ARM64_TEST_TIMEOUT): stopped"
  gb_say "$core: pytest took $(( $(date +%s) - t )) s (exit status $rc)"
  return "$rc"
}

pids=() logs=()
for core in $cores; do
  if [[ ${#pytest_args[@]} -gt 0 ]]; then sel=("${pytest_args[@]}")
  elif [[ $core == "$full_core" ]]; then sel=("${full_sel[@]}" "${host_only_args[@]}")
  elif [[ $core == cortex-a53 ]]; then sel=("${native_tests[@]}" "${a53_tests[@]}" "${host_only_args[@]}")
  else sel=("${native_tests[@]}" "${host_only_args[@]}"); fi
  log=$GB_CHECKOUT/build/arm64-test-$core.log
  { run_core "$core" "${sel[@]}" && echo 0 > "$log.rc" || echo $? > "$log.rc"; } 2>&1 \
    | tee "$log" | sed -u "s/^/$core| /" &
  pids+=($!) logs+=("$log")
done
wait "${pids[@]}" || true
rc=0
for log in "${logs[@]}"; do
  r=$(cat "$log.rc" 2>/dev/null || echo 1); rm -f "$log.rc"
  summary=$(grep -E '[0-9]+ (passed|failed|errors?)\b' "$log" | tail -n1)
  gb_say "$(basename "$log" .log | sed 's/^arm64-test-//'): ${summary:-no pytest summary} (exit status $r)"
  [[ $r -eq 0 ]] || rc=1
done
lap "done"
exit "$rc"
