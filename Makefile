# Quick start: `make demo` and `make test` each set up .venv themselves (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,trainer,tensorboard,wandb

.PHONY: demo test test-slow lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The main job: train the reference trainer's demo preset (plain SFT on divergent expert data),
# then find its phases, summarise its expert-token store and draw the paper figure.
demo: $(STAMP)
	$(BIN)/python -m phasewatch train --preset demo --out out/demo --overwrite
	$(BIN)/python -m phasewatch analyze out/demo
	$(BIN)/python -m phasewatch tokens out/demo | head -n 25
	$(BIN)/python -m phasewatch plot out/demo -o out/demo.png
	@echo "figure: out/demo.png"

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check phasewatch tests benchmarks

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info out
