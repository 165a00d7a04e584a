"""HW-NAS-Bench's FBNet latency table (`latency@raspi4` ... on the fbnet space)."""

from __future__ import annotations

from hwnas.evaluation import resolve_metric
from hwnas.metrics import parse_metric
from hwnas.sources import EvalContext
from hwnas.spaces import get_space


def test_table_values_say_when_the_search_builds_another_class_count(three_classes: str) -> None:
    """The table timed CIFAR-100 networks; a search on 3-class data read it silently."""
    space = get_space("fbnet")
    arch = space.make([0] * len(space.dimensions))
    metric = parse_metric("latency@raspi4")
    data = EvalContext(space, "cifar100", data=three_classes)
    (value,) = resolve_metric(data, metric).evaluate([arch])
    assert (value.provenance["classes_tabulated"], value.provenance["classes_searched"]) == (100, 3)
    (plain,) = resolve_metric(EvalContext(space, "cifar100"), metric).evaluate([arch])
    assert plain.value == value.value and "classes_tabulated" not in plain.provenance
