"""`hwnas export` and `hwnas.export`: picking an evaluation of a run, the ONNX / safetensors /
model-card files, supernet weights (through a stand-in `hwnas.supernet`), fine-tuning."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hwnas.cli import app
from hwnas.errors import DependencyError, HwnasError
from hwnas.export import (
    ExportError,
    PickError,
    compare_logits,
    export_run,
    load_model,
    md_code,
    pick_evaluation,
    render_card,
)
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.results import load_results

runner = CliRunner()
OBJECTIVES = ["accuracy:max", "latency@pixel3:min", "params:min"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small tabular NB201 run, made as a user makes one."""
    out = tmp_path_factory.mktemp("export") / "run"
    args = ["search", "--budget", "20", "--seed", "0", "--out", str(out), "-q"]
    args += [x for o in OBJECTIVES for x in ("-o", o)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def run(run_dir: Path) -> Any:
    return load_results(run_dir)


def _evaluations(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "evaluations.csv")


# --- picking (no torch) ----------------------------------------------------------------------
def test_pick_best_per_objective_is_the_front_extreme(run_dir: Path) -> None:
    run = load_results(run_dir)
    front = pd.read_csv(run_dir / "pareto.csv")
    acc = pick_evaluation(run, "best:accuracy").evaluation
    assert acc.metrics["accuracy"] == front["accuracy"].max()
    lat = pick_evaluation(run, "best:latency@pixel3").evaluation
    assert lat.metrics["latency@pixel3"] == front["latency@pixel3"].min()
    assert pick_evaluation(run, "best:latency@pixel3").on_front
    # an explicit direction is accepted too, and max params is the opposite end
    big = pick_evaluation(run, "best:params:max").evaluation
    assert big.metrics["params"] == front["params"].max()


def test_pick_condition_is_most_accurate_feasible_point_meeting_it(run_dir: Path) -> None:
    ev = _evaluations(run_dir)
    ok = ev[ev["status"] == "ok"]
    # bounds inside the run's own latency range, whatever the default strategy sampled
    for bound in ok["latency@pixel3"].quantile([0.2, 0.5, 1.0]).round(3) + 1e-3:
        picked = pick_evaluation(load_results(run_dir), f"latency@pixel3<={bound}")
        expected = ok[ok["latency@pixel3"] <= bound]["accuracy"].max()
        assert picked.evaluation.metrics["accuracy"] == expected
        assert picked.evaluation.metrics["latency@pixel3"] <= bound
        assert picked.on_front
    both = pick_evaluation(load_results(run_dir), "latency@pixel3<=12, params < 0.5").evaluation
    sub = ok[(ok["latency@pixel3"] <= 12) & (ok["params"] < 0.5)]
    assert both.metrics["accuracy"] == sub["accuracy"].max()


def test_pick_index_and_arch(run_dir: Path) -> None:
    run = load_results(run_dir)
    front = pd.read_csv(run_dir / "pareto.csv")
    for i in (0, len(front) - 1):
        picked = pick_evaluation(run, f"index:{i}")
        assert picked.evaluation.arch == front["arch"][i]
        assert picked.front_index == i
    ev = _evaluations(run_dir)
    off_front = ev[~ev["arch"].isin(front["arch"])].iloc[0]
    picked = pick_evaluation(run, f"arch:{off_front['arch']}")
    assert picked.evaluation.trial == off_front["trial"]
    assert not picked.on_front and picked.front_index is None


def test_front_without_pareto_csv_matches_the_file(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "pareto.csv").unlink()
    expected = pd.read_csv(run_dir / "pareto.csv")["arch"].tolist()
    assert [e.arch for e in load_results(copy).front()] == expected


@pytest.mark.parametrize(
    ("pick", "says"),
    [
        ("best:latency", "available: accuracy, latency@pixel3, params"),
        ("best:flops", "available: accuracy, latency@pixel3, params"),
        ("latency@local-cpu<=5", "available: accuracy"),
        ("latency@pixel3<=0.01", "no feasible evaluation"),
        ("latency@pixel3<=abc", "not a number"),
        ("index:999", "use index:0.."),
        ("index:-1", "row number"),
        ("arch:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "did not evaluate"),
        ("arch:|bogus~0|", "nb201 architecture"),
        ("most-accurate", "expected best:METRIC"),
    ],
)
def test_bad_picks_say_what_is_available(run_dir: Path, pick: str, says: str) -> None:
    with pytest.raises(PickError, match="pick .*") as info:
        pick_evaluation(load_results(run_dir), pick)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        ["", "best:", "best:accuracy:", "index:", "arch:", "accuracy<=", "latency@pixel3<"]
    ),
    rest=st.text(max_size=40),
)
def test_any_pick_text_picks_or_is_a_clear_error(run: Any, prefix: str, rest: str) -> None:
    try:
        picked = pick_evaluation(run, prefix + rest)
    except HwnasError as exc:
        assert str(exc)
    else:
        assert picked.evaluation.status in ("ok", "infeasible")


