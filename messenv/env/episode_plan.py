"""What a ``reset`` plays, worked out and checked before the env changes anything.

The single env and the vector env take the same reset options (stream options and a scenario),
and both must refuse a bad one before they reseed or draw: a refused reset leaves the env as it
was. :func:`plan_episode` is that check, shared by both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from messenv.env.counter_streams import check_counter_scenario
from messenv.env.scenario import Scenario, split_reset_options
from messenv.env.stream import StreamOptions, request_pool, stream_length
from messenv.env.zoo_change import ZooPlay
from messenv.recordings import Recording


@dataclass(frozen=True, eq=False)  # it holds an array: == would compare element-wise
class EpisodePlan:
    """The episode a reset will play: its stream options and scenario, the pool of recording rows
    its requests are drawn from, the stream's length, and the zoo's segments (``None`` unless the
    zoo changes)."""

    options: StreamOptions
    scenario: Scenario
    pool: np.ndarray
    length: int
    zoo: ZooPlay | None


def plan_episode(
    recording: Recording,
    current: StreamOptions,
    scenario: Scenario,
    reset_options: dict | None,
    explore: bool,
    sampler: str,
) -> EpisodePlan:
    """The episode that ``reset(options=reset_options)`` plays on an env whose stream options are
    ``current`` and whose scenario is ``scenario``.

    Raises:
        ValueError: an invalid option or scenario, or one the recording or the sampler cannot play.
    """
    reset_options, scenario = split_reset_options(reset_options, scenario)
    options = current.updated(reset_options)
    pool = request_pool(recording, options.benchmarks)
    length = stream_length(len(pool), options)
    zoo = scenario.prepare(recording, options, length, explore)
    check_counter_scenario(sampler, scenario)
    return EpisodePlan(options, scenario, pool, length, zoo)
