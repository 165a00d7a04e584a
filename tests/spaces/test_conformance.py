"""Every registered search space passes `hwnas.testing.check_space`; the spaces that build
networks build and run them too (with torch)."""

from __future__ import annotations

import pytest

import hwnas
from hwnas.testing import check_space


@pytest.mark.parametrize("name", hwnas.list_spaces())
def test_space_conformance(name: str) -> None:
    check_space(hwnas.get_space(name))


@pytest.mark.parametrize("name", hwnas.list_spaces())
def test_networks_build_and_run(name: str) -> None:
    space = hwnas.get_space(name)
    if type(space).build is hwnas.SearchSpace.build:
        pytest.skip(f"space {name!r} builds no networks")
    pytest.importorskip("torch")
    check_space(space, n=4, networks=True)
