"""`export_run`: pick an evaluation of a run, get its weights, check and write the files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas._imports import optional_import
from hwnas.errors import HwnasError, SpecError
from hwnas.export._card import build_card, render_card
from hwnas.export._layout import CARD_JSON, CARD_MD, ONNX_FILE, WEIGHTS_FILE, ExportError
from hwnas.export._pick import Picked, pick_evaluation
from hwnas.export._quant import (
    calibration,
    qat_export,
    qat_training_images,
    quantise_export,
    quantised_arch,
)
from hwnas.export._weights import finetune, supernet_checkpoint, supernet_weights
from hwnas.export._write import onnx_checked, safetensors_bytes, write_files
from hwnas.models.onnx import OPSET
from hwnas.models.qat import DEFAULT_BATCH, DEFAULT_LR, QatConfig
from hwnas.results import Results, load_results
from hwnas.spaces import Architecture, SearchSpace
from hwnas.spaces.quant import QuantSpace

if TYPE_CHECKING:
    from torch import nn

    from hwnas.training import StepCallback


@dataclass
class ExportResult:
    """Where the files went and the model card's content."""

    out_dir: Path
    files: dict[str, Path]
    card: dict[str, Any] = field(default_factory=dict)


def default_out_dir(run_dir: str | Path, picked: Picked) -> Path:
    return Path(run_dir) / f"export-trial{picked.evaluation.trial}"


def arch_input_shape(space: SearchSpace, arch: Architecture, dataset: str) -> tuple[int, ...]:
    """The input the network takes (spaces with an input-resolution gene say so per arch;
    (tokens,) for token-id text)."""
    return tuple(int(s) for s in space.arch_input_shape(arch, dataset))


