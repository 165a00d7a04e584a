"""Sub-spaces: a restricted space samples, mutates, recombines and enumerates only inside
the restriction, keeps its parent's name and keys, and a study on it stays inside."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwnas.errors import SpecError
from hwnas.spaces import get_space, parse_restrict, restrict_space
from hwnas.testing import check_space

NB201_SUB = {"edge_*": ["nor_conv_3x3", "skip_connect", "none"]}


def _inside_nb201(key: str) -> bool:
    return "avg_pool" not in key and "conv_1x1" not in key


def test_nb201_subspace_stays_inside():
    space = restrict_space(get_space("nb201"), NB201_SUB)
    assert space.name == "nb201" and isinstance(space, type(get_space("nb201")))
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(50)]
    assert all(_inside_nb201(a.key) for a in archs)
    children = [space.mutate(a, rng) for a in archs] + [
        space.crossover(a, b, rng) for a, b in itertools.pairwise(archs)
    ]
    assert all(_inside_nb201(a.key) for a in children)
    assert all(_inside_nb201(n.key) for n in space.neighbours(archs[0]))
    every = list(space.enumerate())
    assert len(every) == 3**6 and all(_inside_nb201(a.key) for a in every)
    outside = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    with pytest.raises(SpecError):
        space.parse(outside)
    get_space("nb201").parse(outside)  # the shared instance is not restricted


def test_mbv3_subspace_ignores_genes_of_missing_blocks():
    """Blocks beyond a stage's depth canonicalise to choice 0 (kernel 3); a restriction to
    kernel 5 must still accept those networks and mutate them."""
    space = restrict_space(get_space("mbv3"), parse_restrict(["kernel_*=5", "width=1"]))
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(20)]
    for arch in archs + [space.mutate(a, rng) for a in archs]:
        assert "k3" not in arch.key and "k7" not in arch.key and arch.key.startswith("w1|")
    assert len({space.mutate(archs[0], rng).key for _ in range(10)}) > 1


def test_restricted_space_passes_the_conformance_suite():
    check_space(restrict_space(get_space("nb201"), NB201_SUB))


def test_bad_restrictions_are_named():
    with pytest.raises(SpecError, match="matches no dimension"):
        restrict_space(get_space("nb201"), {"op_*": ["none"]})
    with pytest.raises(SpecError, match="has choices"):
        restrict_space(get_space("nb201"), {"edge_1_0": ["conv_5x5"]})
    with pytest.raises(SpecError, match="expected DIMENSION=V1,V2"):
        parse_restrict(["width"])
    assert restrict_space(get_space("nb201"), {}) is get_space("nb201")


def test_study_on_a_subspace_and_its_true_front(tmp_path):
    import hwnas

    study = hwnas.Study(budget=40, seed=0, restrict=NB201_SUB, out_dir=tmp_path / "run")
    study.optimize()
    results = hwnas.load_results(tmp_path / "run")
    assert results.config.restrict == NB201_SUB
    assert all(_inside_nb201(k) for k in results.evaluations()["arch"])
    assert all(_inside_nb201(k) for k in results.true_front()["arch"])
    with pytest.raises(hwnas.HwnasError, match="restrict"):
        hwnas.Study.resume(tmp_path / "run", restrict={"edge_*": ["none", "skip_connect"]})
