"""`hwnas supernet`, `--quality supernet:CKPT` and `hwnas search --data` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwnas.errors import ConfigConflictError
from hwnas.study import Study


def test_train_and_eval_from_the_command_line(cli, tmp_path: Path) -> None:
    out = tmp_path / "s.safetensors"
    args = ["supernet", "train", "--data", "digits", "--dataset", "fashion-mnist", "--epochs",
            "1", "--batch-size", "8", "--train-images", "8", "--n-random", "0", "--out", str(out),
            "--device", "cpu", "--threads", "1"]  # fmt: skip
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert "step 1/1" in result.stdout and out.is_file()
    again = cli(*args)
    assert again.returncode == 2 and "--resume" in again.stderr
    evaluated = cli("supernet", "eval", str(out), "--arch", "ofa-min", "--calib-images", "16",
                    "--json", "--device", "cpu")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    row = json.loads(evaluated.stdout)
    assert 0 <= row["accuracy"] <= 100 and row["provenance"]["split_evaluated"] == "val"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["supernet", "eval", "missing.safetensors", "--arch", "ofa-min"], "does not exist"),
        (["search", "--space", "mbv3", "--data", "digits", "--dataset", "cifar10", "--quality",
          "supernet:{ckpt}", "-o", "accuracy:max", "-o", "macs:min"],
         "trained for mbv3/fashion-mnist, not mbv3/cifar10"),
        (["search", "--space", "mbv3", "--data", "digits", "--quality", "supernet:{ckpt}"],
         "space 'mbv3' has no dataset 'digits'"),
        (["search", "--space", "mbv3", "--data", "nosuch", "--dataset", "fashion-mnist",
          "--quality", "supernet:{ckpt}", "-o", "accuracy:max"], "unknown dataset 'nosuch'"),
    ],
)  # fmt: skip
def test_mismatches_are_one_line_errors(
    cli, checkpoint: Path, args: list[str], message: str
) -> None:
    result = cli(*[a.format(ckpt=checkpoint) for a in args])
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_search_with_supernet_quality_and_resume_checks_data(
    checkpoint: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    study = Study(
        space="mbv3", dataset="fashion-mnist", data="digits", quality=f"supernet:{checkpoint},calib=16",
        objectives=["accuracy:max", "macs:min"], strategy="random", budget=2, out_dir=run,
    )  # fmt: skip
    frame = study.optimize().evaluations()
    assert (frame["status"] == "ok").all() and frame["accuracy"].between(0, 100).all()
    prov = next(iter(study.ledger.rows()))["provenance"]["accuracy"]
    assert prov["kind"] == "supernet" and prov["split_evaluated"] == "val"
    assert json.loads((run / "config.json").read_text())["config"]["data"] == "digits"
    with pytest.raises(ConfigConflictError, match="data: 'digits' -> 'fashion-mnist'"):
        Study.resume(run, data="fashion-mnist")


def test_quality_spec_options() -> None:
    from hwnas.errors import SpecError
    from hwnas.quality import get_quality

    assert get_quality("supernet:a.safetensors,calib=50").calib_images == 50
    assert get_quality("supernet:a.safetensors").calib_images == 2000
    with pytest.raises(SpecError, match="calib=N"):
        get_quality("supernet:a.safetensors,calib=x")
    with pytest.raises(SpecError, match="needs a checkpoint"):
        get_quality("supernet:")