def test_best_of_a_non_objective_metric_needs_a_direction(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    ledger = Ledger(copy / LEDGER_FILE)
    config = ledger.get_meta("config")
    ledger.set_meta("config", {**config, "objectives": OBJECTIVES[:2]})
    ledger.close()
    with pytest.raises(PickError, match="best:params:min or best:params:max"):
        pick_evaluation(load_results(copy), "best:params")


def test_missing_run_directory(tmp_path: Path) -> None:
    with pytest.raises(HwnasError, match="no such run directory"):
        load_results(tmp_path / "nope")
    with pytest.raises(HwnasError, match="not a run directory"):
        load_results(tmp_path)


# --- the files ---------------------------------------------------------------------------------
def test_export_onnx_matches_torch_and_weights_load_back(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import onnx
    import onnxruntime as ort
    import torch
    from safetensors import safe_open

    out = tmp_path / "exp"
    result = export_run(run_dir, "latency@pixel3<=5", out)
    card = result.card
    key = card["architecture"]["key"]
    onnx.checker.check_model(onnx.load(str(out / "model.onnx")))

    # the weights load strictly into a freshly built network (different init seed)
    torch.manual_seed(12345)
    model = load_model(out)
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(x).numpy()
    # ... and ONNX Runtime, on a batch size other than the export's, gives the same logits
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
    assert session.get_inputs()[0].shape[1:] == [3, 32, 32]

    with safe_open(str(out / "weights.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert meta["arch"] == key and meta["space"] == "nb201" and meta["weights"] == "untrained"
    assert json.loads(meta["input_shape"]) == [1, 3, 32, 32]

    # the card carries the ledger's evaluation with its provenance
    ledger = Ledger(run_dir / LEDGER_FILE)
    row = next(r for r in ledger.rows() if r["arch"] == key)
    ledger.close()
    assert card["pick"]["trial"] == row["trial"]
    for name, value in row["metrics"].items():
        assert card["metrics"][name]["value"] == value
        assert card["metrics"][name]["provenance"] == row["provenance"][name]
    assert json.loads((out / "model_card.json").read_text()) == card
    text = (out / "model_card.md").read_text()
    assert "UNTRAINED" in text
    assert row["provenance"]["latency@pixel3"]["source"] in text
    assert "edge_1_0" in text and card["hwnas_version"] in text


def test_shipped_graph_is_the_measured_graph(
    run_dir: Path, tmp_path: Path, tiny_nb201: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ONNX bytes latency measurement hands to ONNX Runtime for the exported network are
    the bytes of the exported model.onnx: one exporter, one graph (a second exporter with
    another output name, batch axis or opset fails this)."""
    import onnx
    import onnxruntime as ort

    from hwnas.cost.measure import MeasureConfig, measure

    sessions: list[bytes] = []
    real = ort.InferenceSession

    def spy(content: Any, *args: Any, **kwargs: Any) -> Any:
        sessions.append(content)
        return real(content, *args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    out = tmp_path / "exp"
    card = export_run(run_dir, "index:0", out).card
    shipped = (out / "model.onnx").read_bytes()
    assert sessions == [shipped]  # the export's own check ran the shipped bytes

    model = load_model(out)
    shape = tuple(card["input_shape"][1:])
    cfg = MeasureConfig(warmup=0, repeats=1, min_block_s=0.0, block_warmup=0, min_block_runs=1)
    measure([(model, shape)], cfg)
    measured = sessions[1]

    def interface(content: bytes) -> Any:
        g = onnx.load_from_string(content)
        ops = [(o.domain, o.version) for o in g.opset_import]
        io = [
            [
                (v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
                for v in vs
            ]
            for vs in (g.graph.input, g.graph.output)
        ]
        return ops, io, [n.op_type for n in g.graph.node]

    assert interface(measured) == interface(shipped)
    assert interface(shipped)[1] == [
        [("input", ["batch", *shape])],
        [("logits", ["batch", card["classes"]])],
    ]
    assert measured == shipped


def test_export_refuses_to_overwrite_without_force(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    (tmp_path / "model_card.json").write_text("{}")
    with pytest.raises(HwnasError, match="already holds an export"):
        export_run(run_dir, "index:0", tmp_path)


def test_onnx_mismatch_is_an_error() -> None:
    a = np.zeros((2, 10), dtype=np.float32)
    assert compare_logits(a, a + 1e-6, {})["max_abs_diff"] < 1e-5
    with pytest.raises(ExportError, match="differ"):
        compare_logits(a, a + 0.1, {})
    with pytest.raises(ExportError, match="differ"):
        compare_logits(a, np.zeros((2, 9), dtype=np.float32), {})


def test_markdown_stays_on_its_line() -> None:
    hostile = "a|b\n# injected\r\n`tick`` x"
    span = md_code(hostile, table=True)
    assert "\n" not in span and "\r" not in span
    assert span == "```a\\|b # injected  `tick`` x```"
    assert md_code("`x`") == "`` `x` ``"


def test_card_with_hostile_metric_names_keeps_its_structure(
    run_dir: Path, tmp_path: Path, tiny_nb201: None
) -> None:
    card = export_run(run_dir, "index:0", tmp_path / "x").card
    card["metrics"]["evil\n# Owned"] = {"value": 1.0, "provenance": {"k\n|x": "v\n## y"}}
    text = render_card(card)
    assert not any(line.startswith(("# Owned", "## y", "|x")) for line in text.splitlines())
    assert text.count("\n# ") == 0 and text.startswith("# Model card")


# --- weights from a supernet -----------------------------------------------------------------------
def _supernet_run(run_dir: Path, tmp_path: Path, options: str = "") -> tuple[Path, Path]:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    ckpt = tmp_path / "supernet.safetensors"
    ckpt.write_bytes(b"stand-in checkpoint")
    ledger = Ledger(copy / LEDGER_FILE)
    ledger.set_meta("config", {**ledger.get_meta("config"), "quality": f"supernet:{ckpt}{options}"})
    ledger.close()
    return copy, ckpt


@pytest.mark.parametrize(("options", "calib"), [("", 2000), (",calib=300,val=1000", 300)])
def test_supernet_weights_are_inherited(
    run_dir: Path,
    tmp_path: Path,
    tiny_nb201: None,
    monkeypatch: pytest.MonkeyPatch,
    options: str,
    calib: int,
) -> None:
    """The exported network is the one the search evaluated: same checkpoint, same
    batch-norm calibration."""
    import torch

    from hwnas.models.nb201 import TinyNetwork
    from hwnas.spaces.nb201 import cell

    copy, ckpt = _supernet_run(run_dir, tmp_path, options)
    calls: list[dict[str, Any]] = []
    made: list[torch.nn.Module] = []

    def subnet_from_checkpoint(checkpoint, arch, data=None, calib_images=2000, device="auto"):  # type: ignore[no-untyped-def]
        calls.append({"checkpoint": checkpoint, "arch": arch, "data": data, "device": device})
        torch.manual_seed(99)
        model = TinyNetwork(cell(arch.genes), 10, C=4, N=1)
        made.append(model)
        return model, {"calib_images": calib_images, "val_accuracy": 81.5}

    fake = types.ModuleType("hwnas.supernet")
    fake.subnet_from_checkpoint = subnet_from_checkpoint  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hwnas.supernet", fake)

    out = tmp_path / "exp"
    card = export_run(copy, "best:accuracy", out, device="cpu").card
    assert calls and calls[0]["checkpoint"] == ckpt and calls[0]["device"] == "cpu"
    assert calls[0]["arch"].key == card["architecture"]["key"]
    weights = card["weights"]
    assert weights["kind"] == "supernet"
    assert weights["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert weights["provenance"] == {"calib_images": calib, "val_accuracy": 81.5}
    reloaded = load_model(out)
    for name, tensor in made[0].state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name
    text = (out / "model_card.md").read_text()
    assert "UNTRAINED" not in text and str(ckpt) in text and weights["sha256"] in text


def test_supernet_run_without_supernet_module_names_the_dependency(
    run_dir: Path, tmp_path: Path, tiny_nb201: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy, _ = _supernet_run(run_dir, tmp_path)
    monkeypatch.setitem(sys.modules, "hwnas.supernet", None)
    with pytest.raises(DependencyError, match="hwnas.supernet"):
        export_run(copy, "index:0", tmp_path / "exp")
    assert not (tmp_path / "exp").exists()


# --- fine-tuning ---------------------------------------------------------------------------------------
def test_finetune_one_epoch_on_digits(run_dir: Path, tmp_path: Path, tiny_nb201: None) -> None:
    pytest.importorskip("sklearn")
    import torch

    from hwnas.training import TrainConfig

    steps: list[tuple[int, int]] = []
    out = tmp_path / "tuned"
    card = export_run(
        run_dir,
        "best:params",
        out,
        finetune_epochs=1,
        data="digits",
        train_config=TrainConfig(batch_size=64, lr=0.1),
        device="cpu",
        on_step=lambda done, total: steps.append((done, total)),
    ).card
    acc = card["accuracy_after_export"]
    assert acc["epochs"] == 1 and acc["data"] == "digits"
    assert sum(acc["sizes"].values()) == 1797 and 170 <= acc["sizes"]["val"] <= 190
    assert 0 <= acc["val_accuracy"] <= 100 and 0 <= acc["test_accuracy"] <= 100
    assert card["weights"]["finetuned"]["epochs"] == 1
    assert card["weights"]["finetuned"]["batch_size"] == 64
    assert card["weights"]["kind"] == "trained"  # fresh weights trained by the export
    assert steps[-1][0] == steps[-1][1] == math.ceil(acc["sizes"]["train"] / 64)
    # the exported weights are the trained ones, not the initialisation
    untrained = export_run(run_dir, "best:params", tmp_path / "raw", device="cpu")
    a, b = load_model(out).state_dict(), load_model(untrained.out_dir).state_dict()
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])
    text = (out / "model_card.md").read_text()
    assert "fine-tuned" in text and "UNTRAINED" not in text and "digits" in text


def test_the_exported_head_follows_the_data(
    run_dir: Path, tmp_path: Path, tiny_nb201: None, three_classes: str
) -> None:
    import onnxruntime as ort

    with pytest.raises(HwnasError, match="needs a dataset"):
        export_run(run_dir, "index:0", tmp_path / "a", finetune_epochs=1)
    # a 3-class folder on cifar10-shaped networks: the head, the ONNX graph and the card say 3
    out = tmp_path / "b"
    card = export_run(
        run_dir, "index:0", out, finetune_epochs=1, data=three_classes, device="cpu"
    ).card
    assert card["classes"] == 3 and card["accuracy_after_export"]["data"] == three_classes
    assert load_model(out).classifier.out_features == 3
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].shape[1] == 3
    assert "logits over 3 classes" in (out / "model_card.md").read_text()


# --- the command line ------------------------------------------------------------------------------------
def test_cli_export_and_errors(run_dir: Path, tmp_path: Path, tiny_nb201: None) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "cli"
    tune = ["--finetune-epochs", "1", "--data", "digits", "--batch-size", "128"]
    args = ["export", str(run_dir), "--pick", "best:params", "--out", str(out), *tune]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "model.onnx" in result.stdout and "on digits: validation" in result.stdout
    card = json.loads((out / "model_card.json").read_text())
    assert card["command"] == f"hwnas export {run_dir} --pick best:params --out {out} " + " ".join(
        tune
    )
    assert card["pick"]["spec"] == "best:params"
    assert card["weights"]["finetuned"]["batch_size"] == 128
    assert "weights: trained)" in result.stdout

    for args, says in [
        ([str(tmp_path / "missing"), "--pick", "index:0"], "no such run directory"),
        ([str(run_dir), "--pick", "best:nope"], "available: accuracy"),
        ([str(run_dir), "--pick", "best:accuracy", "--out", str(out)], "already holds"),
        ([str(run_dir), "--pick", "index:0", "--finetune-epochs", "1"], "needs a dataset"),
    ]:
        bad = runner.invoke(app, ["export", *args])
        assert bad.exit_code == 2, bad.output
        assert says in bad.stderr and bad.stderr.strip().count("\n") == 0


def test_cli_without_torch_names_the_extra(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if it were not installed
    bad = runner.invoke(app, ["export", str(run_dir), "--pick", "index:0", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert 'pip install "hwnas[torch]"' in bad.stderr


def test_importing_export_does_not_import_torch() -> None:
    code = "import sys, hwnas.export, hwnas.cli; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_onnx_check_is_never_vacuous() -> None:
    """An untrained mbv3's logits do not depend on its input (std ~1e-9), so comparing ONNX
    Runtime with PyTorch on them proved nothing (issue 21 item 12)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")

    from hwnas.export._write import VARY_ATOL, onnx_checked
    from hwnas.spaces import get_space

    space = get_space("mbv3")
    arch = space.parse("ofa-min")
    model = space.build(arch, "cifar10").eval()
    shape = space.arch_input_shape(arch, "cifar10")
    _, check = onnx_checked(model, shape, 17, 0)
    assert check["logit_spread"] <= VARY_ATOL  # the shipped weights: input-independent
    assert check["recalibrated_check"]["logit_spread"] > 100 * VARY_ATOL
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4)).eval()
    torch.nn.init.zeros_(constant[1].weight)
    with pytest.raises(ExportError, match="do not depend on its input"):
        onnx_checked(constant, (3, 2, 2), 17, 0)
