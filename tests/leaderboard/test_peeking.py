"""An agent cannot reach the recording, the env or the harness through anything it is handed.

This checks the agent protocol's data (TaskSpec, observations, rewards, info) as the worker
receives it; that the worker's process holds nothing else to find is tests/leaderboard/test_hostile.py's.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from messenv.env.task import TaskSpec
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import Protocol
from tests.leaderboard.conftest import write_submission
from tests.leaderboard.peeking_agent import leaks

PEEKING_SOURCE = (Path(__file__).parent / "peeking_agent.py").read_text(encoding="utf-8")


def test_task_spec_carries_no_data() -> None:
    assert {f.name for f in fields(TaskSpec)} == {
        "models", "alpha", "n_requests", "explore_action", "feature_dim", "features_kind", "benchmark_names",
        "feedback_rate", "latency_slo", "feedback_delayed", "sla_window",
    }


def test_the_walker_does_find_a_leak(tiny_recording) -> None:
    """The check below is only meaningful if ``leaks`` recognises the things it looks for."""
    assert "messenv.recordings.recording.Recording" in leaks({"x": [tiny_recording]}, largest_row=4)
    assert leaks({"view": tiny_recording.features[3]}, largest_row=4) == ["array of shape (60, 4)"]


def test_nothing_handed_to_an_agent_reaches_the_recording(tmp_path: Path, tiny_protocol: Protocol) -> None:
    """The peeking agent fails its run on the first leak it finds: every run passing means none."""
    submission = write_submission(
        tmp_path, "peek", "peeking_agent_for_tests.PeekingAgent", {"note": "hi"}, code=PEEKING_SOURCE
    )
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert all(run.status == "ok" for run in results.runs), [run.error for run in results.runs]


def test_mutating_what_the_agent_is_handed_changes_nothing(tmp_path: Path, tiny_protocol: Protocol) -> None:
    plain = write_submission(tmp_path, "plain", "messenv_agents.fixed.LargestOnlyAgent")
    tamper = write_submission(tmp_path, "tamper", "tampering_agent_for_tests.TamperingAgent", code=PEEKING_SOURCE)
    before = evaluate_submission(plain, tiny_protocol, show_progress=False)
    tampered = evaluate_submission(tamper, tiny_protocol, show_progress=False)
    after = evaluate_submission(plain, tiny_protocol, show_progress=False)
    figures = lambda results: [(r.total_energy_j, r.mean_quality, r.oracle_energy_j) for r in results.runs]  # noqa: E731
    assert figures(before) == figures(tampered) == figures(after)


@pytest.mark.parametrize("key", ["recording", "env", "outcomes"])
def test_spec_has_no_route_to_the_data(key: str) -> None:
    assert not hasattr(TaskSpec, key)
