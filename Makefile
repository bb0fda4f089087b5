# The README's two commands are `make demo` and `make test`.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: install demo test bench

install:
	$(PIP_INSTALL) -e ".[dev]"

# Grade the bundled example class; results land in build/example-grades/.
demo: install
	$(PYTHON) -m grader grade examples/class/* --out build/example-grades --jobs 2

# Every test. pytest exits 5 when it collects nothing: that fails here too.
test: install
	$(PYTHON) -m grader sync --check
	$(PYTHON) -m pytest -q -p no:cacheprovider

bench: install
	$(PYTHON) bench/grading_speed.py
	$(PYTHON) bench/transformer_step.py
	$(PYTHON) bench/capstone_convergence.py
