"""Every registered search space passes this suite."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import hwnas
from hwnas.errors import HwnasError, SpecError
from hwnas.spaces import Architecture, get_space

SPACES = hwnas.list_spaces()


@pytest.fixture(params=SPACES)
def space(request: pytest.FixtureRequest) -> hwnas.SearchSpace:
    return get_space(request.param)


def samples(space: hwnas.SearchSpace, n: int = 40, seed: int = 0) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def test_dimensions_are_named_and_nonempty(space: hwnas.SearchSpace) -> None:
    names = [d.name for d in space.dimensions]
    assert names and len(set(names)) == len(names)
    assert all(len(d.choices) >= 1 for d in space.dimensions)
    assert space.size() >= 2
    assert space.datasets, "a space names the datasets it supports"


def test_sample_is_valid_canonical_and_round_trips(space: hwnas.SearchSpace) -> None:
    for arch in samples(space):
        assert space.is_valid(arch.genes)
        assert space.canonical(arch.genes) == arch.genes
        assert space.key(arch.genes) == arch.key
        again = space.parse(arch.key)
        assert again == arch and again.genes == arch.genes


def test_sampling_is_seeded(space: hwnas.SearchSpace) -> None:
    assert samples(space, seed=3) == samples(space, seed=3)
    assert samples(space, seed=3) != samples(space, seed=4)


def test_mutation_and_crossover_stay_valid(space: hwnas.SearchSpace) -> None:
    rng = np.random.default_rng(1)
    archs = samples(space)
    for a, b in itertools.pairwise(archs):
        child = space.mutate(a, rng)
        assert child != a and space.is_valid(child.genes)
        mixed = space.crossover(a, b, rng)
        assert space.is_valid(mixed.genes)
        assert all(g in (x, y) for g, x, y in zip(mixed.genes, a.genes, b.genes)) or (
            space.canonical(mixed.genes) == mixed.genes
        )


def test_neighbours_differ_by_one_decision(space: hwnas.SearchSpace) -> None:
    arch = samples(space, n=1)[0]
    neighbours = space.neighbours(arch)
    assert neighbours and arch not in neighbours
    assert len({n.key for n in neighbours}) == len(neighbours)


@pytest.mark.parametrize("kind", ["vector", "onehot"])
def test_standard_encodings(space: hwnas.SearchSpace, kind: str) -> None:
    archs = samples(space, n=10)
    X = space.encode(archs, kind)
    assert X.shape[0] == 10 and X.ndim == 2 and np.all(np.isfinite(X))
    if kind == "onehot":
        assert X.shape[1] == sum(len(d.choices) for d in space.dimensions)
        assert np.allclose(X.sum(axis=1), len(space.dimensions))
    assert len({tuple(r) for r in X}) == len(set(archs))


def test_space_specific_encodings(space: hwnas.SearchSpace) -> None:
    archs = samples(space, n=10)
    for kind in space.encodings:
        X = space.encode(archs, kind)
        assert X.shape[0] == 10 and np.all(np.isfinite(X))
    with pytest.raises(HwnasError, match="valid"):
        space.encode(archs, "no-such-encoding")


def test_bad_genes_and_keys_are_clear_errors(space: hwnas.SearchSpace) -> None:
    n = len(space.dimensions)
    with pytest.raises(SpecError, match="genes"):
        space.make([0] * (n + 1))
    with pytest.raises(SpecError, match="out of range"):
        space.make([len(space.dimensions[0].choices)] + [0] * (n - 1))
    for junk in ["", "garbage", "|||", "-1"]:
        with pytest.raises(HwnasError):
            space.parse(junk)
