"""The best prompt-blind controller that knows each model's mean quality, at a target reliability.

The best static mix (:mod:`messenv.oracle`) meets α in expectation: it is scored as if answers
had no variance. A policy judged on its realised answers must meet α on, say, 95 % of its runs,
and can steer by what it has banked so far. This module solves that problem exactly for one
stream under a simple model, as a reference for what end-game control can reach without learning
and without reading prompts:

* state: requests served ``t`` and quality banked ``s`` (answers are 0/1, as in the MESS+
  recordings); action: a model ``m``, which costs its mean energy ``e_m`` and answers correctly
  with probability ``p_m``, independently of everything else (the i.i.d. model);
* objective: minimise ``E[energy] + λ·P(s_T < α·T)``, by backward induction over ``(t, s)``
  (Bellman's finite-horizon dynamic programme, O(T²·M) work and an int8 policy table of
  T×(T+1) entries), with ``λ`` found by bisection so that ``P(fail)`` ≤ 1 − reliability: the
  Lagrangian relaxation of the chance constraint (Altman, "Constrained Markov Decision Processes",
  1999, ch. 3 and 12).

A Lagrangian policy may give up: where α is out of reach it plays the cheapest model, which only
lowers the energy of runs that fail. The leaderboard averages the passing runs only, so
:func:`passing_energy` plays the policy on simulated answers and reports those.

Limits: the i.i.d. model overstates the noise of a stream that plays a benchmark's whole set
without replacement (as the leaderboard's do): one model played on every request then scores its
mean exactly, while under this model even that fails about half the time when α is within a
standard error of the best model. There :func:`reliable_policy` returns None.

Run on the leaderboard's tracks with::

    python -m messenv.reliable_mix --track llama3-paper --track qwen2
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

BISECTION_STEPS = 40  # on log λ, between the cheapest energy and 10⁴ × a whole stream on the largest


@dataclass(frozen=True)
class Controller:
    """A policy table (``policy[t, s]`` = the model to play) and its exact expected figures."""

    policy: np.ndarray
    expected_energy: float
    fail_probability: float


def quality_needed(alpha: float, n_requests: int) -> int:
    """The fewest correct answers whose mean over ``n_requests`` reaches ``alpha`` (float slack of 1e-9)."""
    return math.ceil(alpha * n_requests - 1e-9)


def optimal_policy(quality: np.ndarray, energy: np.ndarray, n_requests: int, need: int, weight: float) -> Controller:
    """The policy minimising ``E[energy] + weight · P(banked < need)`` over ``n_requests`` requests.

    ``quality[m]``: model m's probability of a correct answer; ``energy[m]``: its mean energy.
    """
    quality, energy = np.asarray(quality, dtype=np.float64), np.asarray(energy, dtype=np.float64)
    value = np.where(np.arange(n_requests + 1) >= need, 0.0, weight)
    policy = np.empty((n_requests, n_requests + 1), dtype=np.int8)
    for t in range(n_requests - 1, -1, -1):
        cost = (
            energy[:, None] + quality[:, None] * value[None, 1 : t + 2] + (1 - quality[:, None]) * value[None, : t + 1]
        )
        choice = np.argmin(cost, axis=0)
        policy[t, : t + 1] = choice
        value = cost[choice, np.arange(t + 1)]
    banked = np.zeros(n_requests + 1)
    banked[0] = 1.0
    spent = 0.0
    for t in range(n_requests):
        choice, mass = policy[t, : t + 1], banked[: t + 1].copy()
        spent += float(mass @ energy[choice])
        banked[: t + 2] = 0.0
        banked[: t + 1] += mass * (1 - quality[choice])
        banked[1 : t + 2] += mass * quality[choice]
    return Controller(policy, spent, float(banked[:need].sum()))


def reliable_policy(
    quality: np.ndarray, energy: np.ndarray, n_requests: int, alpha: float, reliability: float = 0.95
) -> Controller | None:
    """The cheapest Lagrangian policy (in expectation) whose final mean quality reaches ``alpha``
    with probability ≥ ``reliability``; None if no policy does (see the module docstring)."""
    need = quality_needed(alpha, n_requests)
    low, high = math.log(float(np.min(energy))), math.log(float(np.max(energy)) * n_requests * 1e4)
    best = None
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        controller = optimal_policy(quality, energy, n_requests, need, math.exp(middle))
        if controller.fail_probability <= 1.0 - reliability:
            best, high = controller, middle
        else:
            low = middle
    return best


def passing_energy(
    controller: Controller, quality: np.ndarray, energy: np.ndarray, alpha: float, runs: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Mean energy of the passing runs, and the pass rate, of ``controller`` played on ``runs``
    simulated streams of i.i.d. answers (seeded: the same figures every time)."""
    n_requests = controller.policy.shape[0]
    need = quality_needed(alpha, n_requests)
    rng = np.random.default_rng(seed)
    banked, spent = np.zeros(runs, dtype=np.int64), np.zeros(runs)
    for t in range(n_requests):
        choice = controller.policy[t, banked]
        spent += energy[choice]
        banked += rng.random(runs) < quality[choice]
    passed = banked >= need
    return float(spent[passed].mean()), float(passed.mean())


def main(argv: list[str] | None = None) -> None:
    """Per benchmark of each named leaderboard track: the reliable controller's energy over its
    passing runs ÷ the best static mix's, and the geometric mean over the track."""
    from messenv.harness import stream_outcomes
    from messenv.leaderboard.evaluate import TrackContext
    from messenv.leaderboard.protocol import RunKey, load_protocol

    parser = argparse.ArgumentParser(prog="python -m messenv.reliable_mix", description=main.__doc__)
    parser.add_argument("--track", action="append", required=True, help="a track of the protocol (repeatable)")
    parser.add_argument("--protocol", default="leaderboard/protocol.yaml")
    parser.add_argument("--reliability", type=float, default=0.95, help="the board's bar for a met track")
    args = parser.parse_args(argv)
    tracks = {track.name: track for track in load_protocol(args.protocol).tracks}
    unknown = sorted(set(args.track) - set(tracks))
    if unknown:
        parser.error(f"--track: {args.protocol} has no track {unknown}; it has {sorted(tracks)}")
    for track in (tracks[name] for name in args.track):
        if track.alphas is None or track.scenario is not None or track.feedback_rate < 1.0:
            print(f"{track.name}: skipped (the controller sees every answer and knows no scenario)")
            continue
        context = TrackContext(track, *track.load_recording())
        ratios = []
        for benchmark, alpha in track.alphas.items():
            env = context.env(benchmark)
            env.reset(seed=0)
            answers, joules = stream_outcomes(env)
            quality, energy = answers.mean(axis=0), joules.mean(axis=0)
            static = context.references(RunKey(track.name, benchmark, 0)).static_mix_energy_j
            controller = reliable_policy(quality, energy, len(answers), alpha, args.reliability)
            if controller is None:
                meets = f"no policy meets α = {alpha} on {args.reliability:.0%} of i.i.d. runs"
                print(f"{track.name} {benchmark}: {meets}")
                continue
            spent, passed = passing_energy(controller, quality, energy, alpha)
            ratios.append(spent / static)
            print(f"{track.name} {benchmark}: {spent / static:.3f} × the static mix (passed {passed:.1%})")
        mean = math.exp(float(np.mean(np.log(ratios)))) if ratios else float("nan")
        print(f"{track.name}: {mean:.3f} (geometric mean over {len(ratios)} benchmark(s))", flush=True)


if __name__ == "__main__":
    main()
