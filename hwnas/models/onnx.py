"""The one ONNX exporter: the graph latency measurement times (`hwnas.cost.measure`) is the
graph `hwnas export` ships. Importing this module does not import torch."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from hwnas._imports import optional_import

#: the graph's input: float32 (batch, *input_shape), the batch axis dynamic
INPUT_NAME = "input"
#: the graph's output: (batch, classes) for a classifier, the batch axis dynamic
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"
OPSET = 17
#: torch's exporter keeps global state: two threads exporting at once fail
_EXPORTING = threading.Lock()


def to_onnx(
    model: Any, input_shape: Sequence[int], *, opset: int = OPSET, dynamic_batch: bool = True
) -> bytes:
    """`model` (a torch module on the CPU, put in eval mode) as ONNX bytes: TorchScript
    exporter, traced on a batch of 1 zeros of shape (1, *input_shape); input `input` and
    output `logits`, both with a dynamic batch axis, so measurement feeds it a batch of 1
    and a deployment any batch (`dynamic_batch=False`: batch 1 fixed, so every shape in
    the graph is a constant, as an analytical model reads it). Thread-safe (one export at a
    time in a process)."""
    torch = optional_import("torch", "exporting to ONNX")

    buffer = io.BytesIO()
    with _EXPORTING, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (torch.zeros((1, *input_shape)),),
            buffer,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=(
                {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}
                if dynamic_batch
                else None
            ),
        )
    return buffer.getvalue()
