"""The `vit` supernet (AutoFormer's weight entanglement): every subnet is the static
network with sliced weights, a restricted supernet holds only its sub-space and serves only
searches inside it, AdamW resumes exactly, and search and export run on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hwnas.errors import HwnasError
from hwnas.study import Study
from hwnas.supernet import (
    SupernetConfig,
    evaluate_subnet,
    extract_subnet,
    largest_arch,
    load_checkpoint,
    make_supernet,
    read_meta,
    smallest_arch,
    subnet_from_checkpoint,
    supernet_space,
    train_supernet,
)

from .conftest import tiny_config

#: a sub-space small enough for a unit test
SMALL = {"embed": ["64", "96"], "depth": ["1", "2"], "heads_*": ["1", "2"]}
FLAGS = "--restrict 'depth=1,2' --restrict 'embed=64,96' --restrict 'heads_*=1,2'"


def _vit_config(**changes: object) -> SupernetConfig:
    base = tiny_config(space="vit", optimizer="adamw", lr=1e-3, weight_decay=0.05, restrict=SMALL)
    return SupernetConfig.from_dict({**base.as_dict(), **changes})  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("vit") / "vit.safetensors"
    train_supernet(_vit_config(), path, device="cpu")
    return path


def test_every_subnet_is_the_static_network_with_sliced_weights() -> None:
    restrict = {"embed": ["64", "128"], "depth": ["1", "2", "3"], "heads_*": ["1", "2", "3"]}
    space = supernet_space("vit", restrict)
    torch.manual_seed(0)
    net = make_supernet("vit", "fashion-mnist", 10, restrict).eval()
    # the weights are the sub-space's largest network's, not the whole space's
    assert net.blocks[0].attn["q"].weight.shape == (3 * 64, 128)
    assert net.blocks[0].mlp["fc1"].weight.shape == (512, 128) and len(net.blocks) == 3
    x = torch.randn(3, 1, 28, 28)
    rng = np.random.default_rng(0)
    archs = [largest_arch(space), smallest_arch(space)] + [space.sample(rng) for _ in range(6)]
    assert {a.key.split("|")[1] for a in archs} == {"fine", "coarse"}
    for arch in archs:
        static = extract_subnet(net, arch)
        built = space.build(arch, "fashion-mnist", 10)
        assert {k: v.shape for k, v in static.state_dict().items()} == {
            k: v.shape for k, v in built.state_dict().items()
        }
        with torch.no_grad():
            assert torch.allclose(net(x, arch), static(x), atol=1e-5), arch.key


def test_largest_and_smallest_read_the_restriction() -> None:
    space = supernet_space("vit", SMALL)
    assert largest_arch(space).key == "e96|fine|h2m4,h2m4"
    assert smallest_arch(space).key == "e64|coarse|h1m2"


def test_a_vit_supernet_trains_with_adamw_and_records_its_sub_space(vit_checkpoint: Path) -> None:
    meta = read_meta(vit_checkpoint)
    assert meta["space"] == "vit" and meta["config"]["optimizer"] == "adamw"
    assert meta["config"]["restrict"] == {k: SMALL[k] for k in sorted(SMALL)}
    ckpt = load_checkpoint(vit_checkpoint)
    assert any(name.endswith("/exp_avg_sq") for name in ckpt.tensors)  # AdamW's state saved
    net, prov = subnet_from_checkpoint(vit_checkpoint, "e64|fine|h2m3", data="digits")
    assert prov["restrict"] == ckpt.restriction and prov["space"] == "vit"
    assert prov["calibration"]["images"] == 0  # layer norms: no statistics to recompute
    assert net.blocks[0].mlp.fc1.weight.shape == (192, 64)  # a leading slice of (384, 96)
    acc, _ = evaluate_subnet(vit_checkpoint, "e96|coarse|h1m4,h2m2", data="digits")
    assert 0 <= acc <= 100
    with pytest.raises(HwnasError, match="outside the sub-space .*" + FLAGS.replace("*", r"\*")):
        evaluate_subnet(vit_checkpoint, "e128|fine|h2m3", data="digits")


def test_adamw_resumes_to_the_weights_of_an_uninterrupted_run(
    vit_checkpoint: Path, tmp_path: Path
) -> None:
    path = tmp_path / "killed.safetensors"

    class Killed(Exception):
        pass

    def kill(done: int, total: int, loss: float) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        train_supernet(_vit_config(checkpoint_every=1), path, device="cpu", on_step=kill)
    train_supernet(_vit_config(checkpoint_every=1), path, device="cpu", resume=True)
    done, ref = load_checkpoint(path), load_checkpoint(vit_checkpoint)
    for name, tensor in ref.tensors.items():
        assert torch.equal(done.tensors[name], tensor), name


def test_a_search_must_stay_inside_the_trained_sub_space(vit_checkpoint: Path) -> None:
    quality = f"supernet:{vit_checkpoint},val=40"
    common = {"space": "vit", "dataset": "fashion-mnist", "data": "digits", "budget": 1,
              "objectives": ["accuracy:max", "macs:min"], "quality": quality}  # fmt: skip
    with pytest.raises(HwnasError, match="leaves out embed=128,.*search inside it: "):
        Study(**common).optimize()  # type: ignore[arg-type]
    with pytest.raises(HwnasError, match="leaves out depth=3,4"):
        Study(**common, restrict={**SMALL, "depth": ["1", "2", "3", "4"]}).optimize()  # type: ignore[arg-type]


def test_search_and_export_on_the_vit_supernet(vit_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.export import export_run

    run = tmp_path / "run"
    study = Study(
        space="vit", dataset="fashion-mnist", data="digits", restrict=SMALL,
        quality=f"supernet:{vit_checkpoint},val=40", strategy="random", budget=3, seed=0,
        objectives=["accuracy:max", "macs:min"], constraints=["peak_memory_kb<=320"], out_dir=run,
    )  # fmt: skip
    rows = study.optimize().results().rows
    assert [r.status for r in rows] == ["ok"] * 3, [r.error for r in rows]
    assert all(r.provenance["accuracy"]["kind"] == "supernet" for r in rows)
    card = export_run(run, "best:accuracy", tmp_path / "export", device="cpu").card
    assert card["weights"]["kind"] == "supernet"
    saved = json.loads((tmp_path / "export" / "model_card.json").read_text())
    assert saved["onnx"]["check"]


def test_train_a_vit_supernet_from_the_command_line(cli, tmp_path: Path) -> None:
    out = tmp_path / "v.safetensors"
    args = ["supernet", "train", "--space", "vit", "--data", "digits", "--dataset",
            "fashion-mnist", "--restrict", "embed=64", "--restrict", "depth=1",
            "--restrict", "heads_*=1", "--epochs", "1", "--batch-size", "8", "--train-images",
            "8", "--n-random", "0", "--out", str(out), "--device", "cpu", "--threads", "1"]  # fmt: skip
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    config = read_meta(out)["config"]
    assert (config["optimizer"], config["lr"], config["weight_decay"]) == ("adamw", 1e-3, 0.05)
    assert config["augment"] is False  # shifts slow a ViT's short schedules
    bad = cli(*[a if a != "heads_*=1" else "heads_*=9" for a in args[:-6]], "--out",
              str(tmp_path / "x.safetensors"))  # fmt: skip
    assert bad.returncode == 2 and "heads_0 has choices 1, 2" in bad.stderr
    wrong = cli(*args[:-6], "--optimizer", "adam", "--out", str(tmp_path / "y.safetensors"))
    assert wrong.returncode == 2 and "--optimizer must be one of sgd, adamw" in wrong.stderr


def test_calibration_is_no_cheaper_fidelity_of_a_vit_supernet(vit_checkpoint: Path) -> None:
    from hwnas.errors import SpecError
    from hwnas.quality import get_quality
    from hwnas.sources import EvalContext
    from hwnas.spaces import get_space
    from hwnas.spaces._restrict import restrict_space

    quality = get_quality(f"supernet:{vit_checkpoint}")
    ctx = EvalContext(restrict_space(get_space("vit"), SMALL), "fashion-mnist", data="digits")
    with pytest.raises(SpecError, match="no batch norms to calibrate.*use val=N"):
        quality.fidelity("calib=500", ctx)
    assert quality.fidelity("val=40", ctx).endswith(",val=40")
