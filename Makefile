# make demo / make test / make bench: each creates .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# LSL stays on this machine for the demo, tests and benchmarks.
export LSLAPICFG := $(CURDIR)/config/lsl_loopback.cfg
DEMO_SECONDS ?= 60
NO_DISPLAY := $(if $(DISPLAY)$(WAYLAND_DISPLAY)$(QT_QPA_PLATFORM),,1)
# Extra app.py options, e.g. DEMO_ARGS="--duration 40 --screenshot docs/dashboard.png"
DEMO_ARGS ?=

.PHONY: demo test bench lint venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2" "setuptools<81" wheel
	$(PY) -m pip install -q -e ".[dev,cluster]"
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) app.py --eeg brainflow:synthetic --cam demo $(if $(NO_DISPLAY),--no-gui --duration $(DEMO_SECONDS)) $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m mypy
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/models.py
	$(PY) bench/latency.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m mypy
