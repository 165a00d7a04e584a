"""The int8 ONNX model ONNX Runtime runs: static QDQ quantisation of the exported float graph
(`hwnas.models.onnx.to_onnx`) with `onnxruntime.quantization.quantize_static`, weights int8
per channel (symmetric), activations uint8 per tensor (MinMax over calibration images).

Only 8 bits map to ONNX Runtime's int8 kernels: a block at fewer bits runs as int8 here
(its accuracy is fake-quantised at its bits in PyTorch, `hwnas.models.quant`, and its
costs counted at its bits, `hwnas.cost.bits`); a block at 16 or 32 bits stays float
(its nodes are excluded from quantisation). Importing this module imports no runtime."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwnas._imports import optional_import
from hwnas.models.onnx import INPUT_NAME

#: images per calibration batch fed to ONNX Runtime
CALIB_BATCH = 16

SETTINGS: dict[str, Any] = {
    "format": "QDQ",
    "weights": "int8, per channel, symmetric",
    "activations": "uint8, per tensor, asymmetric, MinMax calibration",
    "below_8_bits": "run as int8 (ONNX Runtime has no such kernels); accuracy fake-quantised "
    "and costs counted at the block's bits",
}


def node_module(node_name: str) -> str:
    """The torch module path of a node the TorchScript exporter named
    (`/blocks/blocks.1/body/body.0/body.0.0/Conv` -> `blocks.1.body.0.0`)."""
    segments = [s for s in node_name.split("/")[:-1] if s]
    path, previous = "", ""
    for seg in segments:
        if previous and seg.startswith(previous + "."):
            path += seg[len(previous) :]
        else:
            path = f"{path}.{seg}" if path else seg
        previous = seg
    return path


def float_nodes(graph: Any, bits: Sequence[Any]) -> list[str]:
    """The nodes of blocks kept in float (16 or 32 bits)."""
    floating = [b for b in bits if b.w >= 16 or b.a >= 16]
    return [n.name for n in graph.node if any(b.covers(node_module(n.name)) for b in floating)]


def quantise_onnx(model: bytes, bits: Sequence[Any], calibration: np.ndarray) -> bytes:
    """The QDQ int8 model of the float ONNX `model`, calibrated on `calibration` (N, C, H,
    W float32 images, preprocessed as the network reads them)."""
    onnx = optional_import("onnx", "int8 quantisation")
    quantization = optional_import("onnxruntime.quantization", "int8 quantisation")
    proto = onnx.load_from_string(model)
    batches = [
        {INPUT_NAME: np.ascontiguousarray(calibration[i : i + CALIB_BATCH], dtype=np.float32)}
        for i in range(0, len(calibration), CALIB_BATCH)
    ]

    class Reader(quantization.CalibrationDataReader):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.left = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.left, None)

    # the quantiser advises on the root logger (pre-processing, biases it leaves float)
    with tempfile.TemporaryDirectory(prefix="hwnas-qdq-") as tmp, _quiet():
        out = Path(tmp) / "model.int8.onnx"
        quantization.quantize_static(
            proto,
            out,
            Reader(),
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            nodes_to_exclude=float_nodes(proto.graph, bits),
            calibrate_method=quantization.CalibrationMethod.MinMax,
            calibration_providers=["CPUExecutionProvider"],
        )
        return out.read_bytes()


@contextlib.contextmanager
def _quiet() -> Any:
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def ort_accuracy(model: bytes, images: np.ndarray, labels: np.ndarray, batch: int = 64) -> float:
    """Top-1 accuracy (%) of an ONNX model under ONNX Runtime (CPU, one thread)."""
    ort = optional_import("onnxruntime", "evaluating an ONNX model")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    correct = 0
    for i in range(0, len(images), batch):
        x = np.ascontiguousarray(images[i : i + batch], dtype=np.float32)
        logits = session.run(None, {INPUT_NAME: x})[0]
        correct += int((logits.argmax(axis=1) == labels[i : i + batch]).sum())
    return 100.0 * correct / max(len(images), 1)
