"""The one ONNX exporter (`hwnas.models.onnx.to_onnx`): its graph's interface, and that
importing it (or the measurement that uses it) does not import torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hwnas.models.onnx import BATCH_AXIS, INPUT_NAME, OPSET, OUTPUT_NAME, to_onnx


def test_importing_the_exporter_does_not_import_torch() -> None:
    code = (
        "import sys, hwnas.models.onnx, hwnas.cost.measure; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("opset", [OPSET, 18])
def test_graph_has_named_input_and_output_with_a_dynamic_batch_axis(opset: int) -> None:
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from hwnas.models.nb201 import TinyNetwork
    from hwnas.spaces.nb201 import cell

    torch.manual_seed(0)
    model = TinyNetwork(cell((1, 2, 3, 4, 0, 1)), 10, C=4, N=1)
    model.train()
    content = to_onnx(model, (3, 32, 32), opset=opset)
    assert not model.training  # exported (and left) in eval mode

    graph = onnx.load_from_string(content)
    onnx.checker.check_model(graph, full_check=True)
    assert [o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")] == [opset]

    def dims(value: object) -> list[int | str]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # type: ignore[attr-defined]

    assert [(v.name, dims(v)) for v in graph.graph.input] == [(INPUT_NAME, [BATCH_AXIS, 3, 32, 32])]
    assert [(v.name, dims(v)) for v in graph.graph.output] == [(OUTPUT_NAME, [BATCH_AXIS, 10])]

    # one graph serves measurement (a batch of 1) and deployment (any batch)
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {INPUT_NAME: x.numpy()})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
