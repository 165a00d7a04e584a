"""Loaders for every supported format, on small files written here in that format, and the
real datasets that are available (scikit-learn digits; Fashion-MNIST when installed)."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from hwnas.datasets import DatasetError, load_dataset, to_float_images
from hwnas.datasets._idx import FASHION_MNIST_DIR
from hwnas.errors import UnknownNameError

RNG = np.random.default_rng(0)


def _write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data) if gz else data)


def _idx_dir(root: Path, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    y = np.arange(12) % 10
    for prefix, n in (("train", 8), ("t10k", 4)):
        sl = slice(0, 8) if prefix == "train" else slice(8, 12)
        _write_idx(root / f"{prefix}-images-idx3-ubyte", x[sl], gz)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte", y[sl], gz)
    return x, y


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_load_from_any_path(tmp_path: Path, gz: bool) -> None:
    x, y = _idx_dir(tmp_path, gz)
    ds = load_dataset(f"fashion-mnist:{tmp_path}")
    assert ds.train.x.shape == (8, 1, 28, 28) and ds.test is not None and len(ds.test) == 4
    np.testing.assert_array_equal(ds.train.x[:, 0], x[:8])
    np.testing.assert_array_equal(ds.test.y, y[8:])
    assert ds.num_classes == 10 and ds.classes[9] == "Ankle boot"
    assert ds.provenance["format"] == "IDX" and ds.provenance["path"] == str(tmp_path)


def test_malformed_idx_says_what_and_where(tmp_path: Path) -> None:
    _idx_dir(tmp_path, gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x56\x78" + bad.read_bytes()[4:])
    with pytest.raises(DatasetError, match="magic bytes.*") as err:
        load_dataset(f"fashion-mnist:{tmp_path}")
    assert str(bad) in str(err.value)
    _idx_dir(tmp_path, gz=False)
    bad.write_bytes(bad.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="bytes of data"):
        load_dataset(f"fashion-mnist:{tmp_path}")
    _idx_dir(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_missing_dataset_names_the_expected_location(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=str(tmp_path / "nope")):
        load_dataset(f"fashion-mnist:{tmp_path / 'nope'}")
    with pytest.raises(DatasetError, match="directory"):
        load_dataset("cifar10")
    with pytest.raises(UnknownNameError, match="fashion-mnist"):
        load_dataset("imagenet-22k")


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_installed_fashion_mnist() -> None:
    ds = load_dataset("fashion-mnist")
    assert ds.train.x.shape == (60_000, 1, 28, 28) and ds.test is not None
    assert len(ds.test) == 10_000
    assert np.bincount(ds.train.y).tolist() == [6000] * 10


def _cifar_python_dir(root: Path, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Batches pickled as the CIFAR distribution does (protocol 2, bytes keys)."""
    n_classes = 10 if variant == "cifar10" else 100
    x = RNG.integers(0, 256, (14, 3072), dtype=np.uint8)
    y = (np.arange(14) * 7) % n_classes
    if variant == "cifar10":
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        key, meta = b"labels", ("batches.meta", {b"label_names": [b"c%d" % i for i in range(10)]})
    else:
        names = ["train", "test"]
        key = b"fine_labels"
        meta = ("meta", {b"fine_label_names": [b"f%d" % i for i in range(100)]})
    chunks = np.array_split(np.arange(14), len(names))
    for name, idx in zip(names, chunks):
        batch = {b"data": x[idx], key: y[idx].tolist(), b"batch_label": name.encode()}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    (root / meta[0]).write_bytes(pickle.dumps(meta[1], protocol=2))
    return x, y


@pytest.mark.parametrize("variant", ["cifar10", "cifar100"])
def test_cifar_python_batches(tmp_path: Path, variant: str) -> None:
    x, y = _cifar_python_dir(tmp_path, variant)
    ds = load_dataset(f"{variant}:{tmp_path}")
    assert ds.test is not None
    n_test = len(ds.test)
    np.testing.assert_array_equal(ds.train.x.reshape(-1, 3072), x[: 14 - n_test])
    np.testing.assert_array_equal(ds.test.y, y[14 - n_test :])
    assert ds.image_shape == (3, 32, 32)
    assert ds.classes[1] == ("c1" if variant == "cifar10" else "f1")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (str(self.marker),))


def test_cifar_pickle_that_calls_code_is_refused_unrun(tmp_path: Path) -> None:
    _cifar_python_dir(tmp_path, "cifar10")
    marker = tmp_path / "pwned"
    payload = {b"data": _Evil(marker), b"labels": [0]}
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(DatasetError, match="not allowed"):
        load_dataset(f"cifar10:{tmp_path}")
    assert not marker.exists()


