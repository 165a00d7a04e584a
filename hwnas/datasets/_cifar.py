"""CIFAR-10 / CIFAR-100 in their python or binary distributions.

The python batches are pickles, and hwnas never unpickles a user file with the standard
unpickler: `_CifarUnpickler` resolves only the globals a numpy array needs
(`numpy.core.multiarray._reconstruct`, `numpy.ndarray`, `numpy.dtype`, and `_codecs.encode`
with which Python 3 writes bytes at protocol 2), so a file that tries
to call anything else (`os.system`, `builtins.eval`, ...) is refused before it runs, and the
result must be a dict of plain values with a uint8 `data` array. This keeps the format
users actually have on disk (torchvision downloads the python version) without the
arbitrary-code risk; the binary version (`cifar-10-batches-bin`) needs no pickle at all."""

from __future__ import annotations

import codecs
import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._io import why_not_a_directory
from hwnas.datasets import DatasetError, ImageDataset, Split, check_labels, register_dataset
from hwnas.datasets.catalogue import dataset_info

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (str -> latin-1 bytes)
}
# resolved here, not imported: old pickles name numpy.core, which numpy 2 renamed
_RECONSTRUCT: Any = np.ndarray.__reduce__(np.zeros(0))[0]


class _CifarUnpickler(pickle.Unpickler):
    """Resolves only the numpy globals listed in `_ALLOWED`, and lets no array be larger
    than the file it comes from: an array's bytes are in the pickle, so a bigger shape is a
    file asking for memory it does not hold (`numpy.ndarray((2**50,))` in a 100-byte file)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="bytes")
        self.max_bytes = len(data)

    def _check(self, shape: Any, dtype: Any) -> None:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise pickle.UnpicklingError(f"array shape {dims} is not a tuple of sizes")
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise pickle.UnpicklingError("arrays of Python objects are not allowed")
        if math.prod(dims) * dt.itemsize > self.max_bytes:
            raise pickle.UnpicklingError(
                f"an array of shape {dims} {dt} is larger than the {self.max_bytes}-byte file"
            )

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> Any:
        if subtype != self._ndarray:  # the file names `numpy.ndarray`, resolved to _ndarray
            raise pickle.UnpicklingError("only plain numpy arrays are allowed")
        self._check(shape, dtype)
        return _RECONSTRUCT(np.ndarray, shape, dtype)

    def _ndarray(self, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> Any:
        self._check(shape, dtype)
        return np.ndarray(shape, dtype, *args, **kwargs)

    def _dtype(self, *args: Any, **kwargs: Any) -> np.dtype[Any]:
        dt = np.dtype(*args, **kwargs)
        if dt.hasobject:
            raise pickle.UnpicklingError("arrays of Python objects are not allowed")
        return dt

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return {
                "_reconstruct": self._reconstruct, "ndarray": self._ndarray,
                "dtype": self._dtype, "encode": codecs.encode,
            }[name]  # fmt: skip
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def read_python_batch(path: Path) -> dict[str, Any]:
    """One CIFAR python batch as a dict with str keys, read with the restricted unpickler."""
    try:
        with open(path, "rb") as fh:
            obj = _CifarUnpickler(fh.read()).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DatasetError(
            f"CIFAR python batch {path}: not a CIFAR batch that can be read safely ({exc})"
        ) from None
    if not isinstance(obj, dict):
        raise DatasetError(f"CIFAR python batch {path}: expected a dict, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _images(data: Any, path: Path) -> np.ndarray:
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or (data.shape[1] != 3072)
    ):
        shape = getattr(data, "shape", None)
        raise DatasetError(
            f"CIFAR batch {path}: expected 'data' as uint8 (N, 3072), got "
            f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}"
        )
    return data.reshape(-1, 3, 32, 32)


def _labels(batch: dict[str, Any], key: str, n: int, classes: int, path: Path) -> np.ndarray:
    if key not in batch:
        raise DatasetError(f"CIFAR batch {path}: no {key!r} entry (keys: {sorted(batch)})")
    where = f"CIFAR batch {path} [{key!r}]"
    try:
        y = np.asarray(batch[key])
    except ValueError:  # a ragged list
        raise DatasetError(f"{where}: expected a flat list of {n} integer labels") from None
    return check_labels(y, n, where, classes)


def _names(values: Any, where: Path) -> tuple[str, ...]:
    """Class names from a meta file: a flat list of text (bytes as UTF-8)."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, (str, bytes)) for v in values
    ):
        raise DatasetError(
            f"CIFAR meta file {where}: expected a list of class names, got {type(values).__name__}"
        )
    try:
        return tuple(v.decode() if isinstance(v, bytes) else v for v in values)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"CIFAR meta file {where}: class names are not UTF-8 ({exc})") from None


