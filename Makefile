# The README's two commands are `make demo` and `make test`.
#
# Both install into a virtual environment: the one they run in, if any (an activated
# venv, a conda env, CI's own), else .venv/ here, made on first use. A stock
# Debian/Ubuntu Python refuses installs outside one (PEP 668, "externally-managed-environment").
SYSTEM_PYTHON ?= python3
VENV ?= .venv
IN_VENV := $(shell $(SYSTEM_PYTHON) -c 'import os, sys; print(int(sys.prefix != sys.base_prefix or "CONDA_PREFIX" in os.environ))' 2>/dev/null)
ifeq ($(IN_VENV),1)
PYTHON := $(SYSTEM_PYTHON)
ENVIRONMENT :=
else
PYTHON := $(VENV)/bin/python
ENVIRONMENT := $(PYTHON)
endif
PIP_INSTALL = $(PYTHON) -m pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_OUT = build/example-grades

.PHONY: install install-dev demo test test-fast bench

$(VENV)/bin/python:
	@$(SYSTEM_PYTHON) -m venv $(VENV) || { echo "could not make a virtual environment in $(VENV): on Debian/Ubuntu, 'sudo apt install python3-venv' first" >&2; exit 1; }
	@echo "made a virtual environment in $(VENV); afterwards, 'source $(VENV)/bin/activate' puts 'course' on your PATH"

install: $(ENVIRONMENT)
	$(PIP_INSTALL) -e .

install-dev: $(ENVIRONMENT)
	$(PIP_INSTALL) -e ".[dev]"

# Grade the bundled example class; results land in build/example-grades/.
demo: install
	$(PYTHON) -m grader grade examples/class/* --out $(DEMO_OUT) --jobs 2
	@echo "worth opening: $(DEMO_OUT)/ben_typical_mistakes/feedback.html (or feedback.md), the feedback ben gets"

# Every test. pytest exits 5 when it collects nothing: that fails here too.
test: install-dev
	$(PYTHON) -m grader sync --check
	$(PYTHON) -m pytest -q -p no:cacheprovider

# The contributor's loop, in under two minutes: every cheap consistency rule, then the
# tests not marked slow (no grading of every variant, no venv, no cluster, no training).
test-fast: install-dev
	$(PYTHON) -m grader dev check
	$(PYTHON) -m pytest -q -p no:cacheprovider -m "not slow"

bench: install-dev
	$(PYTHON) bench/grading_speed.py
	$(PYTHON) bench/busy_machine.py
	$(PYTHON) bench/transformer_step.py
	$(PYTHON) bench/capstone_convergence.py
