"""plan_episode: a reset's options worked out and checked before an env changes anything."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.env.episode_plan import plan_episode
from messenv.env.scenario import Scenario
from messenv.env.stream import StreamOptions


def test_a_plan_holds_the_options_pool_and_length_of_the_reset(tiny_recording):
    current = StreamOptions(None, None, False, 1.0)
    benchmark = tiny_recording.benchmark_names[0]
    options = {"benchmarks": [benchmark], "n_requests": 5}
    plan = plan_episode(tiny_recording, current, Scenario(), options, False, "pcg64")
    assert list(plan.options.benchmarks) == [benchmark]
    names = np.asarray(tiny_recording.benchmark_names)[tiny_recording.benchmark_index]
    expected_pool = np.flatnonzero(names == benchmark)
    np.testing.assert_array_equal(np.sort(plan.pool), expected_pool)
    assert plan.length == 5 and plan.zoo is None and plan.scenario.stationary


def test_a_scenario_given_as_a_reset_option_replaces_the_envs_and_the_sampler_is_checked_against_it(tiny_recording):
    current = StreamOptions(None, None, False, 1.0)
    delayed = {"scenario": {"delay": {"steps": 3, "distribution": "fixed"}}}
    plan = plan_episode(tiny_recording, current, Scenario(), delayed, False, "pcg64")
    assert plan.scenario.delay is not None and plan.options == current
    with pytest.raises(ValueError, match="sampler='counter' plays .*, got a scenario with delay"):
        plan_episode(tiny_recording, current, Scenario(), delayed, False, "counter")


def test_a_bad_option_is_refused(tiny_recording):
    current = StreamOptions(None, None, False, 1.0)
    with pytest.raises(ValueError, match="n_requests"):
        plan_episode(tiny_recording, current, Scenario(), {"n_requests": 0}, False, "pcg64")
