"""Supernet checkpoints as safetensors: the weights, the optimizer's momentum buffers and,
in the metadata, one JSON object with the configuration, the step, the schedule's state and
the training history. Written atomically (temporary file, fsync, rename), read without
unpickling anything."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from hwnas._io import atomic_path, loads_json, why_not_a_file
from hwnas.errors import SetupError, SpecError

SCHEMA_VERSION = 1
KIND = "hwnas.supernet"
META_KEY = "hwnas"


class CheckpointError(SetupError):
    """A checkpoint that is missing, damaged, or made for another space or dataset."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: `meta` (the JSON metadata) and its tensors by name
    (`model/...`, `optimizer/...`)."""

    path: Path
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    sha256: str
    _net: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def space(self) -> str:
        return str(self.meta["space"])

    @property
    def dataset(self) -> str:
        return str(self.meta["dataset"])

    @property
    def classes(self) -> int:
        return trained_classes(self.meta)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta["config"])

    @property
    def restriction(self) -> dict[str, list[str]] | None:
        """The sub-space it was trained on (None: the whole space)."""
        return trained_restriction(self.meta, self.path)

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[len("model/") :]: v for k, v in self.tensors.items() if k.startswith("model/")}

    def optimizer_state(self) -> dict[str, Any]:
        """`torch.optim.Optimizer.state_dict()` as it was saved."""
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, tensor in self.tensors.items():
            if name.startswith("optimizer/"):
                _, index, key = name.split("/")
                state.setdefault(int(index), {})[key] = tensor
        return {"state": state, "param_groups": self.meta["optimizer_param_groups"]}

    def supernet(self) -> Any:
        """The supernet with the checkpoint's weights (CPU, eval mode), built once per
        loaded checkpoint and shared: read it, do not train it."""
        from hwnas.supernet._elastic import SUPERNET_SPACES, make_supernet

        if self._net is not None:
            return self._net
        if self.space not in SUPERNET_SPACES:
            raise CheckpointError(
                f"{self.path}: supernet of space {self.space!r}; supernets exist for "
                f"{', '.join(SUPERNET_SPACES)}"
            )
        net = make_supernet(self.space, self.dataset, self.classes, self.restriction)
        try:
            net.load_state_dict(self.model_state(), strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(
                f"{self.path}: weights do not fit the {self.space}/{self.dataset} supernet "
                f"of {self.classes} classes ({first})"
            ) from None
        self._net = net.eval()
        return self._net


def trained_restriction(meta: dict[str, Any], path: Path) -> dict[str, list[str]] | None:
    """The sub-space a checkpoint was trained on (None: the whole space), checked."""
    restrict = meta["config"].get("restrict")
    if restrict is None:
        return None
    if not isinstance(restrict, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in restrict.values()
    ):
        raise CheckpointError(f"{path}: its restriction {restrict!r} was edited")
    return dict(restrict) or None


def trained_classes(meta: dict[str, Any]) -> int:
    """The classifier's outputs of a checkpoint: its training data's class count
    (checkpoints from before it was recorded were refused other counts: the dataset's)."""
    from hwnas.datasets.catalogue import head_classes

    return head_classes(str(meta["dataset"]), meta.get("classes"))


def save_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any]
) -> None:
    """Write weights, momentum buffers and `meta` to `path` atomically."""
    from safetensors.torch import save_file

    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for index, state in opt["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{key}"] = value.detach().cpu().contiguous()
    meta = {"schema_version": SCHEMA_VERSION, "kind": KIND, **meta}
    meta["optimizer_param_groups"] = opt["param_groups"]
    with atomic_path(path, fsync=True) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint (header only: cheap), checked."""
    from safetensors import safe_open

    path = Path(path)
    if reason := why_not_a_file(path):
        raise CheckpointError(f"supernet checkpoint {path} {reason}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(META_KEY)
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc})"
        ) from None
    return _parse_meta(path, raw)


def _parse_meta(path: Path, raw: str | None) -> dict[str, Any]:
    if raw is None:
        raise CheckpointError(f"{path} is a safetensors file but not a hwnas supernet checkpoint")
    try:
        meta = loads_json(raw, f"{path}: checkpoint metadata")
    except SpecError as exc:
        raise CheckpointError(f"damaged checkpoint metadata: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise CheckpointError(f"{path} is not a hwnas supernet checkpoint")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint schema {meta.get('schema_version')!r}, this hwnas reads "
            f"{SCHEMA_VERSION}; retrain it with this version"
        )
    for key in ("space", "dataset", "config", "step", "optimizer_param_groups"):
        if key not in meta:
            raise CheckpointError(f"{path}: checkpoint metadata lacks {key!r}")
    classes = meta.get("classes")
    if classes is not None and (type(classes) is not int or classes < 1):
        raise CheckpointError(
            f"{path}: checkpoint metadata 'classes' must be a positive integer, got {classes!r}"
        )
    return meta


def load_checkpoint(path: str | Path) -> Checkpoint:
    """A checkpoint, read in full; cached while the file is unchanged."""
    path = Path(path).expanduser().resolve()
    if reason := why_not_a_file(path):
        raise CheckpointError(f"supernet checkpoint {path} {reason}")
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _load(path_str: str, mtime_ns: int, size: int) -> Checkpoint:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load

    path = Path(path_str)
    data = path.read_bytes()
    try:
        tensors = load(data)
        with safe_open(path_str, framework="pt") as fh:
            raw = (fh.metadata() or {}).get(META_KEY)
    except (SafetensorError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({type(exc).__name__}: {exc})"
        ) from None
    meta = _parse_meta(path, raw)
    return Checkpoint(path, meta, tensors, hashlib.sha256(data).hexdigest())
