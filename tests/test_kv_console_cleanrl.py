"""CleanRL's scripts print `global_step=476, episodic_return=[13.]` each time an episode ends
(the return a numpy array of one element) and `SPS: 2533` after each update: `global_step`
was no step token (a word inside a longer name) and `[13.]` no value, so such a console was an
unknown log format."""

from __future__ import annotations

import pytest

from phasewatch.api import analyze
from phasewatch.io import read_run


def test_the_episodes_returns_are_read_at_their_global_step(tmp_path):
    returns = {128 * k: float(min(500, 10 + 25 * k)) for k in range(1, 25)}
    lines = ["Moviepy - Building video videos/CartPole-v1__ppo__1/rl-video-episode-0.mp4."]
    for step, value in returns.items():
        lines.append(f"global_step={step}, episodic_return=[{value:.0f}.]")
        if step % 512 == 0:
            lines.append(f"SPS: {2500 + step % 7}")
    path = tmp_path / "ppo.log"
    path.write_text("\n".join(lines) + "\n")
    run = read_run(path)
    assert run.metrics == ["episodic_return"]
    assert run.series("episodic_return").to_dict() == pytest.approx(returns)
    assert analyze(path).metric == "episodic_return"


def test_global_step_inside_a_line_stays_no_step(tmp_path):
    """`Resume checkpoint saved (next_epoch=1, global_step=10)`: no record (the step token is
    CleanRL's only where it opens the line)."""
    from phasewatch.io.kv_items import step_tokens

    assert step_tokens("Resume checkpoint saved (next_epoch=1, global_step=10)") == []
    assert step_tokens("eval_global_step=10, reward=[1.]") == []
