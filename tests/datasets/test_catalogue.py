"""The dataset catalogue is the one place dataset facts live: every dataset a space serves
is in it, spaces take their input shapes from it, and the loaders that can run here agree
with it."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwnas
from hwnas.datasets import load_dataset
from hwnas.datasets.catalogue import CATALOGUE, dataset_info
from hwnas.errors import UnknownNameError
from hwnas.spaces import get_space


@pytest.mark.parametrize("name", hwnas.list_spaces())
def test_every_dataset_a_space_serves_is_catalogued(name: str) -> None:
    space = get_space(name)
    for dataset in space.datasets:
        assert dataset in CATALOGUE, f"space {name!r} serves {dataset!r}: add it to the catalogue"


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_input_shapes_come_from_the_catalogue(name: str) -> None:
    space = get_space(name)
    for dataset in space.datasets:
        assert space.input_shape(dataset) == dataset_info(dataset).input_shape


def test_the_published_shapes() -> None:
    assert dataset_info("imagenet16").input_shape == (3, 16, 16)
    assert dataset_info("imagenet16").classes == 120
    assert dataset_info("fashion-mnist").input_shape == (1, 28, 28)
    assert dataset_info("imagenet").input_shape == (3, 224, 224)


def test_the_digits_loader_agrees_with_the_catalogue() -> None:
    ds = load_dataset("digits")
    info = dataset_info("digits")
    assert ds.image_shape == info.input_shape
    assert ds.num_classes == info.classes


def test_an_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="cifar10.*imagenet16"):
        dataset_info("mnist")


def test_data_classes_reads_the_catalogue_and_loads_only_files(tmp_path: Path) -> None:
    import numpy as np

    from hwnas.datasets import data_classes

    assert data_classes(None) is None
    assert data_classes("cifar100:/nowhere") == 100  # catalogued: nothing is loaded
    file = tmp_path / "three.npz"
    np.savez(file, x=np.zeros((6, 4, 4), np.uint8), y=np.arange(6) % 3)
    assert data_classes(f"npz:{file}") == 3


def test_text_datasets_are_token_ids_of_a_sequence_length() -> None:
    from hwnas.errors import SpecError

    info = dataset_info("seq128")
    assert info.is_text and info.seq_len == 128 and info.vocab == 30522
    assert dataset_info("seq512").seq_len == 512
    with pytest.raises(SpecError, match="token-id text"):
        _ = info.input_shape
    with pytest.raises(SpecError, match="not token-id text"):
        _ = dataset_info("cifar10").seq_len
