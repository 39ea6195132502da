#!/usr/bin/env bash
# The package's tests on aarch64 under qemu-user, each pinned core in turn (what `make test-arm64` runs).
#   scripts/arm64/test.sh [--python PY] [--cores "cortex-a53 neoverse-n1"] [--full-core CORE] [-- PYTEST_ARGS...]
# 1. the arm64 rootfs (scripts/arm64-rootfs.sh: cached, built when missing or stale);
# 2. the glassbridge wheel cross-built with the test bindings (scripts/arm64/wheel.sh --test-bindings) and the
#    companion's and rig's pure-Python wheels, in build/arm64-test-wheel/;
# 3. the rootfs's venv with their dependencies and the test extra, as aarch64 wheels (scripts/arm64/venv.sh:
#    made again only when the requirements change), then the three wheels installed into it;
# 4. on each core: `glassbridge info` must report the NEON kernels active; then pytest: tests/unit and
#    tests/conformance on the --full-core (neoverse-n1), the tests of the native code, LiteRT and the audio
#    frontends (scripts/arm64/native-tests.txt) on the others. PYTEST_ARGS replace those selections.
# Models and test images: the checkout's (`make models-fetch`), through GLASSBRIDGE_MODEL_DIR (build/arm64-models,
# links to models/cache, models/ and tests/data/images). CI is passed on (a skip fails in CI).
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

vpy=$("$GB_ARM64_DIR/venv.sh" --extras test --also companion --also rig)
(cd "$wheels" && "$GB_ARM64_DIR/run.sh" --workdir "$wheels" neoverse-n1 -- \
  "$vpy" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall ./*.whl)
lap "venv ready, wheels installed"

# The models and images where an installed package finds them ($GLASSBRIDGE_MODEL_DIR, images in its images/).
models=$GB_CHECKOUT/build/arm64-models
rm -rf "$models"; mkdir -p "$models/images"
for f in models/*.tflite models/cache/*.tflite; do [[ -e $f ]] && ln -sfn "$GB_CHECKOUT/$f" "$models/"; done
for f in tests/data/images/*; do [[ -e $f ]] && ln -sfn "$GB_CHECKOUT/$f" "$models/images/"; done

native_tests=()
while read -r t; do native_tests+=("$t"); done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$GB_ARM64_DIR/native-tests.txt" | grep -v '^$')

rc=0
for core in $cores; do
  info=$("$GB_ARM64_DIR/run.sh" "$core" -- "${vpy%/python}/glassbridge" info)
  grep -q '^native kernels: active neon' <<< "$info" \
    || { echo "$info" >&2; gb_say "$core: the NEON kernels are not active"; rc=1; continue; }
  if [[ ${#pytest_args[@]} -gt 0 ]]; then sel=("${pytest_args[@]}")
  elif [[ $core == "$full_core" ]]; then sel=(tests/unit tests/conformance)
  else sel=("${native_tests[@]}"); fi
  gb_say "$core: pytest ${sel[*]}"
  t=$(date +%s)
  "$GB_ARM64_DIR/run.sh" "$core" -- env "CI=${CI:-}" "GLASSBRIDGE_MODEL_DIR=$models" \
    "$vpy" -m pytest -q -p no:cacheprovider "${sel[@]}" || rc=1
  lap "$core: pytest took $(( $(date +%s) - t )) s"
done
exit "$rc"
