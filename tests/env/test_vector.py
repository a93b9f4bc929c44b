"""MessVectorEnv: equivalence with single envs, batching, autoreset, make_vec, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import messenv  # noqa: F401  (registers messenv/MessEnv-v0)
from messenv.env import MessEnv
from messenv.env.vector import MessVectorEnv
from tests.factories import make_recording


def test_the_vector_env_is_exported_by_the_env_package():
    import messenv.env

    assert messenv.env.MessVectorEnv is MessVectorEnv and "MessVectorEnv" in messenv.env.__all__


def test_make_vec_uses_the_native_vector_env(tiny_recording):
    envs = gym.make_vec("messenv/MessEnv-v0", num_envs=3, recording=tiny_recording, alpha=0.5)
    assert isinstance(envs, MessVectorEnv) and envs.num_envs == 3


@pytest.mark.parametrize("sampler", ["pcg64", "counter"])
@pytest.mark.parametrize("feedback_rate", [1.0, 0.4])
def test_each_sub_env_replays_the_single_env_with_seed_plus_index(tiny_recording, feedback_rate, sampler):
    n, steps = 4, 20
    actions = np.random.default_rng(5).integers(0, 4, (steps, n))
    settings = dict(explore_action=True, n_requests=steps, feedback_rate=feedback_rate, sampler=sampler)
    envs = MessVectorEnv(n, recording=tiny_recording, alpha=0.6, **settings)
    obs, _ = envs.reset(seed=100)
    batched = [obs]
    rewards, infos = [], []
    for t in range(steps):
        obs, reward, terminated, _, info = envs.step(actions[t])
        batched.append(obs)
        rewards.append(reward)
        infos.append(info)
    assert terminated.all()
    for i in range(n):
        env = MessEnv(recording=tiny_recording, alpha=0.6, **settings)
        single_obs, _ = env.reset(seed=100 + i)
        assert single_obs["prompt"] == batched[0]["prompt"][i]
        np.testing.assert_array_equal(single_obs["features"], batched[0]["features"][i])
        for t in range(steps):
            single_obs, reward, _, _, info = env.step(int(actions[t, i]))
            assert reward == rewards[t][i]
            assert info["feedback"] == infos[t]["feedback"][i]
            if info["quality"] is None:
                assert np.isnan(infos[t]["quality"][i]) and not infos[t]["_quality"][i]
                assert info["cost"] is None and np.isnan(infos[t]["cost"][i]) and not infos[t]["_cost"][i]
            else:
                assert info["quality"] == infos[t]["quality"][i]
                assert info["cost"] == infos[t]["cost"][i]  # Safety-Gymnasium's cost, as the single env's
            if info["explored"] and info["outcomes"]["quality"] is not None:
                np.testing.assert_array_equal(info["outcomes"]["quality"], infos[t]["outcomes"]["quality"][i])
            assert info["running_quality"] == pytest.approx(infos[t]["running_quality"][i])
        vector_summary = infos[-1]["episode_summary"]
        assert vector_summary["models"][i].tolist() == info["episode_summary"]["models"]
        for key, value in info["episode_summary"].items():
            if key != "models":
                np.testing.assert_allclose(value, vector_summary[key][i], err_msg=key)


def test_observation_keys_drop_unread_observations(tiny_recording):
    envs = MessVectorEnv(5, recording=tiny_recording, observation_keys=("benchmark", "step"))
    obs, _ = envs.reset(seed=0)
    assert set(obs) == {"benchmark", "step"} and obs["benchmark"].shape == (5,)
    assert envs.observation_space.contains(obs)
    with pytest.raises(ValueError, match="unknown observation key"):
        MessVectorEnv(2, recording=tiny_recording, observation_keys=("prompts",))


def test_full_observations_are_in_the_batched_space(tiny_recording):
    envs = MessVectorEnv(3, recording=tiny_recording, explore_action=True)
    obs, _ = envs.reset(seed=1)
    assert envs.observation_space.contains(obs)
    obs, *_ = envs.step(np.array([0, 1, 3]))
    assert envs.observation_space.contains(obs)


def test_next_step_autoreset_after_the_last_request(tiny_recording):
    envs = MessVectorEnv(2, recording=tiny_recording, n_requests=3)
    envs.reset(seed=0)
    for _ in range(3):
        _, _, terminated, _, info = envs.step(np.zeros(2, dtype=np.int64))
    assert terminated.all() and info["_episode_summary"].all()
    obs, reward, terminated, truncated, info = envs.step(np.zeros(2, dtype=np.int64))
    assert not terminated.any() and not truncated.any() and (reward == 0).all() and info == {}
    assert (obs["step"] == 0).all()


def test_same_seed_same_batch(tiny_recording):
    def run() -> np.ndarray:
        envs = MessVectorEnv(3, recording=tiny_recording, n_requests=10, replace=True)
        envs.reset(seed=9)
        return np.array([envs.step(np.ones(3, dtype=np.int64))[1] for _ in range(10)])

    np.testing.assert_array_equal(run(), run())


@pytest.mark.parametrize("bad", [np.array([0, 5]), np.array([0]), np.array([0.0, 1.0]), np.array([-1, 0])])
def test_invalid_actions_fail_clearly(tiny_recording, bad):
    envs = MessVectorEnv(2, recording=tiny_recording)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="invalid actions"):
        envs.step(bad)


def test_explicit_seed_list_must_match_num_envs(tiny_recording):
    envs = MessVectorEnv(2, recording=tiny_recording)
    envs.reset(seed=[3, 4])
    with pytest.raises(ValueError, match="2 sub-envs"):
        envs.reset(seed=[1, 2, 3])


def test_a_refused_reset_does_not_reseed_the_sub_envs(tiny_recording):
    untouched = MessVectorEnv(2, recording=tiny_recording)
    untouched.reset(seed=0)
    untouched.reset()
    refused = MessVectorEnv(2, recording=tiny_recording)
    refused.reset(seed=0)
    with pytest.raises(ValueError, match="exceeds"):
        refused.reset(seed=5, options={"n_requests": 10_000})
    refused.reset()
    np.testing.assert_array_equal(refused.stream_rows, untouched.stream_rows)


def test_gymnasiums_vector_record_episode_statistics_wraps_the_vector_env(tiny_recording):
    envs = gym.wrappers.vector.RecordEpisodeStatistics(
        MessVectorEnv(3, recording=tiny_recording, alpha=0.5, n_requests=5)
    )
    envs.reset(seed=0)
    for _ in range(5):
        *_, terminated, _, info = envs.step(np.zeros(3, dtype=np.int64))
    assert terminated.all() and list(info["episode"]["l"]) == [5, 5, 5]
    assert "episode_summary" in info


def test_the_batched_prompt_space_shares_one_text_space(tiny_recording):
    """65,536 deep copies of a recording's Text space took 22 s; one shared instance holds every prompt."""
    envs = MessVectorEnv(4, recording=tiny_recording)
    prompt = envs.observation_space["prompt"]
    assert len(prompt) == 4 and all(space is envs.single_observation_space["prompt"] for space in prompt)
    obs, _ = envs.reset(seed=0)
    assert prompt.contains(obs["prompt"])


