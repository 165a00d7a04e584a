"""The ViT and BERT builders (`hwnas.models.vit`, `hwnas.models.bert`): their ONNX graphs
(the one exporter) compute what PyTorch computes, and a smaller layer's weights have the
shapes of leading slices of a larger one's, which a weight-sharing supernet slices."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.spaces import get_space


@pytest.mark.parametrize(
    ("space_name", "key", "dataset"),
    [("vit", "e64|fine|h2m2,h3m4", "cifar10"), ("bert", "d128|h2f512,h4f1024", "seq128")],
)
def test_onnx_graph_matches_pytorch(space_name: str, key: str, dataset: str) -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from hwnas.models.onnx import INPUT_NAME, to_onnx

    space = get_space(space_name)
    arch = space.parse(key)
    net, shape = space.build(arch, dataset), space.arch_input_shape(arch, dataset)
    x = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
    if space_name == "bert":  # token ids as float32, some outside the vocabulary
        x = (x * 20000).round()
    session = ort.InferenceSession(to_onnx(net, shape), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        want = net(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_smaller_vit_is_a_leading_slice_of_a_larger() -> None:
    torch = pytest.importorskip("torch")
    space = get_space("vit")
    with torch.device("meta"):
        small = space.build(space.parse("e96|fine|h2m2"), "cifar10").state_dict()
        large = space.build(space.parse("e192|fine|h4m4,h4m4"), "cifar10").state_dict()
    assert set(small) <= set(large)
    for name, tensor in small.items():
        big = large[name].shape
        assert len(tensor.shape) == len(big) and all(s <= b for s, b in zip(tensor.shape, big)), (
            name
        )
