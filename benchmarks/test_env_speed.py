"""Speed of MessEnv against Gymnasium's CartPole in the same run.

Goals (issue 3): a single MessEnv step no slower than a CartPole-v1 step, and the vector env at
10 million request-steps per second or more. Run with::

    pytest benchmarks/test_env_speed.py --benchmark-enable
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

from benchmarks.conftest import (
    SCENARIO_GOAL,
    SCENARIOS,
    enforce_goal,
    interleaved_seconds,
    peer_seconds,
    single_env,
    with_length,
)
from messenv.env import MessEnv
from messenv.env.vector import MessVectorEnv
from messenv.recordings import load
from messenv.recordings.catalogue import DEFAULT_RECORDING

STEPS = 1000
NUM_ENVS = 4096
ROUNDS, ITERATIONS = 30, 20  # vector steps timed by pytest-benchmark
INTERLEAVED_ROUNDS = 15  # rounds of ITERATIONS steps timed against a peer in alternation


@pytest.fixture(scope="module")
def recording():
    return load(DEFAULT_RECORDING)


def cartpole_step() -> None:
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)

    def step() -> None:
        if env.step(1)[2]:
            env.reset()

    return step


def test_single_step_vs_cartpole(benchmark, recording):
    env = MessEnv(recording=recording, alpha=0.7)
    env.reset(seed=0, options={"replace": True, "n_requests": 200 * STEPS})
    benchmark.pedantic(env.step, args=(1,), rounds=200, iterations=STEPS // 2)
    cartpole = peer_seconds(cartpole_step(), number=STEPS)
    if not benchmark.disabled:
        enforce_goal(benchmark, benchmark.stats.stats.min / cartpole, 1.0, "messenv_step / cartpole_step")


def interleaved_best(functions: dict, number: int, rounds: int = INTERLEAVED_ROUNDS) -> dict[str, float]:
    """Best time of ``number`` calls of each function, the functions timed in alternation
    (:func:`benchmarks.conftest.interleaved_seconds`), so that load from other processes falls on all alike.

    Each call's result is dropped before the next, as a loop that reads its observation and moves
    on drops it: kept, 20 full observations are 80 MiB of fresh pages, whose faults tripled the
    time of a step that returns 4 MiB."""

    def repeat(function) -> None:
        for _ in range(number):
            function()

    return interleaved_seconds({name: (lambda f=function: repeat(f)) for name, function in functions.items()}, rounds)


def interleaved_ratio(function, peer, number: int, rounds: int = INTERLEAVED_ROUNDS) -> float:
    """Best time of ``number`` calls of ``function`` over that of ``peer``, timed in alternation."""
    best = interleaved_best({"function": function, "peer": peer}, number, rounds)
    return best["function"] / best["peer"]


FULL_OBSERVATION_GUARD = 2.5  # the step over its bare feature gather (see test_vector_steps_per_second)


@pytest.mark.parametrize("observation_keys", [("benchmark", "step"), ("prompt", "features", "benchmark", "step")])
def test_vector_steps_per_second(benchmark, recording, observation_keys):
    """Minimal observations: 10 million request-steps per second or more (issue 3, enforced).

    Every observation: issue 13 asks ≤ 2× CartPole's vector step at 4,096 streams; not met, and
    not reachable while each step hands out a fresh dense copy of its features. The step, CartPole's
    step, the bare gather ``features[rows]`` (4,096 rows of 256 float32: 4 MiB) and a contiguous
    copy of as many bytes are timed interleaved. On the shared 2-core machine (2026-11-30, load
    average 2.7, ``python -m pytest benchmarks/test_env_speed.py -k steps_per_second
    --benchmark-enable``): step 3.4-4.2×, gather alone 1.7-2.0×, contiguous copy 1.3-1.45×; the
    minimal step is ~0.45× and the prompt tuple ~0.25×, and a step costs ~0.3× more than those
    parts timed apart (the 4 MiB gather evicts the rest of the step's tables from cache). The
    gather is memory-bound: it takes no page faults (``ru_minflt``) once the previous observation
    is dropped, and ``np.take(..., out=)`` into a kept buffer, a void-dtype row view or a sparse
    (CSR or padded) scatter of the 4 %-dense hashed features were no faster, so a ``copy=False``
    option would buy nothing. The ratio to CartPole is recorded, not held: under a load average
    of 3.6-3.9 it moved 3.8-5.5× (even the contiguous copy 1.5-2.3×), as the memory-bound gather
    suffers from other processes' memory traffic and CartPole's cache-sized arrays do not. What
    is held is the step over the bare gather, both memory-bound and hit alike: 1.7-2.2 in all the
    runs above, ≤ :data:`FULL_OBSERVATION_GUARD` (a second copy of the features, or a Python
    loop over sub-envs, would break it)."""
    envs = MessVectorEnv(
        NUM_ENVS,
        recording=recording,
        alpha=0.7,
        replace=True,
        n_requests=(ROUNDS + INTERLEAVED_ROUNDS) * ITERATIONS + 1,
        observation_keys=observation_keys,
    )
    envs.reset(seed=0)
    actions = np.ones(NUM_ENVS, dtype=np.int64)
    benchmark.pedantic(envs.step, args=(actions,), rounds=ROUNDS, iterations=ITERATIONS)
    if benchmark.disabled:
        return
    seconds = benchmark.stats.stats.min
    benchmark.extra_info["request_steps_per_s"] = NUM_ENVS / seconds
    if observation_keys == ("benchmark", "step"):
        enforce_goal(benchmark, 1e7 * seconds / NUM_ENVS, 1.0, "goal_10M_steps_per_s (<= 1 meets it)")
        return
    cartpole = CartPoleVectorEnv(num_envs=NUM_ENVS)
    cartpole.reset(seed=0)
    features = envs.recording.features
    rows = envs.stream_rows[0]
    source = np.ascontiguousarray(features[:NUM_ENVS])
    target = np.empty_like(source)
    best = interleaved_best(
        {
            "messenv_vector_step": lambda: envs.step(actions),
            "cartpole": lambda: cartpole.step(actions),
            "features_gather": lambda: features[rows],
            "features_bytes_copy": lambda: np.copyto(target, source),
        },
        number=ITERATIONS,
    )
    for name in ("messenv_vector_step", "features_gather", "features_bytes_copy"):
        benchmark.extra_info[f"{name} / cartpole_vector_step"] = best[name] / best["cartpole"]
    ratio = best["messenv_vector_step"] / best["features_gather"]
    enforce_goal(benchmark, ratio, FULL_OBSERVATION_GUARD, "messenv_vector_step / features_gather")


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_single_step_vs_stationary(benchmark, recording, name):
    """Each scenario's single-env step against the stationary step, timed interleaved and recorded.
    Issue 12's goal (within 1.5×) is enforced on instruction counts instead
    (``benchmarks/test_scenario_instructions.py``): timed, the delayed and zoo scenarios measured
    1.36-1.52 in successive runs on the shared 2-core machine (2026-11-30), flaking at the goal."""
    env = single_env(recording, name, 400 * STEPS)
    stationary = single_env(recording, None, 400 * STEPS)
    benchmark.pedantic(env.step, args=(1,), rounds=200, iterations=STEPS // 2)
    if not benchmark.disabled:
        ratio = interleaved_ratio(lambda: env.step(1), lambda: stationary.step(1), number=STEPS)
        benchmark.extra_info[f"{name}_step / stationary_step"] = ratio


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_vector_step_vs_stationary(benchmark, recording, name):
    length = ROUNDS * ITERATIONS + 2 * INTERLEAVED_ROUNDS * ITERATIONS + 1

    def make(scenario):
        drift = scenario is not None and "drift" in scenario
        envs = MessVectorEnv(
            NUM_ENVS,
            recording=recording,
            alpha=0.7,
            replace=True,
            n_requests=None if drift else length,
            observation_keys=("benchmark", "step"),
            scenario=None if scenario is None else with_length(scenario, length),
        )
        envs.reset(seed=0)
        return envs

    envs, stationary = make(SCENARIOS[name]), make(None)
    actions = np.ones(NUM_ENVS, dtype=np.int64)
    benchmark.pedantic(envs.step, args=(actions,), rounds=ROUNDS, iterations=ITERATIONS)
    if not benchmark.disabled:
        ratio = interleaved_ratio(lambda: envs.step(actions), lambda: stationary.step(actions), number=ITERATIONS)
        enforce_goal(benchmark, ratio, SCENARIO_GOAL, f"{name}_vector_step / stationary")


@pytest.mark.parametrize("sampler", ["pcg64", "counter"])
def test_vector_construction_and_reset_at_65536(benchmark, recording, sampler):
    """``MessVectorEnv(65536)`` construction + reset ≤ 20× one of its steps (issue 13).

    With ``sampler="counter"`` (messenv/env/counter_streams.py: each step's requests computed from
    the seeds when played) the goal is held for construction + reset: measured 2026-11-30 on the
    shared 2-core machine (65,536 × 601 requests, with replacement), reset 0.03-0.04 s, 5-12× a
    step, and a step 3.6-3.8 ms against 2.2 ms with stored streams (the Feistel permutation of
    draws without replacement: 6.0-6.3 ms).

    With the default ``sampler="pcg64"`` only construction is held to it (the batched observation
    space is built lazily, with one shared ``Text``); reset is recorded: each sub-env draws from
    its own PCG64 generator seeded ``s + i``, the equivalence with single envs that Gymnasium's
    seeding gives. The seeds are hashed into those generators' states together
    (messenv/env/seeding.py: 0.4 s instead of 1.2 s for 65,536) and a block of 1,024 sub-envs is
    gathered from the pool in one go (stream.sample_streams); what is left is each generator's own
    draw, ~10-15 µs per sub-env in Python: reset 1.05-1.24 s, 580-980 steps. Without replacement
    each generator shuffles the whole pool before the first T are kept (numpy's ``permutation``,
    which the single env's streams are): 9.4 s on the 13,252-request default recording."""
    num_envs = 1024 if benchmark.disabled else 65536

    def construct() -> MessVectorEnv:
        keys = ("benchmark", "step")
        return MessVectorEnv(
            num_envs,
            recording=recording,
            alpha=0.7,
            replace=True,
            n_requests=601,
            observation_keys=keys,
            sampler=sampler,
        )

    envs = benchmark.pedantic(construct, rounds=3, iterations=1)
    reset = peer_seconds(lambda: envs.reset(seed=0), number=1, repeat=1 if sampler == "pcg64" else 5)
    actions = np.ones(num_envs, dtype=np.int64)
    step = peer_seconds(lambda: envs.step(actions), number=20, repeat=3)
    if not benchmark.disabled:
        benchmark.extra_info["reset / step"] = reset / step
        setup = benchmark.stats.stats.min + (reset if sampler == "counter" else 0.0)
        enforce_goal(
            benchmark,
            setup / step,
            20.0,
            "construction + reset / step" if sampler == "counter" else "construction / step",
        )


RSS_PROBE = """
import sys, numpy as np
n = 65536
if sys.argv[1] == "cartpole":
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
    envs = CartPoleVectorEnv(num_envs=n)
else:
    from messenv.env.vector import MessVectorEnv
    from messenv.recordings import load
    from messenv.recordings.catalogue import DEFAULT_RECORDING
    envs = MessVectorEnv(n, recording=load(DEFAULT_RECORDING), alpha=0.7, replace=True, n_requests=601,
                         observation_keys=("benchmark", "step"), sampler=sys.argv[1])
envs.reset(seed=0)
for _ in range(10):
    envs.step(np.ones(n, dtype=np.int64))
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""
RSS_GUARDS = {"pcg64": 5.0, "counter": 2.0}  # issue 13 asks <= 2 at minimal observations: met with "counter"


@pytest.mark.parametrize("sampler", ["pcg64", "counter"])
def test_vector_peak_rss_at_65536_vs_cartpole(benchmark, sampler, recording):
    """Peak RSS (VmHWM) of a fresh process that builds ``MessVectorEnv(65536)`` (minimal
    observations, 601-request streams), resets and steps it, against the same with CartPole's
    vector env. Issue 13 asks ≤ 2×: met with ``sampler="counter"``, not with the default.
    The ``recording`` fixture loads the zoo first, as any earlier run has, so the probes read its
    numpy copy (:mod:`messenv.recordings.arrays`). Measured 2026-11-30 with
    ``python -m pytest benchmarks/test_env_speed.py -k rss --benchmark-enable``: with the default
    sampler 8.4× (497 MiB ÷ 59.4 MiB) before, 5.8× (346 MiB ÷ 59.4 MiB) since the streams are
    stored as uint16 rows (below 65,536 requests) with no feedback matrix at ``feedback_rate`` 1
    (2 bytes per request per sub-env instead of 5: 75 MiB instead of 188) and loading the cached
    default zoo no longer imports scipy (40 MiB). ``sampler="counter"`` holds neither the 65,536
    generators (53 MiB, ~850 bytes each: PCG64, Generator and their seed words) nor the streams
    (75 MiB): 185 MiB, 3.5× CartPole's 52 MiB. Of those, 122 MiB were imports (pyarrow with
    pyarrow.compute 62, pandas 32 for the recording readers) and 43 MiB loading the recording
    (pyarrow's parquet reader, which imports pandas; the tables themselves are 3 MiB). Since a
    cached recording loads from its numpy copy and the readers and pyarrow are imported only
    where a raw file is converted or parquet read, neither is imported: 72 MiB with
    ``sampler="counter"``, **1.4×** CartPole's 53 MiB, and 197 MiB, 3.7×, with the default (one
    run each, same command). Only with timing on: it builds both in fresh processes."""
    if benchmark.disabled:
        pytest.skip("measures two fresh processes: only with --benchmark-enable")
    import subprocess
    import sys

    def peak(which: str) -> int:
        done = subprocess.run([sys.executable, "-c", RSS_PROBE, which], capture_output=True, text=True, check=True)
        return int(done.stdout.split()[-1])

    both = (sampler, "cartpole")
    peaks = benchmark.pedantic(lambda: {which: peak(which) for which in both}, rounds=1, iterations=1)
    benchmark.extra_info.update({f"{which}_peak_mib": value / 2**20 for which, value in peaks.items()})
    ratio = peaks[sampler] / peaks["cartpole"]
    enforce_goal(benchmark, ratio, RSS_GUARDS[sampler], "vector env peak RSS / CartPole's")
