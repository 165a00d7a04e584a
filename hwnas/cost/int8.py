"""`latency@local-cpu` of a quantised architecture (`NAME+quant`): its static QDQ int8 graph
under ONNX Runtime, timed in the same interleaved warm blocks as its float graph, so every
int8 figure carries the fp32 one beside it (`fp32_ms`, `int8_speedup`) and a user sees
where int8 is slower (depthwise-heavy networks on some x86 CPUs are).

Only 8 bits map to ONNX Runtime's int8 kernels: blocks at fewer bits run as int8 here and
are counted at their bits analytically (`bitops`, `flash_kb`, `peak_memory_kb`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnas.cost.measure import MeasureConfig, measure
from hwnas.errors import HwnasError
from hwnas.spaces import Architecture
from hwnas.spaces.quant import QuantSpace

#: seeded random images that set the quantisation ranges of a graph only timed (the values
#: do not change which kernels run)
TIMING_CALIB_IMAGES = 8


def int8_graphs(
    space: QuantSpace, archs: Sequence[Architecture], dataset: str, classes: int | None
) -> list[tuple[bytes, bytes, tuple[int, ...]]]:
    """(int8 QDQ graph, float graph, input shape) of each architecture."""
    from hwnas.models.onnx import to_onnx
    from hwnas.models.qdq import quantise_onnx

    out = []
    for arch in archs:
        shape = tuple(space.arch_input_shape(arch, dataset))
        fp32 = to_onnx(space.build(arch, dataset, classes), shape)
        rng = np.random.default_rng(0)
        calib = rng.standard_normal((TIMING_CALIB_IMAGES, *shape)).astype(np.float32)
        out.append((quantise_onnx(fp32, space.policy(arch), calib), fp32, shape))
    return out


def measure_int8(
    space: QuantSpace,
    archs: Sequence[Architecture],
    dataset: str,
    classes: int | None,
    cfg: MeasureConfig,
) -> list[tuple[float, dict[str, Any]]]:
    """(int8 latency ms, provenance with the fp32 latency measured beside it) per arch."""
    from hwnas.models.qdq import SETTINGS

    if cfg.backend != "onnxruntime" or cfg.device != "cpu":
        raise HwnasError(
            f"a quantised architecture's latency is measured as ONNX Runtime int8 on the CPU "
            f"(latency@local-cpu), not {cfg.backend} on {cfg.device}"
        )
    graphs = int8_graphs(space, archs, dataset, classes)
    models: list[tuple[Any, tuple[int, ...]]] = []
    for int8, fp32, shape in graphs:
        models += [(int8, shape), (fp32, shape)]
    timings = measure(models, cfg)
    out = []
    for arch, int8_t, fp32_t in zip(archs, timings[::2], timings[1::2]):
        prov = {
            **int8_t.provenance,
            "graph": "int8 QDQ (onnxruntime.quantization.quantize_static)",
            "quantisation": {
                **SETTINGS,
                "bits": [f"{b.block}:w{b.w}a{b.a}" for b in space.policy(arch)],
                "calibration": f"{TIMING_CALIB_IMAGES} seeded N(0,1) images (timing only)",
            },
            "fp32_ms": fp32_t.value,
            "fp32_rel_iqr": fp32_t.provenance.get("rel_iqr"),
            "int8_speedup": fp32_t.value / int8_t.value if int8_t.value > 0 else None,
        }
        out.append((int8_t.value, prov))
    return out
