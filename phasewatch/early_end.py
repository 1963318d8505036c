"""Why a run's log ends before its planned length, in the terms of the trainer that wrote it:
the reason `whole_plan.unfinished_note` gives, worded here for every format.

What the log shows of the end comes first: a YOLO run's early stopping (`yolo_early_stop`);
what the reader found that ended it (`Run.ended_by`: detectron2's `Exception during
training:`, or its `Total training time` short of MAX_ITER with no exception before it, a
KeyboardInterrupt; the reference trainer's `stopped` event; MLflow's FAILED status); an end the
log marks as the run's own (`Run.finished`: HF's `train_runtime` row, a finished status), which
short of its plan is one the trainer's early stopping or a time budget cut short. Where the log
shows nothing, the causes a user of that trainer meets: detectron2 has no early-stopping
callback, so "an early-stopping callback, a crash" misled its users (a console planned to
MAX_ITER 111000 that ends at 29980 was killed or is still training).
"""

from __future__ import annotations

# `Run.ended_by` -> what ended the run, said of it
ENDINGS = {
    "crash": "it crashed there",
    "interrupt": "it was interrupted there",
    "kill": "it was killed there",
    "early stop": "its trainer's early stopping ended it there",
}
# (format, `Run.ended_by`) -> where its log says so
EVIDENCE = {
    ("detectron2_console", "crash"): "`Exception during training:`, which detectron2's "
                                     "TrainerBase.train logs",
    ("detectron2_console", "interrupt"): "`Total training time` with no `Exception during "
                                         "training:` before it: a KeyboardInterrupt (Ctrl-C, "
                                         "SIGINT) or SystemExit, which TrainerBase.train does "
                                         "not log, ended its loop",
    ("native", "crash"): "run.json's status `failed`",
    ("native", "interrupt"): "run.json's `interrupted` event",
    ("native", "early stop"): "run.json's `stopped` event",
}
# the plan keys of detectron2's loop (`planned.PLANNED_STEP_KEYS`): a run that has no early
# stopping, whose console marks its loop's end
DETECTRON2_PLANS = ("SOLVER.MAX_ITER", "train.max_iter")


def why_short(run) -> str:
    """Why `run`'s log ends before its plan: 'it crashed there (`Exception during training:`,
    ...)', 'the log says the run finished there: ...', ..."""
    from phasewatch.planned import planned_key
    from phasewatch.yolo_early_stop import early_stop_reason

    if (reason := early_stop_reason(run)) is not None:
        return reason
    ended = getattr(run, "ended_by", None)
    if ended in ENDINGS:
        # (else the run's status, as an MLflow store records FAILED and KILLED)
        evidence = EVIDENCE.get((run.format, ended), "the run's recorded status says so")
        return f"{ENDINGS[ended]} ({evidence})"
    if getattr(run, "finished", False):
        config = getattr(run, "config", None) or {}
        reached, planned = config.get("global_step"), config.get("max_steps")
        if isinstance(reached, int) and isinstance(planned, int) and 0 < planned <= reached:
            # a trainer_state.json whose trainer reached max_steps (so its reader calls it
            # finished) with no row logged after an earlier step: not cut short (a DistilGPT2
            # classifier's checkpoint-1470 copy, global_step 1470 of max_steps 1470, rows to
            # 1176, was told its early stopping or a time budget ended it at 1176)
            return (f"its trainer did reach step {reached} (this trainer_state.json's "
                    "global_step), with no row logged after the last one: the evaluations "
                    "after it are not in this file")
        return ("the log says the run finished there: its trainer's early stopping or a time "
                "budget ended it before its planned length")
    found = planned_key(getattr(run, "config", None) or {})
    if found is not None and found[1] in DETECTRON2_PLANS:
        if run.format == "detectron2_console":  # its loop's end, or its crash, would be said
            return ("detectron2 has no early stopping, and its log has no `Total training "
                    "time` line, which the loop's end logs: the run was killed (the "
                    "out-of-memory killer, a job's time limit) or is still training")
        return ("detectron2 has no early stopping: the run was killed or crashed, or is still "
                "training (its log.txt says which: `Exception during training:` for a crash, "
                "`Total training time` where its loop ended)")
    return ("the run stopped early (an early-stopping callback, a crash) or was still training "
            f"when it was read{_checkpoint_copy(run)}")


def said_once(run, warnings: list[str]) -> list[str]:
    """`warnings` less the reader's own note of what ended the run where the note that its log
    ends before its plan says it too: "the log ends at step 1247, before the step 2000 its run
    plans: it crashed there (`Exception during training:`, ...)" says both, and a detectron2
    log that crashed short of its MAX_ITER had it beside "the run crashed at iteration 1247
    (`Exception during training:` and its traceback): its training ended there, not
    finished". The reader's note (`Run.end_note`) stays where no plan is known (and in
    `inspect`, `watch`)."""
    told = getattr(run, "end_note", None)
    if told is None or not any(w.startswith("the log ends at ") and why_short(run) in w
                               for w in warnings):
        return warnings
    return [w for w in warnings if told not in w]


def _checkpoint_copy(run) -> str:
    """', or ...' where the log may be the `trainer_state.json` the HF Trainer saves inside each
    checkpoint-N folder: that copy holds the steps up to N, a multiple of `save_steps` (the
    output folder's own, written at the end, holds the rest). hf-subjectivity-5ev's
    results/checkpoint-500/trainer_state.json of a 520-step run was told only that the run
    'stopped early ... or was still training'."""
    config = getattr(run, "config", None) or {}
    step, every = config.get("global_step"), config.get("save_steps")
    if not (isinstance(step, int) and isinstance(every, int) and every > 0 and step > 0
            and step % every == 0 and str(run.source).endswith("trainer_state.json")):
        return ""
    return (f", or this trainer_state.json is checkpoint-{step}'s copy (the Trainer saves one "
            f"every save_steps, {every}) and the output folder's own holds the steps after it")
