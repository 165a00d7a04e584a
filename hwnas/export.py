"""Export one evaluated architecture of a run as a deployable artifact: `model.onnx`
(checked with onnx.checker and run once in ONNX Runtime against PyTorch),
`weights.safetensors` (the state dict with metadata) and a model card (`model_card.md`,
`model_card.json`) that carries every metric of the evaluation with its provenance and says
where the weights came from: a supernet checkpoint, fine-tuning, or nowhere (untrained).

The run is read from its ledger (the same file `Study.load` reads), not by reopening the
study: exporting needs neither the run's quality estimator nor its targets to be
importable, and it must not rewrite the run's files."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.errors import DependencyError, HwnasError, SpecError
from hwnas.ledger import LEDGER_FILE, Ledger
from hwnas.metrics import Constraint, Objective, parse_constraint, parse_metric, parse_objective
from hwnas.pareto import pareto_mask
from hwnas.spaces import Architecture, SearchSpace, get_space

if TYPE_CHECKING:
    from torch import nn

    from hwnas.training import StepCallback

#: version of the export's file layout and model-card fields
SCHEMA_VERSION = 1
ONNX_FILE = "model.onnx"
WEIGHTS_FILE = "weights.safetensors"
CARD_MD = "model_card.md"
CARD_JSON = "model_card.json"
#: ONNX Runtime must reproduce PyTorch's logits within these (float32 kernels differ)
ONNX_RTOL = 1e-3
ONNX_ATOL = 1e-4


class PickError(SpecError):
    """A `--pick` that names an unknown metric or that no evaluation of the run meets."""


class ExportError(HwnasError):
    """The exported model does not match the PyTorch network (or cannot be written)."""


# --- reading a run -------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """One recorded evaluation: its metrics and their provenance, as the ledger holds them."""

    trial: int
    arch: Architecture
    status: str
    metrics: dict[str, float]
    provenance: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Run:
    """What an export needs from a run directory."""

    path: Path
    config: dict[str, Any]
    host: dict[str, Any]
    space: SearchSpace
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    evaluations: tuple[Evaluation, ...]

    @property
    def dataset(self) -> str:
        return str(self.config["dataset"])

    @property
    def quality(self) -> str:
        return str(self.config.get("quality", "tabular"))

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for m in [o.metric.name for o in self.objectives] + [
            c.metric.name for c in self.constraints
        ]:
            if m not in names:
                names.append(m)
        for e in self.evaluations:
            for m in e.metrics:
                if m not in names:
                    names.append(m)
        return names

    def ok(self) -> list[Evaluation]:
        """Feasible, successful evaluations (those a front is made of)."""
        return [e for e in self.evaluations if e.status == "ok"]

    def front(self) -> list[Evaluation]:
        """The Pareto front in `pareto.csv`'s order (first objective, best first); computed
        as `Study.pareto_front` does when the file is missing (an interrupted run)."""
        by_key = {e.arch.key: e for e in self.evaluations}
        csv = self.path / "pareto.csv"
        if csv.exists():
            import pandas as pd

            try:
                keys = pd.read_csv(csv, usecols=["arch"])["arch"].astype(str).tolist()
            except (ValueError, pd.errors.ParserError) as exc:
                raise HwnasError(f"{csv}: not a readable front ({exc})") from None
            missing = [k for k in keys if k not in by_key]
            if missing:
                raise HwnasError(
                    f"{csv} lists {missing[0]!r}, which the run's ledger does not hold; "
                    "was the file edited or copied from another run?"
                )
            return [by_key[k] for k in keys]
        ok = self.ok()
        if not ok:
            return []
        mask = pareto_mask(self._matrix(ok, self.objectives))
        front = [e for e, m in zip(ok, mask) if m]
        first = self.objectives[0]
        return sorted(front, key=lambda e: first.to_min(_value(e, first.metric.name)))

    @staticmethod
    def _matrix(evals: Sequence[Evaluation], objectives: Sequence[Objective]) -> np.ndarray:
        return np.array(
            [[o.to_min(_value(e, o.metric.name)) for o in objectives] for e in evals],
            dtype=np.float64,
        ).reshape(len(evals), len(objectives))


def _value(e: Evaluation, name: str) -> float:
    return float(e.metrics.get(name, math.nan))


def load_run(run_dir: str | Path) -> Run:
    """A run directory's configuration and evaluations, read-only."""
    from hwnas.study import StudyConfig

    path = Path(run_dir)
    ledger_path = path / LEDGER_FILE
    if not path.is_dir():
        raise HwnasError(f"{path}: no such run directory")
    if not ledger_path.exists():
        raise HwnasError(f"{path}: not a run directory (no {LEDGER_FILE})")
    ledger = Ledger(ledger_path)
    try:
        stored = ledger.get_meta("config")
        if stored is None:
            raise HwnasError(f"{ledger_path}: the ledger holds no configuration")
        config = StudyConfig.from_dict(stored, f"{ledger_path}: stored configuration")
        host = ledger.get_meta("host") or {}
        space = get_space(config.space)
        rows = list(ledger.rows())
    finally:
        ledger.close()
    evaluations = []
    for row in rows:
        try:
            arch = space.make(row["genes"])
        except SpecError as exc:
            raise HwnasError(f"{ledger_path}: damaged trial {row['trial']} ({exc})") from None
        evaluations.append(
            Evaluation(row["trial"], arch, row["status"], row["metrics"], row["provenance"])
        )
    return Run(
        path=path,
        config=config.to_dict(),
        host=host if isinstance(host, dict) else {},
        space=space,
        objectives=tuple(parse_objective(o) for o in config.objectives),
        constraints=tuple(parse_constraint(c) for c in config.constraints),
        evaluations=tuple(evaluations),
    )


