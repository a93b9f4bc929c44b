"""Scenarios of MessEnv and MessVectorEnv: the typed spec, latency costs, delayed feedback, equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from messenv.env import MessEnv
from messenv.env.scenario import DelayedFeedback, LatencySLO, Scenario
from messenv.env.vector import MessVectorEnv

LATENCY_MEAN = {"name": "latency", "latency": {"mean_s": 0.5}}
LATENCY_DEADLINE = {"name": "deadline", "latency": {"deadline_s": 0.6, "max_late_share": 0.3}}
DELAY_FIXED = {"name": "delay3", "delay": {"steps": 3}}
DELAY_GEOMETRIC = {"name": "geo", "delay": {"steps": 4, "distribution": "geometric"}, "latency": {"mean_s": 0.5}}
PHASES = {
    "name": "phases",
    "drift": {
        "phases": [{"benchmarks": "alpha_bench", "n_requests": 14}, {"benchmarks": ["beta_bench"], "n_requests": 10}]
    },
    "window": 5,
}
SMOOTH = {"name": "smooth", "drift": {"start": ["alpha_bench"], "end": ["beta_bench"], "n_requests": 24}, "window": 7,
          "latency": {"mean_s": 0.5}}  # fmt: skip
WINDOWED = {"name": "windowed", "window": 6, "latency": {"mean_s": 0.5}}
SCENARIOS = [LATENCY_MEAN, LATENCY_DEADLINE, DELAY_FIXED, DELAY_GEOMETRIC, PHASES, SMOOTH, WINDOWED]
COUNTER_PLAYS = [LATENCY_MEAN, LATENCY_DEADLINE, WINDOWED]  # no drift, no delay: counter_streams.COUNTER_SCENARIO_PARTS
SAMPLED_SCENARIOS = [(spec, "pcg64") for spec in SCENARIOS] + [(spec, "counter") for spec in COUNTER_PLAYS]


def play_single(recording, scenario, seed, actions, feedback_rate=1.0, sampler="pcg64"):
    drift = scenario is not None and "drift" in scenario
    env = MessEnv(
        recording=recording,
        alpha=0.6,
        explore_action=True,
        n_requests=None if drift else len(actions),
        feedback_rate=feedback_rate,
        scenario=scenario,
        sampler=sampler,
    )
    env.reset(seed=seed)
    return env, [env.step(int(a))[4] for a in actions]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"latency": {}}, "either mean_s, or deadline_s"),
        ({"latency": {"mean_s": 1.0, "deadline_s": 2.0}}, "either mean_s"),
        ({"latency": {"mean_s": -1.0}}, "latency.mean_s must be a number > 0"),
        ({"latency": {"deadline_s": 1.0, "max_late_share": 1.5}}, "max_late_share must be in"),
        ({"latency": {"deadline_s": 1.0}}, "max_late_share must be in"),
        ({"latency": {"mean_sec": 1.0}}, r"scenario.latency: unknown key\(s\) \['mean_sec'\]"),
        ({"delay": {"steps": 1.5}}, "delay.steps must be an integer"),
        ({"delay": {"steps": 2, "distribution": "poisson"}}, "distribution must be one of"),
        ({"lag": 3}, r"scenario: unknown key\(s\) \['lag'\]"),
        ({"latency": 3}, "scenario.latency must be a mapping"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(spec, message):
    with pytest.raises(ValueError, match=message):
        Scenario.parse(spec)


def test_parse_builds_the_typed_spec_and_none_is_stationary():
    scenario = Scenario.parse(DELAY_GEOMETRIC)
    assert scenario.delay == DelayedFeedback(4, "geometric") and scenario.latency == LatencySLO(mean_s=0.5)
    assert Scenario.parse(None).stationary and not scenario.stationary
    assert Scenario.parse(scenario) is scenario


def test_geometric_delays_have_the_asked_mean_and_start_at_zero():
    delays = DelayedFeedback(4, "geometric").draw(np.random.default_rng(0), 200_000)
    assert delays.min() == 0 and delays.mean() == pytest.approx(4.0, rel=0.02)


def test_latency_costs_and_limits_follow_safety_gymnasium(tiny_recording):
    actions = np.random.default_rng(1).integers(0, 4, 30)
    env, infos = play_single(tiny_recording, LATENCY_DEADLINE, 3, actions)
    np.testing.assert_array_equal(env.cost_limits, [0.4, 0.3])
    rows = env.stream_rows
    late = []
    for t, info in enumerate(infos):
        latency = (
            tiny_recording.latency_s[rows[t]].sum()
            if actions[t] == 3
            else tiny_recording.latency_s[rows[t], actions[t]]
        )
        assert info["latency_s"] == pytest.approx(latency)
        late.append(float(latency > 0.6))
        np.testing.assert_array_equal(info["costs"], [info["cost"], late[-1]])
    summary = infos[-1]["episode_summary"]
    assert summary["scenario"] == "deadline"
    assert summary["mean_costs"] == pytest.approx([1 - summary["mean_quality"], np.mean(late)])
    assert summary["latency_violation"] == pytest.approx(max(0.0, np.mean(late) - 0.3))
    assert summary["constraints_met"] == (summary["sla_met"] and np.mean(late) <= 0.3)


def test_a_stationary_env_has_one_cost_limit_and_no_costs(tiny_recording):
    env, infos = play_single(tiny_recording, None, 0, [0, 1])
    np.testing.assert_array_equal(env.cost_limits, [0.4])
    assert "costs" not in infos[0] and "mean_costs" not in infos[-1]["episode_summary"]


@pytest.mark.parametrize("feedback_rate", [1.0, 0.5])
def test_a_fixed_delay_reveals_each_quality_d_steps_later_naming_its_request(tiny_recording, feedback_rate):
    actions = np.random.default_rng(2).integers(0, 4, 25)
    env, infos = play_single(tiny_recording, DELAY_FIXED, 7, actions, feedback_rate)
    _, plain = play_single(tiny_recording, None, 7, actions, feedback_rate)
    assert env.task.feedback_delayed and env.task.latency_slo is None and env.task.sla_window is None
    arrived = {}
    for t, info in enumerate(infos):
        assert info["quality"] is None and info["cost"] is None and not info["feedback"]
        if info["explored"]:
            assert info["outcomes"]["quality"] is None
        for entry in info["delayed_feedback"]:
            assert entry["step"] == t - 3 or (t == len(actions) - 1 and entry["step"] > t - 3)
            arrived[entry["step"]] = entry
    for s, info in enumerate(plain):
        if info["quality"] is None:
            assert s not in arrived  # withheld by feedback_rate: never delivered
            continue
        entry = arrived.pop(s)
        assert (entry["action"], entry["quality"], entry["cost"]) == (actions[s], info["quality"], info["cost"])
        if info["explored"]:
            np.testing.assert_array_equal(entry["outcomes"]["quality"], info["outcomes"]["quality"])
        else:
            assert entry["outcomes"] is None
    assert not arrived
    # The scenario changes what the agent sees, not what happened.
    assert infos[-1]["episode_summary"]["mean_quality"] == plain[-1]["episode_summary"]["mean_quality"]


def test_a_scenario_draws_after_the_stream_so_the_seed_replays_the_same_requests(tiny_recording):
    env = MessEnv(recording=tiny_recording, n_requests=20)
    env.reset(seed=4)
    plain = env.stream_rows.copy()
    env.reset(seed=4, options={"scenario": DELAY_GEOMETRIC})
    np.testing.assert_array_equal(env.stream_rows, plain)
    assert env.scenario.name == "geo" and env.task.latency_slo == LatencySLO(mean_s=0.5)


def test_a_bad_scenario_option_leaves_the_env_as_it_was(tiny_recording):
    env = MessEnv(recording=tiny_recording, n_requests=10, scenario=LATENCY_MEAN)
    env.reset(seed=1)
    state = env.np_random.bit_generator.state
    with pytest.raises(ValueError, match="unknown key"):
        env.reset(seed=2, options={"scenario": {"latency": {"mean": 1}}})
    assert env.scenario.name == "latency" and env.np_random.bit_generator.state == state


@pytest.mark.parametrize(("spec", "sampler"), SAMPLED_SCENARIOS, ids=lambda s: s["name"] if isinstance(s, dict) else s)
@pytest.mark.parametrize("feedback_rate", [1.0, 0.6])
def test_each_sub_env_replays_the_single_env_scenario(tiny_recording, spec, sampler, feedback_rate):
    n, steps = 3, 24
    actions = np.random.default_rng(5).integers(0, 4, (steps, n))
    envs = MessVectorEnv(
        n,
        recording=tiny_recording,
        alpha=0.6,
        explore_action=True,
        n_requests=None if "drift" in spec else steps,
        feedback_rate=feedback_rate,
        scenario=spec,
        sampler=sampler,
    )
    envs.reset(seed=50)
    vector_infos = [envs.step(actions[t])[4] for t in range(steps)]
    np.testing.assert_array_equal(
        envs.cost_limits, MessEnv(recording=tiny_recording, alpha=0.6, scenario=spec).cost_limits
    )
    for i in range(n):
        env, infos = play_single(tiny_recording, spec, 50 + i, actions[:, i], feedback_rate, sampler)
        np.testing.assert_array_equal(env.stream_rows, envs.stream_rows[:, i])
        for info, batched in zip(infos, vector_infos):
            assert info["feedback"] == batched["feedback"][i]
            if info["cost"] is None:  # withheld, by feedback_rate or a delay: NaN and masked
                assert np.isnan(batched["cost"][i]) and not batched["_cost"][i]
            else:
                assert info["cost"] == batched["cost"][i]
            if "costs" in info:
                np.testing.assert_array_equal(info["costs"], batched["costs"][i])
            if "delayed_feedback" in info:
                flat = batched["delayed_feedback"]
                mine = flat["env"] == i
                assert [e["step"] for e in info["delayed_feedback"]] == flat["step"][mine].tolist()
                assert [e["action"] for e in info["delayed_feedback"]] == flat["action"][mine].tolist()
                assert [e["quality"] for e in info["delayed_feedback"]] == flat["quality"][mine].tolist()
                for entry, outcome in zip(info["delayed_feedback"], flat["outcomes_quality"][mine]):
                    if entry["outcomes"] is None:
                        assert np.isnan(outcome).all()
                    else:
                        np.testing.assert_array_equal(entry["outcomes"]["quality"], outcome)
        single, vector = infos[-1]["episode_summary"], vector_infos[-1]["episode_summary"]
        for key in (
            "mean_costs", "latency_violation", "constraints_met", "window_quality", "worst_window_quality",
            "windows_met_share", "window_violation",
        ):  # fmt: skip
            if key in single:
                np.testing.assert_allclose(np.asarray(vector[key])[i], single[key])


def test_a_scenario_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="must be a Scenario, a name of conf/scenario, a mapping or None, got int"):
        Scenario.parse(3)


def test_a_scenario_name_works_in_gym_make_make_vec_and_reset():
    """README: ``scenario=<name>`` in Hydra is the ``scenario`` argument in Python; a name loads the
    packaged ``conf/scenario/<name>.yaml`` (on the synthetic Llama-3 zoo, whose model names it uses)."""
    import gymnasium as gym

    import messenv  # noqa: F401  registers messenv/MessEnv-v0

    env = gym.make("messenv/MessEnv-v0", scenario="zoo_change", n_requests=600, explore_action=True)
    _, info = env.reset(seed=0)
    assert env.unwrapped.scenario.name == "zoo_change"
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 0, 1])  # the large model joins at request 500
    vector = gym.make_vec("messenv/MessEnv-v0", num_envs=2, scenario="zoo_change", n_requests=600)
    _, vector_info = vector.reset(seed=0)
    assert vector.scenario.name == "zoo_change"
    np.testing.assert_array_equal(vector_info["action_mask"], [[1, 1, 0], [1, 1, 0]])
    plain = gym.make("messenv/MessEnv-v0", n_requests=50)
    plain.reset(seed=0, options={"scenario": "latency_slo"})
    assert plain.unwrapped.scenario.latency == LatencySLO(mean_s=0.5)
    with pytest.raises(ValueError, match=r"unknown scenario 'zoo_chnage'; known: .*zoo_change"):
        gym.make("messenv/MessEnv-v0", scenario="zoo_chnage")


def test_phases_draw_each_phase_from_its_benchmarks_in_order(tiny_recording):
    env, _ = play_single(tiny_recording, PHASES, 0, [0] * 24)
    names = np.asarray(tiny_recording.benchmark_names)[tiny_recording.benchmark_index[env.stream_rows]]
    assert (names[:14] == "alpha_bench").all() and (names[14:] == "beta_bench").all()
    assert len(set(env.stream_rows[:14].tolist())) == 14  # without replacement inside a phase
    assert env.task.sla_window == 5  # a contract term the agent is told, unlike the phases
    assert env.task.n_requests == 24 and env.scenario.marks(24) == [(14, "phase 2")] + [
        (s, "window") for s in (5, 10, 15, 20)
    ]


def test_a_smooth_drift_moves_from_the_start_mix_to_the_end_mix(tiny_recording):
    spec = {"drift": {"start": "alpha_bench", "end": "beta_bench", "n_requests": 400}}
    env = MessEnv(recording=tiny_recording, replace=True, scenario=spec)
    env.reset(seed=0)
    late = tiny_recording.benchmark_index[env.stream_rows] == tiny_recording.benchmark_names.index("beta_bench")
    assert late[:100].mean() < 0.25 and late[-100:].mean() > 0.75 and 0.4 < late.mean() < 0.6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_requests": 10}, "scenario.drift sets n_requests=24; the stream asks for 10"),
        ({"benchmarks": ["alpha_bench"]}, "leave the benchmarks option unset"),
    ],
)
def test_stream_options_that_contradict_the_drift_are_refused(tiny_recording, options, message):
    env = MessEnv(recording=tiny_recording, scenario=PHASES)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        ({"phases": [{"benchmarks": "alpha_bench", "n_requests": 1000}]}, "exceeds the .* requests available"),
        ({"phases": [{"benchmarks": "gamma", "n_requests": 3}]}, r"benchmark\(s\) \['gamma'\] not in recording"),
        ({"phases": [{"benchmarks": [], "n_requests": 3}]}, "must name at least one benchmark"),
        ({"phases": [{"benchmark": "alpha_bench", "n_requests": 3}]}, "each phase is"),
        ({"phases": [{"benchmarks": "alpha_bench", "n_requests": 0}]}, "n_requests must be a positive integer"),
        ({"start": "alpha_bench", "end": "beta_bench"}, "n_requests must be a positive integer"),
        ({"phases": [{"benchmarks": "alpha_bench", "n_requests": 3}], "start": "alpha_bench"}, "either phases, or"),
        ({"start": "alpha_bench", "n_requests": 3}, "drift.end must name at least one benchmark"),
        ({}, "either phases, or start"),
    ],
)
def test_bad_drifts_are_refused_naming_the_field(tiny_recording, drift, message):
    with pytest.raises(ValueError, match=message):
        MessEnv(recording=tiny_recording, scenario={"drift": drift}).reset(seed=0)


def test_the_windowed_sla_summary_is_each_windows_mean_true_quality(tiny_recording):
    actions = np.random.default_rng(3).integers(0, 3, 24)
    env, infos = play_single(tiny_recording, PHASES, 9, actions, feedback_rate=0.5)
    quality = tiny_recording.quality[env.stream_rows, actions]
    expected = [quality[i : i + 5].mean() for i in range(0, 24, 5)]  # the last window holds 4 requests
    summary = infos[-1]["episode_summary"]
    assert summary["window_quality"] == pytest.approx(expected)
    assert summary["worst_window_quality"] == pytest.approx(min(expected))
    assert summary["windows_met_share"] == pytest.approx(np.mean(np.array(expected) >= 0.6))
    assert summary["window_violation"] == pytest.approx(max(0.0, 0.6 - min(expected)))
    assert summary["constraints_met"] == (summary["sla_met"] and min(expected) >= 0.6)


def test_a_bad_window_is_refused():
    with pytest.raises(ValueError, match="scenario.window must be a positive integer"):
        Scenario.parse({"window": 0})


ZOO = {
    "name": "zoo",
    "zoo": {"joins": {"m2": 5}, "leaves": {"m0": 12}, "updates": [{"model": "m1", "step": 8, "source": "m2"}]},
}


def masked_actions(rng, masks):
    """An allowed action per step (and per sub-env) from the masks the env showed."""
    return [int(rng.choice(np.flatnonzero(mask))) for mask in masks]


def test_a_changing_zoo_masks_models_and_silently_updates_a_slot(tiny_recording):
    env = MessEnv(recording=tiny_recording, explore_action=True, n_requests=20, scenario=ZOO)
    obs, info = env.reset(seed=0)
    assert env.observation_space["action_mask"].shape == (4,) and env.observation_space.contains(obs)
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 0, 1])
    rows, masks = env.stream_rows, []
    for t in range(20):
        masks.append(obs["action_mask"])
        action = 1
        obs, reward, _, _, info = env.step(action)
        source = 2 if t >= 8 else 1  # from step 8 the slot of m1 returns m2's outcomes
        assert -reward == tiny_recording.energy_j[rows[t], source]
        assert info["quality"] == tiny_recording.quality[rows[t], source]
        np.testing.assert_array_equal(info["action_mask"], obs["action_mask"])
    expected = [[1, 1, int(t >= 5), 1] for t in range(20)]
    for t in range(12, 20):
        expected[t][0] = 0
    np.testing.assert_array_equal(masks, expected)
    assert env.scenario.marks(20) == [(5, "m2 joins"), (8, "m1 updated"), (12, "m0 leaves")]


def test_the_action_mask_an_agent_sees_is_read_only(tiny_recording):
    """One array serves a step's observation and info: an agent cannot change either, nor the zoo."""
    env = MessEnv(recording=tiny_recording, explore_action=True, n_requests=20, scenario=ZOO)
    obs, info = env.reset(seed=0)
    for mask in (obs["action_mask"], info["action_mask"], *(part["action_mask"] for part in env.step(1)[::4])):
        with pytest.raises(ValueError, match="read-only"):
            mask[2] = 1
    with pytest.raises(ValueError, match="action 2 is masked at step 1"):
        env.step(2)


