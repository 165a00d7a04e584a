"""Analytic costs at a quantised architecture's bits (`hwnas.spaces.quant`), from the
counts of its float network (`hwnas.cost.analytic.Counts` with `bits` set):

* BitOPs: per layer MACs x weight bits x activation bits (APQ, SimQ-NAS);
* weight flash: each layer's weights at its weight bits, plus a 32-bit bias per output
  channel (where batch norm folds to);
* peak activation memory, MCUNet's rule (the largest sum of live activations) with each
  activation held at the bits of the layers that read it (a quantiser sits on a layer's
  input, as HAQ and APQ define activation bits; the widest reader wins, and a tensor no
  layer reads, the logits, is held at its producer's bits).

Counts without bits are int8 everywhere, the figures `flash_kb` / `peak_memory_kb` always
gave. 16 and 32 bits are fp16 / fp32."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: the bits of a layer no block covers, and of unquantised counts
DEFAULT_BITS = 8


def layer_bits(bits: Sequence[Any] | None, layer: str) -> tuple[int, int]:
    """(weight, activation) bits of the layer named `layer` (a module path)."""
    return _block_bits(bits, layer) or (DEFAULT_BITS, DEFAULT_BITS)


def _block_bits(bits: Sequence[Any] | None, layer: str) -> tuple[int, int] | None:
    for block in bits or ():
        if block.covers(layer):
            return int(block.w), int(block.a)
    return None


def bitops(counts: Any) -> int:
    """Sum over layers of MACs x weight bits x activation bits."""
    total = 0
    for layer in counts.layers:
        if layer.macs:
            w, a = layer_bits(counts.bits, layer.name)
            total += layer.macs * w * a
    return total


def flash_bytes(counts: Any) -> int:
    """Weights at each layer's bits, plus a 32-bit bias per output channel."""
    if counts.bits is None:
        return int(counts.flash_bytes(DEFAULT_BITS))
    weight_bits = sum(
        layer.weights * layer_bits(counts.bits, layer.name)[0] for layer in counts.layers
    )
    return math.ceil(weight_bits / 8) + 4 * counts.biases


def peak_memory_bytes(counts: Any) -> int:
    """MCUNet's peak activation memory with each tensor at its readers' activation bits
    (hook-counted networks: the largest layer input + output at the layer's bits)."""
    if counts.bits is None:
        return int(counts.peak_memory_bytes(DEFAULT_BITS))
    if not counts.tensors:
        return max(
            (
                math.ceil(
                    (layer.in_elems + layer.out_elems) * layer_bits(counts.bits, layer.name)[1] / 8
                )
                for layer in counts.layers
            ),
            default=0,
        )
    held = []
    for t in counts.tensors:
        read = [b[1] for name in t.readers if (b := _block_bits(counts.bits, name))]
        bits = max(read) if read else layer_bits(counts.bits, t.producer)[1]
        held.append((t.start, t.end, t.elems * bits))
    peak = max((sum(b for s, e, b in held if s <= start <= e) for start, _, _ in held), default=0)
    return math.ceil(peak / 8)


def summary(counts: Any) -> dict[str, Any]:
    """The bit-dependent figures `hwnas measure --target analytic` adds for a quantised
    architecture (replacing the int8 `flash_kb` / `peak_memory_kb`)."""
    return {
        "bitops_G": bitops(counts) / 1e9,
        "flash_kb": flash_bytes(counts) / 1e3,
        "peak_memory_kb": peak_memory_bytes(counts) / 1e3,
        "bits": [f"{b.block}:w{b.w}a{b.a}" for b in counts.bits or ()],
    }