# --- picking -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Picked:
    """The chosen evaluation and how it was chosen."""

    evaluation: Evaluation
    pick: str
    on_front: bool
    front_index: int | None


_PICK_HELP = (
    "best:METRIC, a condition such as 'latency@local-cpu<=5' (several joined by ','), "
    "index:N (row of pareto.csv) or arch:KEY"
)


def pick_evaluation(run: Run, pick: str) -> Picked:
    """Resolve a pick:

    - `best:METRIC` (`best:METRIC:min|max` for a metric that is not an objective): the best
      front member for that metric, ties broken by the other objectives in order;
    - `METRIC<=X` (or >=, <, >; several joined by `,`): the best feasible evaluation in the
      first objective among those meeting every condition (ties: the other objectives);
    - `index:N`: row N (from 0) of `pareto.csv`;
    - `arch:KEY`: the evaluation of that architecture (any form the space parses).
    """
    text = str(pick).strip()
    front = run.front()
    kind, sep, rest = text.partition(":")
    if sep and kind == "best":
        return _pick_best(run, text, rest.strip(), front)
    if sep and kind == "index":
        return _pick_index(run, text, rest.strip(), front)
    if sep and kind == "arch":
        return _pick_arch(run, text, rest.strip(), front)
    if any(op in text for op in "<>"):
        return _pick_condition(run, text, front)
    raise PickError(f"pick {text!r}: expected {_PICK_HELP}")


def _known_metric(run: Run, text: str, pick: str) -> str:
    try:
        name = parse_metric(text).name
    except SpecError as exc:
        raise PickError(f"pick {pick!r}: {exc}") from None
    names = run.metric_names
    if name not in names:
        raise PickError(
            f"pick {pick!r}: the run recorded no metric {name!r}; available: {', '.join(names)}"
        )
    return name


def _picked(run: Run, e: Evaluation, pick: str, front: Sequence[Evaluation]) -> Picked:
    keys = [f.arch.key for f in front]
    index = keys.index(e.arch.key) if e.arch.key in keys else None
    return Picked(e, pick, index is not None, index)


