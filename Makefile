# Aduan: the two commands of the README (`make run`, `make test`) and the benchmarks.
# Each target creates or refreshes the virtual environment .venv on first use.

PYTHON ?= python3
# Where `make run` serves: `make run HOST=0.0.0.0 PORT=8080` (see README: a pilot on a network)
HOST ?= 127.0.0.1
PORT ?= 5000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench bench-quick clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/aduan db upgrade
	$(VENV)/bin/aduan run --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The suite on every core (pytest-xdist); `pytest` alone runs it in one process. The slowest
# tests are listed at the end, so that a CI log shows where the suite's time goes.
test: $(STAMP) lint
	scripts/ensure-chromium
	$(VENV)/bin/pytest -n auto --durations=25

bench: $(STAMP)
	$(PY) bench/engine.py
	$(PY) bench/lifecycle.py
	$(PY) bench/scheduler.py
	$(PY) bench/stats.py
	$(PY) bench/web.py

bench-quick: $(STAMP)
	$(PY) bench/engine.py --quick
	$(PY) bench/lifecycle.py --quick
	$(PY) bench/scheduler.py --quick
	$(PY) bench/stats.py --quick
	$(PY) bench/web.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

# Front-end libraries: npm ci, then copy their built files into web/static/vendor/ (committed).
.PHONY: vendor
vendor:
	scripts/vendor-assets
