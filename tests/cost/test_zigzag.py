"""`latency@zigzag:ACCEL` / `energy@zigzag:ACCEL`: ONNX layers read as ZigZag reads them,
per-layer results summed to ZigZag's own whole-workload figure, a cache that spares every
layer it has seen, clear errors for bad names and files, and a search that records both."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import hwnas
from hwnas.errors import HwnasError, SpecError, UnknownNameError
from hwnas.testing import check_target

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("zigzag")

from hwnas.cost.zigzag import (
    bundled_accelerators,
    layer_key,
    load_accelerator,
    network_cost,
    onnx_layers,
    parse_target,
)
from hwnas.cost.zigzag_cache import CACHE_ENV, LayerCache, quiet_zigzag
from hwnas.cost.zigzag_layers import layer_macs


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session's tests: a layer seen by one test is free for the next."""
    return tmp_path_factory.mktemp("zigzag-cache")


@pytest.fixture(autouse=True)
def _cache_env(shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CACHE_ENV, str(shared_cache))
    yield


def _small_net(channels: int = 8, classes: int = 5) -> tuple[object, tuple[int, int, int]]:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, channels, 3, stride=2, padding=1)
            self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
            self.fc = nn.Linear(channels, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.dw(torch.relu(self.conv(x)))
            return self.fc(x.mean(dim=(2, 3)))

    return Net(), (3, 8, 8)


def _layers(channels: int = 8, classes: int = 5) -> list[dict[str, object]]:
    from hwnas.models.onnx import to_onnx

    net, shape = _small_net(channels, classes)
    return onnx_layers(to_onnx(net, shape))


def test_onnx_layers_read_convolutions_depthwise_and_linear_as_zigzag_does() -> None:
    conv, dw, fc = _layers()
    sizes = [dict(zip(layer["loop_dims"], layer["loop_sizes"])) for layer in (conv, dw, fc)]
    # B K G OX OY C FX FY: a stride-2 3x3 conv of 3 -> 8 channels on 8x8 gives 4x4
    assert sizes[0] == {"B": 1, "K": 8, "G": 1, "OX": 4, "OY": 4, "C": 3, "FX": 3, "FY": 3}
    assert conv["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    assert conv["padding"] == [[1, 1], [1, 1]] and conv["pr_loop_sizes"] == [8, 8]
    # depthwise: one channel per group, 8 groups
    assert sizes[1] == {"B": 1, "K": 1, "G": 8, "OX": 4, "OY": 4, "C": 1, "FX": 3, "FY": 3}
    # the classifier: a Gemm of the batch (1) x 8 features -> 5; weights are constants
    assert fc["operator_type"] == "Gemm"
    assert sizes[2] == {"C": 8, "D": 1, "K": 5}
    assert fc["equation"] == "O[d][k]+=I[d][c]*W[c][k]"


def test_a_product_of_two_activations_has_batched_weights() -> None:
    import torch
    from torch import nn

    from hwnas.models.onnx import to_onnx

    class Attention(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q = x.reshape(1, 2, 4, 3)  # batch, heads, tokens, dims
            return (q @ q.transpose(-1, -2)).reshape(1, -1)

    (layer,) = onnx_layers(to_onnx(Attention(), (24,)))
    assert layer["equation"] == "O[b][h][d][k]+=I[b][h][d][c]*W[b][h][c][k]"
    assert dict(zip(layer["loop_dims"], layer["loop_sizes"])) == {
        "C": 3, "D": 4, "K": 4, "B": 1, "H": 2,
    }  # fmt: skip
    assert layer["operand_precision"]["W"] == layer["operand_precision"]["I"]


def test_the_sum_of_cached_layers_is_zigzags_own_figure_for_the_workload(tmp_path: Path) -> None:
    """ZigZag's API on the whole workload (three layers) and hwnas's per-layer sum agree
    exactly; a second pricing evaluates nothing, from a fresh handle on the same file.
    (Layers larger than the 32x32 array: ZigZag's API, unlike hwnas's stages, prints each
    mapping and fails on a layer that the array holds whole.)"""
    from zigzag.api import get_hardware_performance_zigzag

    layers = _layers(channels=64, classes=100)
    accel = load_accelerator("tpu_like")
    inputs = Path(bundled_inputs())
    workload = [{"id": i, "name": f"l{i}", **layer} for i, layer in enumerate(layers)]
    energy, cycles, _ = get_hardware_performance_zigzag(
        workload,
        str(inputs / "hardware" / "tpu_like.yaml"),
        str(inputs / "mapping" / "tpu_like.yaml"),
        dump_folder=str(tmp_path / "zigzag"),
        loma_show_progress_bar=False,
    )
    cache = LayerCache(tmp_path / "c.sqlite")
    ours = network_cost(layers, accel, cache)
    assert ours["energy_pj"] == pytest.approx(energy, rel=1e-12)
    assert ours["cycles"] == pytest.approx(cycles, rel=1e-12)
    assert ours["layers_evaluated_now"] == 3 and len(cache) == 3
    again = network_cost(layers, accel, LayerCache(tmp_path / "c.sqlite"))
    assert again["layers_evaluated_now"] == 0
    assert (again["energy_pj"], again["cycles"]) == (ours["energy_pj"], ours["cycles"])


def bundled_inputs() -> str:
    import zigzag

    return os.path.join(os.path.dirname(zigzag.__file__), "inputs")


def test_the_cache_takes_concurrent_writers(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "c.sqlite")

    def write(worker: int) -> None:
        other = LayerCache(tmp_path / "c.sqlite")
        for i in range(30):
            other.put("ctx", json.dumps({"layer": i % 20}), float(i % 20), 2.0 * (i % 20))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 20
    found = cache.get_many("ctx", {json.dumps({"layer": 7}), "unknown"})
    assert found == {json.dumps({"layer": 7}): (7.0, 14.0)}


def _write_rows(path: str, worker: int) -> None:
    cache = LayerCache(path)
    for i in range(25):
        cache.put("ctx", json.dumps({"layer": (i + worker) % 20}), 1.0, 2.0)


def test_the_cache_takes_writers_in_other_processes(tmp_path: Path) -> None:
    """Process-pool workers share one cache file: four processes writing at once."""
    import multiprocessing

    path = str(tmp_path / "c.sqlite")
    LayerCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(path, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert len(LayerCache(path)) == 20


def test_a_cache_of_another_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import sqlite3

    LayerCache(tmp_path / "c.sqlite")
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(HwnasError, match="schema 99.*delete it"):
        LayerCache(tmp_path / "c.sqlite")


def test_names_clocks_and_files_are_checked_before_a_search() -> None:
    assert {"tpu_like", "eyeriss_like", "edge_tpu_like"} <= set(bundled_accelerators())
    assert parse_target("zigzag:tpu_like") == ("tpu_like", 1000.0)
    assert parse_target("zigzag:eyeriss_like@200MHz") == ("eyeriss_like", 200.0)
    with pytest.raises(UnknownNameError, match="tpu_like"):
        hwnas.get_target("zigzag:tpu_lik")
    with pytest.raises(SpecError, match="@NMHZ"):
        hwnas.get_target("zigzag:tpu_like@fast")
    with pytest.raises(SpecError, match="name an accelerator"):
        hwnas.get_target("zigzag:")
    with pytest.raises(HwnasError, match="does not exist"):
        hwnas.get_target("zigzag:/no/such/accel.yaml")


def test_a_users_yaml_is_validated_and_its_mapping_found_beside_it(tmp_path: Path) -> None:
    inputs = Path(bundled_inputs())
    good = tmp_path / "mine.yaml"
    good.write_text((inputs / "hardware" / "tpu_like.yaml").read_text())
    (tmp_path / "mine.mapping.yaml").write_text((inputs / "mapping" / "tpu_like.yaml").read_text())
    accel = load_accelerator(str(good))
    assert accel.digest == load_accelerator("tpu_like").digest
    assert "mine.mapping.yaml" in accel.origin
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: broken\nmemories: {}\n")
    with pytest.raises(SpecError, match="not a valid ZigZag accelerator"):
        load_accelerator(str(bad))
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_accelerator(str(garbage))


def test_quantised_spaces_are_refused_rather_than_priced_at_8_bits() -> None:
    from hwnas.metrics import Metric
    from hwnas.sources import EvalContext

    target = hwnas.get_target("zigzag:tpu_like")
    ctx = EvalContext(hwnas.get_space("nb201+quant"), "cifar10")
    assert not target.serves(ctx)
    with pytest.raises(HwnasError, match="8-bit operands"):
        target.resolve(ctx, Metric("latency", "zigzag:tpu_like"))


def test_a_search_records_latency_and_energy_with_provenance() -> None:
    check_target(hwnas.get_target("zigzag:eyeriss_like@200mhz"), "nb201", n=1)
    results = hwnas.Study(
        space="nb201", dataset="cifar10",
        objectives=["accuracy:max", "latency@zigzag:eyeriss_like@200mhz:min",
                    "energy@zigzag:eyeriss_like@200mhz:min"],
        strategy="random", budget=2, seed=0, out_dir=None,
    ).optimize().results()  # fmt: skip
    rows = results.evaluations().to_dict("records")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    trial = results.ok()[0]
    latency = trial.provenance["latency@zigzag:eyeriss_like@200mhz"]
    energy = trial.provenance["energy@zigzag:eyeriss_like@200mhz"]
    assert latency["accelerator"] == "eyeriss_like" and latency["clock_mhz"] == 200.0
    assert latency["model"].startswith("ZigZag ") and latency["unit"] == "ms"
    # ms at 200 MHz: cycles / 200,000; energy in mJ: pJ / 1e9
    assert trial.value("latency@zigzag:eyeriss_like@200mhz") == pytest.approx(
        latency["cycles"] / 2e5
    )
    assert trial.value("energy@zigzag:eyeriss_like@200mhz") == pytest.approx(
        energy["energy_pj"] / 1e9
    )
    assert latency["distinct_layers"] <= latency["layers"]


@pytest.mark.parametrize(
    ("space", "dataset"),
    [("nb201", "cifar10"), ("mbv3-tiny", "fashion-mnist"), ("fbnet", "cifar100")],
)
def test_layers_read_off_the_module_are_the_exported_graphs(space: str, dataset: str) -> None:
    """The fast path (hooks on the module) gives the layers the ONNX graph gives, and
    accounts for every MAC of the full count, which is when a search may use it."""
    import numpy as np

    from hwnas.cost.targets import analytic_counts
    from hwnas.cost.zigzag_layers import module_layers
    from hwnas.models.onnx import to_onnx

    found = hwnas.get_space(space)
    arch = found.sample(np.random.default_rng(3))
    model, shape = found.build(arch, dataset), found.arch_input_shape(arch, dataset)
    fast = module_layers(model, shape)
    exported = onnx_layers(to_onnx(model, shape, dynamic_batch=False))
    assert fast is not None
    assert sorted(map(layer_key, fast)) == sorted(map(layer_key, exported))
    assert sum(map(layer_macs, fast)) == analytic_counts(found, arch, dataset).macs


@pytest.mark.parametrize("name", ["vit", "bert"])
def test_transformers_are_read_with_their_attention_products(name: str) -> None:
    """Elastic attention slices its heads with computed shapes, which ONNX shape
    inference cannot follow: the products outside modules come from a torch.fx trace, and
    with the Linear layers they account for every MAC of the full count."""
    import numpy as np

    from hwnas.cost.targets import analytic_counts
    from hwnas.cost.zigzag import network_layers
    from hwnas.sources import EvalContext

    space = hwnas.get_space(name)
    dataset = space.datasets[0]
    arch = space.sample(np.random.default_rng(3))
    layers = network_layers(EvalContext(space, dataset), arch)
    assert sum(map(layer_macs, layers)) == analytic_counts(space, arch, dataset).macs
    products = [x for x in layers if x["equation"].count("[h]") == 3]  # I, W and O per head
    assert products and all(x["operator_type"] == "MatMul" for x in products)
    assert {x["operand_precision"]["W"] for x in products} == {8}  # an activation, as I


def test_zigzag_prices_an_attention_product(tmp_path: Path) -> None:
    """Query x key of 4 heads over 17 tokens, as the fx reading gives it, on tpu_like."""
    from hwnas.cost.zigzag import evaluate_layer, load_accelerator
    from hwnas.cost.zigzag_layers import _matmul

    layer = {"operator_type": "MatMul", **_matmul([1, 4, 17, 16], [1, 4, 17, 17], False)}
    energy, cycles = evaluate_layer(layer, load_accelerator("tpu_like"))
    assert energy > 0 and cycles > 0


def test_a_layer_without_a_mapping_fails_with_the_reason_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An accelerator too small for a layer stays so: the second network asking is
    answered from the cache, with ZigZag's reason, and ZigZag is not asked again."""
    from zigzag.opt.loma.engine import NoValidLoopOrderingFoundException

    import hwnas.cost.zigzag as zz
    from hwnas.errors import EvaluationError

    calls = []

    def refuse(layer: dict[str, object], accel: object) -> tuple[float, float]:
        calls.append(layer)
        raise NoValidLoopOrderingFoundException("No valid loop ordering was found for layer.\nmore")

    monkeypatch.setattr(zz, "evaluate_layer", refuse)
    cache = LayerCache(tmp_path / "c.sqlite")
    layers = _layers()
    for _ in range(2):
        with pytest.raises(EvaluationError, match="no mapping of the Conv layer .* loop ordering"):
            network_cost(layers, load_accelerator("tpu_like"), cache)
    assert len(calls) == 1


def test_pooling_is_priced_as_zigzags_pooling_operator_with_channels_over_the_array() -> None:
    """ZigZag's ONNX parser leaves pooling out (an avg-pool edge of NB201 would cost
    nothing); hwnas reads it as ZigZag's `Pooling` operator, unless asked to read as
    ZigZag does, and gives accelerators without a pooling mapping one over the channels."""
    from torch import nn

    from hwnas.cost.zigzag import _with_pooling
    from hwnas.models.onnx import to_onnx

    net = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    graph = to_onnx(net, (4, 8, 8), dynamic_batch=False)
    pools = onnx_layers(graph)
    assert [p["operator_type"] for p in pools] == ["Pooling"] * 3
    sizes = [dict(zip(p["loop_dims"], p["loop_sizes"])) for p in pools]
    assert sizes[0] == {"B": 1, "G": 4, "OX": 8, "OY": 8, "FX": 3, "FY": 3}
    assert pools[0]["padding"] == [[1, 1], [1, 1]]
    assert sizes[1] == {"B": 1, "G": 4, "OX": 4, "OY": 4, "FX": 2, "FY": 2}
    assert pools[1]["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    assert sizes[2] == {"B": 1, "G": 4, "OX": 1, "OY": 1, "FX": 4, "FY": 4}  # global
    assert onnx_layers(graph, pooling=False) == []
    from hwnas.cost.zigzag_layers import module_layers

    assert sorted(map(layer_key, module_layers(net, (4, 8, 8)) or [])) == sorted(
        map(layer_key, pools)
    )
    mapping = _with_pooling(load_accelerator("eyeriss_like"))
    assert mapping[-1]["name"] == "Pooling"
    assert mapping[-1]["spatial_mapping"] == {"D1": ["G, 14"], "D2": ["C, 1"]}
    tpu = load_accelerator("tpu_like")  # has its own pooling mapping: kept
    assert _with_pooling(tpu) == tpu.mapping


def test_quieting_zigzag_nests_without_deadlock() -> None:
    """A caller may quiet ZigZag around `evaluate_layer`, which quiets it too: the inner
    level holds inside, the outer one is restored after (a plain lock hung here)."""
    import logging

    levels: list[int] = []

    def nested() -> None:
        with quiet_zigzag(), quiet_zigzag(logging.CRITICAL):
            levels.append(logging.getLogger("zigzag").level)
        levels.append(logging.getLogger("zigzag").level)

    before = logging.getLogger("zigzag").level
    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert levels == [logging.CRITICAL, before]
