# Quick start: `make run` (calibrated 1973-2016 baseline + report) and `make test`.
# `make app`: the teaching app in the browser (prints its address; PORT=8765 by default).
VENV   ?= .venv
PY     := $(VENV)/bin/python
SEED   ?= 0
OUT    ?= runs/baseline
PORT   ?= 8765

# First interpreter >= 3.12 that actually runs (pyenv shims may exist without a selected version).
PYTHON ?= $(shell for c in python3.13 python3.12 python3 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then echo $$c; break; fi; done)

.PHONY: run test app bench clean-venv

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: need Python 3.12 or newer (python3.12 / python3.13 on PATH)" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,app]"
	@touch $@

run: $(VENV)/.installed
	$(VENV)/bin/sim run scenarios/baseline.toml --seed $(SEED) --out $(OUT) --overwrite
	$(VENV)/bin/sim report $(OUT)

test: $(VENV)/.installed
	$(PY) -m pytest -q

app: $(VENV)/.installed
	$(VENV)/bin/sim app --port $(PORT)

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_run.py

clean-venv:
	rm -rf $(VENV)
