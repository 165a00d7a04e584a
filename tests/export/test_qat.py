"""`hwnas export --qat-steps`: quantisation-aware fine-tuning before the int8 QDQ export, its
record on the card, and the cases it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hwnas.cli import app
from hwnas.errors import SpecError
from hwnas.export import export_run, load_model

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

runner = CliRunner()
POLICY = "w=4;a=8"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small tabular NB201 run (float)."""
    out = tmp_path_factory.mktemp("qat") / "run"
    args = ["search", "--budget", "5", "--seed", "0", "--out", str(out), "-q"]
    result = runner.invoke(app, [*args, "-o", "accuracy:max", "-o", "params:min"])
    assert result.exit_code == 0, result.output
    return out


def test_qat_fine_tunes_before_the_int8_export_and_the_card_says_so(
    run_dir: Path, tmp_path: Path, tiny_nb201: None
) -> None:
    import onnx

    ptq = export_run(run_dir, "index:0", tmp_path / "ptq", data="digits", quant=POLICY).card
    assert "qat" not in ptq["quantisation"]  # 0 steps: the export as it was
    result = export_run(
        run_dir, "index:0", tmp_path / "qat", data="digits", quant=POLICY, qat_steps=30
    )
    section = result.card["quantisation"]
    qat = section["qat"]
    assert (qat["steps"], qat["batch_size"], qat["seed"], qat["images"]) == (30, 64, 0, 1439)
    assert qat["lr"] == 1e-3 and qat["seconds"] > 0 and qat["training_images"]["data"] == "digits"
    assert qat["loss_last_steps"] < qat["loss_first_steps"]
    # before QAT is the post-training export's figure; after is the section's own
    assert (
        qat["accuracy_pytorch_fake_quant_before"]
        == ptq["quantisation"]["accuracy_pytorch_fake_quant"]
    )
    # (fresh, untrained weights: the loss falls, the accuracy stays near chance in 30 steps;
    # tests/models/test_qat.py shows QAT recovering what 3-bit weights lose)
    # the int8 file ships, ONNX Runtime ran it, and its accuracy is recorded beside them
    graph = onnx.load(str(result.files["onnx"])).graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)
    assert 0 <= section["accuracy_onnxruntime"] <= 100
    assert result.files["onnx"].read_bytes() != (tmp_path / "ptq" / "model.onnx").read_bytes()
    assert result.card["weights"]["quantisation_aware_steps"] == 30
    # the fine-tuned weights are the ones saved, and they load into the space's network
    tuned, untuned = load_model(tmp_path / "qat"), load_model(tmp_path / "ptq")
    a, b = tuned.state_dict(), untuned.state_dict()
    assert a.keys() == b.keys()
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])
    assert "quantisation-aware" in (tmp_path / "qat" / "model_card.md").read_text()


def test_qat_is_repeatable_from_the_seed(run_dir: Path, tmp_path: Path, tiny_nb201: None) -> None:
    for out in ("a", "b"):
        export_run(run_dir, "index:0", tmp_path / out, data="digits", quant=POLICY, qat_steps=5)
    a, b = load_model(tmp_path / "a").state_dict(), load_model(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "model.onnx").read_bytes() == (
        tmp_path / "b" / "model.onnx"
    ).read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"qat_steps": -1, "data": "digits", "quant": POLICY}, "0 or more, got -1"),
        ({"qat_steps": 5, "data": "digits"}, "needs a quantised architecture"),
        ({"qat_steps": 5, "quant": POLICY}, "needs training images: give data"),
        ({"qat_steps": 5, "data": "digits", "quant": POLICY, "qat_lr": -1.0}, "learning rate"),
    ],
)
def test_where_qat_cannot_apply_it_is_refused(
    run_dir: Path, tmp_path: Path, kwargs: dict[str, object], says: str
) -> None:
    with pytest.raises(SpecError, match=says):
        export_run(run_dir, "index:0", tmp_path / "x", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_cli_qat_steps(run_dir: Path, tmp_path: Path, tiny_nb201: None) -> None:
    out = tmp_path / "cli"
    args = ["export", str(run_dir), "--pick", "index:0", "--out", str(out), "--data", "digits"]
    done = runner.invoke(app, [*args, "--quant", POLICY, "--qat-steps", "5", "--qat-lr", "0.002"])
    assert done.exit_code == 0, done.output
    assert "quantisation-aware fine-tuning, 5 steps" in done.stdout
    assert "int8 QDQ (w=4;a=8)" in done.stdout
    card = json.loads((out / "model_card.json").read_text())
    assert card["quantisation"]["qat"]["lr"] == 0.002
    assert "--qat-steps 5 --qat-lr 0.002" in card["command"]
    for extra, says in [
        (["--quant", POLICY, "--qat-steps", "-1"], "0 or more, got -1"),
        (["--qat-steps", "3"], "needs a quantised architecture"),
        (["--quant", POLICY, "--qat-steps", "3", "--qat-lr", "0"], "learning rate"),
    ]:
        bad = runner.invoke(app, [*args, "--force", *extra])
        assert bad.exit_code == 2, bad.output
        assert says in bad.stderr and bad.stderr.strip().count("\n") == 0
    no_data = ["export", str(run_dir), "--pick", "index:0", "--quant", POLICY, "--qat-steps", "3"]
    bad = runner.invoke(app, no_data)
    assert bad.exit_code == 2 and "needs training images" in bad.stderr
