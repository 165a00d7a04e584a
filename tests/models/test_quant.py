"""Fake quantisation in PyTorch and ONNX Runtime's QDQ int8 graph of the same network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from hwnas.models.onnx import to_onnx
from hwnas.models.qdq import float_nodes, node_module, quantise_onnx
from hwnas.models.quant import FakeQuant, fake_quantise, fold_batchnorms, quantise_weight
from hwnas.spaces import get_space


@pytest.fixture(scope="module")
def built() -> tuple[Any, Any, tuple[int, ...], np.ndarray]:
    """A quantised space, an untrained ofa-min network with batch-norm statistics, its
    input shape and 16 random inputs (built once: the tests only read it)."""
    space = get_space("mbv3+quant:w=4,8,32;a=8,32")
    arch = space.parse("ofa-min#w8a8")
    torch.manual_seed(0)
    net = space.build(arch, "fashion-mnist")
    # batch norms with real statistics, so the logits depend on the input
    net.train()
    x = torch.randn(16, *space.arch_input_shape(arch, "fashion-mnist"))
    with torch.no_grad():
        net(x)
    net.eval()
    return space, net, tuple(x.shape[1:]), x.numpy()


def test_weights_round_to_a_symmetric_per_channel_grid() -> None:
    w = torch.tensor([[1.0, -0.6, 0.4], [0.1, 0.0, -0.2]])
    q = quantise_weight(w, 2)  # levels -1, 0, 1 times max|row|
    assert torch.equal(q, torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, -0.2]]))
    assert quantise_weight(w, 32) is w


def test_folding_batchnorms_keeps_the_function(built: Any) -> None:
    _, net, _, x = built
    with torch.no_grad():
        ref, folded = net(torch.from_numpy(x)), fold_batchnorms(net)(torch.from_numpy(x))
    assert torch.allclose(ref, folded, atol=1e-4)


def test_pytorch_fake_quantisation_predicts_onnx_runtimes_int8_graph(built: Any) -> None:
    space, net, shape, x = built
    bits = space.policy(space.parse("ofa-min#w8a8"))
    qdq = quantise_onnx(to_onnx(net, shape), bits, x[:8])
    import onnxruntime as ort

    got = ort.InferenceSession(qdq, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        fake = fake_quantise(net, bits, torch.from_numpy(x[:8]))(torch.from_numpy(x)).numpy()
        ref = net(torch.from_numpy(x)).numpy()
    # the same tensors quantised over the same ranges, the biases rounded to int32 alike:
    # the emulation computes what ONNX Runtime computes, up to float rounding
    assert np.abs(got - fake).max() < 1e-4 * np.abs(ref).max()
    # lower bits move the logits further than 8 do
    four = space.policy(space.parse("ofa-min#w4a8"))
    with torch.no_grad():
        fake4 = fake_quantise(net, four, torch.from_numpy(x[:8]))(torch.from_numpy(x)).numpy()
    assert np.abs(fake4 - ref).max() > np.abs(fake - ref).max()


def test_float_blocks_are_left_out_of_the_int8_graph(built: Any) -> None:
    import onnx

    space, net, shape, _ = built
    entries = ",".join(["w32a32"] + ["w8a8"] * 12)
    graph = onnx.load_from_string(to_onnx(net, shape)).graph
    excluded = float_nodes(graph, space.policy(space.parse(f"ofa-min#{entries}")))
    assert excluded and all(node_module(n).startswith("stem") for n in excluded)
    assert node_module("/blocks/blocks.1/body/body.0/body.0.0/Conv") == "blocks.1.body.0.0"


def _random_network(name: str, dataset: str, seed: int) -> tuple[Any, Any, Any]:
    """A seeded network of `name` with batch-norm statistics, a policy whose blocks are each
    w8a8 or float (what ONNX Runtime can run), and 16 random inputs."""
    space = get_space(f"{name}+quant:w=8,32;a=8,32")
    rng = np.random.default_rng(seed)
    arch = space.sample(rng)
    entries = rng.choice(["w8a8", "w32a32"], size=len(space.policy(arch)), p=[0.7, 0.3])
    arch = space.parse(arch.key.split("#")[0] + "#" + ",".join(entries))
    torch.manual_seed(seed)
    net = space.build(arch, dataset, classes=10).train()
    x = torch.randn(16, *space.arch_input_shape(arch, dataset))
    with torch.no_grad():
        net(x)
    return net.eval(), space.policy(arch), x


def _ort_grids(qdq: bytes) -> list[tuple[float, int]]:
    """(scale, zero point) of each tensor ONNX Runtime quantises (bar constants), in graph
    order."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(qdq)
    constants = {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [
        (float(init[n.input[1]]), int(init[n.input[2]]))
        for n in model.graph.node
        if n.op_type == "QuantizeLinear" and n.input[0] not in constants
    ]


@pytest.mark.parametrize(
    ("name", "dataset"),
    [("mbv3", "fashion-mnist"), ("mbv2", "fashion-mnist"), ("fbnet", "fashion-mnist"),
     ("nb201", "cifar10")],
)  # fmt: skip
def test_fake_quantisation_quantises_the_tensors_onnx_runtime_does(name: str, dataset: str) -> None:
    """Every tensor ONNX Runtime's QDQ graph quantises, and only those, on the same grid (both calibrate the float network): adds, pooling, gates, logits, not
    only each conv / linear input; float blocks left out; ReLUs after a conv fused."""
    net, bits, x = _random_network(name, dataset, seed=1)
    grids = _ort_grids(quantise_onnx(to_onnx(net, tuple(x.shape[1:])), bits, x[:8].numpy()))
    fake = fake_quantise(net, bits, x[:8])
    calls = [n for n in fake.graph.nodes if str(n.target).startswith("tensor_quant")]
    assert len(calls) == len(grids) > 10
    ours = []
    for call in calls:
        quantiser = fake.get_submodule(str(call.target))
        step = float(quantiser.step())
        ours.append((step, round(-float(quantiser.lo) / step)))
    # the same grids (ONNX Runtime lists its quantisers in its own order)
    for (step, zero), (scale, their_zero) in zip(sorted(ours), sorted(grids), strict=True):
        assert step == pytest.approx(scale, rel=1e-5) and zero == their_zero


def test_a_relu_after_a_quantised_op_is_fused_and_biases_round_to_int32() -> None:
    from torch import nn

    from hwnas.spaces.quant import BlockBits

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    x = torch.randn(32, 1, 8, 8)
    fake = fake_quantise(net, [BlockBits("all", "", 8, 8)], x)
    written = [n.args[0] for n in fake.graph.nodes if str(n.target).startswith("tensor_quant")]
    kinds = [w.op if w.op == "placeholder" else type(fake.get_submodule(w.target)) for w in written]
    # the input, ReLU, Flatten and Linear outputs; the conv's output only through the ReLU
    assert sorted(map(str, kinds)) == sorted(
        map(str, ["placeholder", nn.ReLU, nn.Flatten, FakeQuant])
    )
    linear = next(
        m for m in fake.modules() if isinstance(m, FakeQuant) and isinstance(m.layer, nn.Linear)
    )
    step = (linear.layer.weight.abs().amax(1) / 127) * linear.input.step()
    ints = linear.layer.bias / step
    assert torch.allclose(ints, ints.round(), atol=1e-3)


def test_a_network_fx_cannot_trace_keeps_its_layer_inputs_quantised() -> None:
    from torch import nn

    from hwnas.spaces.quant import BlockBits

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x: Any) -> Any:
            return self.conv(x) if x.sum() > 0 else -self.conv(x)  # data-dependent

    with pytest.warns(UserWarning, match="cannot be traced"):
        fake = fake_quantise(Branchy(), [BlockBits("all", "", 8, 8)], torch.randn(4, 1, 6, 6))
    assert isinstance(fake.conv, FakeQuant) and not fake.conv.input.observing
