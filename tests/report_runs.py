"""A small synthetic sweep for the report tests: 2 arms x 2 expert-set sizes x 3 seeds, and
one unreadable run."""

from __future__ import annotations

import json
from pathlib import Path

from phasewatch.synth import generate

ARMS = {"sft": "three_phase", "chord_phi": "improve_plateau"}
SIZES = (256, 1024)
SEEDS = (0, 1, 2)


def make_sweep(root: Path) -> Path:
    k = 0
    for arm, kind in ARMS.items():
        for size in SIZES:
            for seed in SEEDS:
                folder = generate(kind, seed=100 + k, n_points=60, eval_every=10,
                                  resume=False).write(root / f"{arm}_e{size}_s{seed}")
                meta = json.loads((folder / "run.json").read_text())
                meta.update(name=folder.name, algorithm=arm)
                meta["config"] = {"seed": seed, "expert_size": size, "lr": 1e-3}
                (folder / "run.json").write_text(json.dumps(meta))
                k += 1
    bad = root / "zz_broken"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text("not json\n")
    return root


N_RUNS = len(ARMS) * len(SIZES) * len(SEEDS) + 1