def test_a_masked_action_is_refused_naming_the_mask(tiny_recording):
    env = MessEnv(recording=tiny_recording, explore_action=True, n_requests=20, scenario=ZOO)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 2 is masked at step 0 .*info\['action_mask'\]"):
        env.step(2)
    envs = MessVectorEnv(2, recording=tiny_recording, explore_action=True, n_requests=20, scenario=ZOO)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="sub-env 1: action 2 is masked at step 0"):
        envs.step(np.array([0, 2]))


def test_explore_queries_only_the_available_models(tiny_recording):
    env = MessEnv(recording=tiny_recording, explore_action=True, n_requests=20, scenario=ZOO)
    env.reset(seed=0)
    row = env.stream_rows[0]
    _, reward, _, _, info = env.step(3)  # step 0: m0, m1 available, m2 not yet
    assert -reward == pytest.approx(tiny_recording.energy_j[row, :2].sum())
    assert info["quality"] == tiny_recording.quality[row, 1]  # the largest AVAILABLE model answers
    assert np.isnan(info["outcomes"]["energy_j"][2]) and np.isnan(info["outcomes"]["quality"][2])
    np.testing.assert_array_equal(info["outcomes"]["quality"][:2], tiny_recording.quality[row, :2])


@pytest.mark.parametrize(
    ("zoo", "message"),
    [
        ({"joins": {"m9": 3}}, r"model\(s\) \['m9'\] not in the zoo"),
        ({"joins": {"m1": 5}, "leaves": {"m1": 5}}, "m1 leaves at step 5, not after it joins"),
        ({"leaves": {"m0": 0, "m1": 0, "m2": 0}}, "no model is available from step 0"),
        ({"joins": {"m1": -1}}, "must be an integer step >= 0"),
        ({"updates": [{"model": "m1", "step": 2}]}, "each update is"),
        ({}, "at least one of joins, leaves, updates"),
    ],
)
def test_bad_zoo_changes_are_refused(tiny_recording, zoo, message):
    with pytest.raises(ValueError, match=message):
        MessEnv(recording=tiny_recording, n_requests=10, scenario={"zoo": zoo}).reset(seed=0)