def _lexicographic(first: Objective, others: Sequence[Objective]) -> Callable[[Evaluation], Any]:
    def key(e: Evaluation) -> tuple[float, ...]:
        values = [first.to_min(_value(e, first.metric.name))]
        values += [o.to_min(_value(e, o.metric.name)) for o in others]
        return (*[math.inf if math.isnan(v) else v for v in values], float(e.trial))

    return key


def _pick_best(run: Run, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    name_text, _, direction = rest.rpartition(":")
    if direction in ("min", "max") and name_text:
        objective = Objective(parse_metric(_known_metric(run, name_text, pick)), direction)  # type: ignore[arg-type]
    else:
        name = _known_metric(run, rest, pick)
        matches = [o for o in run.objectives if o.metric.name == name]
        if not matches:
            raise PickError(
                f"pick {pick!r}: {name} is not an objective of the run, so its direction is "
                f"unknown; say best:{name}:min or best:{name}:max (objectives: "
                f"{', '.join(o.spec for o in run.objectives)})"
            )
        objective = matches[0]
    if not front:
        raise PickError(f"pick {pick!r}: the run has no feasible evaluation (its front is empty)")
    others = [o for o in run.objectives if o.metric != objective.metric]
    best = min(front, key=_lexicographic(objective, others))
    if math.isnan(_value(best, objective.metric.name)):
        raise PickError(f"pick {pick!r}: no front member has a value for {objective.metric.name}")
    return _picked(run, best, pick, front)


def _pick_condition(run: Run, pick: str, front: Sequence[Evaluation]) -> Picked:
    conditions = []
    for part in pick.split(","):
        try:
            c = parse_constraint(part)
        except SpecError as exc:
            raise PickError(f"pick {pick!r}: {exc}") from None
        _known_metric(run, c.metric.name, pick)
        conditions.append(c)
    ok = run.ok()
    meeting = [e for e in ok if all(c.satisfied(_value(e, c.metric.name)) for c in conditions)]
    if not meeting:
        ranges = []
        for c in conditions:
            values = [_value(e, c.metric.name) for e in ok]
            values = [v for v in values if not math.isnan(v)]
            if values:
                ranges.append(f"{c.metric.name} {min(values):g}..{max(values):g}")
        where = "; feasible evaluations span " + ", ".join(ranges) if ranges else ""
        raise PickError(
            f"pick {pick!r}: no feasible evaluation of the run meets it ({len(ok)} feasible)"
            + where
        )
    first, *others = run.objectives
    best = min(meeting, key=_lexicographic(first, others))
    return _picked(run, best, pick, front)


def _pick_index(run: Run, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    if not re.fullmatch(r"[0-9]{1,9}", rest):
        raise PickError(f"pick {pick!r}: index must be a row number of pareto.csv from 0")
    i = int(rest)
    if not front:
        raise PickError(f"pick {pick!r}: the run's front is empty")
    if i >= len(front):
        raise PickError(
            f"pick {pick!r}: pareto.csv has {len(front)} rows; use index:0..{len(front) - 1}"
        )
    return _picked(run, front[i], pick, front)


def _pick_arch(run: Run, pick: str, rest: str, front: Sequence[Evaluation]) -> Picked:
    try:
        arch = run.space.parse(rest)
    except SpecError as exc:
        raise PickError(f"pick {pick!r}: {exc}") from None
    for e in run.evaluations:
        if e.arch == arch:
            if e.status == "failed":
                raise PickError(f"pick {pick!r}: that evaluation failed; pick another")
            return _picked(run, e, pick, front)
    raise PickError(
        f"pick {pick!r}: the run did not evaluate {arch.key} ({len(run.evaluations)} "
        "evaluations; see evaluations.csv)"
    )


# --- weights -------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (names and contents, sorted)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _supernet_checkpoint(run: Run) -> Path | None:
    base, sep, spec = run.quality.partition(":")
    if base != "supernet":
        return None
    if not sep or not spec.strip():
        raise HwnasError(f"{run.path}: quality {run.quality!r} names no supernet checkpoint")
    from hwnas.quality.supernet import parse_spec

    given, _ = parse_spec(spec)
    for candidate in (given, run.path / given):
        if candidate.exists():
            return candidate
    raise HwnasError(
        f"supernet checkpoint {spec!r} of run {run.path} not found (looked in the current "
        "directory and the run directory)"
    )


def _supernet_weights(
    run: Run, arch: Architecture, checkpoint: Path, data: str | None, device: str
) -> tuple[nn.Module, dict[str, Any]]:
    """The subnet with weights inherited from the supernet (BN recalibrated)."""
    try:
        from hwnas.supernet import subnet_from_checkpoint
    except ImportError as exc:
        raise DependencyError(
            f"run {run.path} took its accuracies from supernet {checkpoint}; exporting its "
            f"weights needs hwnas.supernet, which this installation lacks ({exc}); install an "
            'hwnas with the supernet feature and its extra: pip install "hwnas[torch]"'
        ) from None
    from hwnas.quality.supernet import DEFAULT_CALIB_IMAGES, parse_spec

    # recalibrate as the search did, so the exported network is the one it evaluated
    _, options = parse_spec(run.quality.partition(":")[2])
    calib = options.get("calib", DEFAULT_CALIB_IMAGES)
    model, provenance = subnet_from_checkpoint(
        checkpoint, arch, data=data, calib_images=calib, device=device
    )
    source = {
        "kind": "supernet",
        "checkpoint": str(checkpoint),
        "sha256": file_sha256(checkpoint),
        "provenance": dict(provenance or {}),
    }
    return model, source


# --- the export ----------------------------------------------------------------------------
@dataclass
class ExportResult:
    """Where the files went and the model card's content."""

    out_dir: Path
    files: dict[str, Path]
    card: dict[str, Any] = field(default_factory=dict)


def default_out_dir(run_dir: str | Path, picked: Picked) -> Path:
    return Path(run_dir) / f"export-trial{picked.evaluation.trial}"


def arch_input_shape(space: SearchSpace, arch: Architecture, dataset: str) -> tuple[int, int, int]:
    """The input the network takes (spaces with an input-resolution gene say so per arch)."""
    per_arch = getattr(space, "arch_input_shape", None)
    shape = per_arch(arch, dataset) if per_arch is not None else space.input_shape(dataset)
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def describe(space: SearchSpace, arch: Architecture) -> dict[str, Any]:
    """The architecture's choices by dimension, without the genes that do not change the
    network (e.g. blocks beyond a stage's depth)."""
    out: dict[str, Any] = {}
    for i, (dim, value) in enumerate(space.describe(arch).items()):
        active = False
        for c in range(len(space.dimensions[i].choices)):
            if c == arch.genes[i]:
                continue
            genes = list(arch.genes)
            genes[i] = c
            try:
                if space.make(genes).key != arch.key:
                    active = True
                    break
            except SpecError:
                active = True
                break
        if active or len(space.dimensions[i].choices) == 1:
            out[dim] = value
    return out


def export_run(
    run_dir: str | Path,
    pick: str,
    out: str | Path | None = None,
    *,
    finetune_epochs: int = 0,
    data: str | None = None,
    train_config: Any = None,
    opset: int = 17,
    device: str = "auto",
    seed: int = 0,
    overwrite: bool = False,
    command: str | None = None,
    on_step: StepCallback | None = None,
) -> ExportResult:
    """Export the evaluation `pick` chooses (see `pick_evaluation`) into `out` (default
    RUN_DIR/export-trialN): model.onnx, weights.safetensors, model_card.md/json.

    Weights: inherited from the supernet when the run's quality was `supernet:CKPT`, else
    freshly initialised (seeded) and labelled untrained (`trained` once fine-tuned here).
    `finetune_epochs` > 0 trains them on
    `data` (a dataset spec, e.g. `digits`, `fashion-mnist`) with `hwnas.training.fit`;
    `data` alone evaluates the exported weights without training. Validation and test
    accuracy come from `load_dataset(data).split(seed=seed)`. `train_config` (a
    `TrainConfig`) overrides the schedule; its epochs and seed are set from the arguments."""
    from hwnas.models import require_torch

    if finetune_epochs < 0:
        raise SpecError(f"finetune_epochs must be 0 or more, got {finetune_epochs}")
    if finetune_epochs and not data:
        raise SpecError("fine-tuning needs a dataset: give data (e.g. --data digits)")
    run = load_run(run_dir)
    picked = pick_evaluation(run, pick)
    out_dir = Path(out) if out is not None else default_out_dir(run_dir, picked)
    names = (ONNX_FILE, WEIGHTS_FILE, CARD_MD, CARD_JSON)
    if not overwrite and any((out_dir / n).exists() for n in names):
        raise HwnasError(f"{out_dir} already holds an export; choose another --out or --force")
    require_torch()
    import torch

    arch = picked.evaluation.arch
    dataset = run.dataset
    shape = arch_input_shape(run.space, arch, dataset)
    checkpoint = _supernet_checkpoint(run)
    if checkpoint is not None:
        model, weights = _supernet_weights(run, arch, checkpoint, data, device)
    else:
        torch.manual_seed(seed)
        model = run.space.build(arch, dataset)
        weights = {
            "kind": "untrained",
            "init": f"the space builder's initialisation after torch.manual_seed({seed})",
            "why": f"the run's quality estimator {run.quality!r} holds no weights",
        }
    model = model.cpu().eval()
    classes = _num_classes(model, shape)

    accuracy: dict[str, Any] | None = None
    if data:
        accuracy, model = _finetune(
            model, data, shape, classes, finetune_epochs, train_config, seed, device, on_step
        )
        if finetune_epochs:
            # fresh weights trained here are no longer untrained
            kind = "trained" if weights["kind"] == "untrained" else weights["kind"]
            weights = {**weights, "kind": kind, "finetuned": accuracy["train_config"]}
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]

    onnx_bytes, check = _onnx_checked(model, shape, opset, seed)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    n_params = int(sum(p.numel() for p in model.parameters()))
    card = _card(run, picked, shape, classes, n_params, weights, accuracy, check, opset, command)
    weights_bytes = _safetensors_bytes(state, card)

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "onnx": out_dir / ONNX_FILE,
        "weights": out_dir / WEIGHTS_FILE,
        "card_md": out_dir / CARD_MD,
        "card_json": out_dir / CARD_JSON,
    }
    _write(files["onnx"], onnx_bytes)
    _write(files["weights"], weights_bytes)
    _write(files["card_json"], (json.dumps(card, indent=2, sort_keys=False) + "\n").encode())
    _write(files["card_md"], render_card(card).encode())
    return ExportResult(out_dir, files, card)


