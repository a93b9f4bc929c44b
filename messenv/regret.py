"""Regret curves of several agents on one leaderboard run: ``python -m messenv.regret``.

For one benchmark of one track and one seed, every agent plays the same stream; the figure shows,
over the stream, each agent's cumulative energy above the hindsight oracle's (the oracle's per-step
energy is that of its LP allocation of the whole stream, :func:`messenv.oracle.hindsight_oracle`)
and its cumulative SLA shortfall ``max(0, α·t − Σ_{s≤t} quality_s)``: how many correct answers
short of α the episode is after t requests (0 throughout for a policy that is never behind).

Example (the README's figure)::

    python -m messenv.regret --track llama3-paper --benchmark boolq --seed 0 --out figures/regret_boolq.png
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from messenv.harness import EpisodeResult, run_episode, stream_outcomes
from messenv.leaderboard.evaluate import TrackContext
from messenv.leaderboard.protocol import load_protocol
from messenv.oracle import hindsight_oracle
from messenv.plots import regret_plot
from messenv_agents import AGENTS

DEFAULT_AGENTS = ("safe_mix", "safe_mix_contextual", "mess_plus", "mess_plus_reference", "thompson", "largest_only")


def regret_curves(
    result: EpisodeResult, oracle_step_energy_j: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative energy above the oracle (J) and cumulative SLA shortfall (answers) per step."""
    energy_regret = np.cumsum(result.energy_j) - np.cumsum(oracle_step_energy_j)
    steps = np.arange(1, result.n_requests + 1)
    shortfall = np.maximum(0.0, alpha * steps - np.cumsum(result.quality))
    return energy_regret, shortfall


def main(argv: Sequence[str] | None = None) -> Path:
    """Play the agents on the run and write the figure; returns its path."""
    parser = argparse.ArgumentParser(prog="python -m messenv.regret", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", type=Path, default=Path("leaderboard/protocol.yaml"))
    parser.add_argument("--track", required=True, help="a track of the protocol, e.g. llama3-paper")
    parser.add_argument("--benchmark", required=True, help="a benchmark of that track, e.g. boolq")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agents", default=",".join(DEFAULT_AGENTS), help="comma-separated agent names")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args(argv)
    names = [name for name in args.agents.split(",") if name]
    unknown = sorted(set(names) - set(AGENTS))
    if unknown:
        parser.error(f"unknown agent(s) {unknown}; choose from {sorted(AGENTS)}")
    tracks = {track.name: track for track in load_protocol(args.protocol).tracks}
    if args.track not in tracks:
        parser.error(f"unknown track {args.track!r}; the protocol has {sorted(tracks)}")
    track = tracks[args.track]
    if args.benchmark not in track.run_alphas:
        parser.error(f"track {args.track!r} has no benchmark {args.benchmark!r}; it has {sorted(track.run_alphas)}")
    context = TrackContext(track, *track.load_recording())
    env, alpha = context.env(args.benchmark), track.run_alphas[args.benchmark]
    energy_regret, shortfall = {}, {}
    for name in names:
        result = run_episode(env, AGENTS[name](), args.seed)
        quality, energy_j = stream_outcomes(env)
        oracle = hindsight_oracle(quality, energy_j, alpha)
        energy_regret[name], shortfall[name] = regret_curves(result, (oracle.choice * energy_j).sum(axis=1), alpha)
    title = f"{args.track} · {args.benchmark} · seed {args.seed} ({env.unwrapped.task.n_requests} requests)"
    return regret_plot(energy_regret, shortfall, alpha, args.out, title)


if __name__ == "__main__":
    print(f"wrote {main()}")
