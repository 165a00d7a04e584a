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
    import numpy as np

    # a small npz dataset keeps calibration and validation quick
    rng = np.random.default_rng(0)
    images = tmp_path / "small.npz"
    np.savez(images, x=rng.integers(0, 255, (60, 1, 28, 28), dtype=np.uint8),
             y=np.repeat(np.arange(10), 6))  # fmt: skip
    data = f"npz:{images}"
    run = tmp_path / "run"
    study = Study(
        space="mbv3", dataset="fashion-mnist", data=data, quality=f"supernet:{checkpoint}",
        objectives=["accuracy:max", "macs:min"], strategy="random", budget=2, out_dir=run,
    )  # fmt: skip
    frame = study.optimize().evaluations()
    assert (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame["accuracy"].between(0, 100).all()
    prov = next(iter(study.ledger.rows()))["provenance"]["accuracy"]
    assert prov["kind"] == "supernet" and prov["split_evaluated"] == "val"
    assert prov["unit"] == "%"  # the report's accuracy axis reads "accuracy (%)"
    assert prov["data"] == data and prov["calibration"]["images"] == 40
    assert json.loads((run / "config.json").read_text())["config"]["data"] == data
    with pytest.raises(ConfigConflictError, match="data: .* -> 'fashion-mnist'"):
        Study.resume(run, data="fashion-mnist")


def test_quality_spec_is_the_checkpoint_path() -> None:
    from hwnas.errors import SpecError
    from hwnas.quality import get_quality

    assert get_quality("supernet:runs/a,b.safetensors").checkpoint == "runs/a,b.safetensors"
    with pytest.raises(SpecError, match="needs a checkpoint"):
        get_quality("supernet:")


def test_quality_spec_options_come_from_the_end() -> None:
    from hwnas.errors import SpecError
    from hwnas.quality import get_quality

    q = get_quality("supernet:runs/a,b.safetensors,calib=500,val=1000")
    assert (q.checkpoint, q.calib_images, q.eval_images) == ("runs/a,b.safetensors", 500, 1000)
    assert get_quality("supernet:x.safetensors").eval_images is None
    with pytest.raises(SpecError, match="val=0"):
        get_quality("supernet:x.safetensors,val=0")


def test_validation_subset_is_stratified_and_recorded(checkpoint: Path) -> None:
    from hwnas.spaces.mbv3 import MBV3Space
    from hwnas.supernet import evaluate_subnet, smallest_arch

    arch = smallest_arch(MBV3Space())
    acc, prov = evaluate_subnet(checkpoint, arch, calib_images=16, eval_images=50, device="cpu")
    assert prov["images_evaluated"] == 50 and prov["subset"].startswith("class-stratified")
    assert acc * 50 / 100 == pytest.approx(round(acc * 50 / 100))  # a share of 50 images
    _, whole = evaluate_subnet(checkpoint, arch, calib_images=16, device="cpu")
    assert whole["images_evaluated"] > 50 and whole["subset"] == "whole split"
