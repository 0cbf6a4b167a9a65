# One command to run the gateway, one to run every test. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
CONFIG ?= rules.yaml
DATABASE_URL ?= sqlite+aiosqlite:///./gateway.db

.PHONY: run test lint format bench clean demo

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway serve --migrate --host $(HOST) --port $(PORT) --config $(CONFIG) --database-url $(DATABASE_URL)

demo: $(STAMP)
	$(BIN)/gateway demo --url http://$(HOST):$(PORT) $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Runs every benchmark (bench/run_all.py) and prints one summary table; results go to bench/out/.
# `make bench BENCH_SIZE=tiny` takes seconds; BENCH_ARGS are passed on (e.g. --profile).
bench: $(STAMP)
	@[ $(VENV)/.installed-bench -nt pyproject.toml ] || { $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]' && touch $(VENV)/.installed-bench; }
	$(BIN)/python -m bench.run_all --size $(or $(BENCH_SIZE),full) $(BENCH_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache gateway.db gateway.db-wal gateway.db-shm
