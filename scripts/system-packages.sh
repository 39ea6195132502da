#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages a make target needs, when they are missing.
#   scripts/system-packages.sh GROUP...     groups: build, audio, test, firmware, fuzz, ble, bench, arm64
# As root it runs apt-get (update once, then install --no-install-recommends) and says what and why;
# otherwise it prints the exact command to run and fails, so nothing half-works.
set -euo pipefail

need=()
why=()
want() {  # want <probe: a command name or an absolute path> <package> <reason>
  local probe=$1 pkg=$2 reason=$3
  if [[ $probe == /* ]]; then [[ -e $probe ]] && return 0; else command -v "$probe" >/dev/null 2>&1 && return 0; fi
  for p in "${need[@]:-}"; do [[ $p == "$pkg" ]] && return 0; done
  need+=("$pkg"); why+=("$pkg: $reason")
}

# Debian's library folder for this machine (x86_64-linux-gnu, aarch64-linux-gnu).
multiarch=$( (gcc -print-multiarch 2>/dev/null || true) | head -1)
multiarch=${multiarch:-$(uname -m)-linux-gnu}

for group in "$@"; do
  case $group in
    build)
      want g++ g++ "compiles the C++ kernels (glassbridge.protocol._link, glassbridge.vision._kernels)"
      want make make "runs the Makefile"
      want /usr/include/python3.11/Python.h python3-dev "headers for the Python extension" ;;
    audio)
      want "/usr/lib/$multiarch/libopus.so.0" libopus0 "the Opus codec (microphone audio streamed to the phone; opuslib-next loads it)"
      want espeak-ng espeak-ng "the glasses' voice (answers spoken on the speaker), and the spoken questions of the demo and tests" ;;
    test)
      if [[ $(uname -m) != aarch64 ]]; then  # on aarch64 the native build is the NEON one: nothing to cross-build
        want aarch64-linux-gnu-g++ g++-aarch64-linux-gnu "cross-compiles the NEON kernels for the aarch64 test run"
        want qemu-aarch64 qemu-user "runs the aarch64 C++ tests (NEON path) under emulation"
        want ccache ccache "keeps the aarch64 wheel's cross-compiled objects between clones (make test-arm64)"
      fi
      want valgrind valgrind "checks the C++ tests' memory accesses, SIMD gathers included (memcheck)"
      # The offline sign-reading tests render their own signs (tests/integration/test_companion_ocr.py).
      want /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core "Latin fonts the OCR tests render English signs in"
      want /usr/share/fonts/truetype/wqy/wqy-microhei.ttc fonts-wqy-microhei "a Chinese font the OCR tests render Chinese signs in" ;;
    firmware)
      want arm-none-eabi-gcc gcc-arm-none-eabi "cross-compiles the MCU firmware for Cortex-M4F (mps2-an386, netduinoplus2)"
      want /usr/lib/arm-none-eabi/newlib/libc.a libnewlib-arm-none-eabi "the C library the bare-metal firmware links (string.h, memcpy)"
      want qemu-system-arm qemu-system-arm "runs the real firmware on emulated Cortex-M4F boards (tests, demo, benchmarks)" ;;
    fuzz)
      want clang clang "compiles the libFuzzer targets of the frame and message decoders"
      # libFuzzer's runtime ships apart from clang, per LLVM major (Debian 12: 14, Ubuntu 24.04: 18).
      major=$( (clang --version 2>/dev/null || true) | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
      major=${major:-14}
      if ! compgen -G "/usr/lib/llvm-$major/lib/clang/*/lib/*/libclang_rt.fuzzer*.a" >/dev/null; then
        want /nonexistent/libfuzzer "libclang-rt-$major-dev" "libFuzzer's runtime for clang $major"
      fi ;;
    ble)
      want dbus-daemon dbus-daemon "the private system bus of the simulated BLE rig: bleak's BlueZ backend talks D-Bus to it" ;;
    arm64)
      want debootstrap debootstrap "builds the arm64 Debian rootfs the package is tested in (scripts/arm64-rootfs.sh)"
      want qemu-aarch64-static qemu-user-static "the static qemu-aarch64 that runs inside the arm64 rootfs (binfmt_misc, fix-binary)"
      want update-binfmts binfmt-support "registers qemu-aarch64 with binfmt_misc so the rootfs's programs run on this host" ;;
    bench)
      want valgrind valgrind "instruction counts of the kernels (callgrind), the stable benchmark figure"
      want "/usr/lib/$multiarch/libyuv.so.0" libyuv0 "libyuv as a benchmark contender" ;;
    *) echo "system-packages.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

# python3-dev: only needed when the interpreter in use has no headers of its own (pyenv and python.org builds do).
if [[ " ${need[*]:-} " == *" python3-dev "* ]]; then
  inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)
  if [[ -n $inc && -e $inc/Python.h ]]; then
    keep=(); keepwhy=()
    for i in "${!need[@]}"; do [[ ${need[$i]} == python3-dev ]] || { keep+=("${need[$i]}"); keepwhy+=("${why[$i]}"); }; done
    need=("${keep[@]:-}"); why=("${keepwhy[@]:-}")
    [[ -z ${need[0]:-} ]] && need=() && why=()
  fi
fi

[[ ${#need[@]} -eq 0 ]] && exit 0

echo "glassbridge needs these system packages:"
printf '  %s\n' "${why[@]}"
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing them with apt-get (running as root)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "Installed: ${need[*]}"
else
  echo "Run this, then try again:"
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
  exit 1
fi
