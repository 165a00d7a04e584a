"""Vision transformers in plain PyTorch, built from a plan of `hwnas.spaces.vit` (ViT /
DeiT layout, pre-norm blocks). Attention is written as explicit matrix products (no fused
kernel), so the ONNX graph is plain MatMul / Softmax and `hwnas.cost.analytic` counts the
attention's multiply-adds and its score matrix. q, k and v are separate linear layers of
heads x 64 outputs: a smaller layer's weights are the leading slices of a larger one's
(rows, then columns), which is what a weight-sharing supernet slices. The plan carries
every width, so this module never imports the space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from hwnas.spaces.vit import VitLayer


class Attention(nn.Module):
    """Multi-head self-attention over (batch, tokens, embed) with `heads` heads of
    `head_dim`."""

    def __init__(self, embed: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        width = heads * head_dim
        self.q = nn.Linear(embed, width)
        self.k = nn.Linear(embed, width)
        self.v = nn.Linear(embed, width)
        self.proj = nn.Linear(width, embed)
        self.scale = head_dim**-0.5

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, heads x 64) -> (batch, heads, tokens, 64)."""
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._split(self.q(x)) * self.scale
        k, v = self._split(self.k(x)), self._split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)).softmax(dim=-1)
        out = torch.matmul(scores, v).transpose(1, 2).flatten(2)
        return self.proj(out)


class Mlp(nn.Module):
    def __init__(self, embed: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block on (batch, tokens, embed)."""

    def __init__(self, cfg: VitLayer) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed, eps=1e-6)
        self.attn = Attention(cfg.embed, cfg.heads, cfg.head_dim)
        self.norm2 = nn.LayerNorm(cfg.embed, eps=1e-6)
        self.mlp = Mlp(cfg.embed, cfg.mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Image -> tokens: a patch x patch convolution of stride patch, the class token in
    front, the learned position embedding added."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        embed, patch = spec["embed"], spec["patch"]
        self.proj = nn.Conv2d(spec["in_ch"], embed, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed))
        self.pos_embed = nn.Parameter(torch.zeros(1, spec["tokens"], embed))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat((cls, x), dim=1) + self.pos_embed


class Head(nn.Module):
    """Final LayerNorm and the linear classifier on the class token."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(spec["embed"], eps=1e-6)
        self.classifier = nn.Linear(spec["embed"], spec["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.norm(x[:, 0]))


class VisionTransformer(nn.Module):
    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__()
        self.embed = PatchEmbed(plan["embed"])
        self.blocks = nn.Sequential(*[Block(layer) for layer in plan["layers"]])
        self.head = Head(plan["head"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.embed(x)))


def build_network(plan: dict[str, Any]) -> nn.Module:
    return VisionTransformer(plan)
