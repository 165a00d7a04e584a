"""Training: checkpoints are safetensors with their state in JSON, a killed run resumes to
the same weights as an uninterrupted one, and mismatches are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from hwnas.errors import HwnasError
from hwnas.supernet import CheckpointError, load_checkpoint, read_meta, train_supernet

from .conftest import tiny_config


class Killed(Exception):
    pass


def test_checkpoint_is_safetensors_with_json_state(checkpoint: Path) -> None:
    with safe_open(str(checkpoint), framework="pt") as fh:
        meta = json.loads(fh.metadata()["hwnas"])
        names = list(fh.keys())
    assert meta["kind"] == "hwnas.supernet" and meta["schema_version"] == 1
    assert meta["step"] == 2 and meta["finished"] and meta["train_images"] == 16
    assert meta["config"]["data"] == "digits" and meta["space"] == "mbv3"
    assert meta["scheduler"]["last_epoch"] == 2 and len(meta["history"]) == 1
    assert any(n.startswith("optimizer/") and n.endswith("momentum_buffer") for n in names)
    assert any(n.startswith("model/stages.") for n in names)


def test_resume_after_a_kill_equals_an_uninterrupted_run(checkpoint: Path, tmp_path: Path) -> None:
    config = tiny_config(checkpoint_every=1)
    path = tmp_path / "killed.safetensors"

    def kill_after_first_step(done: int, total: int, loss: float) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        train_supernet(config, path, device="cpu", on_step=kill_after_first_step)
    assert read_meta(path)["step"] == 1 and not read_meta(path)["finished"]
    train_supernet(config, path, device="cpu", resume=True)
    # the session's checkpoint ran the same settings (checkpoint_every aside) in one go
    done, ref = load_checkpoint(path), load_checkpoint(checkpoint)
    assert set(done.tensors) == set(ref.tensors)
    for name, tensor in ref.tensors.items():
        assert torch.equal(done.tensors[name], tensor), name
    assert [h["loss"] for h in done.meta["history"]] == [h["loss"] for h in ref.meta["history"]]


def test_existing_checkpoint_needs_resume_and_the_same_settings(checkpoint: Path) -> None:
    with pytest.raises(HwnasError, match="--resume"):
        train_supernet(tiny_config(), checkpoint, device="cpu")
    with pytest.raises(CheckpointError, match="lr: 0.1 -> 0.2"):
        train_supernet(tiny_config(lr=0.2), checkpoint, device="cpu", resume=True)
    # a finished run resumed is left as it is
    assert train_supernet(tiny_config(), checkpoint, device="cpu", resume=True)["step"] == 2


def test_damaged_or_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a hwnas supernet checkpoint"):
        read_meta(foreign)


def test_sigkill_then_resume_from_the_command_line(checkpoint: Path, tmp_path: Path) -> None:
    """A real kill: the CLI process dies after its first checkpoint; `--resume` finishes
    with the weights of the session's uninterrupted run (same settings)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "k.safetensors"
    args = [sys.executable, "-m", "hwnas", "supernet", "train", "--data", "digits",
            "--dataset", "fashion-mnist", "--epochs", "1", "--batch-size", "8",
            "--train-images", "16", "--n-random", "1", "--lr", "0.1", "--checkpoint-every",
            "1", "--out", str(out), "--device", "cpu", "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and read_meta(out)["step"] >= 1:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    if read_meta(out)["step"] != 1:
        pytest.skip("the run finished before it could be killed")
    resumed = subprocess.run(
        [*args, "--resume"], capture_output=True, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    done, ref = load_checkpoint(out), load_checkpoint(checkpoint)
    assert done.meta["step"] == 2 and done.meta["config"]["checkpoint_every"] == 1
    for name, tensor in ref.tensors.items():
        assert torch.equal(done.tensors[name], tensor), name


def test_without_distillation_the_subnets_learn_the_labels(
    checkpoint: Path, tmp_path: Path
) -> None:
    path = tmp_path / "labels.safetensors"
    meta = train_supernet(tiny_config(distill=False), path, device="cpu")
    assert meta["config"]["distill"] is False and meta["step"] == 2
    ref = load_checkpoint(checkpoint)  # same settings with distillation
    assert ref.meta["config"]["distill"] is True
    changed = [
        n for n, t in ref.tensors.items() if not torch.equal(load_checkpoint(path).tensors[n], t)
    ]
    assert any(n.startswith("model/") for n in changed)
    # a different loss for the same subnets: the first step's losses differ, not the batch
    assert meta["history"][0]["loss"] != ref.meta["history"][0]["loss"]


def test_a_checkpoint_from_before_the_distill_setting_resumes(
    checkpoint: Path, tmp_path: Path
) -> None:
    """Checkpoints written before `distill` existed lack it; they were distilled."""
    from safetensors.torch import load_file, save_file

    with safe_open(str(checkpoint), framework="pt") as fh:
        header = dict(fh.metadata())
    meta = json.loads(header["hwnas"])
    del meta["config"]["distill"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(checkpoint)), str(old), metadata={**header, "hwnas": json.dumps(meta)})
    assert "distill" not in read_meta(old)["config"]
    assert train_supernet(tiny_config(), old, device="cpu", resume=True)["step"] == 2
    with pytest.raises(CheckpointError, match="distill: True -> False"):
        train_supernet(tiny_config(distill=False), old, device="cpu", resume=True)


def test_static_shapes_train_the_same_supernet(checkpoint: Path, tmp_path: Path) -> None:
    """The GPU's default (zero-padded weights at fixed shapes), forced on the CPU: the same
    weights as the session's sliced run, float rounding apart, and the mode is recorded."""
    path = tmp_path / "static.safetensors"
    meta = train_supernet(tiny_config(), path, device="cpu", static_shapes=True)
    assert (
        meta["static_shapes"] is True and load_checkpoint(checkpoint).meta["static_shapes"] is False
    )
    done, ref = load_checkpoint(path), load_checkpoint(checkpoint)
    # batch norms over 8 images amplify rounding: at one thread the two paths end 1.4e-4
    # apart, while the sliced path alone moves by 2e-2 between one and two threads
    gaps = {
        name: float((done.tensors[name] - tensor).abs().max())
        for name, tensor in ref.tensors.items()
        if name.startswith("model/")
    }
    assert max(gaps.values()) < 1e-3, max(gaps.items(), key=lambda kv: kv[1])


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a run killed after its first step, to resume."""
    path = tmp_path_factory.mktemp("killed") / "killed.safetensors"

    def kill_after_first_step(done: int, total: int, loss: float) -> None:
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        train_supernet(
            tiny_config(checkpoint_every=1), path, device="cpu", on_step=kill_after_first_step
        )
    return path


def _edited(source: Path, target: Path, meta_edit: dict, tensor: str | None = None) -> Path:
    from safetensors.torch import load_file, save_file

    with safe_open(str(source), framework="pt") as fh:
        meta = json.loads(fh.metadata()["hwnas"])
    tensors = load_file(str(source))
    if tensor is not None:
        name = next(n for n in tensors if n.startswith(tensor) and tensors[n].ndim == 4)
        tensors[name] = torch.zeros(tensors[name].shape[0] + 1, *tensors[name].shape[1:])
    save_file(tensors, str(target), metadata={"hwnas": json.dumps({**meta, **meta_edit})})
    return target


@pytest.mark.parametrize(
    ("meta_edit", "tensor"),
    [
        ({}, "model/"),
        ({}, "optimizer/"),
        ({"step": "one"}, None),
        ({"step": 10**6}, None),
        ({"history": 3}, None),
        ({"elapsed_s": "soon"}, None),
        ({"scheduler": {"last_epoch": "x"}}, None),
        ({"scheduler": 5}, None),
        ({"config": [1, 2]}, None),
    ],
)
def test_resuming_a_damaged_or_edited_checkpoint_is_a_clear_error(
    killed: Path, tmp_path: Path, meta_edit: dict, tensor: str | None
) -> None:
    path = _edited(killed, tmp_path / "edited.safetensors", meta_edit, tensor)
    config = tiny_config(checkpoint_every=1)
    with pytest.raises(CheckpointError, match="cannot resume from it: it was damaged or edited"):
        train_supernet(config, path, device="cpu", resume=True)


def test_a_search_refuses_a_checkpoint_that_cannot_serve_before_evaluating(
    checkpoint: Path, tmp_path: Path
) -> None:
    from hwnas.study import Study

    def study(path: Path, data: str | None = None) -> Study:
        return Study(
            space="mbv3", dataset="fashion-mnist", quality=f"supernet:{path}", data=data,
            objectives=["accuracy:max", "macs:min"], budget=2, out_dir=tmp_path / "run",
        )  # fmt: skip

    wrong = _edited(checkpoint, tmp_path / "wrong.safetensors", {}, "model/")
    with pytest.raises(CheckpointError, match="weights do not fit the mbv3/fashion-mnist"):
        study(wrong)
    with pytest.raises(HwnasError, match="missing.npz, which does not exist"):
        study(checkpoint, data=f"npz:{tmp_path / 'missing.npz'}")
    assert not (tmp_path / "run").exists()  # nothing was started, no budget spent


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{not json", "not valid JSON"), ("[" * 100_000 + "]" * 100_000, "nested more than 64")],
)
def test_damaged_checkpoint_metadata_is_a_clear_error(
    tmp_path: Path, raw: str, message: str
) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "meta.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"hwnas": raw})
    with pytest.raises(CheckpointError, match=f"damaged checkpoint metadata: .*{message}"):
        read_meta(path)
