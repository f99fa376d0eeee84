# Set-up and checks. `make install` then `make test` is all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-slow lint bench compare clean

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

# Every loss on ring8 and grid25 (each preset's recipe, only the loss swapped), 3 seeds; then a
# table (outputs/compare/compare.md) and one scatter figure per loss. About an hour on 2 cores.
COMPARE_LOSSES ?= minimax,ns,lsgan,hinge,wgan-clip,wgan-gp,wgan-lp,wgan-sn
COMPARE_DIVERGENCES ?= kl,reverse_kl,pearson,squared_hellinger,js,total_variation
COMPARE_SEEDS ?= 0,1,2
compare:
	$(BIN)/gancli train -m experiment=ring8,grid25 loss=$(COMPARE_LOSSES) \
		train.seed=$(COMPARE_SEEDS) hydra.sweep.dir=outputs/compare/losses
	$(BIN)/gancli train -m experiment=ring8,grid25 loss=fgan \
		loss.divergence=$(COMPARE_DIVERGENCES) train.seed=$(COMPARE_SEEDS) \
		hydra.sweep.dir=outputs/compare/fgan
	$(BIN)/python -m gancli.report outputs/compare

clean:
	rm -rf outputs build dist *.egg-info .pytest_cache .ruff_cache
