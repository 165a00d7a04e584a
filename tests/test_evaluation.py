"""The evaluation pipeline records only what it can stand behind: a plugin's value that is
not a finite number, or provenance the ledger cannot store, fails that evaluation with a
reason naming the plugin, and the search goes on (a NaN was recorded as ok; a set in the
provenance aborted the search as a "damaged ledger")."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import hwnas
from hwnas.sources import Measurement, MetricSource


class Odd(MetricSource):
    """The pixel3 latency, except for architectures with a skip connection first, where it
    returns `value` with `provenance`."""

    metric = "latency@pixel3"

    def __init__(self, inner: MetricSource, value: Any, provenance: Any) -> None:
        self.inner, self.value, self.odd_provenance = inner, value, provenance

    def evaluate(self, archs):  # type: ignore[no-untyped-def]
        real = self.inner.evaluate(archs)
        return [
            Measurement(self.value, self.odd_provenance) if "|skip_connect~0|+" in a.key else m
            for a, m in zip(archs, real)
        ]


@pytest.mark.parametrize(
    ("value", "provenance", "reason"),
    [
        (math.nan, {}, "Odd returned nan, not a finite number"),
        (math.inf, {}, "Odd returned inf, not a finite number"),
        ("fast", {}, "Odd returned 'fast', not a number"),
        (True, {}, "Odd returned True, not a number"),
        (1.0, {"device": {"pixel3"}}, "Odd returned provenance that is not JSON"),
        (1.0, ["pixel3"], "Odd returned provenance ['pixel3'], not a dict"),
    ],
)
def test_unrecordable_measurements_fail_naming_the_plugin(
    tmp_path: Path, value: Any, provenance: Any, reason: str
) -> None:
    study = hwnas.Study(strategy="random", budget=30, seed=0, out_dir=tmp_path / "run")
    study.sources["latency@pixel3"] = Odd(study.sources["latency@pixel3"], value, provenance)
    evals = study.optimize().evaluations()
    odd = evals["arch"].str.contains("|skip_connect~0|+", regex=False)
    assert len(evals) == 30 and odd.any() and (~odd).any()
    assert (evals.loc[odd, "status"] == "failed").all()
    assert evals.loc[odd, "error"].str.startswith(f"latency@pixel3: {reason}").all()
    assert (evals.loc[~odd, "status"] != "failed").all()
    # the run reads back from its directory alone
    assert len(hwnas.load_results(tmp_path / "run").evaluations()) == 30
