# vpfilters: the two README commands (`make demo`, `make test`) and their helpers.
# Everything is bootstrapped here: Debian's ffmpeg, a Python 3.12 .venv, the package with its
# native parts (C++ kernels, pybind11 module, VapourSynth plug-in) and the test extras.
SHELL := /bin/bash
.ONESHELL:
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
PYTEST_ARGS ?=
# Two cores: keep every library's thread pool deliberate (see ENVIRONMENT.md).
export OMP_NUM_THREADS ?= 2
export OPENCV_FOR_THREADS_NUM ?= 2

SOURCES := $(shell find vpfilters csrc plugins -type f \( -name '*.py' -o -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cu' -o -name '*.txt' -o -name '*.npy' -o -name '*.onnx' -o -name '*.json' -o -name '*.md' \) 2>/dev/null) pyproject.toml CMakeLists.txt

.PHONY: help demo test install system-deps bench clean

help:
	@echo "make demo   - set everything up and run the demo on examples/ (writes out/)"
	@echo "make test   - set everything up and run the test suite"
	@echo "make bench  - run the benchmarks (tables on stdout, JSON in benchmarks/results/)"

system-deps:
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	    echo "== installing Debian's ffmpeg"
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
	  else
	    echo "error: ffmpeg and ffprobe are needed; install them (e.g. sudo apt-get install ffmpeg)" >&2; exit 1
	  fi
	fi

$(VENV)/.bootstrapped:
	@set -e
	PY312=$$(scripts/find-python312.sh)
	echo "== creating $(VENV) with $$PY312"
	"$$PY312" -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "scikit-build-core>=0.10" "pybind11>=2.12" "vapoursynth>=70" cmake ninja
	touch $@

$(VENV)/.installed: $(VENV)/.bootstrapped $(SOURCES)
	@set -e
	echo "== building and installing vpfilters (native kernels + VapourSynth plug-in)"
	$(PIP) install -q --no-build-isolation ".[cpu,train,dev]"
	# vspipe needs a per-venv VapourSynth configuration (ENVIRONMENT.md).
	$(VENV)/bin/vapoursynth config >/dev/null
	$(PY) -P -m vpfilters.selfcheck
	touch $@

install: system-deps $(VENV)/.installed

test: install
	@set -o pipefail
	cd tests && ../$(VENV)/bin/python -m pytest $(PYTEST_ARGS); rc=$$?
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
	exit $$rc

demo: install
	@$(PY) -P -m vpfilters.demo

bench: install
	@mkdir -p benchmarks/results
	$(PY) benchmarks/kernels.py --json benchmarks/results/kernels.json

clean:
	rm -rf build dist out $(VENV) *.egg-info
