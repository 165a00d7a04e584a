"""BERT-style encoders in plain PyTorch, built from a plan of `hwnas.spaces.bert`, with the
attention and FFN of `hwnas.models.vit` (explicit matrix products, separate q/k/v of
heads x 64). Post-norm layers as in BERT.

A network takes token ids as float32 (batch, tokens) and casts them inside, because hwnas
measures, exports and checks every network on float32 inputs (`hwnas.cost.protocol`,
`hwnas.models.onnx`); float32 holds every id below 2**24 exactly, and ids outside the
vocabulary are clamped into it. There is no attention mask: an input is a full, padded
sequence, which is what the cost of a fixed-length deployment is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hwnas.models.vit import Attention, Mlp

if TYPE_CHECKING:
    from hwnas.spaces.bert import BertLayer

#: BERT's LayerNorm epsilon
EPS = 1e-12


class Embeddings(nn.Module):
    """Token ids -> word embedding + learned position embedding, then LayerNorm."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.vocab = spec["vocab"]
        self.word = nn.Embedding(spec["vocab"], spec["hidden"])
        self.position = nn.Parameter(torch.zeros(1, spec["tokens"], spec["hidden"]))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.norm = nn.LayerNorm(spec["hidden"], eps=EPS)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        tokens = ids.clamp(0, self.vocab - 1).long()
        return self.norm(self.word(tokens) + self.position)


class EncoderLayer(nn.Module):
    """Post-norm encoder layer on (batch, tokens, hidden)."""

    def __init__(self, cfg: BertLayer) -> None:
        super().__init__()
        self.attn = Attention(cfg.hidden, cfg.heads, cfg.head_dim)
        self.norm1 = nn.LayerNorm(cfg.hidden, eps=EPS)
        self.ffn = Mlp(cfg.hidden, cfg.ffn)
        self.norm2 = nn.LayerNorm(cfg.hidden, eps=EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.ffn(x))


class Pooler(nn.Module):
    """BERT's pooler (linear + tanh on the first token) and the linear classifier."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.dense = nn.Linear(spec["hidden"], spec["hidden"])
        self.act = nn.Tanh()
        self.classifier = nn.Linear(spec["hidden"], spec["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.act(self.dense(x[:, 0])))


class Bert(nn.Module):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__()
        self.embed = Embeddings(plan["embed"])
        self.layers = nn.Sequential(*[EncoderLayer(layer) for layer in plan["layers"]])
        self.head = Pooler(plan["head"])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.embed(ids)))


def build_network(plan: dict[str, Any]) -> nn.Module:
    return Bert(plan)
