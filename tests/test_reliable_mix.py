"""messenv.reliable_mix: the dynamic programme against exhaustive search, its reliability, its CLI."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from messenv.reliable_mix import optimal_policy, passing_energy, reliable_policy

QUALITY = np.array([0.55, 0.9])
ENERGY = np.array([1.0, 6.0])


def exact_figures(policy: dict[tuple[int, int], int], n_requests: int, need: int) -> tuple[float, float]:
    """Expected energy and failure probability of a policy given as a dict, by enumerating answers."""
    spent, fail = 0.0, 0.0
    for answers in itertools.product((0, 1), repeat=n_requests):
        probability, banked, joules = 1.0, 0, 0.0
        for t, answer in enumerate(answers):
            model = policy[t, banked]
            probability *= QUALITY[model] if answer else 1 - QUALITY[model]
            joules += ENERGY[model]
            banked += answer
        spent += probability * joules
        fail += probability * (banked < need)
    return spent, fail


@pytest.mark.parametrize("weight", [0.5, 20.0, 200.0])
def test_the_programme_is_the_best_of_every_deterministic_policy(weight: float) -> None:
    n_requests, need = 4, 3
    states = [(t, s) for t in range(n_requests) for s in range(t + 1)]
    best = min(
        sum(exact_figures(dict(zip(states, choice)), n_requests, need) * np.array([1.0, weight]))
        for choice in itertools.product((0, 1), repeat=len(states))
    )
    controller = optimal_policy(QUALITY, ENERGY, n_requests, need, weight)
    assert controller.expected_energy + weight * controller.fail_probability == pytest.approx(best)
    table = {(t, s): int(controller.policy[t, s]) for t, s in states}
    assert exact_figures(table, n_requests, need) == pytest.approx(
        (controller.expected_energy, controller.fail_probability)
    )


def test_the_reliable_policy_fails_at_most_the_allowed_share_and_beats_the_safe_single_model() -> None:
    n_requests, alpha = 300, 0.8
    controller = reliable_policy(QUALITY, ENERGY, n_requests, alpha, reliability=0.95)
    assert controller is not None and controller.fail_probability <= 0.05
    spent, passed = passing_energy(controller, QUALITY, ENERGY, alpha, runs=4000, seed=1)
    assert passed >= 0.94  # the exact figure is >= 0.95; 4000 runs sample it within about 0.01
    assert spent < n_requests * ENERGY[1]  # cheaper than the better model on every request
    assert spent > n_requests * ENERGY @ [1 - 0.7143, 0.7143]  # dearer than the static mix (p = 0.8 exactly)
    assert passing_energy(controller, QUALITY, ENERGY, alpha, runs=500, seed=3) == passing_energy(
        controller, QUALITY, ENERGY, alpha, runs=500, seed=3
    )


def test_none_when_even_the_best_model_fails_too_often() -> None:
    # the best model's mean is α itself: under i.i.d. answers it misses about half the time
    assert reliable_policy(QUALITY, ENERGY, 200, alpha=0.9) is None


def test_cli_prints_one_line_per_benchmark_and_skips_scenario_tracks(shared_data, tmp_path, monkeypatch, capsys):
    from messenv.recordings.catalogue import import_local
    from messenv.reliable_mix import main

    monkeypatch.setenv("MESSENV_HOME", str(tmp_path))
    import_local(shared_data / "messplus-llama3" / "inference_outputs.tar.gz", "messplus-llama3")
    main(["--track", "llama3-paper", "--track", "llama3-latency"])
    lines = capsys.readouterr().out.splitlines()
    summary = [line for line in lines if line.startswith("llama3-paper: ")]
    assert len(summary) == 1 and "geometric mean over 8" in summary[0]
    assert len([line for line in lines if line.startswith("llama3-paper ")]) == 8
    assert lines[-1].startswith("llama3-latency: skipped")
    ratio = float(summary[0].split()[1])
    assert 0.9 < ratio < 1.25 and math.isfinite(ratio)
