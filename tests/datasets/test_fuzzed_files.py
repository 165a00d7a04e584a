"""Fuzzed dataset files (issue 21: "the fuzzing grows to cover the dataset files"): any
bytes where an npz archive or an IDX file is expected load or raise a `DatasetError`,
never another exception, and never allocate more than the file could hold."""

from __future__ import annotations

import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnas.datasets import DatasetError, load_dataset

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _valid_npz() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, x=rng.integers(0, 255, (6, 4, 4), np.uint8), y=np.arange(6) % 3)
    return buffer.getvalue()


VALID_NPZ = _valid_npz()
#: (position, new byte) edits, and where to cut the file
edits = st.lists(st.tuples(st.integers(0, len(VALID_NPZ) - 1), st.integers(0, 255)), max_size=8)


@FUZZ
@given(edits, st.integers(1, len(VALID_NPZ)))
def test_mutated_npz_loads_or_raises_a_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(VALID_NPZ)
    for position, value in changes:
        data[position] = value
    path = tmp_path_factory.mktemp("npz") / "f.npz"
    path.write_bytes(bytes(data[:cut]))
    try:
        dataset = load_dataset(f"npz:{path}")
    except DatasetError as exc:
        assert "f.npz" in str(exc)
        return
    assert dataset.train.x.nbytes <= len(data)  # nothing larger than the file came out


@FUZZ
@given(
    st.integers(0, 255),
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=5),
    st.binary(max_size=64),
    st.booleans(),
)
def test_any_idx_header_and_body_loads_or_raises_a_dataset_error(
    tmp_path_factory: pytest.TempPathFactory,
    type_code: int,
    shape: list[int],
    body: bytes,
    compressed: bool,
) -> None:
    root = tmp_path_factory.mktemp("idx")
    header = struct.pack(">BBBB", 0, 0, type_code, len(shape)) + struct.pack(
        f">{len(shape)}I", *shape
    )
    raw = header + body
    for prefix in ("train", "t10k"):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = f"{prefix}-{kind}" + (".gz" if compressed else "")
            (root / name).write_bytes(gzip.compress(raw) if compressed else raw)
    try:
        load_dataset(f"mnist:{root}")
    except DatasetError:
        pass
