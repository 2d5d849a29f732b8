# Everything runs inside .venv so a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs docs-serve workflow-schema sample-data sample-large bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: load the bundled sample CSV into SQLite and show the report, then a short bench sweep
demo: $(STAMP)
	$(BIN)/python sample-data/generate.py --rows 200000 --out sample-data/demo --csv-only
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/bulkload import sample-data/demo.csv --to sqlite:///demo.db --table orders --batch-size 5000 --if-exists replace
	$(BIN)/bulkload import sample-data/orders.parquet --to sqlite:///demo.db --table orders_parquet --if-exists replace
	$(BIN)/bulkload bench --synthetic rows=200000,columns=6 --to sqlite:///demo.db --table bench --if-exists replace --sweep 1,2 --sweep-batch-size 1000,10000 --warmup 0.5s --duration 2s --json demo-bench.json

## test: lint, type-check, run the test suite (the docs' examples included) and build the docs
test: $(STAMP) lint typecheck pytest docs

lint: $(STAMP) workflow-schema
	$(BIN)/ruff check bulkload tests benchmarks sample-data docs/hooks
	$(BIN)/ruff format --check bulkload tests benchmarks sample-data docs/hooks
	$(BIN)/lint-imports --no-cache

# the example workflow against GitHub's workflow schema (vendored in check-jsonschema)
workflow-schema: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows examples/github-actions-bench.yml

## docs: build the documentation site into site/ (strict: a broken link or page fails)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## docs-serve: serve the documentation on http://127.0.0.1:8000, rebuilt as you edit
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

typecheck: $(STAMP)
	$(BIN)/mypy

# 4 workers: most tests wait on I/O and sleeps, so 4 beat the 2 cores' worth (-n auto);
# measured on the 2-core machine: -n 2 18 s, -n 4 12-14 s, -n 6 17 s
PYTEST_WORKERS ?= 4
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

## sample-data: regenerate the small committed samples
sample-data: $(STAMP)
	$(BIN)/python sample-data/generate.py --rows 1000 --out sample-data/orders

## sample-large: a large generated CSV (not committed), ROWS=... to size it
ROWS ?= 5000000
sample-large: $(STAMP)
	$(BIN)/python sample-data/generate.py --rows $(ROWS) --out sample-data/large --csv-only

bench: $(STAMP)
	$(BIN)/python benchmarks/sqlite_import.py

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache demo.db* demo-bench.json site
