"""An agent cannot reach the recording, the env or the harness through anything the harness hands it.

Scope (see the threat model in messenv/leaderboard/evaluate.py): this proves the API does not
leak. It does not, and cannot, stop a malicious agent in the same process from using ``gc`` or
``inspect`` to find the env; code review, ``verify`` and private tracks cover that.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from messenv.env.task import TaskSpec
from messenv.leaderboard.evaluate import evaluate_submission
from messenv.leaderboard.protocol import Protocol
from tests.leaderboard.conftest import write_submission
from tests.leaderboard.peeking_agent import PeekingAgent, leaks


def test_task_spec_carries_no_data() -> None:
    assert {f.name for f in fields(TaskSpec)} == {
        "models", "alpha", "n_requests", "explore_action", "feature_dim", "features_kind", "benchmark_names",
        "feedback_rate", "latency_slo", "feedback_delayed",
    }


def test_the_walker_does_find_a_leak(tiny_recording) -> None:
    """The check below is only meaningful if ``leaks`` recognises the things it looks for."""
    assert "messenv.recordings.recording.Recording" in leaks({"x": [tiny_recording]}, largest_row=4)
    assert leaks({"view": tiny_recording.features[3]}, largest_row=4) == ["array of shape (60, 4)"]


def test_nothing_handed_to_an_agent_reaches_the_recording(tmp_path: Path, tiny_protocol: Protocol) -> None:
    PeekingAgent.findings, PeekingAgent.inspected, PeekingAgent.constructor_kwargs = [], 0, []
    submission = write_submission(tmp_path, "peek", "tests.leaderboard.peeking_agent.PeekingAgent", {"note": "hi"})
    results = evaluate_submission(submission, tiny_protocol, show_progress=False)
    assert all(run.status == "ok" for run in results.runs), [run.error for run in results.runs]
    total_steps = sum(run.n_requests for run in results.runs)
    assert PeekingAgent.inspected == len(results.runs) + 2 * total_steps  # reset, then act + update per step
    assert PeekingAgent.findings == []
    assert PeekingAgent.constructor_kwargs == [{"note": "hi"}] * len(results.runs)


def test_mutating_what_the_agent_is_handed_changes_nothing(tmp_path: Path, tiny_protocol: Protocol) -> None:
    plain = write_submission(tmp_path, "plain", "messenv_agents.fixed.LargestOnlyAgent")
    tamper = write_submission(tmp_path, "tamper", "tests.leaderboard.peeking_agent.TamperingAgent")
    before = evaluate_submission(plain, tiny_protocol, show_progress=False)
    tampered = evaluate_submission(tamper, tiny_protocol, show_progress=False)
    after = evaluate_submission(plain, tiny_protocol, show_progress=False)
    figures = lambda results: [(r.total_energy_j, r.mean_quality, r.oracle_energy_j) for r in results.runs]  # noqa: E731
    assert figures(before) == figures(tampered) == figures(after)


@pytest.mark.parametrize("key", ["recording", "env", "outcomes"])
def test_spec_has_no_route_to_the_data(key: str) -> None:
    assert not hasattr(TaskSpec, key)
