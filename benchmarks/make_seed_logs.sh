#!/usr/bin/env bash
# Regenerate sample_logs/seeds/: seeds 1 and 2 of the sft and sft_then_rl arms (seed 0 of each is
# sample_logs/sft and sample_logs/sft_then_rl), the presets' defaults, for the seed-group figure
# of docs/figures.md. The expert token stores are not kept (the figure does not use them).
# Usage: benchmarks/make_seed_logs.sh [PYTHON]   (two runs at a time, one thread each)
set -euo pipefail
PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
mkdir -p sample_logs/seeds
run() {
  "$PY" -m phasewatch train --preset "$1" --out "sample_logs/seeds/$1_s$2" --seed "$2" --threads 1 --overwrite --quiet
  rm -rf "sample_logs/seeds/$1_s$2/expert_logprobs"
}
for arm in sft sft_then_rl; do  # the first arm pre-trains and caches policy A for each seed
  for seed in 1 2; do run "$arm" "$seed" & done
  wait
done
