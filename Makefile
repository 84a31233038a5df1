# The two commands a new user runs: `make run` and `make test`. Each does its own setup.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench lock system-deps clean

run: $(STAMP)
	$(VENV)/bin/prospects-bot run

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The core and the builders with fakes: no database, clamd or SMTP server (tests/unit/conftest.py sees to it).
.PHONY: unit
unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot outreach storage
	$(VENV)/bin/lint-imports --no-cache --no-logo

bench: $(STAMP)
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[dev,bench]'
	$(PY) bench/run_all.py

# Re-pins constraints.txt to the newest versions pyproject.toml allows (then `make test`); KEEP=1 keeps every
# current pin and only pins new dependencies. Needs no installed packages, so it works when the pins do not.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) scripts/lock.py $(if $(KEEP),--keep)

system-deps:
	@sh scripts/system-deps.sh

# Installs the exact versions in constraints.txt (what pyproject.toml needs, pinned as tested).
$(STAMP): pyproject.toml constraints.txt scripts/system-deps.sh
	@sh scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
