"""Fixtures for the measurement agent's tests: an agent served from a thread on an
ephemeral loopback port, and small ONNX models built without torch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`start_agent(**AgentConfig overrides)` -> a running `AgentServer`; stopped at the end."""
    pytest.importorskip("onnxruntime")
    from hwnas.cost.agent import AgentConfig, make_server

    servers = []

    def start(**overrides: Any) -> Any:
        config = {
            "port": 0,
            "token_file": str(tmp_path / "agent.token"),
            "state_dir": str(tmp_path / "state"),
            "read_timeout_s": 2.0,
            **overrides,
        }
        server, _ = make_server(AgentConfig(**config))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def onnx_model() -> Callable[[int], bytes]:
    """`onnx_model(n)`: an (n, n) MatMul as ONNX bytes, input `input` of shape (batch, n)."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def build(n: int = 32) -> bytes:
        w = numpy_helper.from_array(np.ones((n, n), np.float32), "w")
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["input", "w"], ["logits"])],
            "matmul",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n])],
            [w],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())

    return build
