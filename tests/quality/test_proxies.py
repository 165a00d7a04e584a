"""Zero-cost proxies on tiny NB201 networks (C=4, one cell per stage) fed 8x8 digits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwnas.errors import UnknownNameError
from hwnas.quality.proxies import list_proxies, model_proxies, proxy_batch, resolve_names

torch = pytest.importorskip("torch")

from hwnas.models.nb201 import TinyNetwork
from hwnas.spaces.nb201 import cell

SHAPE = (3, 8, 8)
CONV = [3, 3, 3, 3, 3, 3]  # every edge a 3x3 conv
MIXED = [1, 2, 4, 0, 3, 1]
NONE = [0, 0, 0, 0, 0, 0]  # no path from input to output


def _tiny(ops: list[int]) -> TinyNetwork:
    return TinyNetwork(cell(ops), num_classes=10, C=4, N=1)


@pytest.fixture(scope="module")
def batch():  # type: ignore[no-untyped-def]
    return proxy_batch("digits", SHAPE, batch_size=16, seed=0)


@pytest.fixture(scope="module")
def scores(batch):  # type: ignore[no-untyped-def]
    return {
        name: model_proxies(lambda ops=ops: _tiny(ops), list_proxies(), batch, SHAPE, seed=0)
        for name, ops in (("conv", CONV), ("mixed", MIXED), ("none", NONE))
    }


def test_every_proxy_is_finite_on_live_networks(scores) -> None:  # type: ignore[no-untyped-def]
    for net in ("conv", "mixed"):
        assert set(scores[net]) == set(list_proxies())
        for proxy, value in scores[net].items():
            assert math.isfinite(value), (net, proxy, value)


def test_conv_cell_outranks_the_all_none_cell(scores) -> None:  # type: ignore[no-untyped-def]
    conv, none = scores["conv"], scores["none"]
    for proxy in ("synflow", "nwot", "jacov", "snip", "grad_norm", "params", "flops"):
        assert conv[proxy] > none[proxy], proxy
    assert none["synflow"] == 0.0 and none["snip"] == 0.0  # no signal reaches the cells


def test_scores_are_reproducible_and_depend_on_the_seed(batch) -> None:  # type: ignore[no-untyped-def]
    names = ["synflow", "snip", "nwot"]
    a = model_proxies(lambda: _tiny(MIXED), names, batch, SHAPE, seed=1)
    b = model_proxies(lambda: _tiny(MIXED), names, batch, SHAPE, seed=1)
    c = model_proxies(lambda: _tiny(MIXED), names, batch, SHAPE, seed=2)
    assert a == b
    assert a["snip"] != c["snip"]


def test_data_free_proxies_need_no_batch() -> None:
    out = model_proxies(lambda: _tiny(CONV), ["synflow", "params", "flops"], None, SHAPE)
    assert out["params"] == pytest.approx(sum(p.numel() for p in _tiny(CONV).parameters()) / 1e6)
    with pytest.raises(ValueError, match="needs a batch"):
        model_proxies(lambda: _tiny(CONV), ["snip"], None, SHAPE)


def test_batch_records_the_images_used() -> None:
    b = proxy_batch("digits", (3, 32, 32), batch_size=8, seed=3)
    assert tuple(b.x.shape) == (8, 3, 32, 32) and b.y.dtype == torch.int64
    assert b.provenance["dataset"] == "digits" and "seed 3" in b.provenance["images"]
    assert np.isfinite(b.x.numpy()).all()


def test_names_resolve_all_lists_and_unknowns() -> None:
    assert resolve_names(["all"]) == list_proxies()
    assert resolve_names(["synflow,nwot", "synflow"]) == ["synflow", "nwot"]
    with pytest.raises(UnknownNameError, match="synflow"):
        resolve_names(["zenscore"])


def test_the_networks_follow_the_named_datas_classes(three_classes: str) -> None:
    from hwnas.quality.proxies import score_archs
    from hwnas.spaces import get_space

    space = get_space("nb201")
    arch = space.parse("6111")
    rows, prov = score_archs(space, [arch], "cifar10", ["params"], data=three_classes)
    assert prov["classes"] == 3
    three = sum(p.numel() for p in space.build(arch, "cifar10", 3).parameters()) / 1e6
    assert rows[0]["params"] == pytest.approx(three)
    # the default images stand in for the network's dataset: its classes stay
    _, default = score_archs(space, [arch], "cifar100", ["params"])
    assert default["classes"] == 100