def test_cifar_batch_with_wrong_shape(tmp_path: Path) -> None:
    _cifar_python_dir(tmp_path, "cifar10")
    batch = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match=r"uint8 \(N, 3072\)"):
        load_dataset(f"cifar10:{tmp_path}")


@pytest.mark.parametrize("variant", ["cifar10", "cifar100"])
def test_cifar_binary_batches(tmp_path: Path, variant: str) -> None:
    label_bytes = 1 if variant == "cifar10" else 2
    names = (
        [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        if variant == "cifar10"
        else ["train.bin", "test.bin"]
    )
    images = RNG.integers(0, 256, (len(names) * 2, 3072), dtype=np.uint8)
    labels = np.arange(len(names) * 2) % 10
    for i, name in enumerate(names):
        rows = [
            np.concatenate([[labels[j] // 2] * (label_bytes - 1) + [labels[j]], images[j]])
            for j in (2 * i, 2 * i + 1)
        ]
        (tmp_path / name).write_bytes(np.array(rows, dtype=np.uint8).tobytes())
    ds = load_dataset(f"{variant}:{tmp_path}")
    assert ds.test is not None and len(ds.test) == 2 and len(ds.train) == len(names) * 2 - 2
    np.testing.assert_array_equal(ds.train.y, labels[:-2])
    np.testing.assert_array_equal(ds.test.x.reshape(2, -1), images[-2:])
    (tmp_path / names[0]).write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetError, match="multiple of"):
        load_dataset(f"{variant}:{tmp_path}")


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    for split, n in (("train", 3), ("test", 1)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                arr = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
                Image.fromarray(arr).save(tmp_path / split / cls / f"{i}.png")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.classes == ("cat", "dog")
    assert ds.train.x.shape == (6, 3, 6, 5) and ds.test is not None and len(ds.test) == 2
    assert ds.train.y.tolist() == [0, 0, 0, 1, 1, 1]
    flat = tmp_path / "train"
    assert load_dataset(f"folder:{flat}").test is None
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(flat / "cat" / "odd.png")
    with pytest.raises(DatasetError, match="different sizes"):
        load_dataset(f"folder:{flat}")
    (flat / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="broken.png"):
        load_dataset(f"folder:{flat}")


def test_npz_arrays(tmp_path: Path) -> None:
    x = RNG.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)  # NHWC is accepted
    y = np.arange(10) % 3
    np.savez(tmp_path / "a.npz", x_train=x[:8], y_train=y[:8], x_test=x[8:], y_test=y[8:])
    ds = load_dataset(f"npz:{tmp_path / 'a.npz'}")
    assert ds.train.x.shape == (8, 3, 8, 8) and ds.test is not None and ds.num_classes == 3
    np.testing.assert_array_equal(ds.train.x[1], x[1].transpose(2, 0, 1))
    np.savez(tmp_path / "b.npz", x=np.ones((4, 5, 5), np.float32) / 2, y=np.zeros(4, np.int64))
    ds = load_dataset(f"npz:{tmp_path / 'b.npz'}")
    assert ds.test is None and int(ds.train.x.max()) == 128
    np.savez(tmp_path / "c.npz", x=np.array([object()] * 4), y=np.zeros(4))
    with pytest.raises(DatasetError, match="without pickle"):
        load_dataset(f"npz:{tmp_path / 'c.npz'}")
    np.savez(tmp_path / "d.npz", images=x)
    with pytest.raises(DatasetError, match="x_train"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")


def test_digits_split_is_deterministic_disjoint_and_stratified() -> None:
    ds = load_dataset("digits")
    assert ds.train.x.shape == (1797, 1, 8, 8) and ds.test is None
    a, b, c = ds.split(seed=3), ds.split(seed=3), ds.split(seed=4)
    assert a.val is not None and a.test is not None and b.val is not None and c.val is not None
    np.testing.assert_array_equal(a.val.x, b.val.x)
    assert not np.array_equal(a.val.x, c.val.x)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    n = len(a.train) + len(a.val) + len(a.test)
    assert len({r.tobytes() for r in (*a.train.x, *a.val.x, *a.test.x)}) == len(
        {r.tobytes() for r in ds.train.x}
    ) and n == len(ds.train)  # a partition: every image exactly once
    assert np.bincount(a.val.y, minlength=10).min() >= 15
    assert a.provenance["split"]["seed"] == 3


def test_to_float_images_resizes_and_replicates() -> None:
    pytest.importorskip("torch")
    x = RNG.integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    t = to_float_images(x, channels=3, size=32)
    assert tuple(t.shape) == (4, 3, 32, 32)
    assert bool((t[:, 0] == t[:, 2]).all())
