"""HAT SubTransformers in PyTorch: the published SubTransformers' #Params and FLOPs as HAT
counts them (no embeddings, no output layer), an independent closed-form count, and the
translator's incremental decoding against teacher forcing."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hwnas.spaces import get_space
from hwnas.spaces.hat import QKV_DIM, SubTransformer

torch = pytest.importorskip("torch")

from hwnas.models.hat import ENDE_LAYERS, SubTransformerBody, Translator

DATA = Path(str(resources.files("hwnas") / "data" / "hat"))


def _published() -> list[dict[str, str]]:
    with open(DATA / "published_subtransformers.csv") as fh:
        return list(csv.DictReader(fh))


def _space(task: str) -> object:
    return get_space("hat-iwslt" if task.startswith("iwslt") else "hat")


def closed_form(cfg: SubTransformer, tokens: int) -> tuple[int, int]:
    """(params, MACs) of HAT's counted part by hand: linear layers (q/k/v 512 wide) and
    LayerNorms; MACs of the linear layers and the attention products on one
    teacher-forced pass of `tokens` source and target positions."""
    q, e, d, t = QKV_DIM, cfg.encoder_embed, cfg.decoder_embed, tokens
    params = macs = 0
    for f in cfg.encoder_ffn:
        params += 4 * e * q + 3 * q + e + 2 * e * f + f + e + 4 * e
        macs += t * (4 * e * q + 2 * e * f) + 2 * t * t * q
    for f, a in zip(cfg.decoder_ffn, cfg.ende_arbitrary):
        src = t * ENDE_LAYERS[a]
        params += 4 * d * q + 3 * q + d  # self-attention
        params += 2 * d * q + 2 * e * q + 3 * q + d  # encoder-decoder attention
        params += 2 * d * f + f + d + 6 * d  # FFN, three LayerNorms
        macs += t * (4 * d * q + 2 * d * f) + 2 * t * t * q
        macs += t * 2 * d * q + src * 2 * e * q + 2 * t * src * q
    return params, macs


def _torch_counts(cfg: SubTransformer, tokens: int) -> tuple[int, int]:
    """Params and MACs of the built body, counted by torch's own FLOP counter on meta
    tensors (linear layers and matmuls; no arithmetic runs)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        body = SubTransformerBody(cfg)
        x = torch.zeros(1, tokens, cfg.encoder_embed)
    params = sum(p.numel() for p in body.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        body(x)
    return params, counter.get_total_flops() // 2


@pytest.mark.parametrize("row", _published(), ids=lambda r: r["model_name"][4:])
def test_published_params_and_flops_within_3_percent(row: dict[str, str]) -> None:
    space = _space(row["task"])
    cfg = space.config(space.parse(str(DATA / "subtransformers" / row["file"])))
    tokens = space.input_shape(row["task"])[2]
    params, macs = _torch_counts(cfg, tokens)
    assert params / 1e6 == pytest.approx(float(row["params_M"]), rel=0.03)
    assert 2 * macs / 1e9 == pytest.approx(float(row["flops_G"]), rel=0.03)


@pytest.mark.parametrize(("name", "n"), [("hat", 20), ("hat-iwslt", 5)])
def test_random_subnets_match_the_closed_form(name: str, n: int) -> None:
    space = get_space(name)
    rng = np.random.default_rng(1)
    tokens = space.input_shape(space.datasets[0])[2]
    for _ in range(n):
        cfg = space.config(space.sample(rng))
        assert _torch_counts(cfg, tokens) == closed_form(cfg, tokens)


def test_analytic_counts_are_hats_convention() -> None:
    """`hwnas measure --target analytic` counts the body: HAT's #Params exactly, and its
    MACs with the attention products (the counter counts matmuls between activations)."""
    from hwnas.cost.targets import analytic_counts

    space = get_space("hat")
    arch = space.parse(str(DATA / "subtransformers" / _published()[0]["file"]))
    counts = analytic_counts(space, arch, "wmt14.en-de")
    params, macs = closed_form(space.config(arch), 30)
    assert counts.params == params == 25_217_536  # HAT: 25.22 M
    assert counts.macs == macs


def _tiny() -> SubTransformer:
    return SubTransformer(512, 640, (1024,) * 6, (4, 8) * 3, (2048, 1024), (8, 4), (4, 8), (-1, 2))


def test_incremental_decoding_equals_teacher_forcing() -> None:
    torch.manual_seed(0)
    body = SubTransformerBody(_tiny()).eval()
    src, tgt = torch.randn(1, 7, 512), torch.randn(1, 5, 640)
    with torch.no_grad():
        memories = body.memories(body.encode(src))
        mask = torch.triu(torch.full((5, 5), float("-inf")), diagonal=1)
        forced = tgt
        for layer, memory in zip(body.decoder, memories):
            forced = layer(forced, memory, mask)
        caches: list = [None, None]
        static = [layer.ende.memory(m) for layer, m in zip(body.decoder, memories)]
        steps = []
        for t in range(5):
            y = tgt[:, t : t + 1]
            for i, layer in enumerate(body.decoder):
                y, caches[i] = layer.step(y, caches[i], static[i])
            steps.append(y)
    torch.testing.assert_close(torch.cat(steps, dim=1), forced, rtol=1e-4, atol=1e-4)


def test_translator_runs_on_any_input_and_vocabulary() -> None:
    net = Translator(_tiny(), vocab=50, tokens=6, shared_embeddings=False).eval()
    with torch.no_grad():
        out = net(torch.zeros(1, 1, 1, 6))
        noisy = net(torch.randn(1, 1, 1, 6) * 100)  # a timer's random input: ids clamped
    assert out.shape == noisy.shape == (1, 50)
    shared = Translator(_tiny(), vocab=50, tokens=6)
    assert shared.encoder_embed is shared.decoder_embed
    assert shared.decoder_embed.weight.shape == (50, 640)
