"""Image datasets as numpy arrays, with deterministic train / validation / test splits.

A dataset is named by a spec `NAME[:PATH]`: `fashion-mnist` (IDX files, default
`/usr/share/datasets/fashion-mnist`), `cifar10:DIR` / `cifar100:DIR` (python or binary
batches), `folder:DIR` (one subfolder per class), `npz:FILE` and `digits` (scikit-learn's
8x8 digits, a small real dataset that ships with a dependency). Images are uint8 arrays of
shape (N, C, H, W); labels are int64. Nothing is downloaded and no user file is unpickled
by the standard unpickler (see `hwnas.datasets._cifar`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import SetupError, UnknownNameError
from hwnas.registry import Registry


class DatasetError(SetupError):
    """A dataset that is missing or malformed; the message says what was expected where
    (in a search, every evaluation would fail alike: a `SetupError`)."""


#: The most classes a dataset file may declare. A class count comes from the largest label
#: and one name is built per class, so a tiny file with a label of 2**62 would otherwise eat
#: all memory; 100,000 is well above any real dataset's (ImageNet-21k has 21,841).
MAX_CLASSES = 100_000


def check_labels(
    y: np.ndarray, n_images: int, where: str, num_classes: int = MAX_CLASSES
) -> np.ndarray:
    """`y` as int64 labels for `n_images` images, or a `DatasetError` naming `where`: labels
    must be integers in 0..num_classes-1, one per image, and there must be at least one."""
    if n_images == 0:
        raise DatasetError(f"{where}: no images; a dataset file needs at least one")
    if y.shape != (n_images,) or y.dtype.kind not in "iu":
        raise DatasetError(
            f"{where}: expected {n_images} integer labels (one per image), "
            f"got {y.dtype} of shape {y.shape}"
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise DatasetError(
            f"{where}: labels must be in 0..{num_classes - 1}, found {y.min()}..{y.max()}"
        )
    return y.astype(np.int64)


@dataclass(frozen=True)
class Split:
    """Images (N, C, H, W) uint8 and their labels (N,) int64."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {self.x.dtype} {self.x.shape}"
            )
        if self.y.shape != (len(self.x),):
            raise ValueError(f"{len(self.x)} images but labels of shape {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: np.ndarray) -> Split:
        return Split(self.x[index], self.y[index])


@dataclass(frozen=True)
class ImageDataset:
    """A loaded dataset. `test` is None when the source has no test split of its own;
    `split()` then carves one out of `train`. `val` is set only by `split()`."""

    name: str
    train: Split
    test: Split | None
    classes: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    val: Split | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return (int(c), int(h), int(w))

    def split(
        self, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
    ) -> ImageDataset:
        """Train / validation / test from a seed: the same seed gives the same split. The
        validation set (and the test set, when the source has none) is drawn from the
        training images, stratified by class."""
        if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1:
            raise ValueError("fractions must be in (0, 1)")
        rng = np.random.default_rng(seed)
        train_idx, val_idx, test_idx = [], [], []
        need_test = self.test is None
        for label in np.unique(self.train.y):
            idx = rng.permutation(np.flatnonzero(self.train.y == label))
            n_val = round(len(idx) * val_fraction)
            n_test = round(len(idx) * test_fraction) if need_test else 0
            val_idx.append(idx[:n_val])
            test_idx.append(idx[n_val : n_val + n_test])
            train_idx.append(idx[n_val + n_test :])
        order = [np.sort(np.concatenate(p)) for p in (train_idx, val_idx, test_idx)]
        test = self.train.take(order[2]) if need_test else self.test
        prov = {
            **self.provenance,
            "split": {
                "seed": seed,
                "val_fraction": val_fraction,
                "stratified": True,
                "test": "carved from train" if need_test else "the source's own",
            },
        }
        return replace(
            self,
            train=self.train.take(order[0]),
            val=self.train.take(order[1]),
            test=test,
            provenance=prov,
        )


Loader = Callable[[str | None], ImageDataset]
DATASETS: Registry[Loader] = Registry(
    "dataset", ("hwnas.datasets._idx", "hwnas.datasets._cifar", "hwnas.datasets._files")
)

#: `@register_dataset("fashion-mnist")` on a function `(path or None) -> ImageDataset`
register_dataset = DATASETS.register


def load_dataset(spec: str) -> ImageDataset:
    """A dataset from `NAME[:PATH]`, e.g. `fashion-mnist`, `cifar10:~/data/cifar-10-batches-py`."""
    name, sep, path = str(spec).partition(":")
    name = name.strip()
    if name not in DATASETS:
        raise UnknownNameError("dataset", name, DATASETS.names())
    return DATASETS.get(name)(str(Path(path).expanduser()) if sep and path else None)


list_datasets = DATASETS.names


def data_classes(data: str | None) -> int | None:
    """The number of classes of dataset spec `data` (None for None): the classifier width
    of networks built for the user's data. A catalogued dataset's loader keeps its
    catalogue count, so that is read without loading; a `folder:` or `npz:` file is loaded
    once per process per spec."""
    if data is None:
        return None
    from hwnas.datasets.catalogue import CATALOGUE

    name = data.partition(":")[0].strip()
    return CATALOGUE[name].classes if name in CATALOGUE else _classes(data)


@lru_cache(maxsize=8)
def _classes(data: str) -> int:
    return load_dataset(data).num_classes


def to_float_images(
    x: np.ndarray, channels: int, size: int, mean: float = 0.5, std: float = 0.25
) -> Any:
    """uint8 (N, C, H, W) images as a float torch tensor (N, channels, size, size):
    bilinearly resized, grey images replicated to 3 channels, then normalised. This is how
    28x28 Fashion-MNIST or 8x8 digits feed a network built for 3x32x32 inputs."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
    if t.shape[1] != channels:
        if t.shape[1] == 1:
            t = t.expand(-1, channels, -1, -1)
        elif channels == 1:
            t = t.mean(dim=1, keepdim=True)
        else:
            raise DatasetError(f"cannot map {t.shape[1]}-channel images to {channels} channels")
    if t.shape[2:] != (size, size):
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return (t - mean) / std


__all__ = [
    "DATASETS",
    "MAX_CLASSES",
    "DatasetError",
    "ImageDataset",
    "Split",
    "check_labels",
    "data_classes",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "to_float_images",
]
