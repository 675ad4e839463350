# Every target bootstraps .venv when it is missing, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test test-fast lint bench reliability clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)  ## run the demo on the embedded default (SQLite, in-process tasks)
	$(BIN)/carmen demo $(DEMO_ARGS)

test: $(TEST_STAMP)  ## run the whole test suite (what CI runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(TEST_STAMP)  ## the edit loop: every test but the heavy ones (demos, bakes, wheel, load)
	$(BIN)/python -m pytest -m "not heavy" $(PYTEST_ARGS)

lint: $(TEST_STAMP)  ## ruff (checks and formatting) and the import contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)  ## run every benchmark and print their figures
	$(BIN)/python -m bench $(BENCH_ARGS)

reliability: $(TEST_STAMP)  ## load, fuzz and chaos runs; one table, non-zero exit on a failure
	$(BIN)/python -m reliability $(RELIABILITY_ARGS)

clean:  ## remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache
