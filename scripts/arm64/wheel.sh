#!/usr/bin/env bash
# Cross-builds the glasses' package (glassbridge) as a CPython 3.11 aarch64 wheel, on the host, in seconds.
#   scripts/arm64/wheel.sh [--src DIR] [--out DIR] [--python PY] [--platform-tag TAG]
#   --src DIR    the source tree (default: this checkout)
#   --out DIR    where the wheel goes (default: DIR/dist)
#   --python PY  the host interpreter with scikit-build-core, pybind11, cmake and ninja (default: the checkout's
#                .venv/bin/python; it must be CPython 3.11 too: the wheel's cp311 tag comes from it)
#   --platform-tag TAG  linux_aarch64 (default: installs anywhere pip allows, never uploaded) or e.g.
#                manylinux_2_36_aarch64 (glibc of Debian 12 and of the cross toolchain; not checked by auditwheel)
#   --test-bindings  also glassbridge._testing_native, which the tests import (GLASSBRIDGE_TEST_BINDINGS=ON), and its
#                stub beside it (pyproject.toml's wheel.exclude keeps it out of real wheels; the tests compare each
#                extension with the stub beside it): a wheel for the test run only, never to ship (default --out:
#                SRC/build/arm64-test-wheel)
# How: scikit-build-core with cmake/aarch64-linux-gnu.cmake (aarch64-linux-gnu-g++), the aarch64 CPython 3.11
# headers of the arm64 rootfs (libpython3.11-dev; its Debian pyconfig.h is the multiarch one), the extension
# suffix .cpython-311-aarch64-linux-gnu.so (SETUPTOOLS_EXT_SUFFIX, read by scikit-build-core and pybind11) and the
# platform tag (wheel.tags, and _PYTHON_HOST_PLATFORM). Build folder: SRC/build/wheel-cp311-cp311-<tag>[-test-bindings].
# Prints the wheel's path.
set -euo pipefail
GB_ORIG_ARGS="$*"
GB_LOG_PREFIX=arm64-wheel
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

src=$GB_CHECKOUT out= py=$GB_CHECKOUT/.venv/bin/python tag=linux_aarch64 test_bindings=OFF
while [[ $# -gt 0 ]]; do
  case $1 in
    --src) src=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) py=$2; shift 2 ;;
    --platform-tag) tag=$2; shift 2 ;;
    --test-bindings) test_bindings=ON; shift ;;
    -h|--help) gb_usage "$0"; exit 0 ;;
    *) gb_die "unknown argument '$1' (try --help)" ;;
  esac
done
if [[ $test_bindings == ON ]]; then out=${out:-$src/build/arm64-test-wheel}; else out=${out:-$src/dist}; fi
[[ $tag == *_aarch64 ]] || gb_die "--platform-tag $tag is not an aarch64 tag"
[[ -x $py ]] || gb_die "no host interpreter $py (make venv, or --python)"
[[ $("$py" -c 'import sys; print(sys.implementation.name, *sys.version_info[:2])') == "cpython 3 11" ]] \
  || gb_die "$py is not CPython 3.11: the rootfs's interpreter and the wheel's tag are cp311"
"$GB_CHECKOUT/scripts/system-packages.sh" test >&2   # aarch64-linux-gnu-g++

rootfs=$("$GB_CHECKOUT/scripts/arm64-rootfs.sh" --quiet)
inc=$rootfs/usr/include/python3.11
conf=$rootfs/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h
[[ -f $inc/Python.h && -f $conf ]] || gb_die "the rootfs has no aarch64 CPython 3.11 headers ($inc, $conf)"

# Debian's include/python3.11/pyconfig.h only picks <aarch64-linux-gnu/python3.11/pyconfig.h> by the target's
# macros, from an include path that would also bring in the rootfs's whole /usr/include; a copy of the headers
# with the aarch64 pyconfig.h in place keeps the cross toolchain's own sysroot in charge of everything else.
build=$src/build/wheel-cp311-cp311-$tag
[[ $test_bindings == OFF ]] || build+=-test-bindings
stage=$build/python-headers/python3.11
rm -rf "$stage"; mkdir -p "$stage"
cp -a "$inc/." "$stage/"
cp -p "$conf" "$stage/pyconfig.h"   # -a/-p: the mtimes of the originals, so a rebuild recompiles nothing

