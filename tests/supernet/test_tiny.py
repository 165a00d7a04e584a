"""The supernet of `mbv3-tiny`, the small-input layout: it trains, its subnets come out as
the space's networks and serve a search; a space without a supernet is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hwnas.errors import HwnasError, UnknownNameError
from hwnas.spaces import get_space
from hwnas.study import Study
from hwnas.supernet import (
    MBV3Supernet,
    evaluate_subnet,
    largest_arch,
    load_checkpoint,
    subnet_from_checkpoint,
    train_supernet,
)

from .conftest import tiny_config


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("tiny") / "mbv3-tiny.safetensors"
    train_supernet(tiny_config(space="mbv3-tiny"), path, device="cpu")
    return path


def test_a_tiny_supernet_holds_the_tiny_spaces_networks(tiny_checkpoint: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint)
    assert ckpt.space == "mbv3-tiny"
    space = get_space("mbv3-tiny")
    arch = space.parse("min")
    net, prov = subnet_from_checkpoint(tiny_checkpoint, arch, data="digits", calib_images=16)
    built = space.build(arch, "fashion-mnist")
    assert {k: v.shape for k, v in net.state_dict().items()} == {
        k: v.shape for k, v in built.state_dict().items()
    }
    assert prov["space"] == "mbv3-tiny"
    # its largest weights are the tiny layout's: narrower than mbv3's (width 1 vs 1.2)
    largest = space.plan(largest_arch(space), "fashion-mnist")["head"]["mid_ch"]
    assert ckpt.supernet().head.expand.conv.weight.shape[0] == largest == 960
    acc, _ = evaluate_subnet(tiny_checkpoint, "max", data="digits", calib_images=16)
    assert 0 <= acc <= 100


def test_a_search_of_the_tiny_space_uses_its_supernet(tiny_checkpoint: Path) -> None:
    study = Study(
        space="mbv3-tiny", dataset="fashion-mnist", data="digits",
        quality=f"supernet:{tiny_checkpoint},calib=16,val=40",
        objectives=["accuracy:max", "macs:min"], strategy="random", budget=2, seed=0,
    )  # fmt: skip
    frame = study.optimize().evaluations()
    assert len(frame) == 2 and (frame["status"] == "ok").all()
    assert frame["accuracy"].between(0, 100).all()
    with pytest.raises(HwnasError, match="trained for mbv3-tiny/fashion-mnist, not mbv3/"):
        Study(
            space="mbv3", dataset="fashion-mnist", data="digits",
            quality=f"supernet:{tiny_checkpoint}", objectives=["accuracy:max"], budget=1,
        ).optimize()  # fmt: skip


def test_spaces_without_a_supernet_are_refused_by_name() -> None:
    with pytest.raises(UnknownNameError, match="valid: mbv3, mbv3-tiny"):
        MBV3Supernet("cifar10", space="mbv2")
    with pytest.raises(UnknownNameError, match="did you mean 'mbv3-tiny'"):
        train_supernet(tiny_config(space="mbv3-tny"), Path("unused.safetensors"))


def test_an_unknown_supernet_option_is_named(tmp_path: Path) -> None:
    """`images=40` was read as part of the checkpoint's path ("... does not exist")."""
    from hwnas.errors import SpecError
    from hwnas.quality.supernet import parse_spec

    with pytest.raises(SpecError, match="'images=40': the options are calib=N, val=N"):
        parse_spec(f"{tmp_path}/s.safetensors,calib=16,images=40")
    odd = tmp_path / "a,b=1"  # a path that itself has a comma and '=' still works
    odd.write_bytes(b"")
    assert parse_spec(f"{odd},val=5") == (odd, {"val": 5})
