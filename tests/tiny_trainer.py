"""The tiny Hugging Face Trainer the real-Trainer tests train (callbacks, log folders, sweeps):
a 1-layer BERT classifier built from a config (no download) on `scripted_eval.parity_dataset`,
trained on the CPU in a second or two. Each test gives what its run needs (steps, evaluation,
logging and saving cadence, callbacks, its `compute_metrics`); the rest is `ARGUMENTS`."""

from __future__ import annotations

import torch
import transformers
from scripted_eval import parity_dataset

# TrainingArguments every such test runs with: no tracker unless asked, no progress bar, the CPU,
# no data-loading processes, a fixed seed
ARGUMENTS = {"per_device_train_batch_size": 4, "report_to": [], "use_cpu": True,
             "disable_tqdm": True, "learning_rate": 1e-3, "seed": 0, "dataloader_num_workers": 0}


def tiny_classifier(seed: int = 0) -> transformers.PreTrainedModel:
    """The model, its weights drawn after `torch.manual_seed(seed)` (one thread: the tests run
    two at a time on two cores)."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    config = transformers.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                     num_attention_heads=1, intermediate_size=8,
                                     max_position_embeddings=8, num_labels=2)
    return transformers.BertForSequenceClassification(config)


def tiny_trainer(output_dir, *, callbacks=(), compute_metrics=None,
                 trainer_class=transformers.Trainer, trainer_options=None,
                 **arguments) -> transformers.Trainer:
    """A Trainer of `tiny_classifier` on the parity data (train and evaluation sets alike)
    writing to `output_dir`, its TrainingArguments `arguments` over `ARGUMENTS` (their `seed`
    draws the weights too); `trainer_class` a Trainer subclass, given `trainer_options` too."""
    arguments = {**ARGUMENTS, **arguments}
    model = tiny_classifier(arguments["seed"])
    args = transformers.TrainingArguments(output_dir=str(output_dir), **arguments)
    return trainer_class(model=model, args=args, train_dataset=parity_dataset(),
                         eval_dataset=parity_dataset(), compute_metrics=compute_metrics,
                         callbacks=list(callbacks), **(trainer_options or {}))
