# Thin wrappers: each target creates .venv and installs what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test faults load lint bench lighthouse install clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/newsletter demo $(DEMO_ARGS)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Kills and outages against real worker, beat, Redis and Postgres processes (docs/reliability.md).
faults: $(INSTALLED)
	$(BIN)/python -m pytest -m faults -s $(PYTEST_ARGS)

# Signups, a 50,000-subscriber send and one-click unsubscribes against the served app; prints the numbers.
load: $(INSTALLED)
	$(BIN)/python -m pytest -m load -s $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check newsletter workers tests benchmarks alembic
	$(BIN)/ruff format --check newsletter workers tests benchmarks alembic
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

# Lighthouse (npm package, pinned in tools/lighthouse/package-lock.json) with the system Chromium against
# the served demo: home, paper, signup and preference pages, mobile and desktop; reports in var/lighthouse/.
lighthouse: $(INSTALLED)
	cd tools/lighthouse && npm install --no-audit --no-fund
	$(BIN)/python tools/lighthouse/audit.py

clean:
	rm -rf $(VENV) var/outbox var/bench
