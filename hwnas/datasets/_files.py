"""Datasets from plain files: an image folder (one subfolder per class), a numpy `.npz`
archive, and scikit-learn's digits."""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from hwnas._io import why_not_a_directory, why_not_a_file
from hwnas.datasets import (
    MAX_CLASSES,
    DatasetError,
    ImageDataset,
    Split,
    check_labels,
    register_dataset,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _folder_split(directory: Path, classes: tuple[str, ...]) -> Split:
    from PIL import Image, UnidentifiedImageError

    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (directory / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            try:
                with Image.open(path) as img:
                    arr = np.asarray(img.convert("RGB" if img.mode not in ("L", "1") else "L"))
            except (UnidentifiedImageError, OSError) as exc:
                raise DatasetError(f"image folder: cannot read {path} ({exc})") from None
            images.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise DatasetError(f"image folder {directory}: no images ({', '.join(IMAGE_SUFFIXES)})")
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        channels = max(s[0] for s in shapes)
        images = [np.repeat(a, channels, axis=0) if a.shape[0] != channels else a for a in images]
        shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise DatasetError(
            f"image folder {directory}: images have different sizes {sorted(shapes)[:3]}...; "
            "resize them to one size first"
        )
    return Split(np.stack(images).astype(np.uint8), np.array(labels, dtype=np.int64))


@register_dataset("folder")
def image_folder(path: str | None) -> ImageDataset:
    """`folder:DIR`: `DIR/<class>/*.png`; or `DIR/train/<class>/...` and `DIR/test/<class>/...`
    for a fixed test split. Class names are the sorted subfolder names."""
    if not path:
        raise DatasetError("folder: give the directory, e.g. folder:~/data/flowers")
    root = Path(path)
    if reason := why_not_a_directory(root):
        raise DatasetError(
            f"folder: expected a directory with one subfolder per class at {root}, which {reason}"
        )
    has_split = (root / "train").is_dir() and (root / "test").is_dir()
    train_dir = root / "train" if has_split else root
    classes = tuple(sorted(p.name for p in train_dir.iterdir() if p.is_dir()))
    if not classes:
        raise DatasetError(f"folder {train_dir}: expected one subfolder per class, found none")
    if len(classes) > MAX_CLASSES:
        raise DatasetError(
            f"folder {train_dir}: {len(classes)} class folders, more than {MAX_CLASSES}"
        )
    test = None
    if has_split:
        missing = [c for c in classes if not (root / "test" / c).is_dir()]
        if missing:
            raise DatasetError(f"folder {root / 'test'}: class folders missing: {missing}")
        test = _folder_split(root / "test", classes)
    prov = {"dataset": "folder", "path": str(root), "format": "image folder"}
    return ImageDataset(root.name, _folder_split(train_dir, classes), test, classes, prov)


def _as_images(x: np.ndarray, where: str) -> np.ndarray:
    """(N, H, W), (N, C, H, W) or (N, H, W, C) with C in 1/3 -> uint8 (N, C, H, W)."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DatasetError(f"{where}: expected images (N, H, W), (N, C, H, W) or (N, H, W, C)")
    if x.dtype != np.uint8:
        if x.dtype.kind != "f" or x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
            raise DatasetError(f"{where}: expected uint8 images or floats in [0, 1], got {x.dtype}")
        x = np.round(x * 255).astype(np.uint8)
    return np.ascontiguousarray(x)


def memory_bytes() -> int | None:
    """This machine's physical memory (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_npz_sizes(file: Path) -> None:
    """Refuse, before reading any array, an archive whose arrays would not fit: a few
    kilobytes of deflated zeros can unpack to gigabytes (a zip bomb; the members' declared
    sizes bound what unpacks), and an array header can declare more than its member holds
    (numpy allocates the declared shape first)."""
    with zipfile.ZipFile(file) as archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
        total, memory = sum(m.file_size for m in members), memory_bytes()
        if memory is not None and total > memory // 2:
            raise DatasetError(
                f"npz {file}: its arrays unpack to {total / 2**30:.1f} GiB, more than half "
                f"of this machine's memory ({memory / 2**30:.1f} GiB)"
            )
        for member in members:
            with archive.open(member) as fp:
                version = np.lib.format.read_magic(fp)
                if version not in ((1, 0), (2, 0)):
                    continue  # np.load reads (or refuses) the rarer formats itself
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(fp)
                declared = math.prod(shape) * dtype.itemsize
                if declared > member.file_size:
                    raise DatasetError(
                        f"npz {file} [{member.filename.removesuffix('.npy')}]: declares shape "
                        f"{tuple(shape)} ({declared:,} bytes) but holds {member.file_size:,}"
                    )


@register_dataset("npz")
def npz(path: str | None) -> ImageDataset:
    """`npz:FILE`: arrays `x`, `y` or `x_train`, `y_train`, `x_test`, `y_test`, and an
    optional `classes` array of strings; loaded with allow_pickle=False."""
    if not path:
        raise DatasetError("npz: give the file, e.g. npz:~/data/images.npz")
    file = Path(path)
    if reason := why_not_a_file(file):
        raise DatasetError(f"npz: expected a numpy .npz archive at {file}, which {reason}")
    try:
        _check_npz_sizes(file)
        with np.load(file, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"npz {file}: cannot read it without pickle ({exc})") from None
    splits: dict[str, Split] = {}
    for prefix, keys in (
        ("train", ("x_train", "y_train")),
        ("all", ("x", "y")),
        ("test", ("x_test", "y_test")),
    ):
        if all(k in arrays for k in keys):
            x = _as_images(arrays[keys[0]], f"npz {file} [{keys[0]}]")
            splits[prefix] = Split(
                x, check_labels(arrays[keys[1]], len(x), f"npz {file} [{keys[1]}]")
            )
    train = splits.get("train", splits.get("all"))
    if train is None:
        raise DatasetError(
            f"npz {file}: expected arrays x, y or x_train, y_train[, x_test, y_test]; "
            f"found {sorted(arrays)}"
        )
    test = splits.get("test")
    n_classes = int(max(train.y.max(), -1 if test is None else test.y.max())) + 1
    names = arrays.get("classes")
    if names is not None and (names.ndim != 1 or len(names) > MAX_CLASSES):
        raise DatasetError(
            f"npz {file} [classes]: expected at most {MAX_CLASSES} names, got shape {names.shape}"
        )
    classes = (
        tuple(str(c) for c in names) if names is not None else tuple(map(str, range(n_classes)))
    )
    if len(classes) < n_classes:
        raise DatasetError(f"npz {file}: {len(classes)} class names for {n_classes} labels")
    prov = {"dataset": "npz", "path": str(file), "format": "npz (allow_pickle=False)"}
    return ImageDataset(file.stem, train, test, classes, prov)


@register_dataset("digits")
def digits(path: str | None) -> ImageDataset:
    """scikit-learn's 1,797 8x8 handwritten digits (UCI), scaled from 0..16 to 0..255."""
    from sklearn.datasets import load_digits

    if path:
        raise DatasetError("digits ships with scikit-learn and takes no path")
    bunch = load_digits()
    x = np.clip(np.asarray(bunch.images) * 16, 0, 255).astype(np.uint8)[:, None]
    prov = {
        "dataset": "digits",
        "source": "sklearn.datasets.load_digits (UCI)",
        "format": "sklearn",
    }
    return ImageDataset(
        "digits", Split(x, bunch.target.astype(np.int64)), None,
        tuple(str(i) for i in range(10)), prov,
    )  # fmt: skip
