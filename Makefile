# Build / run / test entry points. On a fresh clone only two commands are needed:
#
#   make run    create .venv if needed, install, seed demo data and serve on $(HOST):$(PORT)
#   make test   create .venv if needed, install, ensure system deps + PostgreSQL, then
#               ruff, mypy --strict, import-linter and pytest
#
# Requires GNU make and Python 3.11 (python3.11 on PATH, or PYTHON=/path/to/python3.11).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# python3.11, else a python3 that is 3.11; override with `make PYTHON=...`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || { python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && command -v python3; })
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

PACKAGES := domain tracking projections api dashboard drill

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv run test chaos system-deps bench clean FORCE

help:
	@echo "make run    - install (if needed) and serve the app with demo data on $(HOST):$(PORT)"
	@echo "make test   - install (if needed), system deps, ruff, mypy, import-linter, pytest"
	@echo "make chaos  - fault injection at full scale (tests/chaos), with the checker's counts"
	@echo "make bench  - run the benchmarks (python -m benchmarks)"
	@echo "make clean  - remove .venv, data/ and caches"

# --- virtualenv --------------------------------------------------------------------------
# pip re-runs only when pyproject.toml is newer than the stamp, or when the set of top-level
# packages present on disk differs from the set present at the last install (setuptools'
# editable finder maps only the packages that existed when `pip install -e` ran).
venv: $(STAMP)

PRESENT_PACKAGES := $(strip $(foreach p,$(PACKAGES),$(if $(wildcard $(p)/__init__.py),$(p))))
ifneq ($(PRESENT_PACKAGES),$(strip $(shell cat $(STAMP) 2>/dev/null)))
$(STAMP): FORCE
endif

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python 3.11 not found (need python3.11 on PATH, or make PYTHON=/path/to/python3.11)" >&2; \
	  exit 1; \
	fi
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	@echo "$(PRESENT_PACKAGES)" > $(STAMP)

FORCE:

# --- run -----------------------------------------------------------------------------------
# `make run SIMULATE=1` also plays a drill day (tracking simulate --demo) against the server
# once it answers; the drill stops when the server does.
run: venv
	bash scripts/ensure-system-deps.sh --runtime
ifeq ($(SIMULATE),1)
	$(BIN)/tracking simulate --demo --wait 180 --url http://$(HOST):$(PORT) \
	  --accounts "$${TRACKING_DATA_DIR:-data}/demo-accounts.txt" & sim=$$!; \
	trap 'kill $$sim 2>/dev/null || true' EXIT; \
	$(BIN)/tracking serve --host $(HOST) --port $(PORT)
else
	$(BIN)/tracking serve --host $(HOST) --port $(PORT)
endif

# --- test ----------------------------------------------------------------------------------
system-deps:
	bash scripts/ensure-system-deps.sh

test: venv system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy --strict $(PACKAGES)
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadfile --durations=15

# --- chaos ---------------------------------------------------------------------------------
# The faults of tests/chaos at full scale (a short version runs in `make test`), one after the
# other; each prints its checker line, and the lines are shown together at the end.
CHAOS_REPORT ?= $(or $(TMPDIR),/tmp)/chaos-report.txt

chaos: venv system-deps
	rm -f $(CHAOS_REPORT)
	CHAOS_SCALE=full CHAOS_REPORT=$(CHAOS_REPORT) TRACKING_REQUIRE_POSTGRES=1 \
	  $(BIN)/pytest tests/chaos -s -p no:randomly -p no:xdist --timeout 900 -q \
	  || status=$$?; \
	  echo "--- chaos report ($(CHAOS_REPORT)) ---"; cat $(CHAOS_REPORT) 2>/dev/null || true; \
	  exit $${status:-0}

# --- bench ---------------------------------------------------------------------------------
bench: venv
	$(BIN)/python -m benchmarks

# --- clean ---------------------------------------------------------------------------------
clean:
	rm -rf $(VENV) data/ build/ .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
