"""Every registered executor passes `hwnas.testing.check_executor`: a tabular NB201 study
run on it records the same ledger rows as in-process. Ray runs only where it is installed."""

from __future__ import annotations

import importlib.util

import pytest

from hwnas.executors import list_executors, make_executor
from hwnas.testing import check_executor

#: what each executor runs the check with (a pool of two workers, as the docs show)
OPTIONS: dict[str, dict[str, int]] = {"process": {"workers": 2}, "ray": {"workers": 2}}


@pytest.mark.parametrize("name", list_executors())
def test_executor_conformance(name: str) -> None:
    if name == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'hwnas[ray]')")
    check_executor(make_executor(name, **OPTIONS.get(name, {})))
