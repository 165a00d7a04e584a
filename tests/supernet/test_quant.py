"""Accuracy after quantisation from a supernet, and the quantised export (QDQ int8 ONNX)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwnas.study import Study

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """60 random 28x28 images of 10 classes: calibration and validation stay quick."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("quantdata") / "small.npz"
    np.savez(path, x=rng.integers(0, 255, (60, 1, 28, 28), dtype=np.uint8),
             y=np.repeat(np.arange(10), 6))  # fmt: skip
    return f"npz:{path}"


def test_a_quantised_search_records_accuracy_after_quantisation_and_exports_int8(
    checkpoint: Path, small_data: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    study = Study(
        space="mbv3", quant="w=4,8;a=8;first=8;last=8", dataset="fashion-mnist",
        data=small_data, quality=f"supernet:{checkpoint},calib=16", strategy="random",
        objectives=["accuracy:max", "flash_kb:min"], budget=1, out_dir=run,
    )  # fmt: skip
    frame = study.optimize().evaluations()
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    assert study.config.space == "mbv3+quant:w=4,8;a=8;first=8;last=8"
    row = next(iter(study.ledger.rows()))
    quantised = row["provenance"]["accuracy"]["quantisation"]
    assert quantised["bits"][0] == "stem:w8a8" and quantised["calibration"]["images"] == 16
    assert json.loads((run / "config.json").read_text())["config"]["space"] == study.config.space

    from hwnas.export import export_run, load_model

    result = export_run(run, "index:0", tmp_path / "export")
    card = result.card
    section = card["quantisation"]
    assert card["space"]["name"] == study.config.space and "#" in card["architecture"]["key"]
    assert section["policy"] == "w=4,8;a=8;first=8;last=8"
    assert section["calibration"]["images"] == 16 and section["format"] == "QDQ"
    assert section["agreement_points"] == pytest.approx(
        abs(section["accuracy_onnxruntime"] - section["accuracy_pytorch_fake_quant"])
    )
    import onnx

    graph = onnx.load(str(result.files["onnx"])).graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)  # the int8 graph ships
    assert load_model(tmp_path / "export") is not None  # the float weights rebuild


def test_a_float_runs_architecture_exports_quantised_with_quant(
    cli, tmp_path: Path, small_data: str
) -> None:
    from hwnas.errors import HwnasError
    from hwnas.export import export_run

    run = tmp_path / "run"
    Study(space="mbv3", dataset="fashion-mnist", objectives=["macs:min"], strategy="random",
          budget=1, out_dir=run).optimize()  # fmt: skip
    with pytest.raises(HwnasError, match="needs calibration images: give --data"):
        export_run(run, "index:0", quant="w=8;a=8")
    done = cli("export", str(run), "--pick", "index:0", "--quant", "w=8;a=8", "--data",
               small_data, "--out", str(tmp_path / "e"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "int8 QDQ (w=8;a=8)" in done.stdout
    card = json.loads((tmp_path / "e" / "model_card.json").read_text())
    assert card["space"]["name"] == "mbv3+quant:w=8;a=8"
    assert card["quantisation"]["calibration"]["data"] == small_data


def test_a_quantised_search_on_a_sub_space_supernet_stays_inside_it(
    small_data: str, tmp_path: Path
) -> None:
    import torch

    from hwnas.supernet import train_supernet

    from .conftest import tiny_config

    torch.set_num_threads(1)
    restrict = {"width": ["0.5"]}
    ckpt = tmp_path / "half.safetensors"
    config = tiny_config(space="mbv3-tiny", restrict=restrict, train_images=8, n_random=0)
    train_supernet(config, ckpt, device="cpu")
    study = Study(
        space="mbv3-tiny", dataset="fashion-mnist", data=small_data, quant="w=4,8;a=8",
        restrict=restrict, quality=f"supernet:{ckpt},calib=8,val=20", strategy="random",
        objectives=["accuracy:max", "macs:min"], budget=1, out_dir=tmp_path / "run",
    )  # fmt: skip
    rows = study.optimize().results().rows
    assert [r.status for r in rows] == ["ok"], [r.error for r in rows]
