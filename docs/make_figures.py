"""Regenerate every image in docs/img/ from the committed sample runs, with the real command.

    python docs/make_figures.py            # from the repository root (or anywhere)

Each figure is the output of the `phasewatch plot` command listed here, the same command the
documentation shows under the image (tests/test_docs_examples.py checks that they agree and that
docs/img holds exactly these files). Look at the images before committing them.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARMS = " ".join(f"sample_logs/{arm}" for arm in ("sft_then_rl", "chord_mu", "chord_phi", "rl", "sft"))
LABELS = " ".join(f"--label {shlex.quote(name)}"
                  for name in ("SFT, then GRPO", "CHORD-\u00b5 (\u00b5 0.9\u21920.05)", "CHORD-\u03c6 (\u00b5 0.1)",
                               "GRPO", "SFT"))

# three seeds of the SFT arm: seed 0 is sample_logs/sft, seeds 1-2 come from
# benchmarks/make_seed_logs.sh
SEEDS = "sample_logs/sft sample_logs/seeds/sft_s1 sample_logs/seeds/sft_s2"

# image name -> the command that draws it
FIGURES: dict[str, str] = {
    "phase_sft_then_rl.png": "phasewatch plot sample_logs/sft_then_rl --dpi 150 -o docs/img/phase_sft_then_rl.png",
    "phase_sft.png": "phasewatch plot sample_logs/sft --dpi 150 -o docs/img/phase_sft.png",
    "compare_arms.png": (f"phasewatch plot {ARMS} --size full --metric eval/accuracy "
                         "--metric expert/nll_heldout --metric train/entropy --dpi 150 "
                         "-o docs/img/compare_arms.png"),
    "compare_arms_grid.png": (f"phasewatch plot {ARMS} --size full --layout grid --dpi 150 "
                              "-o docs/img/compare_arms_grid.png"),
    "compare_arms_zoom.png": (f"phasewatch plot {ARMS} {LABELS} --xlim 0,400 --ylim=0,1 "
                              "--smoothing-width 10 --dpi 150 -o docs/img/compare_arms_zoom.png"),
    "seeds_sft.png": (f"phasewatch plot {SEEDS} --label SFT --label SFT --label SFT "
                      "--metric eval/accuracy --metric expert/nll_heldout --dpi 150 "
                      "-o docs/img/seeds_sft.png"),
    "tokens_sft_then_rl.png": ("phasewatch plot sample_logs/sft_then_rl --kind tokens --size full "
                               "--dpi 150 -o docs/img/tokens_sft_then_rl.png"),
}


def main() -> int:
    from phasewatch.cli import main as phasewatch

    os.chdir(ROOT)
    (ROOT / "docs" / "img").mkdir(exist_ok=True)
    for name, command in FIGURES.items():
        print(f"$ {command}", file=sys.stderr)
        code = phasewatch(shlex.split(command)[1:])
        if code != 0:
            print(f"failed ({code}): {name}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
