"""Framework callbacks around `phasewatch.online.PhaseMonitor`.

- `phasewatch.callbacks.hf.PhasewatchCallback`: Hugging Face `transformers.TrainerCallback`
  (also TRL trainers, which are `Trainer` subclasses);
- `phasewatch.callbacks.lightning.PhasewatchLightningCallback`: `lightning.pytorch.Callback`.

Import the submodule you need; this package imports no framework (the analysis toolkit never
pulls in torch, transformers or lightning).
"""
