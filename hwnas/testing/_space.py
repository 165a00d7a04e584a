"""`check_space`: the `SearchSpace` contract (hwnas/spaces/_base.py), checked on samples."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.spaces import Architecture, LayeredSpace, SearchSpace
from hwnas.testing._common import expect, expect_raises

#: spaces up to this many gene vectors are enumerated whole
ENUMERATE_UP_TO = 5_000


def check_space(space: SearchSpace, *, n: int = 40, seed: int = 0, networks: bool = False) -> None:
    """Raise an `AssertionError` naming the broken rule unless `space` keeps the search-space
    contract: named dimensions, canonical keys that round-trip through `parse` and name one
    gene vector each, seeded sampling, variation operators that stay valid and canonical,
    encodings, clear errors on bad input, and its declared datasets. `networks=True` also
    builds one sampled network per dataset and runs it (and its layers, for a
    `LayeredSpace`) on a zero input, and checks that `build(.., classes=N)` outputs N
    classes, as does the head of `layers(.., classes=N)`: that needs torch."""
    what = f"space {getattr(space, 'name', type(space).__name__)!r}"
    _check_declarations(space, what)
    archs = _samples(space, n, seed)
    _check_identity(space, archs, what)
    _check_variation(space, archs, seed, what)
    _check_encodings(space, archs[:10], what)
    _check_bad_input(space, what)
    _check_datasets(space, archs[0], what, networks)


def _samples(space: SearchSpace, n: int, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def _check_declarations(space: SearchSpace, what: str) -> None:
    expect(isinstance(getattr(space, "name", None), str) and space.name, f"{what}: no `name`")
    names = [d.name for d in space.dimensions]
    expect(names, f"{what}: no dimensions")
    expect(len(set(names)) == len(names), f"{what}: dimension names repeat: {names}")
    expect(all(len(d.choices) >= 1 for d in space.dimensions), f"{what}: a dimension is empty")
    expect(space.size() >= 2, f"{what}: size() is {space.size()}; a search needs two points")
    expect(space.datasets, f"{what}: `datasets` is empty; a space names the datasets it serves")
    missing = {"vector", "onehot"} - set(space.encodings)
    expect(not missing, f"{what}: `encodings` lacks the standard {sorted(missing)}")


def _check_identity(space: SearchSpace, archs: list[Architecture], what: str) -> None:
    """Each sample is a valid canonical gene vector whose key round-trips, and a key names
    one gene vector (equality and hashing go by key)."""
    n_dims = len(space.dimensions)
    genes_of: dict[str, tuple[int, ...]] = {}
    for arch in archs:
        other = genes_of.setdefault(arch.key, arch.genes)
        expect(
            other == arch.genes,
            f"{what}: key {arch.key!r} names two gene vectors, {other} and {arch.genes}: a "
            "key must be canonical (one per network)",
        )
    for arch in archs:
        genes = arch.genes
        expect(
            isinstance(arch, Architecture) and isinstance(genes, tuple) and len(genes) == n_dims,
            f"{what}: sample() gave {arch!r}, not an Architecture with {n_dims} genes",
        )
        expect(space.is_valid(genes), f"{what}: sample() gave an invalid {genes}")
        canon = space.canonical(genes)
        expect(canon == genes, f"{what}: sample() gave {genes}, not canonical ({canon})")
        expect(space.canonical(canon) == canon, f"{what}: canonical() is not idempotent")
        key = space.key(genes)
        expect(key == arch.key, f"{what}: key({genes}) is {key!r}, the sample says {arch.key!r}")
        made = space.make(genes)
        expect(made.key == key and made.genes == genes, f"{what}: make({genes}) gave {made!r}")
        again = space.parse(arch.key)
        expect(
            again.key == arch.key and again.genes == genes,
            f"{what}: parse({arch.key!r}) gave {again.key!r} with genes {again.genes}, "
            f"expected genes {genes}",
        )
    described = space.describe(archs[0])
    expect(
        list(described) == [d.name for d in space.dimensions],
        f"{what}: describe() keys {list(described)} are not the dimension names",
    )


def _check_variation(space: SearchSpace, archs: list[Architecture], seed: int, what: str) -> None:
    keys = [a.key for a in archs]
    expect(
        keys == [a.key for a in _samples(space, len(archs), seed)],
        f"{what}: sample() is not repeatable for a seeded generator",
    )
    expect(
        keys != [a.key for a in _samples(space, len(archs), seed + 1)],
        f"{what}: sample() gives the same architectures for two seeds",
    )
    rng = np.random.default_rng(seed)
    for a, b in itertools.pairwise(archs):
        child = space.mutate(a, rng)
        expect(child != a, f"{what}: mutate({a.key}) returned its parent")
        _expect_canonical(space, child, f"{what}: mutate({a.key})")
        _expect_canonical(space, space.crossover(a, b, rng), f"{what}: crossover({a}, {b})")
    neighbours = space.neighbours(archs[0])
    expect(neighbours, f"{what}: {archs[0].key} has no neighbours")
    expect(archs[0] not in neighbours, f"{what}: {archs[0].key} is its own neighbour")
    expect(
        len({nb.key for nb in neighbours}) == len(neighbours),
        f"{what}: neighbours({archs[0].key}) repeat an architecture",
    )
    for nb in neighbours:
        _expect_canonical(space, nb, f"{what}: neighbours({archs[0].key})")
    if space.size() <= ENUMERATE_UP_TO:
        every = list(space.enumerate())
        expect(len({a.key for a in every}) == len(every), f"{what}: enumerate() repeats")
        known = {a.key for a in every}
        missing = [a.key for a in archs if a.key not in known]
        expect(not missing, f"{what}: enumerate() misses sampled {missing[:3]}")


def _expect_canonical(space: SearchSpace, arch: Architecture, what: str) -> None:
    expect(
        space.is_valid(arch.genes) and space.canonical(arch.genes) == arch.genes,
        f"{what} gave {arch.key} with genes {arch.genes}: not valid and canonical",
    )
    expect(space.key(arch.genes) == arch.key, f"{what} gave {arch.key}, whose key is not its own")


def _check_encodings(space: SearchSpace, archs: list[Architecture], what: str) -> None:
    distinct = len(set(archs))
    for kind in space.encodings:
        X = np.asarray(space.encode(archs, kind))
        expect(
            X.ndim == 2 and X.shape[0] == len(archs),
            f"{what}: encode(.., {kind!r}) has shape {X.shape}, expected ({len(archs)}, k)",
        )
        expect(np.all(np.isfinite(X)), f"{what}: encode(.., {kind!r}) is not finite")
        if kind in ("vector", "onehot"):
            rows = len({tuple(r) for r in X})
            expect(rows == distinct, f"{what}: {kind} gives {rows} rows to {distinct} archs")
    onehot = space.encode(archs, "onehot")
    width = sum(len(d.choices) for d in space.dimensions)
    expect(onehot.shape[1] == width, f"{what}: onehot has {onehot.shape[1]} columns, not {width}")
    expect(
        np.allclose(onehot.sum(axis=1), len(space.dimensions)),
        f"{what}: a onehot row does not hold one 1 per dimension",
    )
    with expect_raises(HwnasError, f"{what}: encode(.., 'no-such-encoding')", "valid"):
        space.encode(archs, "no-such-encoding")


def _check_bad_input(space: SearchSpace, what: str) -> None:
    n_dims = len(space.dimensions)
    with expect_raises(SpecError, f"{what}: make() with {n_dims + 1} genes", "genes"):
        space.make([0] * (n_dims + 1))
    too_big = [len(space.dimensions[0].choices)] + [0] * (n_dims - 1)
    with expect_raises(SpecError, f"{what}: make({too_big})", "out of range"):
        space.make(too_big)
    for junk in ["", "garbage", "|||", "-1"]:
        with expect_raises(HwnasError, f"{what}: parse({junk!r})"):
            space.parse(junk)


def _check_datasets(space: SearchSpace, arch: Architecture, what: str, networks: bool) -> None:
    with expect_raises(UnknownNameError, f"{what}: check_dataset('no-such-dataset')"):
        space.check_dataset("no-such-dataset")
    has_shapes = type(space).input_shape is not SearchSpace.input_shape
    for dataset in space.datasets:
        expect(space.check_dataset(dataset) == dataset, f"{what}: check_dataset({dataset!r})")
        if has_shapes:
            for name, shape in (
                ("input_shape", space.input_shape(dataset)),
                ("arch_input_shape", space.arch_input_shape(arch, dataset)),
            ):
                expect(
                    len(shape) in (1, 3) and all(isinstance(s, int) and s > 0 for s in shape),
                    f"{what}: {name}(.., {dataset!r}) is {shape}, not (channels, height, "
                    "width) of an image or (tokens,) of text",
                )
        if networks:
            _check_network(space, arch, dataset, f"{what} on {dataset!r}")


def _check_network(space: SearchSpace, arch: Architecture, dataset: str, what: str) -> None:
    """Build `arch` and run it, and each of its layers for a layered space, on zeros."""
    from hwnas._imports import optional_import

    torch = optional_import("torch", "check_space(networks=True)")
    shape = space.arch_input_shape(arch, dataset)
    with torch.no_grad():
        out = _run(space.build(arch, dataset), shape, torch)
        expect(
            out.ndim == 2 and out.shape[0] == 1,
            f"{what}: build({arch.key}) maps a {shape} input to {tuple(out.shape)}, "
            "expected (1, classes)",
        )
        # a user's data may have any number of classes: the head must follow it
        classes = 3 if out.shape[1] != 3 else 5
        net = _with_classes(space.build, "build", arch, dataset, classes, what)
        out = _run(net, shape, torch)
        expect(
            tuple(out.shape) == (1, classes),
            f"{what}: build({arch.key}, classes={classes}) maps a {shape} input to "
            f"{tuple(out.shape)}, expected (1, {classes}): the head must follow the data",
        )
        if isinstance(space, LayeredSpace):
            layers = space.layers(arch, dataset)
            expect(layers, f"{what}: layers({arch.key}) is empty")
            for signature, factory, layer_shape in layers:
                expect(isinstance(signature, str) and signature, f"{what}: a layer has no name")
                _run(factory(), tuple(layer_shape), torch)
            _check_layer_classes(space, arch, dataset, classes, layers, what, torch)


def _check_layer_classes(
    space: LayeredSpace,
    arch: Any,
    dataset: str,
    classes: int,
    layers: list[tuple[str, Any, tuple[int, ...]]],
    what: str,
    torch: Any,
) -> None:
    """A profile made for data of `classes` classes must time that head, under its own
    signature, and nothing else differently: the head is the last layer."""
    other = _with_classes(space.layers, "layers", arch, dataset, classes, what)
    same = [a[0] for a in layers[:-1]] == [b[0] for b in other[:-1]]
    expect(
        len(other) == len(layers) and same and other[-1][0] != layers[-1][0],
        f"{what}: layers({arch.key}, classes={classes}) must differ from the dataset's in "
        "the head's signature (the last layer) only",
    )
    _, factory, shape = other[-1]
    out = _run(factory(), tuple(shape), torch)
    expect(
        out.shape[-1] == classes,
        f"{what}: the head of layers({arch.key}, classes={classes}) has {out.shape[-1]} outputs",
    )


def _with_classes(method: Any, name: str, arch: Any, dataset: str, classes: int, what: str) -> Any:
    """`method(arch, dataset, classes=classes)`; a method without the `classes` parameter
    of the contract is named as such rather than failing with a bare TypeError."""
    try:
        return method(arch, dataset, classes=classes)
    except TypeError as exc:
        raise AssertionError(
            f"{what}: {name}(arch, dataset, classes=None) is the contract; {name}() "
            f"refused classes ({exc})"
        ) from None


def _run(module: Any, shape: tuple[int, ...], torch: Any) -> Any:
    return module.eval()(torch.zeros(1, *shape))
