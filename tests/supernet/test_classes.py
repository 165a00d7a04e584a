"""A supernet on the user's data: its classifier has the data's classes (3 here, on
fashion-mnist-shaped networks), the checkpoint records them, extraction and export keep
them, and data with another count is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hwnas.errors import HwnasError
from hwnas.supernet import (
    CheckpointError,
    evaluate_subnet,
    load_checkpoint,
    read_meta,
    subnet_from_checkpoint,
    train_supernet,
)

from .conftest import tiny_config


@pytest.fixture(scope="module")
def three_class_checkpoint(three_classes: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("supernet3") / "three.safetensors"
    train_supernet(tiny_config(data=three_classes), path, device="cpu")
    return path


def test_the_checkpoint_records_and_keeps_the_datas_classes(
    three_class_checkpoint: Path, three_classes: str
) -> None:
    assert read_meta(three_class_checkpoint)["classes"] == 3
    ckpt = load_checkpoint(three_class_checkpoint)
    assert ckpt.classes == 3 and ckpt.supernet().head.classifier.out_features == 3
    net, prov = subnet_from_checkpoint(three_class_checkpoint, "ofa-min", calib_images=8)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 3) and prov["classes"] == 3
    acc, prov = evaluate_subnet(three_class_checkpoint, "ofa-min", calib_images=8, device="cpu")
    assert 0 <= acc <= 100 and prov["data"] == three_classes and prov["classes"] == 3
    # resuming a finished run reads its classes back
    assert (
        train_supernet(
            tiny_config(data=three_classes), three_class_checkpoint, resume=True, device="cpu"
        )["classes"]
        == 3
    )


def test_data_with_another_class_count_is_refused(three_class_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="'digits' has 10 classes but supernet .* on 3"):
        evaluate_subnet(three_class_checkpoint, "ofa-min", data="digits", calib_images=0)


def test_a_search_refuses_it_before_evaluating(cli, three_class_checkpoint: Path) -> None:
    result = cli(
        "search", "--space", "mbv3", "--dataset", "fashion-mnist", "--data", "digits",
        "--quality", f"supernet:{three_class_checkpoint}", "-o", "accuracy:max", "-o",
        "macs:min", "--budget", "2",
    )  # fmt: skip
    assert result.returncode == 2, result.stdout
    assert "data 'digits' has 10 classes but supernet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_and_export_on_the_users_data(
    three_class_checkpoint: Path, three_classes: str, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from hwnas.export import export_run, load_model
    from hwnas.study import Study

    run = tmp_path / "run"
    study = Study(
        space="mbv3", dataset="fashion-mnist", data=three_classes,
        quality=f"supernet:{three_class_checkpoint},calib=8", strategy="random", budget=2,
        objectives=["accuracy:max", "params:min"], out_dir=run,
    )  # fmt: skip
    rows = study.optimize().results().rows
    assert all(r.status == "ok" for r in rows), [r.error for r in rows]
    assert all(r.provenance["accuracy"]["classes"] == 3 for r in rows)
    assert all(r.provenance["params"]["classes"] == 3 for r in rows)
    card = export_run(run, "best:accuracy", tmp_path / "export", device="cpu").card
    assert card["classes"] == 3 and card["weights"]["kind"] == "supernet"
    assert load_model(tmp_path / "export").head.classifier.out_features == 3
    saved = json.loads((tmp_path / "export" / "model_card.json").read_text())
    assert saved["onnx"]["check"] and saved["classes"] == 3


def test_checkpoints_without_classes_have_the_datasets(checkpoint: Path, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(checkpoint), framework="pt") as fh:
        meta = json.loads(fh.metadata()["hwnas"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - not a dict
    older = tmp_path / "older.safetensors"
    del meta["classes"]
    save_file(tensors, str(older), metadata={"hwnas": json.dumps(meta)})
    assert load_checkpoint(older).classes == 10  # fashion-mnist's, as it was trained
    edited = tmp_path / "edited.safetensors"
    save_file(tensors, str(edited), metadata={"hwnas": json.dumps({**meta, "classes": "3"})})
    with pytest.raises(HwnasError, match="'classes' must be a positive integer"):
        read_meta(edited)
