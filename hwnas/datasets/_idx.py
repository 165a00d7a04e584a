"""IDX files (the MNIST family): `train-images-idx3-ubyte[.gz]` and friends."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from hwnas._io import why_not_a_directory
from hwnas.datasets import DatasetError, ImageDataset, Split, check_labels, register_dataset

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (gzipped or not); a `DatasetError` says what is wrong with the file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"IDX file {path}: cannot read it ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DatasetError(
            f"IDX file {path}: expected the magic bytes 00 00 <type> <ndim>, got {data[:4].hex()}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"IDX file {path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: np.prod can wrap around
    if len(data) - header != expected:
        raise DatasetError(
            f"IDX file {path}: shape {shape} needs {expected} bytes of data, "
            f"found {len(data) - header}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise DatasetError(f"IDX dataset in {directory}: expected {stem} or {stem}.gz, not found")


def load_idx_dir(directory: Path, name: str, classes: tuple[str, ...]) -> ImageDataset:
    """The four files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-...`."""
    if reason := why_not_a_directory(directory):
        raise DatasetError(
            f"{name}: expected a directory of IDX files (train-images-idx3-ubyte.gz, ...) "
            f"at {directory}, which {reason}"
        )
    splits = []
    for prefix in ("train", "t10k"):
        x = read_idx(_find(directory, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(_find(directory, f"{prefix}-labels-idx1-ubyte"))
        if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(
                f"{name} in {directory}: {prefix} images {x.shape} {x.dtype} do not match "
                f"labels {y.shape} (expected uint8 (N, H, W) and (N,))"
            )
        where = f"{name} in {directory}: {prefix} labels"
        splits.append(Split(x[:, None].copy(), check_labels(y, len(x), where, len(classes))))
    return ImageDataset(
        name, splits[0], splits[1], classes,
        {"dataset": name, "path": str(directory), "format": "IDX"},
    )  # fmt: skip


@register_dataset("fashion-mnist")
def fashion_mnist(path: str | None) -> ImageDataset:
    """Zalando's Fashion-MNIST: 60,000 + 10,000 28x28 grey images, 10 classes (MIT).
    Debian's `dataset-fashion-mnist` package installs it in the default directory."""
    return load_idx_dir(Path(path) if path else FASHION_MNIST_DIR, "fashion-mnist", FASHION_CLASSES)


@register_dataset("mnist")
def mnist(path: str | None) -> ImageDataset:
    """MNIST digits in IDX files; give the directory: `mnist:DIR`."""
    if not path:
        raise DatasetError("mnist: give the directory of its IDX files, e.g. mnist:~/data/mnist")
    return load_idx_dir(Path(path), "mnist", tuple(str(i) for i in range(10)))
