"""Writing and reading the exported network: ONNX (checked with onnx.checker and run once in
ONNX Runtime against PyTorch), safetensors weights with metadata, and `load_model`, the
inverse of the export."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas._imports import optional_import
from hwnas._io import atomic_write
from hwnas.errors import HwnasError
from hwnas.export._layout import CARD_JSON, SCHEMA_VERSION, WEIGHTS_FILE, ExportError
from hwnas.models.onnx import INPUT_NAME, to_onnx
from hwnas.spaces import get_space

if TYPE_CHECKING:
    from torch import nn

#: ONNX Runtime must reproduce PyTorch's logits within these (float32 kernels differ)
ONNX_RTOL = 1e-3
ONNX_ATOL = 1e-4


def onnx_checked(
    model: nn.Module, shape: Sequence[int], opset: int, seed: int
) -> tuple[bytes, dict[str, Any]]:
    """Export, validate with onnx.checker, run in ONNX Runtime on a seeded batch of 3 and
    compare with PyTorch; a mismatch raises `ExportError`. A comparison proves something
    only where the logits depend on the input: when the exported weights give the same
    logits for every input (an untrained network's batch norms can), the same graph is
    also compared with its batch norms recalibrated on random data, and a network whose
    logits still do not vary is refused."""
    import torch

    onnx = optional_import("onnx", "exporting")
    ort = optional_import("onnxruntime", "exporting")
    try:
        content = to_onnx(model, shape, opset=opset)
        onnx.checker.check_model(onnx.load_from_string(content), full_check=True)
    except Exception as exc:  # noqa: BLE001 - any exporter/checker failure is the export's
        raise ExportError(f"ONNX export failed ({type(exc).__name__}: {exc})") from None
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((3, *shape), generator=generator)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1

    def compare(net: nn.Module, graph: bytes) -> dict[str, Any]:
        with torch.no_grad():
            expected = net(x).numpy()
        session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        got = session.run(None, {INPUT_NAME: x.numpy()})[0]
        check = compare_logits(expected, got, {"onnxruntime": ort.__version__})
        return {**check, "logit_spread": _spread(expected)}

    check = compare(model, content)
    if check["logit_spread"] <= VARY_ATOL:
        probe = _recalibrated(model, torch.randn((16, *shape), generator=generator))
        probe_check = compare(probe, to_onnx(probe, shape, opset=opset))
        if probe_check["logit_spread"] <= VARY_ATOL:
            raise ExportError(
                "the network's logits do not depend on its input, even with its batch norms "
                "recalibrated on random data: comparing ONNX Runtime with PyTorch would prove "
                "nothing; the ONNX file was not written"
            )
        check["recalibrated_check"] = probe_check
    return content, check


#: logits whose largest per-class standard deviation over the check batch is below this do
#: not depend on the input, and a comparison on them proves nothing
VARY_ATOL = 1e-6


def _spread(logits: np.ndarray) -> float:
    return float(np.max(np.std(logits, axis=0))) if len(logits) > 1 else 0.0


def _recalibrated(model: nn.Module, images: Any) -> nn.Module:
    """A copy of `model` whose batch norms hold the statistics of `images`."""
    import copy

    import torch

    probe = copy.deepcopy(model)
    norms = [m for m in probe.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # the cumulative average of the calibration batch
    probe.train()
    with torch.no_grad():
        probe(images)
    return probe.eval()


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


def safetensors_bytes(state: dict[str, Any], card: dict[str, Any]) -> bytes:
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
    model = space.build(
        space.parse(card["architecture"]["key"]), card["space"]["dataset"], card["classes"]
    )
    try:
        state = load_file(str(export_dir / WEIGHTS_FILE))
    except (OSError, SafetensorError) as exc:
        raise HwnasError(f"{export_dir / WEIGHTS_FILE}: not readable weights ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise HwnasError(f"{export_dir / WEIGHTS_FILE} does not fit the network ({exc})") from None
    return model.eval()


def write_files(contents: dict[Path, bytes]) -> None:
    """Write each file whole (a temporary file, then a rename), in order."""
    for path, content in contents.items():
        atomic_write(path, content)
