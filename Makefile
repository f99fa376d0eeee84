# Set-up and checks. `make install` then `make test` is all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install test test-slow lint bench compare compare-ring8 compare-grid25 compare-pix2pix \
	stacked-mnist stacked-ablation clean

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

install: ## create .venv and install gancli editable with the dev extras
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'

# One pytest-xdist worker per core (tests/conftest.py gives each one thread): about 3 minutes
# on the 2-core machine instead of 5 on one process.
test: lint ## the style checks, then the test suite (about 3 minutes on 2 cores)
	$(BIN)/python -m pytest -n auto --dist worksteal

test-slow: ## the quality checks that train for minutes (`slow` tests)
	$(BIN)/python -m pytest -n auto -m slow

lint: ## ruff check, ruff format --check and mypy
	$(BIN)/ruff check gancli tests benchmarks
	$(BIN)/ruff format --check gancli tests benchmarks
	$(BIN)/mypy

bench: ## speed and memory benchmarks, printed as ratios to a plain reference
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_eval.py

# Every loss on ring8 and grid25 (each preset's recipe with the loss swapped and COMPARE_STEPS
# generator updates; `~recipe/loss` leaves out the Wasserstein losses' own recipes), 3 seeds;
# the Wasserstein losses once more with their recipe (conf/recipe/loss: 5 critic updates per G
# update; the preset's learning rate, Adam betas (0.5, 0.9) since a preset's betas win over the
# recipe's, half the G updates: 2.5x the critic updates of the others); then `gancli report`:
# a page per run and outputs/compare/report.html comparing them (the table also in
# outputs/compare/compare.md, final scatters side by side). The
# two datasets run as two single-threaded sweeps side by side (on 2 cores ~1.6x faster than one
# sweep on both threads): about 75 minutes on a 2-core CPU. ring8's R1 and rpgan's R2 are
# switched off (loss.r1_gamma=0 loss.r2_gamma=0): the table compares the objectives themselves,
# not the objectives rescued by a regulariser of D.
COMPARE_LOSSES ?= minimax,ns,lsgan,hinge,rpgan,wgan-clip,wgan-gp,wgan-lp,wgan-sn
COMPARE_DIVERGENCES ?= kl,reverse_kl,pearson,squared_hellinger,js,total_variation
COMPARE_WGAN ?= wgan-clip,wgan-gp,wgan-lp,wgan-sn
COMPARE_SEEDS ?= 0,1,2
COMPARE_STEPS ?= 4000
COMPARE_DIR ?= outputs/compare
SWEEP := OMP_NUM_THREADS=1 $(BIN)/gancli train -m train.seed=$(COMPARE_SEEDS) loss.r1_gamma=0 \
	loss.r2_gamma=0

# A loss that diverges on some seed is a result, not a failure of the comparison: the table
# counts such runs as `stopped`, so the report runs whatever the sweeps' exit status.
compare: ## every loss on ring8 and grid25, 3 seeds, then a report
	-$(MAKE) -j2 -k compare-ring8 compare-grid25
	$(BIN)/gancli report $(COMPARE_DIR)

compare-ring8 compare-grid25: compare-%:
	-$(SWEEP) experiment=$* loss=$(COMPARE_LOSSES) '~recipe/loss' train.steps=$(COMPARE_STEPS) \
		hydra.sweep.dir=$(COMPARE_DIR)/$*/losses
	-$(SWEEP) experiment=$* loss=fgan loss.divergence=$(COMPARE_DIVERGENCES) \
		train.steps=$(COMPARE_STEPS) hydra.sweep.dir=$(COMPARE_DIR)/$*/fgan
	$(SWEEP) experiment=$* loss=$(COMPARE_WGAN) 'optim.betas=[0.5,0.9]' \
		train.steps=$$(( $(COMPARE_STEPS) / 2 )) hydra.sweep.dir=$(COMPARE_DIR)/$*/wgan

# pix2pix's three objectives on one task (P2P_ARGS: the experiment=mnist_inpaint preset by
# default, MNIST from ../shared/data): L1 only, GAN only, GAN + L1, the same settings otherwise,
# each scored at its last step (P2P_STEPS: the preset's) on P2P_EVAL_N test examples (L1, PSNR,
# SSIM to the targets, FID of the outputs); then `gancli report`: outputs/compare-pix2pix/
# report.html and compare.md (the table), the three runs' final pictures side by side.
P2P_ARGS ?= experiment=mnist_inpaint data.root=$(abspath ../shared/data/mnist)
P2P_DIR ?= outputs/compare-pix2pix
P2P_STEPS ?= 1500
P2P_EVAL_N ?= 10000
P2P_TRAIN := $(BIN)/gancli train $(P2P_ARGS) train.steps=$(P2P_STEPS) \
	train.eval_every=$(P2P_STEPS) 'eval.metrics=[translation,fid]' eval.n=$(P2P_EVAL_N)

compare-pix2pix: ## L1, GAN and GAN + L1 on one image-to-image task
	$(P2P_TRAIN) conditioning.adv_weight=0 hydra.run.dir=$(P2P_DIR)/l1
	$(P2P_TRAIN) conditioning.l1_weight=0 hydra.run.dir=$(P2P_DIR)/gan
	$(P2P_TRAIN) hydra.run.dir=$(P2P_DIR)/gan_l1
	$(BIN)/gancli report $(P2P_DIR)/l1 $(P2P_DIR)/gan $(P2P_DIR)/gan_l1 --out $(P2P_DIR)

# Stacked MNIST on the VEEGAN / PacGAN protocol: experiment=stacked_mnist for STACKED_SEEDS
# (MNIST from ../shared/data), each scored at its last step (26,000 samples, modes and KL to
# uniform in metrics.jsonl), then `gancli report`: outputs/stacked-mnist/report.html and
# compare.md, mean ± std over the seeds. About an hour a seed on a 2-core CPU.
STACKED_SEEDS ?= 0,1,2
STACKED_DIR ?= outputs/stacked-mnist

stacked-mnist: ## Stacked MNIST on the PacGAN protocol, 3 seeds, then a report
	$(BIN)/gancli train -m experiment=stacked_mnist train.seed=$(STACKED_SEEDS) \
		data.root=$(abspath ../shared/data/mnist) hydra.sweep.dir=$(STACKED_DIR)
	$(BIN)/gancli report $(STACKED_DIR)

# R3GAN's ablation (Huang et al. 2024, Table 1) on Stacked MNIST: NS and RpGAN, each with R1
# alone and with R1 + R2, the same budget otherwise (ABLATION_STEPS generator updates, D without
# normalisation and unpacked, as R3GAN's D), scored at the last step on ABLATION_EVAL_N samples;
# then `gancli report`: outputs/stacked-ablation/compare.md.
ABLATION_STEPS ?= 3000
ABLATION_EVAL_N ?= 10000
ABLATION_DIR ?= outputs/stacked-ablation

stacked-ablation: ## R3GAN's four objectives on Stacked MNIST at one budget
	-OMP_NUM_THREADS=1 $(BIN)/gancli train -m experiment=stacked_mnist loss=ns,rpgan \
		loss.r1_gamma=0.1 loss.r2_gamma=0,0.1 train.pack=1 model.d_norm=none \
		train.steps=$(ABLATION_STEPS) eval.n=$(ABLATION_EVAL_N) \
		data.root=$(abspath ../shared/data/mnist) hydra.sweep.dir=$(ABLATION_DIR)
	$(BIN)/gancli report $(ABLATION_DIR)

clean: ## remove outputs/ and build files
	rm -rf outputs build dist *.egg-info .pytest_cache .ruff_cache
