"""A resume is where a metric's own step counter goes back, offline and live alike: a log whose
tags count different things (epochs beside batches) has none; a resumed run has one, however
sparse its evaluations."""

import json

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.resumes import resume_points


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_resume_points_keep_the_streams_resumes_that_a_metric_confirms():
    # epochs beside batches: the stream falls at every epoch, no metric does
    assert resume_points([(1, 50, 0), (2, 100, 0)], []) == []
    # a resume from 930 to 500: its evaluation at 600 (last at 900) is the same resume
    assert resume_points([(500, 930, 7)], [(500, 930), (600, 900)]) == [(500, 930, 7)]
    # a tag going back right after another counter's lower step: seen per metric only
    assert resume_points([(12, 600, 0)], [(400, 600)]) == [(400, 600, 0)]


def resumed_log(path):
    rows = []
    for step in range(10, 940, 10):  # the first attempt, to step 930
        rows.append({"step": step, "loss": 2.0 - step / 1000})
        if step % 100 == 0:
            rows.append({"step": step, "eval_accuracy": 0.3 + step / 2000})
    for step in range(500, 1510, 10):  # resumed from the step-500 checkpoint
        rows.append({"step": step, "loss": 1.9 - step / 1000})
        if step % 100 == 0:
            rows.append({"step": step, "eval_accuracy": 0.35 + step / 2000 - max(0, step - 1100) / 1000})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_resumed_run_with_sparse_evaluations_is_one_resume_offline_and_live(tmp_path, capsys):
    log = resumed_log(tmp_path / "run.jsonl")
    run = read_run(log)
    assert [(e.name, e.step) for e in run.events] == [("resume", 500)]
    assert run.series("eval_accuracy").loc[600] == 0.35 + 0.3  # the later record wins
    code, out, err = run_cli(capsys, "watch", log, "--format", "jsonl")
    assert code == 0 and err.count("went back") == 1 and "from 930 to 500" in err
    live = json.loads(out.strip().splitlines()[-1])
    code, out, _ = run_cli(capsys, "analyze", log, "--format", "json")
    offline = json.loads(out)["runs"][0]
    assert live["phases"] == [p["name"] for p in offline["phases"]]
    assert abs(live["live_best_step"] - offline["recommended_stop_step"]) <= 100


def test_two_writers_interleaved_in_one_file_are_said_once_not_as_hundreds_of_resumes(
        tmp_path, capsys):
    """Two launches of one run appending to the same trainer_log.jsonl (a real LLaMA-Factory log
    has 415 such steps back): one warning, no resume events to cut the smoothing at, the later
    record kept for a step logged twice; `watch` shows the first steps back, then says it once."""
    from phasewatch.resumes import MAX_RESUMES

    rows = []
    for step in range(10, 1010, 10):  # writer B is one logging interval behind writer A
        rows.append({"current_steps": step, "loss": 2.0 - step / 1000})
        if step > 10:
            rows.append({"current_steps": step - 10, "loss": 2.0 - (step - 10) / 1000 + 0.001})
    log = tmp_path / "trainer_log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(log)
    notes = [w for w in run.warnings if "step counter went back" in w]
    assert len(notes) == 1 and "went back 99 times" in notes[0] and "several writers" in notes[0]
    assert not [e for e in run.events if e.name == "resume"]
    loss = run.series("loss")
    assert loss.index.tolist() == list(range(10, 1010, 10))
    assert loss[500] == 2.0 - 0.5 + 0.001  # writer B's record came later in the file

    code, _, err = run_cli(capsys, "watch", log)
    assert code == 0
    shown = [line for line in err.splitlines() if "step counter went back from" in line]
    assert len(shown) == MAX_RESUMES
    assert sum("keeps going back" in line for line in err.splitlines()) == 1


def test_a_run_resumed_again_before_it_regained_its_old_step_is_two_resumes_offline_and_live(
        tmp_path, capsys):
    """jsonl-autoresearch-grpo-reward (trial 38b): steps 1, 1, 2, 2, 1, 3, 1, 1, 2, 1, 2, 3, ...
    go back at lines 5, 7 and 10; `analyze` said 2 resumes (line 10 lay within the resume of line
    7, which had not regained step 3), `watch` rewound 3 times. Both say 3, in file order."""
    steps = [1, 1, 2, 2, 1, 3, 1, 1, 2, 1] + list(range(2, 31))
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": s, "mean_reward": 0.5 + 0.01 * (i % 3)}) + "\n"
                            for i, s in enumerate(steps)))
    code, out, _ = run_cli(capsys, "analyze", path)
    assert code == 0
    said = [line.split(":")[1].strip() for line in out.splitlines() if "read as a run started" in line]
    assert said == ["line 5", "line 7", "line 10"]
    code, _, err = run_cli(capsys, "watch", path)
    assert err.count("read as a run started again") == 3


def test_an_hf_console_log_started_again_is_said_in_its_epochs_at_its_own_line(tmp_path, capsys):
    """hfconsole-paligemma-qlora-3ev (trial 40b): a 3-epoch smoke test, then the real run, its
    first row on line 58 after tqdm's \\r redraws: "line 1026: step counter went back from 30000
    to 300; treated as a resumed run", in epochs x 10,000 and \\r-counted lines. Now the line
    `sed -n` shows and the epochs the log prints, for a run that started again."""
    smoke = [f"{{'eval_loss': {0.8 - 0.1 * e}, 'epoch': {e}.0}}" for e in (1, 2, 3)]
    bar = "".join(f"\r  {k}%|#| {k}/100 [00:0{k % 10}<01:00,  1.2it/s]" for k in range(1, 40))
    rows = [f"{{'loss': {1.5 - 0.01 * k}, 'epoch': {0.03 * k:.2f}}}" for k in range(1, 60)]
    rows += [f"{{'eval_loss': {0.75 + 0.001 * e}, 'epoch': {e}.0}}" for e in (1, 2)]
    path = tmp_path / "train.log"
    path.write_text("\n".join(["loading"] * 4 + smoke + [bar + rows[0]] + rows[1:]) + "\n")
    assert path.read_bytes().split(b"\n")[7].startswith(b"\r  1%")  # line 8, as sed -n 8p
    code, out, _ = run_cli(capsys, "analyze", path)
    assert code == 0
    assert "warning: line 8: epoch counter went back from 3 to 0.03; read as a run started " \
           "again from there (resumed from a checkpoint, or a new run logged to the same " \
           "file): the earlier records from epoch 0.03 on are dropped" in out, out
    code, _, err = run_cli(capsys, "watch", path)
    assert "epoch counter went back from 3 to 0.03; read as a run started again from there " \
           "(resumed from a checkpoint, or a new run logged to the same file); the monitor " \
           "rewinds to epoch 0.03 and drops the earlier records from it on" in err, err