def test_a_zoo_change_is_set_at_construction_and_not_combined_with_delay(tiny_recording):
    env = MessEnv(recording=tiny_recording, n_requests=10)
    with pytest.raises(ValueError, match="set when the env is made"):
        env.reset(seed=0, options={"scenario": ZOO})
    with pytest.raises(ValueError, match="cannot be combined"):
        Scenario.parse({"zoo": ZOO["zoo"], "delay": {"steps": 1}})


@pytest.mark.parametrize("sampler", ["pcg64", "counter"])
@pytest.mark.parametrize("feedback_rate", [1.0, 0.5])
def test_each_sub_env_replays_the_single_env_zoo(tiny_recording, feedback_rate, sampler):
    n, steps = 3, 20
    kwargs = dict(
        recording=tiny_recording, alpha=0.6, explore_action=True, n_requests=steps, feedback_rate=feedback_rate,
        sampler=sampler,
    )
    envs = MessVectorEnv(n, scenario=ZOO, **kwargs)
    obs, _ = envs.reset(seed=7)
    rng = np.random.default_rng(0)
    actions, infos = [], []
    for _ in range(steps):
        actions.append(masked_actions(rng, obs["action_mask"]))
        obs, _, _, _, info = envs.step(np.array(actions[-1]))
        infos.append(info)
    for i in range(n):
        env = MessEnv(scenario=ZOO, **kwargs)
        single_obs, _ = env.reset(seed=7 + i)
        for t in range(steps):
            single_obs, reward, _, _, info = env.step(actions[t][i])
            assert -reward == infos[t]["energy_j"][i]
            np.testing.assert_array_equal(info["action_mask"], infos[t]["action_mask"][i])
            if info["explored"]:
                for key in ("energy_j", "latency_s"):
                    np.testing.assert_array_equal(info["outcomes"][key], infos[t]["outcomes"][key][i])
                if info["outcomes"]["quality"] is not None:
                    np.testing.assert_array_equal(info["outcomes"]["quality"], infos[t]["outcomes"]["quality"][i])
        assert info["episode_summary"]["mean_quality"] == pytest.approx(infos[-1]["episode_summary"]["mean_quality"][i])


@pytest.mark.parametrize("spec", SCENARIOS + [ZOO], ids=lambda s: s["name"])
def test_same_seed_same_trajectory(tiny_recording, spec):
    actions = [1] * 24  # model 1 is available throughout every scenario here

    def play():
        env, infos = play_single(tiny_recording, spec, 11, actions, feedback_rate=0.7)
        return env.stream_rows.tolist(), [repr(sorted(info.items())) for info in infos]

    assert play() == play()
