#!/usr/bin/env bash
# Regenerate sample_logs/seeds/: seeds 1 and 2 of the sft arm (seed 0 is sample_logs/sft), the
# preset's defaults, for the seed-group figure of docs/figures.md. The expert token stores are
# not kept (the figure does not use them).
# Usage: benchmarks/make_seed_logs.sh [PYTHON]   (both seeds at once, one thread each; each run
# pre-trains its own policy A first, as make_sample_logs.sh does for seed 0)
set -euo pipefail
PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
mkdir -p sample_logs/seeds
run() {
  "$PY" -m phasewatch train --preset sft --out "sample_logs/seeds/sft_s$1" --seed "$1" --threads 1 --overwrite --quiet
  rm -rf "sample_logs/seeds/sft_s$1/expert_logprobs"
}
for seed in 1 2; do run "$seed" & done
wait