def _write(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)


def _num_classes(model: nn.Module, shape: Sequence[int]) -> int:
    import torch

    with torch.no_grad():
        out = model(torch.zeros((1, *shape)))
    if out.ndim != 2:
        raise ExportError(f"the network returns shape {tuple(out.shape)}, not (batch, classes)")
    return int(out.shape[1])


def _finetune(
    model: nn.Module,
    data: str,
    shape: Sequence[int],
    classes: int,
    epochs: int,
    train_config: Any,
    seed: int,
    device: str,
    on_step: StepCallback | None,
) -> tuple[dict[str, Any], nn.Module]:
    """Fine-tune (when epochs > 0) and measure validation and test accuracy."""
    from dataclasses import replace

    from hwnas.datasets import load_dataset
    from hwnas.training import TrainConfig, evaluate, fit

    ds = load_dataset(data)
    if ds.num_classes != classes:
        raise HwnasError(
            f"dataset {data!r} has {ds.num_classes} classes but the network outputs {classes}; "
            "fine-tune on a dataset with the run's number of classes"
        )
    ds = ds.split(seed=seed)
    assert ds.val is not None and ds.test is not None
    result: dict[str, Any] = {
        "data": data,
        "dataset_provenance": ds.provenance,
        "sizes": {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)},
        "input_shape": list(shape),
        "val_accuracy_before": evaluate(model, ds.val, shape, device=device),
    }
    if epochs:
        base = train_config if train_config is not None else TrainConfig()
        config = replace(base, epochs=epochs, seed=seed, device=device)
        model = fit(model, ds.train, shape, config, on_step=on_step)
        result["train_config"] = config.as_dict()
    result["epochs"] = epochs
    result["val_accuracy"] = evaluate(model, ds.val, shape, device=device)
    result["test_accuracy"] = evaluate(model, ds.test, shape, device=device)
    result["unit"] = "%"
    return result, model