def export_run(
    run_dir: str | Path,
    pick: str,
    out: str | Path | None = None,
    *,
    finetune_epochs: int = 0,
    data: str | None = None,
    train_config: Any = None,
    opset: int = OPSET,
    device: str = "auto",
    seed: int = 0,
    overwrite: bool = False,
    command: str | None = None,
    on_step: StepCallback | None = None,
    quant: str | None = None,
    qat_steps: int = 0,
    qat_lr: float = DEFAULT_LR,
    qat_batch_size: int = DEFAULT_BATCH,
) -> ExportResult:
    """Export the evaluation `pick` chooses (see `pick_evaluation`) into `out` (default
    RUN_DIR/export-trialN): model.onnx, weights.safetensors, model_card.md/json.

    Weights: inherited from the supernet when the run's quality was `supernet:CKPT` (its
    classes are the checkpoint's), else freshly initialised (seeded) and labelled untrained
    (`trained` once fine-tuned here), with the classes of `data`, else of the run's data.
    `finetune_epochs` > 0 trains them on
    `data` (a dataset spec, e.g. `digits`, `fashion-mnist`) with `hwnas.training.fit`;
    `data` alone evaluates the exported weights without training. Validation and test
    accuracy come from `load_dataset(data).split(seed=seed)`. `train_config` (a
    `TrainConfig`) overrides the schedule; its epochs and seed are set from the arguments.

    A quantised architecture (a `NAME+quant` run's, or a float run's with `quant`, a
    policy, every block at its widest bits) is written as the static QDQ int8 graph
    ONNX Runtime runs, calibrated on training images; the card's `quantisation` records
    the policy, the calibration and the file's accuracy under ONNX Runtime (see
    `hwnas.export._quant`). `qat_steps` > 0 fine-tunes it quantisation-aware first
    (`hwnas.models.qat`: Adam at `qat_lr`, batches of `qat_batch_size` training images of
    `data`, seeded with `seed`); the card's `quantisation.qat` records the settings and
    the fake-quantised accuracy before and after."""
    if finetune_epochs < 0:
        raise SpecError(f"finetune_epochs must be 0 or more, got {finetune_epochs}")
    if finetune_epochs and not data:
        raise SpecError("fine-tuning needs a dataset: give data (e.g. --data digits)")
    qat = QatConfig(qat_steps, qat_lr, qat_batch_size, seed, device)
    if qat.steps and not data:
        raise SpecError(
            "quantisation-aware fine-tuning needs training images: give data (e.g. --data digits)"
        )
    run = load_results(run_dir)
    if qat.steps and quant is None and not isinstance(run.space, QuantSpace):
        raise SpecError(
            f"quantisation-aware fine-tuning needs a quantised architecture, and run {run_dir} "
            f"searched the float space {run.space.name!r}: give a policy (e.g. --quant 'w=4;a=8')"
        )
    picked = pick_evaluation(run, pick)
    out_dir = Path(out) if out is not None else default_out_dir(run_dir, picked)
    names = (ONNX_FILE, WEIGHTS_FILE, CARD_MD, CARD_JSON)
    if not overwrite and any((out_dir / n).exists() for n in names):
        raise HwnasError(f"{out_dir} already holds an export; choose another --out or --force")
    optional_import("torch", "exporting")
    import torch

    space, arch = quantised_arch(run.space, run.space.make(picked.evaluation.genes), quant)
    float_arch = space.base_arch(arch) if isinstance(space, QuantSpace) else arch
    dataset = run.config.dataset
    shape = arch_input_shape(space, arch, dataset)
    checkpoint = supernet_checkpoint(run)
    if checkpoint is not None:
        model, weights = supernet_weights(run, float_arch, checkpoint, data, device)
    else:
        torch.manual_seed(seed)
        model = space.build(arch, dataset, _head_classes(run, picked, data))
        weights = {
            "kind": "untrained",
            "init": f"the space builder's initialisation after torch.manual_seed({seed})",
            "why": f"the run's quality estimator {run.config.quality!r} holds no weights",
        }
    model = model.cpu().eval()
    classes = _num_classes(model, shape)

    accuracy: dict[str, Any] | None = None
    if data:
        accuracy, model = finetune(
            model, data, shape, finetune_epochs, train_config, seed, device, on_step
        )
        if finetune_epochs:
            # fresh weights trained here are no longer untrained
            kind = "trained" if weights["kind"] == "untrained" else weights["kind"]
            weights = {**weights, "kind": kind, "finetuned": accuracy["train_config"]}
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]
    calib = None
    qat_record: dict[str, Any] | None = None
    if isinstance(space, QuantSpace):
        calib = calibration(checkpoint, run.config.quality, float_arch, shape, data, seed)
        if qat.steps:
            assert data is not None  # refused above
            train = qat_training_images(checkpoint, data, shape, qat.steps * qat.batch_size, seed)
            model, qat_record = qat_export(model, space, arch, *calib[:3], train, qat)
            kind = "trained" if weights["kind"] == "untrained" else weights["kind"]
            weights = {**weights, "kind": kind, "quantisation_aware_steps": qat.steps}

    onnx_bytes, check = onnx_checked(model, shape, opset, seed)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    n_params = int(sum(p.numel() for p in model.parameters()))
    card = build_card(
        run, picked, shape, classes, n_params, weights, accuracy, check, opset, command
    )
    if isinstance(space, QuantSpace):
        assert calib is not None
        onnx_bytes, card["quantisation"] = quantise_export(model, onnx_bytes, space, arch, *calib)
        if qat_record is not None:
            card["quantisation"]["qat"] = qat_record
        card["space"]["name"] = space.name
        card["architecture"] = {**card["architecture"], "key": arch.key, "genes": list(arch.genes)}
    weights_bytes = safetensors_bytes(state, card)

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "onnx": out_dir / ONNX_FILE,
        "weights": out_dir / WEIGHTS_FILE,
        "card_md": out_dir / CARD_MD,
        "card_json": out_dir / CARD_JSON,
    }
    write_files(
        {
            files["onnx"]: onnx_bytes,
            files["weights"]: weights_bytes,
            files["card_json"]: (json.dumps(card, indent=2, sort_keys=False) + "\n").encode(),
            files["card_md"]: render_card(card).encode(),
        }
    )
    return ExportResult(out_dir, files, card)


def _head_classes(run: Results, picked: Picked, data: str | None) -> int | None:
    """The classes of fresh weights: the fine-tuning data's, else those the run built the
    network with (its provenance says; the run's data need not be at hand), else its data's
    (None: the dataset's)."""
    from hwnas.datasets import data_classes

    if data:
        return data_classes(data)
    for provenance in picked.evaluation.provenance.values():
        recorded = provenance.get("classes") if isinstance(provenance, dict) else None
        if type(recorded) is int:
            return recorded
    return data_classes(run.config.data)


def _num_classes(model: nn.Module, shape: Sequence[int]) -> int:
    import torch

    with torch.no_grad():
        out = model(torch.zeros((1, *shape)))
    if out.ndim != 2:
        raise ExportError(f"the network returns shape {tuple(out.shape)}, not (batch, classes)")
    return int(out.shape[1])
