"""`hwnas.gym`: a Gymnasium environment over a study. It passes Gymnasium's own checker,
every step lands in the study's ledger (a repeated action answered from it), a run
directory resumes with its trials, and agents (random, and `reinforce` through its
ask/tell) drive it on NB201 x Pixel 3 latency into a run `hwnas show` reads."""

from __future__ import annotations

import numpy as np
import pytest

import hwnas

gymnasium = pytest.importorskip("gymnasium")

from hwnas.gym import ENV_ID, HwnasEnv, run_strategy

TWO = ["accuracy:max", "latency@pixel3:min"]


def test_passes_gymnasiums_env_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    env = HwnasEnv(objectives=TWO, budget=20)
    check_env(env, skip_render_check=True)
    assert env.action_space.nvec.tolist() == [5] * 6
    assert env.observation_names == ["accuracy", "latency@pixel3", "feasible", "failed"]


def test_a_step_is_a_trial_and_a_repeat_is_answered_from_the_ledger() -> None:
    env = HwnasEnv(objectives=TWO, constraints=["latency@pixel3<=10"], budget=10)
    obs, info = env.reset(seed=0)
    assert not obs.any() and info == {}
    fast = env.space.parse("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    slow = env.space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert env.study.evaluate([slow])[0].value("latency@pixel3") > 10
    obs, reward, terminated, truncated, info = env.step(np.array(fast.genes))
    assert terminated and not truncated and info["feasible"] and info["status"] == "ok"
    assert obs.tolist() == [info["metrics"]["accuracy"], info["metrics"]["latency@pixel3"], 1, 0]
    assert set(info["provenance"]) == {"accuracy", "latency@pixel3"} and -1 <= reward <= 0
    recorded = len(env.study.ledger)
    obs, reward, *_, info = env.step(np.array(slow.genes))  # evaluated above: no new trial
    assert len(env.study.ledger) == recorded and info["status"] == "infeasible"
    assert reward == -1.0 and obs[-2:].tolist() == [0.0, 0.0]


def test_episode_length_budget_and_a_reward_callable() -> None:
    env = HwnasEnv(
        objectives=["accuracy:max"], budget=3, episode_length=2,
        reward=lambda e: e.value("accuracy") / 100,
    )  # fmt: skip
    env.reset(seed=0)
    actions = [np.array(a.genes) for a in list(env.space.enumerate())[:4]]
    _, reward, terminated, _, info = env.step(actions[0])
    assert not terminated and reward == pytest.approx(info["metrics"]["accuracy"] / 100)
    assert env.step(actions[1])[2]  # the second step ends the episode
    env.reset()
    env.step(actions[2])
    _, reward, terminated, truncated, info = env.step(actions[3])  # a fourth: over budget
    assert truncated and not terminated and reward == -1.0 and info["budget_spent"]
    assert env.step(actions[0])[4]["trial"] == 0  # recorded ones are still answered


def test_a_run_directory_resumes_with_its_trials(tmp_path) -> None:
    run = tmp_path / "run"
    env = HwnasEnv(objectives=TWO, out=run, budget=5)
    env.reset(seed=0)
    first = [env.step(env.action_space.sample())[4]["arch"] for _ in range(3)]
    env.close()
    env.close()  # idempotent
    again = HwnasEnv(objectives=TWO, out=run, budget=10)
    assert [e.arch for e in again.study.results().rows] == list(dict.fromkeys(first))
    with pytest.raises(hwnas.ConfigConflictError, match="different configuration"):
        HwnasEnv(objectives=["accuracy:max"], out=run)
    # a Study given as `out` is driven as it is configured
    study = hwnas.Study(objectives=TWO, budget=4)
    assert HwnasEnv(out=study).study is study
    with pytest.raises(hwnas.SpecError, match="drop objectives"):
        HwnasEnv(objectives=TWO, out=study)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"episode_length": 0}, "episode_length must be an integer >= 1"),
        ({"reward": "product"}, "reward must be 'weighted' or a callable"),
        ({"weights": [1, 2, 3]}, "weights must be 2 finite non-negative numbers"),
        ({"objectives": ["accuracy:up"]}, "expected METRIC:min or METRIC:max"),
    ],
)
def test_bad_arguments_are_hwnas_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(hwnas.HwnasError, match=message):
        HwnasEnv(**{"objectives": TWO, **kwargs})


def test_an_action_outside_the_space_is_refused() -> None:
    env = HwnasEnv(objectives=TWO, budget=2)
    env.reset()
    with pytest.raises(hwnas.SpecError, match="is not in MultiDiscrete"):
        env.step(np.array([5, 0, 0, 0, 0, 0]))
    with pytest.raises(hwnas.SpecError, match="not a vector of gene indices"):
        env.step(["a", "b"])


def test_registered_with_gymnasium() -> None:
    env = gymnasium.make(ENV_ID, objectives=["accuracy:max"], budget=2)
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step(env.action_space.sample())
    assert terminated and info["trial"] == 0 and obs.shape == (3,)


def test_random_and_reinforce_agents_land_in_the_ledger(tmp_path, cli) -> None:
    runs = {}
    for agent in ("random", "reinforce"):
        env = HwnasEnv(objectives=TWO, out=tmp_path / agent, budget=60)
        if agent == "random":
            env.reset(seed=0)
            env.action_space.seed(0)
            rewards = [env.step(env.action_space.sample())[1] for _ in range(60)]
            assert len(rewards) == 60
        else:
            strategy = run_strategy(env, "reinforce", steps=60, seed=0)
            assert len(strategy.trials) == 60
        env.close()
        runs[agent] = hwnas.load_results(tmp_path / agent)
        result = cli("show", str(tmp_path / agent))
        assert result.returncode == 0, result.stderr
    assert len(runs["reinforce"]) == 60  # the strategy never asks twice
    assert 50 <= len(runs["random"]) <= 60  # random actions may repeat: no new trial then
    assert not runs["reinforce"].pareto_front().empty


def test_an_invalid_architecture_is_a_failed_step_with_the_spaces_reason() -> None:
    pytest.importorskip("torch")
    env = HwnasEnv(space="nb201+accel", objectives=["accuracy:max", "accel_area:min"], budget=2)
    env.reset(seed=0)
    # every NB201 network's 64x64x3x3 weights overflow a 32x32 array's 32 KB buffer (ws)
    obs, reward, *_, info = env.step(np.array([0] * 6 + [3, 0, 0, 0, 0]))
    assert info["status"] == "failed" and not info["feasible"] and reward == -1.0
    assert "1x64x64x9 at 8 bits" in info["error"] and len(env.study.ledger) == 0
    assert obs[-1] == 1.0  # the failed flag
