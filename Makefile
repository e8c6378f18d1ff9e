# The single interface: make run | test | ui | lint | docs | report | bench | clean
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
export ACA_WAREHOUSE ?= duckdb
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Fewer event-log writes for range runs and backfills (see aca_warehouse/cli.py, docs/BENCHMARKS.md)
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
export DAGSTER_EVENT_BATCH_SIZE ?= 1000
DEMO_ARGS ?= --members 2000 --start 2025-11-01 --days 120 --seed 42
# The demo (synthetic data) may key member pseudonyms with a PUBLIC secret when ACA_MEMBER_KEY_SECRET
# is unset; the pipeline says so on the console. Everything else requires a real secret (docs/SECURITY.md).
DEMO_SECRET := ACA_DEMO_SECRET=1
LANDING := $(or $(ACA_LANDING_DIR),data/landing)
PYTEST_ARGS ?=
# xdist workers for `make test`: one per core. (3 on 2 cores was slower, 10:26 vs 8:41 for the suite:
# the runs' dbt and DuckDB work then competes for the cores.)
TEST_WORKERS ?= 2
UI_PORT ?= 3000

.PHONY: help venv dbt-manifest demo-data run test test-fast ui lint docs docs-serve report bench bench-quick clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		{ echo "installing uv with pip"; $(PYTHON) -m pip install --quiet uv; }
	$(UV) sync --frozen
	@touch $@

venv: .venv/.synced  ## create the environment (installs uv if absent)

dbt-manifest: venv  ## parse the dbt project once (Dagster reads dbt/target/manifest.json)
	@mkdir -p $(DAGSTER_HOME)
	cd dbt && ACA_DBT_TARGET=duckdb $(RUN) dbt parse --quiet --profiles-dir . --project-dir .

demo-data: venv  ## generate the default demo landing files (skipped if present)
	@if [ -d "$(LANDING)/claims_system/claims" ] && [ -n "$$(ls -A $(LANDING)/claims_system/claims 2>/dev/null)" ]; then \
		echo "landing files already in $(LANDING) (make clean to start over)"; \
	else $(RUN) aca-warehouse generate --out $(LANDING) $(DEMO_ARGS); fi

run: dbt-manifest demo-data  ## from nothing: environment, demo data, every asset and partition into DuckDB
	$(DEMO_SECRET) $(RUN) aca-warehouse run --landing $(LANDING)

test: dbt-manifest  ## the test suite on DuckDB, plus PostgreSQL when it answers (required in CI); prints the 25 slowest
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

test-fast: venv  ## unit tests only (aca_warehouse_tests/unit: no warehouse, no dbt, no Dagster run)
	$(RUN) pytest -m unit aca_warehouse_tests/unit $(PYTEST_ARGS)

ui: dbt-manifest  ## the Dagster UI on http://127.0.0.1:3000 (UI_PORT=...); Ctrl-C or SIGTERM stops it
	@mkdir -p $(DAGSTER_HOME) && [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp deploy/dagster.dev.yaml $(DAGSTER_HOME)/dagster.yaml
	exec env $(DEMO_SECRET) $(RUN) aca-warehouse ui --port $(UI_PORT)  # see `ui` in aca_warehouse/cli.py

lint: venv  ## ruff on Python, sqlfluff on the dbt SQL
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	@# Every model is linted: sqlfluff only logs a warning when it skips one (e.g. a model dbt cannot
	@# compile), so a skipped model fails here. No secret is needed: SQL never holds it.
	@cd dbt && out=$$(ACA_DBT_TARGET=duckdb ACA_DUCKDB_PATH_ABS=:memory: $(RUN) sqlfluff lint models 2>&1); status=$$?; \
		echo "$$out"; \
		if grep -q "Skipp" <<<"$$out"; then echo "make lint: sqlfluff skipped a model (above); every model must be linted" >&2; exit 1; fi; \
		[ $$status -eq 0 ] && echo "sqlfluff: $$(find models -name '*.sql' | wc -l) models linted, none skipped"; exit $$status

docs: venv  ## the documentation site, dbt docs included, into docs/_build/html (warnings are errors)
	$(RUN) python scripts/build_dbt_docs.py --out docs/_build/dbt-docs
	$(RUN) sphinx-build -E -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html, or \`make docs-serve\`"

docs-serve:  ## serve the built site on http://127.0.0.1:8000 (where the UI's dbt-docs links point)
	$(RUN) python -m http.server 8000 --bind 127.0.0.1 --directory docs/_build/html

report: venv  ## draw the marts and data-quality charts from the current warehouse into data/reports
	$(RUN) aca-warehouse report

bench: dbt-manifest  ## benchmarks at several scales (long); results in bench/results and docs/BENCHMARKS.md
	$(DEMO_SECRET) $(RUN) python -m bench.run

bench-quick: dbt-manifest  ## a few-minute benchmark run
	$(DEMO_SECRET) $(RUN) python -m bench.run --quick

clean:  ## remove generated data, the warehouse, Dagster state and dbt artifacts
	rm -rf data .dagster_home dbt/target dbt/logs .pytest_cache docs/_build ci-artifacts