def _load_python(directory: Path, variant: str) -> ImageDataset:
    if variant == "cifar10":
        files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
        meta, names_key, label_key = "batches.meta", "label_names", "labels"
    else:
        files = {"train": ["train"], "test": ["test"]}
        meta, names_key, label_key = "meta", "fine_label_names", "fine_labels"
    n_classes = dataset_info(variant).classes
    splits = {}
    for split, names in files.items():
        xs, ys = [], []
        for name in names:
            path = directory / name
            if not path.is_file():
                raise DatasetError(
                    f"{variant}: expected the python batch {name} in {directory} "
                    f"(files: {', '.join(files['train'] + files['test'])}, {meta})"
                )
            batch = read_python_batch(path)
            x = _images(batch.get("data"), path)
            xs.append(x)
            ys.append(_labels(batch, label_key, len(x), n_classes, path))
        splits[split] = Split(np.concatenate(xs), np.concatenate(ys))
    classes = tuple(str(i) for i in range(n_classes))
    if (directory / meta).is_file():
        label_names = read_python_batch(directory / meta).get(names_key)
        if label_names is not None:
            found = _names(label_names, directory / meta)
            classes = found if len(found) == n_classes else classes
    prov = {"dataset": variant, "path": str(directory), "format": "python batches (restricted)"}
    return ImageDataset(variant, splits["train"], splits["test"], classes, prov)


def read_binary_batch(path: Path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Records of `label_bytes` label bytes then 3072 pixel bytes; returns the images and
    the last label byte (CIFAR-100's fine label)."""
    raw = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + 3072
    if raw.size == 0 or raw.size % record:
        raise DatasetError(
            f"CIFAR binary batch {path}: {raw.size} bytes is not a multiple of the "
            f"{record}-byte record ({label_bytes} label byte(s) + 3072 pixels)"
        )
    rows = raw.reshape(-1, record)
    return rows[:, label_bytes:].reshape(-1, 3, 32, 32).copy(), rows[:, label_bytes - 1].astype(
        np.int64
    )


def _load_binary(directory: Path, variant: str) -> ImageDataset:
    if variant == "cifar10":
        files = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
        label_bytes, meta = 1, "batches.meta.txt"
    else:
        files = {"train": ["train.bin"], "test": ["test.bin"]}
        label_bytes, meta = 2, "fine_label_names.txt"
    n_classes = dataset_info(variant).classes
    splits = {}
    for split, names in files.items():
        parts = [read_binary_batch(directory / n, label_bytes) for n in names]
        y = np.concatenate([p[1] for p in parts])
        if y.size and y.max() >= n_classes:
            raise DatasetError(f"{variant} in {directory}: labels outside 0..{n_classes - 1}")
        splits[split] = Split(np.concatenate([p[0] for p in parts]), y)
    classes = tuple(str(i) for i in range(n_classes))
    if (directory / meta).is_file():
        try:
            text = (directory / meta).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(
                f"CIFAR meta file {directory / meta}: not UTF-8 text ({exc})"
            ) from None
        lines = [s.strip() for s in text.splitlines() if s.strip()]
        if len(lines) == n_classes:
            classes = tuple(lines)
    prov = {"dataset": variant, "path": str(directory), "format": "binary batches"}
    return ImageDataset(variant, splits["train"], splits["test"], classes, prov)


def load_cifar(path: str | None, variant: str) -> ImageDataset:
    if not path:
        raise DatasetError(
            f"{variant}: give the directory of its python or binary batches, e.g. "
            f"{variant}:~/data/{'cifar-10-batches-py' if variant == 'cifar10' else 'cifar-100-python'}"
            " (hwnas downloads nothing)"
        )
    directory = Path(path)
    if reason := why_not_a_directory(directory):
        raise DatasetError(
            f"{variant}: expected a directory of CIFAR batches at {directory}, which {reason}"
        )
    binary = "data_batch_1.bin" if variant == "cifar10" else "train.bin"
    if (directory / binary).is_file():
        return _load_binary(directory, variant)
    return _load_python(directory, variant)


@register_dataset("cifar10")
def cifar10(path: str | None) -> ImageDataset:
    """CIFAR-10: `cifar10:DIR` with `data_batch_1..5` + `test_batch` (python version) or
    the same names with `.bin` (binary version)."""
    return load_cifar(path, "cifar10")


@register_dataset("cifar100")
def cifar100(path: str | None) -> ImageDataset:
    """CIFAR-100 (fine labels): `cifar100:DIR` with `train` + `test` (python version) or
    `train.bin` + `test.bin` (binary version)."""
    return load_cifar(path, "cifar100")
