"""Each framework's own names for the metric roles DESIGN.md defines (`ROLE_CANDIDATES`), and
the seq2seq generation scores among them (`GENERATION_SCORES`): the data `presets` resolves a
log's names with, kept apart from the rules that use it."""

from __future__ import annotations

# canonical name -> candidate names in other frameworks, most specific first (fnmatch globs;
# `*` also matches "/"). Names checked against the frameworks' sources / real logs:
# - TRL GRPO: `reward`, `reward_std`, `kl`, `entropy`, `rewards/<fn>/mean` (>= 0.17; older:
#   `rewards/<fn>`), `completions/mean_length` (older: `completion_length`); HF Trainer `loss`,
#   `learning_rate`, `grad_norm`, eval rows `eval_<x>`; HF's W&B / TensorBoard callbacks rename
#   these `train/<x>` and `eval/<x>`.
# - verl: `critic/score/mean`, `critic/rewards/mean`, `actor/entropy` (older: `actor/entropy_loss`,
#   which held the mean entropy), `actor/kl_loss` (older: `critic/kl`), `actor/pg_loss`,
#   `response_length/mean`; validation `val/test_score/<source>` (older) and
#   `val-core/<source>/<var>/<metric>@N` (newer; MLflow stores `@` as `_at_`).
# - verl SFT (fsdp_sft_trainer): `train/loss`, `train/lr(1e-3)` (lr x 1000; the verl readers
#   convert it to `train/lr`), validation `val/loss`. `actor/ppo_kl` is the KL between the
#   rollout (old) policy and the updated one within a PPO step, not the KL to the reference
#   model (`actor/kl_loss`, `critic/kl`): it has its own role.
# - OpenRLHF PPO: `reward`, `return`, `policy_loss`, `entropy_loss` (the mean entropy, which the
#   loss subtracts), `response_length`, `kl`, `actor_lr`, `actor_grad_norm`, evaluation
#   `eval_<dataset>_pass1` (W&B / TensorBoard: `train/<x>`, `eval/<x>`). SFT: `gpt_loss`, eval
#   `eval gpt_loss` (with a space). DPO / RM: `acc` (preference accuracy), eval `acc_mean`.
# - TRL DPO: `rewards/accuracies`, `rewards/margins` (eval rows `eval_rewards/...`).
# - TRL PPO, RLOO 0.x, Online DPO: `objective/scores` (the reward model's), `objective/rlhf_reward`
#   (score - KL penalty), `objective/kl`, `objective/entropy`, `loss/policy_avg`; older PPOTrainer:
#   `env/reward_mean` (`ppo/mean_scores`), `ppo/loss/policy`; W&B prefixes `train/`. RLOO 1.x: GRPO's.
# - LLaMA-Factory trainer_log.jsonl: `loss`, `lr` (older: `learning_rate`), `eval_loss`,
#   `reward` (PPO), `accuracy` (TRL's DPO `rewards/accuracies`: preference accuracy on the
#   training pairs, not a held-out task accuracy).
# - Trinity-RFT: `eval/<taskset>/accuracy/mean@N`, `bench/<taskset>/accuracy/mean@N`,
#   `rollout/accuracy/mean`, verl-style `actor/*`, `critic/*`, `response_length/mean`; CHORD
#   (`mix_chord`): `actor/loss`, `actor/mu`, `actor/usual/pg_loss`, `actor/expert/sft_loss`
#   (`sft_phi_loss` with the phi weighting), both scaled by their batch weights.
# - OLMo (console, W&B): `train/CrossEntropyLoss`, held-out `eval/<label>/CrossEntropyLoss`.
# - nanoGPT (and the many scripts copied from it) prints `step N: train loss X, val loss Y` at
#   each evaluation, `iter N: loss X, time Tms, mfu M%` between: names with a space.
# - Tinker cookbook (metrics.jsonl): SFT `train_mean_nll`, held-out `test/nll` (its NLL
#   evaluator's default name); RL `env/all/reward/total`, held-out `test/env/all/reward/total`.
# - OpenMMLab (mmengine `vis_data/scalars.json`): training rows `loss`, `lr`; validation rows
#   mmpretrain `accuracy/top1`, mmdet `coco/bbox_mAP` (2.x `bbox_mAP`), mmseg `mIoU`, mmpose
#   `coco/AP` (its CocoMetric; `PCK`, `AUC`, `NME` beside it have no role).
#   detectron2 (`metrics.json`, TensorBoard, console): `total_loss`, COCO evaluation `bbox/AP`,
#   `segm/AP` (x100), semantic segmentation `sem_seg/mIoU`.
# - Seq2seq evaluation with generation (`predict_with_generate`): LLaMA-Factory's
#   `ComputeSimilarity` (and ChatGLM-Efficient-Tuning's, ChatGLM's p-tuning script) return
#   `rouge-1`, `rouge-2`, `rouge-l`, `bleu-4`, scaled x100; HF's run_summarization /
#   run_translation examples `rouge1`, `rouge2`, `rougeL`, `rougeLsum` / `bleu`. The Trainer
#   prefixes them `eval_` (TensorBoard / W&B: `eval/`).
# Generation scores of a seq2seq evaluation (`predict_with_generate`), taken as the held-out
# accuracy after any accuracy: LLaMA-Factory's and ChatGLM's `rouge-l`, `bleu-4` (x100), HF
# examples' `rougeL`, `bleu`. Scores of generated text, as a WER is: the held-out loss beside
# them is named when one is taken (`choice_notes.loss_beside_score_note`).
GENERATION_SCORES: tuple[str, ...] = (
    "eval_rouge-l", "eval/rouge-l", "eval_bleu-4", "eval/bleu-4",
    "eval_rougeL", "eval/rougeL", "eval_bleu", "eval/bleu",
)
ROLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "eval/accuracy": (
        "eval/accuracy", "eval_accuracy", "eval/acc", "eval_acc",
        # Keras (`CSVLogger`, `History`) and Lightning (`CSVLogger`, TensorBoard) validation
        "val_accuracy", "val_acc", "val/accuracy", "val/acc", "validation/accuracy",
        "val_accuracy_epoch", "val_acc_epoch",  # Lightning, logged on step and on epoch
        # Keras' TensorBoard callback: `validation/` event files with `epoch_<metric>` tags
        "validation/epoch_accuracy", "validation/epoch_acc",
        # a "dev" or "valid" split (NLP research code; fairseq's `valid_<x>`)
        "dev_accuracy", "dev_acc", "dev/accuracy", "dev/acc", "valid_accuracy", "valid_acc",
        "valid/accuracy", "valid/acc",
        # OpenMMLab validation rows (mmengine scalars.json): mmpretrain `accuracy/top1`, mmdet 3.x
        # `coco/bbox_mAP` (`coco/segm_mAP`), mmdet 2.x `bbox_mAP`, mmseg `mIoU`, mmpose
        # `coco/AP`; detectron2's COCOEvaluator (metrics.json, TensorBoard) `segm/AP` (an
        # instance segmentation model's own output, its masks, before its boxes, as for YOLO
        # below: Mask2Former predicts no boxes, and its `bbox/AP` of 0.0 at every evaluation was
        # chosen over its `segm/AP` of 39.8 -> 65.1), `bbox/AP`, `sem_seg/mIoU`
        "accuracy/top1", "coco/bbox_mAP", "coco/segm_mAP", "bbox_mAP", "segm_mAP", "mIoU",
        "coco/AP",
        "segm/AP", "bbox/AP", "sem_seg/mIoU",
        # DETR's `log.txt` (and Deformable-DETR's, DINO's...): the test split's COCO summary
        # lists, read as named numbers (io/coco_stats), the masks before the boxes as above
        "test_coco_eval_masks/AP", "test_coco_eval_bbox/AP",
        # Ultralytics YOLO's results.csv: the validator's mAP50-95 on the val split each epoch,
        # most of the fitness best.pt is chosen by (utils/metrics.py: DetMetrics keys `(B)`,
        # SegmentMetrics' masks `(M)`, PoseMetrics' keypoints `(P)`, the task's own output
        # first); a classifier's `metrics/accuracy_top1` (ClassifyMetrics)
        "metrics/mAP50-95(M)", "metrics/mAP50-95(P)", "metrics/mAP50-95(B)",
        "metrics/accuracy_top1",
        # YOLOv5's results.csv (train.py up to v7.0) names the same mAP `metrics/mAP_0.5:0.95`
        # (its fitness is 0.9 of it): with no role, analyze asked for --metric
        "metrics/mAP_0.5:0.95",
        # an exact match is the accuracy of generated answers (SQuAD's newer `exact_match`,
        # a generation callback's score)
        "eval_exact_match", "eval/exact_match",
        # the HellaSwag accuracy llm.c and build-nanogpt evaluate during pretraining
        "hellaswag_accuracy",
        "val-core/*/acc/mean@*", "val-core/*/acc/mean_at_*",
        "val-core/*/reward/mean@*", "val-core/*/reward/mean_at_*",
        "val/test_score/*",
        # Trinity: `mean@k`, or with `monitor.detailed_stats` only `mean@k/{mean,max,min,std}`
        # (the `/mean` first: a bare glob would pick `/max`); MLflow writes `@` as `_at_`
        "eval/*/accuracy/mean@*/mean", "eval/*/accuracy/mean@*",
        "eval/*/accuracy/mean_at_*/mean", "eval/*/accuracy/mean_at_*",
        "bench/*/accuracy/mean@*/mean", "bench/*/accuracy/mean@*",
        "eval_*_pass1", "eval/*_pass1",
        "eval/reward", "eval_reward", "eval/score", "eval_score",
        "val/score", "val_score",  # a script's own validation score (a Kaggle metric)
        "dev/score",  # spaCy's weighted dev score, by which it keeps model-best (spacy_console)
        "eval/mean_reward",  # Stable-Baselines3's EvalCallback: the return on its eval episodes
        "eval/return",  # OpenAI Baselines' DDPG: the mean return of the epoch's eval episodes
        "eval/rewards/mean", "eval_rewards/mean",
        "test/env/all/reward/total",  # Tinker cookbook RL, held-out
        # ... of one environment, or of an evaluator the run names (`test/<name>/env/all/...`:
        # jsonl-tinker-gptoss-rl-test-7ev's `test/test/env/all/reward/total` was passed over for
        # the train batches' `env/all/reward/total`)
        "test/env/*/reward/total", "test/*/env/*/reward/total",
        *GENERATION_SCORES,
        # a held-out split called test, after every validation spelling (the split a run is
        # judged by when it has no validation one): Keras / PyTorch scripts' `test_acc`, HF's
        # `trainer.predict` rows, W&B panels `test/accuracy`
        "test_accuracy", "test_acc", "test/accuracy", "test/acc",
        "test_exact_match", "test/exact_match",
    ),
    "expert/nll_train": ("expert/nll_train",),
    "expert/nll_heldout": ("expert/nll_heldout",),
    "train/loss": ("train/loss", "loss", "train_loss", "train loss",  # nanoGPT's eval print
                   "actor/loss", "actor/pg_loss", "policy_loss",
                   "train/policy_loss", "gpt_loss", "train/gpt_loss",
                   # home-made loops: TensorBoard `training/loss`, printed `avg_loss=`
                   "training/loss", "avg_loss", "train/avg_loss",
                   # Lightning's `self.log(..., on_step=True, on_epoch=True)`: the epoch's
                   # mean, at the cadence of `val_loss`, unless it has too few values
                   # (`epoch_twins`); then each batch's
                   "train_loss_epoch", "train_loss_step",
                   "train/loss_epoch", "train/loss_step",  # the same of a `train/loss`
                   "loss/policy_avg", "train/loss/policy_avg", "ppo/loss/policy",  # TRL PPO, RLOO
                   "train_mean_nll",  # Tinker cookbook SFT
                   "total_loss",  # detectron2 (metrics.json, console, TensorBoard)
                   "train/CrossEntropyLoss",  # OLMo
                   "progress/xent",  # OpenNMT-py (its console's `xent`, its TensorBoard)
                   "lm loss",  # Megatron-LM (its console and TensorBoard)
                   "train/tot_loss",  # k2 / icefall: the recent batches' (icefall_console)
                   "training_loss",  # printed `Training Loss: 1.88` (presets: any case, spaces)
                   # a YOLO results.csv's box loss (Ultralytics, YOLOv5), the twin of its
                   # `val/box_loss`; its cls / dfl / obj losses are other terms, no twin
                   "train/box_loss"),
    # Trinity-RFT's CHORD (`mix_chord` policy loss, logged under `actor/`)
    "train/sft_loss": ("train/sft_loss", "actor/expert/sft_loss", "actor/expert/sft_phi_loss"),
    "train/rl_loss": ("train/rl_loss", "actor/usual/pg_loss"),
    "train/mu": ("train/mu", "actor/mu"),
    "train/reward": (
        "train/reward", "reward", "train/rewards/mean", "critic/score/mean", "critic/rewards/mean",
        "rollout/accuracy/mean", "rollout/reward", "rewards/accuracy_reward/mean",
        "rewards/accuracy_reward", "return", "train/return",
        # CleanRL: the return of each training episode (its TensorBoard `charts/episodic_return`,
        # its console's `episodic return=X`, a name of two words kept whole by `kv_console`)
        "episodic_return", "charts/episodic_return",
        # home-made loops: `reward/mean`, `train/mean_reward`, `mean_reward`, `reward_mean`
        "reward/mean", "train/mean_reward", "mean_reward", "reward_mean", "train/reward_mean",
        # ... and the same mean called an average (a GRPO prompt-rewriting loop's W&B
        # `train/average_reward`, wandb-grpo-diffusion-prompt-reward-16: passed over for its
        # policy loss, 0 at every step, "recommended stop: step 0")
        "average_reward", "train/average_reward", "avg_reward", "train/avg_reward",
        "reward_avg", "train/reward_avg",
        # ... and a return (an episode's summed reward) averaged, or one episode's, as RL loops
        # name it: `mean_return`, `episode_reward`, and printed `step 5 | mean return=12.3`,
        # a two-word name `kv_console` keeps whole, whose last word alone had the role
        "mean_return", "avg_return", "average_return", "episode_return", "episode_reward",
        "total_reward",
        "env/all/reward/total",  # Tinker cookbook RL
        # TRL PPO / RLOO 0.x / Online DPO: the score, as GRPO's `reward` is, before the score
        # less beta x KL (trial 39: Online DPO's task 0.29 -> 0.99, scores 0.87 -> 0.995, its
        # rlhf_reward fell: "overfit", stop at step 15); then TRL's older PPOTrainer
        "objective/scores", "train/objective/scores", "objective/rlhf_reward",
        "train/objective/rlhf_reward", "env/reward_mean", "ppo/mean_scores",
        # Stable-Baselines3 (progress.csv, console tables), OpenAI Baselines: the mean return of
        # the last 100 training episodes (Baselines' deepq and Stable Baselines 2's DQN call it
        # `mean 100 episode reward`, `np.mean(episode_rewards[-101:-1])`, beside `steps`)
        "rollout/ep_rew_mean", "EpRewMean", "eprewmean", "mean 100 episode reward",
        # OpenAI Baselines' DDPG (`ddpg/training.py`): the mean return of the last 100 training
        # episodes (a progress.csv of AI_* columns beside it had no performance metric, and its
        # steps were the row numbers); not its `rollout/return`, the mean of every episode
        # since the start (`epoch_episode_rewards` is set once, before the epoch loop), which
        # lags the run more the longer it goes
        "rollout/return_history",
        # Ray RLlib (progress.csv, result.json): the mean return of the iteration's training
        # episodes, `episode_reward_mean` on its old API stack (also under `sampler_results/`,
        # `env_runners/`), `env_runners/episode_return_mean` on the new one
        # (`rllib/utils/metrics`: ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN)
        "env_runners/episode_return_mean", "episode_reward_mean",
        "env_runners/episode_reward_mean", "sampler_results/episode_reward_mean",
        # rl_games (Isaac Gym, Isaac Lab): the mean return of its last games, by env frame
        # (`rewards/iter` and `rewards/time` repeat it by epoch and by second)
        "rewards/step",
        # last, any train-side mean reward under its method's own prefix (a self-distillation
        # trainer's `train/self_distillation/reward_mean` beside its distillation loss)
        "train/*/reward_mean", "train/*/mean_reward",
    ),
    "train/entropy": (
        "train/entropy", "entropy", "actor/entropy", "entropy_loss", "train/entropy_loss",
        "actor/entropy_loss", "objective/entropy", "train/objective/entropy",  # TRL PPO, RLOO
    ),
    "train/preference_accuracy": (
        "rewards/accuracies", "train/rewards/accuracies", "acc", "train/acc", "acc_mean",
        "train/acc_mean", "accuracy"),
    "train/preference_margin": ("rewards/margins", "train/rewards/margins"),
    "eval/preference_accuracy": (
        "eval_rewards/accuracies", "eval/rewards/accuracies", "eval/acc_mean", "eval_acc_mean"),
    "train/policy_step_kl": ("actor/ppo_kl",),
    "eval/response_length": (
        "eval/response_length", "eval/completions/mean_length", "eval_completions/mean_length"),
    # the train batches' (TRL GRPO's `completion_length` was eval/response_length: trial 39b)
    "train/response_length": (
        "train/response_length", "completions/mean_length", "train/completions/mean_length",
        "completion_length", "train/completion_length", "response_length/mean", "response_length"),
    "train/kl": ("train/kl", "kl", "actor/kl_loss", "critic/kl", "objective/kl", "train/objective/kl"),
    "train/grad_norm": ("train/grad_norm", "grad_norm", "actor/grad_norm", "actor_grad_norm",
                        "train/actor_grad_norm"),
    "train/lr": (
        "train/lr", "learning_rate", "train/learning_rate", "lr", "actor/lr", "actor_lr",
        "train/actor_lr",
    ),
    "eval/loss": ("eval/loss", "eval_loss", "val/loss", "eval gpt_loss", "eval/eval gpt_loss",
                  "eval/eval_loss", "val_loss", "val loss",  # nanoGPT: `step N: ..., val loss X`
                  "validation/loss", "validation_loss",
                  "validation/epoch_loss", "dev_loss", "dev/loss", "valid_loss", "valid/loss",
                  "val_loss_epoch", "val_losses", "test/nll",  # Tinker cookbook's NLL evaluator
                  "eval/*/CrossEntropyLoss",  # OLMo's evaluators, by label
                  "lm loss validation",  # Megatron-LM (its console and TensorBoard)
                  "test_loss", "test/loss",  # a test split, after every validation spelling
                  "lm loss test",
                  "val/box_loss"),  # a YOLO results.csv's (Ultralytics, YOLOv5): `train/box_loss`'s
    # Held-out scores that are neither an accuracy nor a loss, taken before the loss: HF's
    # SQuAD `eval_f1`, `eval_exact` (`exact_match` in the newer metric), GLUE's Matthews and
    # Pearson / Spearman correlations, ASR's `eval_wer` / `eval_cer`; and `test_exact`. Their
    # other `test` spellings (`test_f1`, `test/wer`...) are left to the held-out rule
    # (`heldout_names`), which ranks a test split after every validation spelling, as the loss's
    # list does: listed here, a final `test_f1` logged once took the role over the `val_f1` of
    # every epoch (wandb-review-bert-5ep), and a log without a validation loss was analysed by
    # that one value. The direction is the name's (`default_direction`: wer, cer -> min). An F1
    # named after its scikit-learn averaging comes with the F1, before the kinds after it: left
    # to the held-out rule, a multi-label classifier's `eval_f1_micro` ranked after its
    # `eval_roc_auc` (its `val_f1_micro` before `val_roc_auc`). One glob for `_micro`, `_macro`,
    # `_weighted` and `_samples` (not `_mean`), one rank: two of them tie, as the rule's do.
    # scikit-learn's `f1_score` is the F1 under its function's name, right after `eval_f1`:
    # left to the rule, `eval_f1_score` ranked after a listed `eval_roc_auc` beside it (its
    # `val_f1_score` before `val_roc_auc`).
    "eval/other_score": (
        "eval_f1", "eval/f1", "eval_f1_score", "eval/f1_score",
        "eval_f1_[mws][aei][cim]*", "eval/f1_[mws][aei][cim]*",
        "eval_exact", "eval/exact",
        "eval_matthews_correlation", "eval/matthews_correlation", "eval_pearson", "eval/pearson",
        "eval_spearmanr", "eval/spearmanr", "eval_roc_auc", "eval/roc_auc", "eval_auc",
        "eval/auc", "eval_wer", "eval/wer", "eval_cer", "eval/cer",
        "test_exact", "test/exact",
    ),
}