def onnx_bytes(model: nn.Module, shape: Sequence[int], opset: int = 17) -> bytes:
    """The model as ONNX (TorchScript exporter), input `input` (batch, *shape) with a
    dynamic batch axis, output `logits`."""
    import io
    import warnings

    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (torch.zeros((1, *shape)),),
            buffer,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=opset,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    return buffer.getvalue()


def _onnx_checked(
    model: nn.Module, shape: Sequence[int], opset: int, seed: int
) -> tuple[bytes, dict[str, Any]]:
    """Export, validate with onnx.checker, run in ONNX Runtime on a seeded batch of 3 and
    compare with PyTorch; a mismatch raises `ExportError`."""
    import torch

    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise DependencyError(
            'exporting needs onnx and onnxruntime: pip install "hwnas[torch]"'
        ) from None
    try:
        content = onnx_bytes(model, shape, opset)
        onnx.checker.check_model(onnx.load_from_string(content), full_check=True)
    except Exception as exc:  # noqa: BLE001 - any exporter/checker failure is the export's
        raise ExportError(f"ONNX export failed ({type(exc).__name__}: {exc})") from None
    x = torch.randn((3, *shape), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = model(x).numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(content, opts, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    return content, compare_logits(expected, got, {"onnxruntime": ort.__version__})


def compare_logits(expected: np.ndarray, got: np.ndarray, info: dict[str, Any]) -> dict[str, Any]:
    """The check record, or an `ExportError` when ONNX Runtime's logits differ."""
    diff = float(np.max(np.abs(expected - got))) if expected.shape == got.shape else math.inf
    ok = expected.shape == got.shape and bool(
        np.allclose(got, expected, rtol=ONNX_RTOL, atol=ONNX_ATOL)
    )
    if not ok:
        raise ExportError(
            f"ONNX Runtime's logits differ from PyTorch's (max |diff| {diff:.3g}, shapes "
            f"{got.shape} vs {expected.shape}; tolerance rtol {ONNX_RTOL}, atol {ONNX_ATOL}); "
            "the ONNX file was not written"
        )
    return {
        **info,
        "batch": int(expected.shape[0]),
        "max_abs_diff": diff,
        "rtol": ONNX_RTOL,
        "atol": ONNX_ATOL,
    }


def _safetensors_bytes(state: dict[str, Any], card: dict[str, Any]) -> bytes:
    from safetensors.torch import save

    meta = {
        "format": "hwnas-export",
        "schema_version": str(SCHEMA_VERSION),
        "space": card["space"]["name"],
        "dataset": card["space"]["dataset"],
        "arch": card["architecture"]["key"],
        "input_shape": json.dumps(card["input_shape"]),
        "weights": card["weights"]["kind"],
        "hwnas": card["hwnas_version"],
    }
    return save(state, metadata=meta)


def load_model(export_dir: str | Path) -> nn.Module:
    """Rebuild an exported network from its model card and load its weights (strictly):
    the inverse of `export_run`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    export_dir = Path(export_dir)
    card_path = export_dir / CARD_JSON
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HwnasError(f"{card_path}: not a readable model card ({exc})") from None
    if card.get("schema_version") != SCHEMA_VERSION:
        raise HwnasError(
            f"{card_path}: export schema {card.get('schema_version')!r}, this hwnas reads "
            f"{SCHEMA_VERSION}; use the hwnas version that wrote it"
        )
    space = get_space(card["space"]["name"])
    model = space.build(space.parse(card["architecture"]["key"]), card["space"]["dataset"])
    try:
        state = load_file(str(export_dir / WEIGHTS_FILE))
    except (OSError, SafetensorError) as exc:
        raise HwnasError(f"{export_dir / WEIGHTS_FILE}: not readable weights ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise HwnasError(f"{export_dir / WEIGHTS_FILE} does not fit the network ({exc})") from None
    return model.eval()


# --- the model card ------------------------------------------------------------------------
def _card(
    run: Run,
    picked: Picked,
    shape: Sequence[int],
    classes: int,
    n_params: int,
    weights: dict[str, Any],
    accuracy: dict[str, Any] | None,
    check: dict[str, Any],
    opset: int,
    command: str | None,
) -> dict[str, Any]:
    from hwnas import __version__

    e = picked.evaluation
    feasible = e.status == "ok"
    return {
        "schema_version": SCHEMA_VERSION,
        "architecture": {
            "key": e.arch.key,
            "genes": list(e.arch.genes),
            "description": {k: _plain(v) for k, v in describe(run.space, e.arch).items()},
        },
        "space": {
            "name": run.space.name,
            "description": run.space.description,
            "dataset": run.dataset,
        },
        "input_shape": [1, *[int(s) for s in shape]],
        "dynamic_axes": {"input": [0], "logits": [0]},
        "classes": classes,
        "parameters": n_params,
        "pick": {
            "spec": picked.pick,
            "trial": e.trial,
            "status": e.status,
            "feasible": feasible,
            "on_front": picked.on_front,
            "front_index": picked.front_index,
        },
        "metrics": {
            name: {"value": _json_float(value), "provenance": e.provenance.get(name, {})}
            for name, value in e.metrics.items()
        },
        "run": {
            "path": str(run.path),
            "objectives": [o.spec for o in run.objectives],
            "constraints": [c.spec for c in run.constraints],
            "quality": run.quality,
            "strategy": run.config.get("strategy"),
            "seed": run.config.get("seed"),
            "budget": run.config.get("budget"),
            "host": run.host,
        },
        "weights": weights,
        "accuracy_after_export": accuracy,
        "onnx": {"file": ONNX_FILE, "opset": opset, "check": check},
        "files": [ONNX_FILE, WEIGHTS_FILE, CARD_MD, CARD_JSON],
        "hwnas_version": __version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command or f"hwnas.export.export_run({str(run.path)!r}, {picked.pick!r})",
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _json_float(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def md_code(value: Any, table: bool = False) -> str:
    """`value` as one markdown code span: control characters (newlines included) become
    spaces so nothing breaks out of its line, the fence outgrows any backtick run, and in
    a table cell `|` is escaped."""
    text = _CONTROL.sub(" ", str(value))
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_card(card: dict[str, Any]) -> str:
    """The model card as markdown; every value from the run is a code span (`md_code`)."""
    arch, space, pick = card["architecture"], card["space"], card["pick"]
    w = card["weights"]
    lines = [
        "# Model card",
        "",
        (
            f"Architecture {md_code(arch['key'])} from the {md_code(space['name'])} space "
            f"({space['description']}), built for {md_code(space['dataset'])}."
        ),
        "",
        (
            f"- input: {md_code(card['input_shape'])} float32 (batch axis dynamic), "
            f"output: logits over {card['classes']} classes"
        ),
        f"- parameters: {card['parameters']:,}",
        f"- chosen by {md_code(pick['spec'])}: trial {pick['trial']}, "
        + ("feasible" if pick["feasible"] else f"status {md_code(pick['status'])}")
        + (
            f", row {pick['front_index']} of pareto.csv"
            if pick["on_front"]
            else ", not on the run's Pareto front"
        ),
        "",
        "## Weights",
        "",
    ]
    if w["kind"] == "supernet":
        lines.append(
            f"Inherited from the supernet checkpoint {md_code(w['checkpoint'])} "
            f"(sha256 {md_code(w['sha256'])})."
        )
        for k, v in w.get("provenance", {}).items():
            lines.append(
                f"- {md_code(k)}: {md_code(json.dumps(v) if isinstance(v, (dict, list)) else v)}"
            )
    else:
        trained = "finetuned" in w
        lines.append(
            ("Freshly initialised, then fine-tuned (below). " if trained else "**UNTRAINED**: ")
            + f"{w['init']}; {w['why']}."
        )
    if "finetuned" in w and w["kind"] == "supernet":
        lines.append("Then fine-tuned (below).")
    acc = card["accuracy_after_export"]
    if acc is not None:
        lines += [
            "",
            "## Accuracy of these weights",
            "",
            (
                f"On {md_code(acc['data'])} (train/val/test {acc['sizes']['train']}/"
                f"{acc['sizes']['val']}/{acc['sizes']['test']} images, split seed "
                f"{acc['dataset_provenance'].get('split', {}).get('seed')}, resized to "
                f"{md_code(acc['input_shape'])}):"
            ),
            "",
        ]
        if acc["epochs"]:
            lines += [
                f"- validation accuracy before fine-tuning: {acc['val_accuracy_before']:.2f}%",
                (
                    f"- after {acc['epochs']} epoch(s) of fine-tuning: validation "
                    f"{acc['val_accuracy']:.2f}%, test {acc['test_accuracy']:.2f}%"
                ),
            ]
        else:
            lines.append(
                f"- validation {acc['val_accuracy']:.2f}%, test {acc['test_accuracy']:.2f}% "
                "(not fine-tuned)"
            )
        if "train_config" in acc:
            cfg = ", ".join(f"{k}={v}" for k, v in acc["train_config"].items())
            lines.append(f"- schedule (hwnas.training.fit): {md_code(cfg)}")
    lines += [
        "",
        "## Metrics recorded by the search",
        "",
        "These are the run's evaluation of this architecture, with their provenance; "
        + (
            "they describe the supernet-inherited network, not fine-tuned weights."
            if w["kind"] == "supernet"
            else "accuracies from a table or predictor describe the trained network of that "
            "source, not the weights exported here."
        ),
        "",
        "| metric | value | provenance |",
        "|---|---|---|",
    ]
    for name, m in card["metrics"].items():
        prov = "; ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(m["provenance"].items()))
        lines.append(
            f"| {md_code(name, True)} | {md_code(_fmt_value(m['value']), True)} | "
            f"{md_code(prov or '(none recorded)', True)} |"
        )
    lines += ["", "## Architecture", "", "| dimension | choice |", "|---|---|"]
    for dim, value in arch["description"].items():
        lines.append(f"| {md_code(dim, True)} | {md_code(value, True)} |")
    run = card["run"]
    onnx_check = card["onnx"]["check"]
    lines += [
        "",
        "## Run and export",
        "",
        f"- run: {md_code(run['path'])}, objectives {md_code(', '.join(run['objectives']))}"
        + (f", constraints {md_code(', '.join(run['constraints']))}" if run["constraints"] else "")
        + f", quality {md_code(run['quality'])}, strategy {md_code(run['strategy'])}, "
        f"seed {md_code(run['seed'])}",
        f"- run host: {md_code(', '.join(f'{k}={v}' for k, v in sorted(run['host'].items())))}",
        (
            f"- ONNX opset {card['onnx']['opset']}, checked with onnx.checker; ONNX Runtime "
            f"{md_code(onnx_check['onnxruntime'])} matches PyTorch on a batch of "
            f"{onnx_check['batch']} (max |diff| {onnx_check['max_abs_diff']:.2g})"
        ),
        f"- hwnas {md_code(card['hwnas_version'])}, {md_code(card['date'])}",
        f"- command: {md_code(card['command'])}",
        "",
    ]
    return "\n".join(lines)