# ccache (scripts/system-packages.sh test) keeps the cross-compiled objects in <cache>/ccache, so a fresh clone (as
# CI's) compiles only what changed: paths are hashed relative to the checkout (CCACHE_BASEDIR, CCACHE_NOHASHDIR).
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR=${CCACHE_DIR:-$GB_ARM64_CACHE/ccache} CCACHE_BASEDIR=$src CCACHE_NOHASHDIR=1 \
    CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
  launcher=(-C cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache -C cmake.define.CMAKE_C_COMPILER_LAUNCHER=ccache)
fi

suffix=.cpython-311-aarch64-linux-gnu.so
exclude=()   # pyproject.toml's wheel.exclude (only the test-only stub); an empty list lets the stub in
[[ $test_bindings == OFF ]] || exclude=(-C wheel.exclude=)
mkdir -p "$out"
what=$tag; [[ $test_bindings == OFF ]] || what+=", with the test bindings"
gb_say "building the aarch64 wheel of $src ($what) into $out"
t0=$(date +%s)
(cd "$src" && env SETUPTOOLS_EXT_SUFFIX=$suffix _PYTHON_HOST_PLATFORM=${tag/_aarch64/-aarch64} \
  "$py" -m pip wheel . --no-deps --no-build-isolation -q -w "$out" \
    -C build-dir="$build" \
    -C cmake.args="-DCMAKE_TOOLCHAIN_FILE=$src/cmake/aarch64-linux-gnu.cmake" \
    -C cmake.define.Python_INCLUDE_DIR="$stage" -C cmake.define.Python3_INCLUDE_DIR="$stage" \
    -C cmake.define.PYTHON_MODULE_EXTENSION="$suffix" \
    -C cmake.define.GLASSBRIDGE_TEST_BINDINGS=$test_bindings "${exclude[@]}" "${launcher[@]}" \
    -C wheel.tags="cp311-cp311-$tag") >&2
whl=$(ls -1t "$out"/glassbridge-*-cp311-cp311-"$tag".whl | head -n1)
# What is in it must be aarch64 code with the aarch64 suffix, nothing of the host's.
"$py" - "$whl" "$suffix" "$test_bindings" >&2 <<'PY'
import sys, zipfile
whl, suffix, test_bindings = sys.argv[1:]
sos = [n for n in zipfile.ZipFile(whl).namelist() if n.endswith(".so")]
assert sos, "no extension module in the wheel"
names = zipfile.ZipFile(whl).namelist()
testing = [n for n in names if "_testing_native" in n]
expected = ["pyi", "so"] if test_bindings == "ON" else []  # the test-only extension and its stub, or neither
assert sorted(n.rsplit(".", 1)[1] for n in testing) == expected, f"test bindings {test_bindings}: {testing}"
# The package's extensions, each present (a CMake target dropped from the wheel would otherwise show up only as an
# ImportError in the tests on aarch64).
for module in ("glassbridge/vision/_kernels", "glassbridge/protocol/_link", "glassbridge/nn/_nn"):
    assert module + suffix in sos, f"{module}{suffix} is not in the wheel: {sos}"
for n in sos:
    head = zipfile.ZipFile(whl).read(n)[:20]
    machine = int.from_bytes(head[18:20], "little")
    assert head[:4] == b"\x7fELF" and machine == 183, f"{n}: not an aarch64 ELF (e_machine {machine})"
    assert n.endswith(suffix), f"{n}: not named *{suffix}"
    print(f"  {n}: aarch64 ELF")
PY
gb_say "built in $(( $(date +%s) - t0 )) s: $whl"
echo "$whl"
