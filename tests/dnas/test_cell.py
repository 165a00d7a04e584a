"""PC-DARTS on the NB201 cell: the partial-channel edge, the search network's shapes, and a
run that derives a cell NB201's table scores, with or without a cost goal."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwnas
from hwnas.spaces import get_space

torch = pytest.importorskip("torch")

from hwnas.dnas import SearchSettings, parse_goals, run_dnas
from hwnas.dnas._cell import CellSupernet, PartialEdge, channel_shuffle
from hwnas.spaces.nb201 import EDGES, OPS

TINY = SearchSettings(epochs=1, cells=1, batch_size=32, arch_lr=0.1, warmup=0.0)


def test_a_whole_channel_edge_is_the_weighted_sum_of_its_ops() -> None:
    torch.manual_seed(0)
    edge = PartialEdge(OPS, 8, partial=1).eval()
    x = torch.randn(2, 8, 6, 6)
    weights = torch.softmax(torch.randn(len(OPS)), 0)
    expected = sum(w * op(x) for w, op in zip(weights, edge.ops))
    torch.testing.assert_close(edge(x, weights), expected)


def test_partial_channels_bypass_the_ops_and_are_shuffled() -> None:
    edge = PartialEdge(OPS, 8, partial=4).eval()
    x = torch.randn(1, 8, 4, 4)
    only_none = torch.zeros(len(OPS))
    only_none[OPS.index("none")] = 1.0
    out = edge(x, only_none)  # the 2 channels through the ops are zero, 6 pass untouched
    bypass = channel_shuffle(torch.cat([torch.zeros(1, 2, 4, 4), x[:, 2:]], 1), 4)
    torch.testing.assert_close(out, bypass)


def test_search_network_shapes_and_parameter_split() -> None:
    net = CellSupernet(EDGES, OPS, classes=10, channels=16, cells=1, partial=4)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert net.alpha.shape == (6, 5) and [b.numel() for b in net.beta] == [1, 2, 3]
    arch = {id(p) for p in net.arch_parameters()}
    assert not arch & {id(p) for p in net.weight_parameters()}


def test_accuracy_only_search_lands_in_a_run_with_table_accuracy(tmp_path: Path) -> None:
    results = run_dnas(
        "pc-darts", [], space="nb201", dataset="cifar10", data="digits", images=100,
        settings=TINY, out_dir=tmp_path,
    )  # fmt: skip
    frame = results.evaluations()
    assert list(results.config.objectives) == ["accuracy:max"]
    assert set(frame["status"]) == {"ok"} and (frame["accuracy"] > 0).all()
    origins = "; ".join(frame["origin"])
    assert "derived by pc-darts DNAS, accuracy only, argmax, seed 0" in origins
    assert "argmax+none" in origins  # NB201's convention, evaluated beside DARTS's
    darts = get_space("nb201").parse(frame["arch"][frame["origin"].str.contains("argmax,")].iloc[0])
    assert "none" not in darts.key


def test_a_cost_goal_on_an_additive_table_is_met_by_the_budget_cell(tmp_path: Path) -> None:
    run_dnas(
        "pc-darts", parse_goals(["latency@fpga=3"], []), space="nb201", dataset="cifar10",
        data="digits", images=100, settings=TINY, out_dir=tmp_path,
    )  # fmt: skip
    import json

    found = json.loads((tmp_path / "dnas" / "goal-0.json").read_text())
    assert found["cost"]["budget"] <= 3.0
    assert found["table"]["additive_residual"] < 1e-9


def test_methods_are_checked_against_the_space() -> None:
    with pytest.raises(hwnas.UnknownNameError, match="pc-darts"):
        run_dnas("fbnet", [], space="nb201", dataset="cifar10")
    with pytest.raises(hwnas.UnknownNameError, match="fbnet, proxyless"):
        run_dnas("pc-darts", [], space="fbnet", dataset="digits")
    with pytest.raises(hwnas.SpecError, match="at least one"):
        run_dnas("proxyless", [], dataset="digits")
