"""The elastic vision-transformer supernet of the `vit` space (AutoFormer's weight
entanglement): one set of the largest weights, every network a slice of them.

- embedding dimension: the leading `embed` features of every weight that reads or writes
  the residual stream (patch projection, class token, position embedding, layer norms,
  q/k/v inputs, attention and MLP outputs, the classifier's inputs);
- heads: the leading `heads x 64` outputs of q, k and v and inputs of the attention's
  projection (AutoFormer's fixed 64-wide heads);
- MLP ratio: the leading `round(embed x ratio)` hidden units;
- depth: the first blocks;
- patch size: each level (`fine`, `coarse`) has its own patch projection and position
  embedding (their shapes differ); the class token and every block are shared.

A supernet covers the largest network of its (possibly restricted) space, so a CPU-sized
supernet holds only the weights of the sub-space it trains (both patch levels' projections
are always built; a sub-space of one level leaves the other's untrained). The forward pass uses the same
operations in the same order as `hwnas.models.vit`, so a subnet's outputs equal those of
the static network with the sliced weights copied in (`extract`)."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.spaces._base import Architecture, SearchSpace
from hwnas.spaces.vit import HEAD_DIM, PATCH_LEVELS, PATCHES, VitLayer, VitSpace


class VitSupernet(nn.Module):
    """Every network of a `vit` space (or sub-space) for one dataset, as slices of the
    largest; `forward(x, arch)` gives an architecture's logits."""

    def __init__(
        self,
        space: VitSpace | SearchSpace,
        dataset: str,
        classes: int | None,
        largest: Architecture,
    ) -> None:
        super().__init__()
        assert isinstance(space, VitSpace)
        self.space = space
        self.dataset = dataset
        plan = space.plan(largest, dataset, classes)
        layers: list[VitLayer] = plan["layers"]
        self.classes: int = plan["head"]["classes"]
        embed = plan["embed"]["embed"]
        width = max(layer.heads for layer in layers) * HEAD_DIM
        hidden = max(layer.mlp for layer in layers)
        c, side, _ = plan["input"]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.patch_embeds = nn.ModuleDict()
        self.pos_embeds = nn.ParameterDict()
        for level, patch in zip(PATCH_LEVELS, PATCHES[dataset]):
            self.patch_embeds[level] = nn.Conv2d(c, embed, patch, patch)
            pos = nn.Parameter(torch.zeros(1, (side // patch) ** 2 + 1, embed))
            nn.init.trunc_normal_(pos, std=0.02)
            self.pos_embeds[level] = pos
        self.blocks = nn.ModuleList(_Block(embed, width, hidden) for _ in layers)
        self.norm = nn.LayerNorm(embed, eps=1e-6)
        self.classifier = nn.Linear(embed, self.classes)

    def forward(
        self, x: torch.Tensor, arch: Architecture, static_shapes: bool = False
    ) -> torch.Tensor:
        """Logits of `arch` (`static_shapes` is accepted for the training loop's sake:
        linear layers need no per-shape planning, so slices are used either way)."""
        plan = self.space.plan(arch, self.dataset, self.classes)
        level = PATCH_LEVELS[arch.genes[2]]
        e = plan["embed"]["embed"]
        weight, bias = self._patch(level, e)
        x = F.conv2d(x, weight, bias, PATCHES[self.dataset][arch.genes[2]])
        x = x.flatten(2).transpose(1, 2)
        cls = self.cls_token[..., :e].expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embeds[level][..., :e]
        for block, layer in zip(self.blocks, plan["layers"]):
            x = block(x, layer)
        x = F.layer_norm(x[:, 0], (e,), self.norm.weight[:e], self.norm.bias[:e], self.norm.eps)
        return F.linear(x, self.classifier.weight[:, :e], self.classifier.bias)

    def _patch(self, level: str, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The patch projection's weight and bias of a level at embedding `e`."""
        conv = cast(nn.Conv2d, self.patch_embeds[level])
        assert conv.bias is not None
        return conv.weight[:e], conv.bias[:e]

    @torch.no_grad()
    def extract(self, arch: Architecture) -> nn.Module:
        """The static network `space.build(arch, dataset, classes)` with this supernet's
        sliced weights copied in; eval mode, CPU."""
        static: Any = self.space.build(arch, self.dataset, self.classes)
        level = PATCH_LEVELS[arch.genes[2]]
        e = self.space.plan(arch, self.dataset, self.classes)["embed"]["embed"]
        emb = static.embed
        weight, bias = self._patch(level, e)
        emb.proj.weight.copy_(weight)
        emb.proj.bias.copy_(bias)
        emb.cls_token.copy_(self.cls_token[..., :e])
        emb.pos_embed.copy_(self.pos_embeds[level][..., :e])
        for block, sblock in zip(self.blocks, static.blocks):
            for name, tensor in cast(_Block, block).tensors(
                sblock.attn.heads, sblock.mlp.fc1.out_features, e
            ):
                sblock.get_parameter(name).copy_(tensor)
        static.head.norm.weight.copy_(self.norm.weight[:e])
        static.head.norm.bias.copy_(self.norm.bias[:e])
        static.head.classifier.weight.copy_(self.classifier.weight[:, :e])
        static.head.classifier.bias.copy_(self.classifier.bias)
        return static.cpu().eval()


class _Block(nn.Module):
    """A pre-norm transformer block at its largest size (`hwnas.models.vit.Block`'s
    parameters, named alike so extraction copies them by name)."""

    def __init__(self, embed: int, width: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed, eps=1e-6)
        self.attn = nn.ModuleDict({n: nn.Linear(embed, width) for n in ("q", "k", "v")})
        self.attn["proj"] = nn.Linear(width, embed)
        self.norm2 = nn.LayerNorm(embed, eps=1e-6)
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(embed, hidden), "fc2": nn.Linear(hidden, embed)})

    def tensors(self, heads: int, hidden: int, e: int) -> list[tuple[str, torch.Tensor]]:
        """(static parameter name, slice) for a layer of `heads`, MLP width `hidden` and
        embedding `e`."""
        w = heads * HEAD_DIM
        rows = {"norm1": e, "norm2": e, "attn.q": w, "attn.k": w, "attn.v": w,
                "attn.proj": e, "mlp.fc1": hidden, "mlp.fc2": e}  # fmt: skip
        cols = {"attn.q": e, "attn.k": e, "attn.v": e, "attn.proj": w, "mlp.fc1": e,
                "mlp.fc2": hidden}  # fmt: skip
        out: list[tuple[str, torch.Tensor]] = []
        for name, n in rows.items():
            module = self.get_submodule(name)
            full, bias = module.get_parameter("weight"), module.get_parameter("bias")
            weight = full[:n, : cols[name]] if name in cols else full[:n]
            out += [(f"{name}.weight", weight), (f"{name}.bias", bias[:n])]
        return out

    def forward(self, x: torch.Tensor, layer: VitLayer) -> torch.Tensor:
        e, heads = layer.embed, layer.heads
        t = dict(self.tensors(heads, layer.mlp, e))
        h = F.layer_norm(x, (e,), t["norm1.weight"], t["norm1.bias"], self.norm1.eps)
        q = F.linear(h, t["attn.q.weight"], t["attn.q.bias"])
        k = F.linear(h, t["attn.k.weight"], t["attn.k.bias"])
        v = F.linear(h, t["attn.v.weight"], t["attn.v.bias"])
        q, k, v = (z.unflatten(-1, (heads, layer.head_dim)).transpose(1, 2) for z in (q, k, v))
        scores = torch.matmul(q * layer.head_dim**-0.5, k.transpose(-2, -1)).softmax(dim=-1)
        out = torch.matmul(scores, v).transpose(1, 2).flatten(2)
        x = x + F.linear(out, t["attn.proj.weight"], t["attn.proj.bias"])
        h = F.layer_norm(x, (e,), t["norm2.weight"], t["norm2.bias"], self.norm2.eps)
        h = F.gelu(F.linear(h, t["mlp.fc1.weight"], t["mlp.fc1.bias"]))
        return x + F.linear(h, t["mlp.fc2.weight"], t["mlp.fc2.bias"])
