# Set-up and checks. `make install` then `make test` is all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-slow lint bench clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'

test:
	$(BIN)/python -m pytest

test-slow:
	$(BIN)/python -m pytest -m slow

lint:
	$(BIN)/ruff check gancli tests benchmarks

bench:
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_startup.py

clean:
	rm -rf outputs build dist *.egg-info .pytest_cache .ruff_cache
