"""The differentiable searches on CUDA (skipped without a GPU; benchmarks/gpu_check_dnas.sh
runs it on a lent one): each method trains on the GPU and derives what it derives on the
CPU path, a network of the space."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from hwnas.dnas import SearchSettings, parse_goals, run_dnas


@pytest.mark.parametrize(
    ("method", "space", "dataset", "goal"),
    [
        ("fbnet", "fbnet", "digits", "latency@pixel3=8"),
        ("proxyless", "fbnet", "digits", "latency@fpga=20"),
        ("pc-darts", "nb201", "cifar10", "latency@fpga=3"),
    ],
)
def test_search_on_cuda(method: str, space: str, dataset: str, goal: str, tmp_path: Path) -> None:
    settings = SearchSettings(epochs=2, width=0.5, cells=1, batch_size=32, device="cuda")
    results = run_dnas(
        method, parse_goals([goal], []), space=space, dataset=dataset, data="digits",
        images=300, settings=settings, out_dir=tmp_path,
    )  # fmt: skip
    assert (results.evaluations()["status"] == "ok").all()
