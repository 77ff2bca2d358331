# SignalHub — `make demo` to watch it run, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint run clean migrations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/signalhub demo

run: install
	$(BIN)/signalhub run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy domain/

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) var

# Regenerates this branch's unreleased migration from the models (0001 has shipped).
migrations: install
	rm -f migrations/0002_*.py
	DATABASE_URL=sqlite://:memory: $(BIN)/tortoise -c signalhub.db.TORTOISE_ORM makemigrations --name exchange_billing_linking
