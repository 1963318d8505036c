#!/usr/bin/env bash
# Regenerate sample_logs/ with the reference trainer (seed 0, the presets' defaults).
# Usage: benchmarks/make_sample_logs.sh [PYTHON]   (two runs at a time, one thread each)
set -euo pipefail
PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
run() { "$PY" -m phasewatch train --preset "$1" --out "sample_logs/$1" --seed 0 --threads 1 --overwrite --quiet; }
run demo  # also pre-trains and caches policy A for seed 0
for pair in "sft rl" "sft_then_rl chord_mu" "chord_phi"; do
  for arm in $pair; do run "$arm" & done
  wait
done
