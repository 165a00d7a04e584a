"""Differentiable search (FBNet DNAS, ProxylessNAS) on the fbnet space with scikit-learn's
8x8 digits, small enough for CI: the per-layer table is HW-NAS-Bench's exactly, the latency
term moves the distribution toward the target, and a run lands in a run directory that
`load_results` reads, with each architecture's origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hwnas
from hwnas.sources import Measurement, MetricSource
from hwnas.spaces import get_space

torch = pytest.importorskip("torch")

from hwnas.dnas import SearchSettings, parse_goals, run_dnas
from hwnas.dnas._costs import layer_costs
from hwnas.tabular.fbnet import FBNetLatencySource, latency_ms, layer_table

SMALL = SearchSettings(epochs=1, width=0.25, batch_size=32, arch_lr=0.5, warmup=0.0)


def test_layer_costs_of_the_fbnet_table_are_exact() -> None:
    space = get_space("fbnet")
    table = layer_costs(space, FBNetLatencySource("eyeriss", "latency@eyeriss"), "latency@eyeriss")
    base, delta = layer_table("eyeriss")
    assert table.base == pytest.approx(base)
    np.testing.assert_allclose(table.delta, delta, atol=1e-9)
    assert table.residual < 1e-9
    arch = space.sample(np.random.default_rng(3))
    assert table.of(arch.genes) == pytest.approx(latency_ms("eyeriss", arch.genes))


class Synthetic(MetricSource):
    """A cheap metric of the genes: additive, or with one interaction between two layers."""

    def __init__(self, interaction: float) -> None:
        self.metric = "synthetic"
        self.interaction = interaction

    def evaluate_one(self, arch: Any) -> Measurement:
        g = arch.genes
        return Measurement(10.0 + sum(g) + self.interaction * g[0] * g[1], {"kind": "test"})


def test_a_metric_that_is_not_additive_shows_its_residual_and_is_refused() -> None:
    space = get_space("fbnet")
    assert layer_costs(space, Synthetic(0.0), "synthetic").residual < 1e-12
    table = layer_costs(space, Synthetic(3.0), "synthetic")
    assert table.residual > 0.05
    from hwnas.dnas import _check_goal

    with pytest.raises(hwnas.SpecError, match="not additive over layers"):
        _check_goal(parse_goals(["synthetic=40"], [])[0], table, "fbnet")


@pytest.mark.parametrize(("method", "images"), [("fbnet", 120), ("proxyless", 200)])
def test_a_low_target_moves_the_expected_latency_down(
    method: str, images: int, tmp_path: Path
) -> None:
    """A few steps only (FBNet runs all 198 blocks per step): a large alpha learning rate."""
    results = run_dnas(
        method, parse_goals(["latency@pixel3=4"], []), dataset="digits", images=images,
        settings=SMALL, out_dir=tmp_path,
    )  # fmt: skip
    found = json.loads((tmp_path / "dnas" / "goal-0.json").read_text())
    uniform = layer_costs(get_space("fbnet"), FBNetLatencySource("pixel3", "l"), "l")
    start = uniform.base + uniform.delta.mean(axis=1).sum()
    assert found["expected_cost"] < start - 1.0
    assert found["cost"]["budget"] <= 4.0
    frame = results.evaluations()
    assert set(frame["status"]) == {"ok"}
    assert frame["origin"].str.contains(f"derived by {method} DNAS, latency@pixel3=4").all()
    assert len(frame) == len({tuple(found["derived"][k]) for k in ("argmax", "budget")})
    assert hwnas.load_results(tmp_path).origins  # read back from the run directory


def test_rerun_reuses_finished_goals_and_refuses_other_settings(tmp_path: Path) -> None:
    goals = parse_goals(["latency@fpga=8"], [])
    settings = SearchSettings(epochs=1, width=0.25, batch_size=32)
    run_dnas("proxyless", goals, dataset="digits", images=200, settings=settings, out_dir=tmp_path)
    path = tmp_path / "dnas" / "goal-0.json"
    stamp = json.loads(path.read_text())["finished"]
    again = run_dnas(
        "proxyless", goals, dataset="digits", images=200, settings=settings, out_dir=tmp_path
    )
    assert json.loads(path.read_text())["finished"] == stamp
    assert len(again) >= 1
    with pytest.raises(hwnas.ConfigConflictError, match="other settings"):
        run_dnas(
            "proxyless", goals, dataset="digits", images=300, settings=settings, out_dir=tmp_path
        )


@pytest.mark.parametrize(
    ("targets", "tradeoffs", "message"),
    [
        (["latency@pixel3"], [], "expected METRIC=VALUE"),
        (["latency@pixel3=fast"], [], "is not a number"),
        (["latency@pixel3=-1"], [], "positive"),
    ],
)
def test_malformed_goals_say_what_is_wrong(
    targets: list[str], tradeoffs: list[str], message: str
) -> None:
    with pytest.raises(hwnas.SpecError, match=message):
        parse_goals(targets, tradeoffs)


def test_unreachable_target_and_unknown_names_are_refused() -> None:
    goals = parse_goals(["latency@pixel3=1"], [])
    with pytest.raises(hwnas.SpecError, match="the cheapest architecture costs 2.839"):
        run_dnas("fbnet", goals, dataset="digits")
    with pytest.raises(hwnas.UnknownNameError, match="proxyless"):
        run_dnas("darts", goals, dataset="digits")
    with pytest.raises(hwnas.UnknownNameError, match="fbnet"):
        run_dnas("fbnet", goals, space="nb201", dataset="cifar10")
    with pytest.raises(hwnas.HwnasError, match="not a cheap metric"):
        run_dnas("fbnet", parse_goals(["latency@local-cpu=3"], []), dataset="digits")


def test_the_entropy_term_is_the_mean_layer_entropy_and_must_not_be_negative() -> None:
    import math

    from hwnas.dnas._search import _entropy

    assert float(_entropy(torch.zeros(22, 9))) == pytest.approx(math.log(9))
    peaked = torch.full((22, 9), -30.0)
    peaked[:, 0] = 0.0
    assert float(_entropy(peaked)) < 1e-9
    with pytest.raises(hwnas.SpecError, match="entropy must be at least 0"):
        SearchSettings(entropy=-1.0)


def test_committing_makes_the_distribution_more_peaked(tmp_path: Path) -> None:
    goals = parse_goals(["latency@pixel3=10"], [])
    tops = []
    for entropy in (0.0, 50.0):
        settings = SearchSettings(
            epochs=4, width=0.25, batch_size=32, arch_lr=0.3, warmup=0.0, entropy=entropy
        )
        run_dnas(
            "proxyless", goals, dataset="digits", images=150, settings=settings,
            out_dir=tmp_path / str(entropy),
        )  # fmt: skip
        found = json.loads((tmp_path / str(entropy) / "dnas" / "goal-0.json").read_text())
        tops.append(np.mean(np.max(found["probabilities"], axis=1)))
    assert tops[1] > tops[0] + 0.05
