# banq storefront: `make run` and `make test` are the two commands a new machine needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
BANQ_EMULATOR_PORT ?= 8001
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench install install-dev lint format migrate emulator check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --no-input -v 0

## Set everything up and serve the store, its task worker and (by default) the banq emulator.
## FRESH=1 starts the emulator empty (it keeps its payments in .run/ across restarts).
run: install
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_demo_catalog
	$(BIN)/python manage.py ensure_demo_admin
	$(BIN)/python -m storefront.devserver --host $(HOST) --port $(PORT) --emulator-port $(BANQ_EMULATOR_PORT) $(if $(FRESH),--fresh)

## The banq emulator alone.
emulator: install
	$(BIN)/python -m banq_emulator --host $(HOST) --port $(BANQ_EMULATOR_PORT)

## Lint, migrations check, type check (banq, webhooks, the emulator) and the whole test suite.
## The browser suite (tests/browser) runs when Chromium is installed (apt-get install -y
## chromium), else it is skipped and the first line below says why.
test: install-dev
	@$(BIN)/python -c "from tests.support.browser import browser_suite_report; print(browser_suite_report())"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_READ_DOT_ENV=false $(BIN)/python manage.py makemigrations --check --dry-run -v 0
	$(BIN)/lint-imports
	DJANGO_READ_DOT_ENV=false $(BIN)/mypy banq webhooks banq_emulator
	DJANGO_READ_DOT_ENV=false $(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks of the hot paths against minimal probes on the store's own stack
## (docs/benchmarks.md): SQLite quiet and as `make run` runs it, then PostgreSQL + Redis with one
## and two store workers (how long: docs/benchmarks.md).
## SCALE=1: a year of orders instead (bench/scale.py): 100,000 orders on SQLite and 1,000,000 on
## PostgreSQL, each path empty and full; with QUICK=1, 20,000 and 100,000, under 4 minutes.
bench: install-dev
	$(BIN)/python -m bench $(if $(SCALE),--scale,--all) $(if $(QUICK),--quick)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