def test_action_counts_of_the_vector_env_match_per_sub_env_counts(tiny_recording):
    envs = MessVectorEnv(3, recording=tiny_recording, alpha=0.5, explore_action=True, n_requests=6)
    envs.reset(seed=2)
    actions = np.array([[0, 1, 3], [0, 0, 3], [2, 1, 1], [0, 3, 3], [1, 1, 1], [0, 2, 3]])
    for step_actions in actions:
        *_, info = envs.step(step_actions)
    counts = np.stack([np.bincount(actions[:, i], minlength=4) for i in range(3)])
    np.testing.assert_allclose(info["episode_summary"]["model_share"], counts[:, :3] / 6)
    np.testing.assert_allclose(info["episode_summary"]["exploration_share"], counts[:, 3] / 6)


@pytest.mark.parametrize("replace", [False, True])
def test_streams_drawn_in_blocks_are_the_single_envs_streams(tiny_recording, monkeypatch, replace):
    """Streams are drawn a block of sub-envs at a time: every block lands in its own columns."""
    import messenv.env.vector as vector

    monkeypatch.setattr(vector, "_DRAW_BLOCK", 2)
    envs = MessVectorEnv(5, recording=tiny_recording, n_requests=8, replace=replace, feedback_rate=0.5)
    envs.reset(seed=7)
    envs.reset()  # the second stream of each generator, as the single env's next reset
    for i in range(5):
        env = MessEnv(recording=tiny_recording, n_requests=8, replace=replace, feedback_rate=0.5)
        env.reset(seed=7 + i)
        env.reset()
        np.testing.assert_array_equal(envs.stream_rows[:, i], env.stream_rows)
        np.testing.assert_array_equal(envs._feedback[:, i], np.asarray(env._feedback))


@pytest.mark.parametrize(("n_recorded", "row_dtype"), [(250, np.uint8), (30_000, np.uint16)])
@pytest.mark.parametrize("action_dtype", [np.int64, np.uint8, np.uint64])
def test_narrow_stream_rows_index_the_right_outcomes(n_recorded, row_dtype, action_dtype):
    """Rows are stored in the smallest unsigned type that holds the recording's rows; row * A +
    action would wrap in that type (249 * 3 > 255, 29,999 * 3 > 65,535), so the step widens it."""
    recording = make_recording(n=n_recorded)
    envs = MessVectorEnv(16, recording=recording, n_requests=40, replace=True)
    envs.reset(seed=1)
    rows = envs.stream_rows
    assert rows.dtype == row_dtype and int(rows.max()) * 3 > np.iinfo(row_dtype).max
    actions = (np.arange(16) % 3).astype(action_dtype)
    for t in range(40):
        _, reward, _, _, info = envs.step(actions)
        np.testing.assert_array_equal(reward, -recording.energy_j[rows[t], actions])
        np.testing.assert_array_equal(info["quality"], recording.quality[rows[t], actions])


