"""Crafted dataset files that used to eat memory or end in a traceback: each is refused with a
`DatasetError` naming the file and what is wrong, before anything large is allocated."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwnas.datasets import DatasetError, load_dataset
from hwnas.datasets._cifar import read_python_batch

X = np.zeros((20, 8, 8), np.uint8)


def _npz(path: Path, **arrays: Any) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": X, "y": np.full(20, 2**62)}, r"labels must be in 0\.\.99999"),
        ({"x": X, "y": np.full(20, -1)}, r"labels must be in"),
        ({"x": X, "y": np.zeros(20, np.float32)}, "integer labels"),
        ({"x": X[:0], "y": np.zeros(0, np.int64)}, "no images"),
        ({"x": X, "y": np.zeros(19, np.int64)}, "20 integer labels"),
        (
            {"x": X, "y": np.zeros(20, np.int64), "x_test": X, "y_test": np.zeros(3, np.int64)},
            r"\[y_test\]: expected 20 integer labels",
        ),
        (
            {"x": X, "y": np.zeros(20, np.int64), "x_test": X, "y_test": np.full(20, 2**40)},
            r"\[y_test\]: labels must be in",
        ),
        ({"x": X, "y": np.zeros(20, np.int64), "classes": np.array("a")}, r"\[classes\]"),
    ],
)
def test_bad_npz_labels_are_refused(tmp_path: Path, arrays: dict[str, Any], match: str) -> None:
    spec = _npz(tmp_path / "h.npz", **arrays)
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset(spec)
    assert "h.npz" in str(info.value)


def test_an_npz_that_unpacks_past_memory_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip bomb: the members' declared sizes are checked against memory first (here a
    machine of 2 KiB, so 1.7 KB of unpacked zeros stands in for gigabytes)."""
    import hwnas.datasets._files as files

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((20, 8, 8), np.uint8), y=np.zeros(20, np.int64))
    monkeypatch.setattr(files, "memory_bytes", lambda: 2048)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was reached"))
    with pytest.raises(DatasetError, match=r"bomb\.npz: its arrays unpack to .* more than half"):
        load_dataset(f"npz:{path}")


def test_an_npz_header_larger_than_its_data_is_refused(tmp_path: Path) -> None:
    """numpy would allocate the declared shape before finding the data short."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 8, 8)}
    )
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(64))
        archive.writestr("y.npy", header.getvalue())
    with pytest.raises(
        DatasetError, match=r"liar\.npz \[x\]: declares shape \(1000000000000, 8, 8\)"
    ):
        load_dataset(f"npz:{path}")


def test_the_reported_npz_fails_fast_on_the_command_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    spec = _npz(tmp_path / "h.npz", x=X, y=np.full(20, 2**62))
    res = cli("proxies", "--arch", "6111", "--proxy", "nwot", "--data", spec, "--out", "p.csv")
    assert res.returncode == 2, res.stderr
    assert "error:" in res.stderr and "h.npz" in res.stderr and "Traceback" not in res.stderr


def test_too_many_class_folders_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hwnas.datasets._files as files

    monkeypatch.setattr(files, "MAX_CLASSES", 2)
    for name in "abc":
        (tmp_path / name).mkdir()
    with pytest.raises(DatasetError, match="3 class folders, more than 2"):
        load_dataset(f"folder:{tmp_path}")


def _idx(path: Path, type_code: int, shape: tuple[int, ...], data: bytes) -> None:
    header = struct.pack(">BBBB", 0, 0, type_code, len(shape)) + struct.pack(
        f">{len(shape)}I", *shape
    )
    path.write_bytes(gzip.compress(header + data))


def _idx_dir(root: Path, n: int, labels: tuple[int, bytes]) -> None:
    for prefix in ("train", "t10k"):
        _idx(root / f"{prefix}-images-idx3-ubyte.gz", 0x08, (n, 2, 2), bytes(4 * n))
        _idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels[0], (n,), labels[1])


def test_empty_idx_dataset_is_refused(tmp_path: Path) -> None:
    _idx_dir(tmp_path, 0, (0x08, b""))
    with pytest.raises(DatasetError, match="train labels: no images"):
        load_dataset(f"mnist:{tmp_path}")


def test_float_idx_labels_are_refused(tmp_path: Path) -> None:
    _idx_dir(tmp_path, 2, (0x0D, np.array([0.5, 1.5], ">f4").tobytes()))
    with pytest.raises(DatasetError, match="integer labels"):
        load_dataset(f"mnist:{tmp_path}")


def test_idx_shape_whose_size_overflows_is_refused(tmp_path: Path) -> None:
    # (2**16)**4 = 2**64 wraps around to 0 in int64, which "matches" an empty body: the
    # size check must be done in Python integers
    path = tmp_path / "train-images-idx3-ubyte.gz"
    _idx(path, 0x08, (2**16,) * 4, b"")
    from hwnas.datasets._idx import read_idx

    with pytest.raises(DatasetError, match="needs .* bytes of data, found 0"):
        read_idx(path)


class _Call:
    """Pickles as a call of `fn(*args)`, as a hostile file would spell it."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (self.fn, self.args)


_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (_Call(np.ndarray, (2**45,), np.dtype("u1")), "larger than the"),
        (_Call(_RECONSTRUCT, np.ndarray, (2**45,), b"b"), "larger than the"),
        (_Call(np.ndarray, (4,), np.dtype("O")), "Python objects"),
    ],
)
def test_cifar_pickle_cannot_allocate_more_than_its_file(
    tmp_path: Path, payload: Any, match: str
) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": payload, b"labels": [0]}, protocol=2))
    assert path.stat().st_size < 300
    with pytest.raises(DatasetError, match=match):
        read_python_batch(path)


@pytest.mark.parametrize(
    ("labels", "match"),
    [([2**62], "labels must be in 0..9"), ([-1], "labels must be in"), ([[0, 1], [2]], "flat")],
)
def test_cifar_bad_labels_are_refused(tmp_path: Path, labels: list[Any], match: str) -> None:
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": labels}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset(f"cifar10:{tmp_path}")
    assert "data_batch_1" in str(info.value)


def _cifar_batches(root: Path) -> None:
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize(
    ("label_names", "match"),
    [
        (5, "expected a list of class names, got int"),
        ({"a": 1}, "expected a list of class names, got dict"),
        ([1] * 10, "expected a list of class names"),
        (np.zeros((10, 3)), "expected a list of class names, got ndarray"),
        ([b"\xff"] * 10, "class names are not UTF-8"),
    ],
)
def test_malformed_cifar_meta_files_are_refused(
    tmp_path: Path, label_names: Any, match: str
) -> None:
    _cifar_batches(tmp_path)
    meta = {b"label_names": label_names}
    (tmp_path / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    with pytest.raises(DatasetError, match=match) as info:
        load_dataset(f"cifar10:{tmp_path}")
    assert "batches.meta" in str(info.value)


def test_a_cifar_binary_meta_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (tmp_path / name).write_bytes(bytes(3073))
    (tmp_path / "batches.meta.txt").write_bytes(b"\xff\xfe garbage\n" * 10)
    with pytest.raises(DatasetError, match="batches.meta.txt: not UTF-8 text"):
        load_dataset(f"cifar10:{tmp_path}")
