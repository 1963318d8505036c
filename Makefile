# Quick start: `make demo` and `make test` each set up .venv themselves (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,trainer,tensorboard,wandb

.PHONY: demo demo-train test test-slow test-browser browser lint bench venv clean

venv: $(STAMP)

# Editable install in compat mode: the checkout on sys.path through a .pth line. The default
# editable finder imports pathlib, re and urllib at every interpreter start (about 20 ms on each
# command). setuptools calls compat transitional: where it is gone, the default mode.
$(STAMP): pyproject.toml constraints.txt setup.py phasewatch/tokens/_count.c phasewatch/tokens/_count_pass.c phasewatch/tokens/_count.h
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]" --config-settings editable_mode=compat \
	  || $(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The main job on the embedded sample data (sample_logs/demo: a reference-trainer SFT run on
# divergent expert data): find its phases, summarise its expert-token store, replay it as if live
# with early-stop alerts, and draw the paper figures.
demo: $(STAMP)
	$(BIN)/python -m phasewatch analyze sample_logs/demo
	$(BIN)/python -m phasewatch tokens sample_logs/demo | head -n 25
	$(BIN)/python -m phasewatch watch sample_logs/demo
	mkdir -p out
	$(BIN)/python -m phasewatch plot sample_logs/demo -o out/demo.png
	$(BIN)/python -m phasewatch plot sample_logs/sft_then_rl sample_logs/chord_mu sample_logs/chord_phi sample_logs/rl sample_logs/sft --layout grid --size full -o out/arms.png
	@echo "figures: out/demo.png out/arms.png"

# The same end to end: train the demo preset first (about 1-2 minutes on 2 cores).
demo-train: $(STAMP)
	$(BIN)/python -m phasewatch train --preset demo --out out/demo --overwrite
	$(BIN)/python -m phasewatch analyze out/demo
	$(BIN)/python -m phasewatch plot out/demo -o out/demo-trained.png
	@echo "figure: out/demo-trained.png"

# One test worker per core (pytest-xdist): the suite takes about 8 minutes on 2 cores.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m slow

# The HTML report in a real headless Chromium (Debian's package; `make test` installs it too). Installing it needs root and
# apt; where that is not possible the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || echo "chromium could not be installed: the browser tests will skip"

test-browser: $(STAMP) browser
	$(BIN)/python -m pytest -q tests/test_report_browser.py

lint: $(STAMP)
	$(BIN)/ruff check phasewatch tests benchmarks

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info out