@pytest.mark.parametrize("feedback_rate", [1.0, 0.5])
def test_info_feedback_is_the_callers_own_array(tiny_recording, feedback_rate):
    """A caller writing into ``info["feedback"]`` changes nothing the env plays next (with every
    quality revealed the env keeps no mask per step, only one shared True)."""

    def make() -> MessVectorEnv:
        envs = MessVectorEnv(3, recording=tiny_recording, n_requests=10, feedback_rate=feedback_rate)
        envs.reset(seed=4)
        return envs

    scribbled, clean = make(), make()
    actions = np.ones(3, dtype=np.int64)
    for _ in range(10):
        *_, info = scribbled.step(actions)
        *_, expected = clean.step(actions)
        np.testing.assert_array_equal(info["feedback"], expected["feedback"])
        np.testing.assert_array_equal(info["quality"], expected["quality"])
        info["feedback"][:] = ~info["feedback"]
    np.testing.assert_array_equal(
        info["episode_summary"]["feedback_share"], expected["episode_summary"]["feedback_share"]
    )


def test_gymnasiums_dict_info_to_list_splits_every_step_and_the_episode_summary(tiny_recording):
    from gymnasium.wrappers.vector import DictInfoToList

    envs = DictInfoToList(MessVectorEnv(3, recording=tiny_recording, n_requests=4, explore_action=True))
    envs.reset(seed=0)
    for _ in range(4):
        _, _, terminated, _, infos = envs.step(np.full(3, 3))
    assert terminated.all() and len(infos) == 3
    assert infos[1]["episode_summary"]["alpha"] == envs.unwrapped.alpha
    assert infos[2]["episode_summary"]["models"].tolist() == list(tiny_recording.models)
    assert infos[0]["episode_summary"]["exploration_share"] == 1.0


def test_a_numpy_integer_seeds_the_sub_envs_like_an_int(tiny_recording):
    envs = MessVectorEnv(2, recording=tiny_recording, n_requests=5)
    envs.reset(seed=np.int64(4))
    rows = envs.stream_rows.copy()
    envs.reset(seed=4)
    np.testing.assert_array_equal(envs.stream_rows, rows)
    with pytest.raises(ValueError, match="seed must be an int or a sequence of 2 ints, got True"):
        envs.reset(seed=True)


def test_make_vec_max_episode_steps_truncates_like_time_limit(tiny_recording):
    envs = gym.make_vec("messenv/MessEnv-v0", num_envs=3, max_episode_steps=4, recording=tiny_recording, n_requests=10)
    envs.reset(seed=0)
    for step in range(4):
        _, _, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
        assert not terminated.any() and truncated.all() == (step == 3)
    assert (info["episode_summary"]["n_requests"] == 4).all() and info["_episode_summary"].all()
    single = gym.make("messenv/MessEnv-v0", recording=tiny_recording, n_requests=10, max_episode_steps=4)
    single.reset(seed=1)
    for _ in range(4):
        single.step(0)
    assert single.unwrapped.summary()["total_energy_j"] == pytest.approx(info["episode_summary"]["total_energy_j"][1])
    obs, reward, terminated, truncated, _ = envs.step(np.zeros(3, dtype=np.int64))  # the autoreset step
    assert (reward == 0).all() and (obs["step"] == 0).all()
    for bad in (0, True, 2.5):
        with pytest.raises(ValueError, match="max_episode_steps must be a positive int"):
            MessVectorEnv(2, recording=tiny_recording, max_episode_steps=bad)
    assert MessVectorEnv(2, recording=tiny_recording, max_episode_steps=np.int64(3)).max_episode_steps == 3


def test_a_render_mode_is_refused_in_one_line_that_names_sync_mode(tiny_recording):
    """``gym.make_vec(..., render_mode="ansi")`` failed with "unexpected keyword argument 'render_mode'"."""
    with pytest.raises(ValueError, match=r"render_mode='ansi': MessVectorEnv renders nothing; .*mode='sync'"):
        gym.make_vec("messenv/MessEnv-v0", num_envs=2, recording=tiny_recording, render_mode="ansi")
    synced = gym.make_vec(
        "messenv/MessEnv-v0", num_envs=2, recording=tiny_recording, render_mode="ansi", vectorization_mode="sync"
    )
    synced.reset(seed=0)
    assert all(text.startswith("request 0/") for text in synced.render())
