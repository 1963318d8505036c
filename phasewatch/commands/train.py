"""`phasewatch train --preset NAME --out RUN_DIR`: run the reference trainer (needs torch).

Every field of `TrainConfig` is also an option (`--lr 3e-4`, `--expert-size 256`, ...), with the
field's help string; `--preset` supplies the defaults. Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import fields
from pathlib import Path

from phasewatch.errors import UsageError, require
from phasewatch.trainer.config import PRESETS, TrainConfig, preset

HELP = "train the reference model (SFT / RL / SFT-then-RL / CHORD) into a native run folder"
PHASES = ("disruption", "readaptation", "improvement", "plateau", "overfit")


class _Preset(argparse.Action):
    """--preset NAME: the config overrides' help then shows NAME's values as their defaults
    (`--preset sft_then_rl --help` showed the demo's `--rl-lr (default 0.0)`, trial 33)."""

    overrides: tuple = ()  # (group, [(field, action)]) of the config overrides, once added

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        if values in PRESETS and self.overrides:
            show_preset(values, *self.overrides)


def show_preset(name: str, group, overrides) -> None:
    """The config overrides' help with preset `name`'s values as their defaults, the ones the
    preset sets beside what they are without it."""
    cfg, demo = preset(name), preset("demo")
    group.title = f"config overrides (default: preset {name}'s value)"
    for f, action in overrides:
        value, base = getattr(cfg, f.name), getattr(demo, f.name)
        own = "" if value == base else f" in preset {name}; {base} in demo"
        action.help = f"{f.metadata['help']} (default {value}{own})"


def configure(parser: argparse.ArgumentParser) -> None:
    chosen = parser.add_argument(
        "--preset", default="demo", action=_Preset,
        help=f"starting config: {', '.join(PRESETS)} (default demo; `--preset NAME --help` "
        "shows NAME's values below)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="output run folder")
    parser.add_argument("--overwrite", action="store_true", help="replace RUN_DIR if it exists")
    parser.add_argument("--stop-on", choices=PHASES, default=None, metavar="PHASE",
                        help=f"stop when the online monitor enters PHASE ({', '.join(PHASES)}); exit 1")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the pre-trained policy A is cached (default ~/.cache/phasewatch/pretrained)")
    parser.add_argument("--no-cache", action="store_true", help="pre-train policy A afresh, do not cache it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    group = parser.add_argument_group("config overrides")
    overrides = []
    for f in fields(TrainConfig):
        kind = f.type if callable(f.type) else {"int": int, "float": float, "str": str}[f.type]
        overrides.append((f, group.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", type=kind, default=None,
            metavar=None if f.metadata.get("choices") else f.name.upper(),
            choices=f.metadata.get("choices"))))
    chosen.overrides = (group, overrides)
    show_preset(chosen.default, group, overrides)


def build_config(args: argparse.Namespace) -> TrainConfig:
    overrides = {f.name: getattr(args, f"cfg_{f.name}") for f in fields(TrainConfig)
                 if getattr(args, f"cfg_{f.name}", None) is not None}
    return preset(args.preset, **overrides)


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    out = Path(args.out)
    if out.exists():
        if not args.overwrite:
            raise UsageError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
    require("torch", "trainer", purpose="run the reference trainer")
    from phasewatch.trainer.loop import train

    result = train(cfg, out, name=out.name, cache_dir=args.cache_dir, use_cache=not args.no_cache,
                   progress=not args.quiet, stop_on=args.stop_on)
    acc = result.last_eval.get("eval/accuracy")
    print(f"wrote {out} ({result.final_step} steps, final eval/accuracy {acc:.3f})"
          + (f"; stopped on {args.stop_on}" if result.stopped else ""), flush=True)
    return 1 if result.stopped else 0
