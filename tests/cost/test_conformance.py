"""Every registered target (and the roofline specs shipped in hwnas/data/devices) passes
`hwnas.testing.check_target` on every space it serves; a target whose sources need what
is not installed here (torch, ONNX Runtime, a CUDA GPU) is skipped with the reason."""

from __future__ import annotations

from importlib import resources

import pytest

import hwnas
from hwnas.errors import DependencyError, EvaluationError
from hwnas.sources import EvalContext
from hwnas.spaces import SearchSpace
from hwnas.spaces.mbv2 import MBV2Space
from hwnas.testing import check_target

ROOFLINES = sorted(
    f"roofline:{p.name.removesuffix('.json')}"
    for p in (resources.files("hwnas") / "data" / "devices").iterdir()
    if p.name.endswith(".json")
)


def served() -> list[tuple[str, str]]:
    """(target, space) for every space a target serves, on the space's first dataset."""
    pairs = []
    for name in hwnas.list_targets() + ROOFLINES:
        target = hwnas.get_target(name)
        for space_name in hwnas.list_spaces():
            space = hwnas.get_space(space_name)
            if target.serves(EvalContext(space, space.datasets[0])):
                pairs.append((name, space_name))
    return pairs


class _APQSpace(MBV2Space):
    """The part of mbv2 that APQ's BitFusion table covers (layout pl, width 1, 224 px)."""

    HEADER = (("layout", "", ("pl",)), ("width", "w", (1.0,)), ("resolution", "r", (1.0,)))


#: targets whose table covers a sub-space only: checked on that sub-space
SUBSPACES: dict[tuple[str, str], SearchSpace] = {("bitfusion", "mbv2"): _APQSpace()}


@pytest.mark.parametrize(("target", "space"), served())
def test_target_conformance(target: str, space: str) -> None:
    if target == "local-cuda":
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("local-cuda measures on a CUDA GPU; there is none here")
    found = hwnas.get_target(target)
    if found.kind == "measured" and space.startswith("hat"):
        pytest.skip(
            "a HAT translation (30 unrolled decoder steps) takes tens of seconds to export "
            "and time here; tests/models/test_hat.py runs the translator"
        )
    try:  # a table is cheap to read; a network built, counted or measured is not
        checked = SUBSPACES.get((target, space), space)
        check_target(found, checked, n=8 if found.kind == "table" else 2)
    except DependencyError as exc:
        pytest.skip(str(exc))
    except EvaluationError as exc:  # the same source is checked where networks fit (rpi4)
        if not (target.startswith("roofline:") and str(exc).startswith("does not fit")):
            raise
        pytest.skip(f"{space} networks do not fit {target}: {exc}")
