"""HAT SubTransformers in plain PyTorch, built from a `hwnas.spaces.hat.SubTransformer`.
The layout is HAT's (fairseq's `transformer_wmt_en_de` as HAT's `transformer_super.py`
samples it): post-norm layers (LayerNorm after each residual add, no final norm), ReLU
FFNs, q/k/v projected to 512 dims whatever the embedding dim, sinusoidal positions, scaled
embeddings, and encoder-decoder attention over the concatenated outputs of the last 1-3
encoder layers. `Translator` is what HAT timed; `SubTransformerBody` is what HAT counted."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from hwnas.spaces.hat import SubTransformer

QKV_DIM = 512  # hwnas.spaces.hat.QKV_DIM; the space hands plain data, this module never imports it
ENDE_LAYERS = {-1: 1, 1: 2, 2: 3}
#: beams HAT's latency measurement decodes (its configs' `beam`)
BEAM = 4
#: fairseq's end-of-sentence id, which starts a decoded sentence
EOS = 2

Cache = tuple[torch.Tensor, torch.Tensor]


class Attention(nn.Module):
    """Multi-head attention with HAT's fixed 512-wide q/k/v whatever the heads."""

    def __init__(self, q_dim: int, kv_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (QKV_DIM // heads) ** -0.5
        self.q = nn.Linear(q_dim, QKV_DIM)
        self.k = nn.Linear(kv_dim, QKV_DIM)
        self.v = nn.Linear(kv_dim, QKV_DIM)
        self.out = nn.Linear(QKV_DIM, q_dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, 512) -> (batch, heads, time, 512 / heads)."""
        return x.reshape(x.size(0), x.size(1), self.heads, -1).transpose(1, 2)

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        scores = torch.matmul(q * self.scale, k.transpose(-1, -2))
        if mask is not None:
            scores = scores + mask
        context = torch.matmul(scores.softmax(dim=-1), v)
        return self.out(context.transpose(1, 2).flatten(2))

    def memory(self, x: torch.Tensor) -> Cache:
        """Keys and values of `x`, computed once for every decoder step."""
        return self.split(self.k(x)), self.split(self.v(x))

    def forward(
        self, x: torch.Tensor, source: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.attend(self.split(self.q(x)), *self.memory(source), mask)


class FFN(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, ffn: int, heads: int) -> None:
        super().__init__()
        self.attn = Attention(dim, dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x, x))
        return self.norm2(x + self.ffn(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, encoder_dim: int, ffn: int, heads: int, ende_heads: int) -> None:
        super().__init__()
        self.self_attn = Attention(dim, dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.ende = Attention(dim, encoder_dim, ende_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, y: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Teacher-forced: every target position at once, causally masked."""
        y = self.norm1(y + self.self_attn(y, y, mask))
        y = self.norm2(y + self.ende(y, memory))
        return self.norm3(y + self.ffn(y))

    def step(
        self, y: torch.Tensor, cache: Cache | None, memory: Cache
    ) -> tuple[torch.Tensor, Cache]:
        """One incremental step: `y` is the newest position; `cache` holds the keys and
        values of the earlier ones (fairseq's incremental state)."""
        sa = self.self_attn
        k, v = sa.memory(y)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        y = self.norm1(y + sa.attend(sa.split(sa.q(y)), k, v))
        y = self.norm2(y + self.ende.attend(self.ende.split(self.ende.q(y)), *memory))
        return self.norm3(y + self.ffn(y)), (k, v)


class SubTransformerBody(nn.Module):
    """Encoder and decoder layers, no embeddings and no output layer: what HAT's #Params
    and FLOPs count. `forward` takes the embedded source (batch, tokens, encoder dim) and
    runs HAT's profiling pass: the encoder, then the decoder teacher-forced on as many
    target positions, causally masked."""

    def __init__(self, cfg: SubTransformer) -> None:
        super().__init__()
        self.reads = [ENDE_LAYERS[a] for a in cfg.ende_arbitrary]
        self.decoder_dim = cfg.decoder_embed
        self.encoder = nn.ModuleList(
            EncoderLayer(cfg.encoder_embed, f, h)
            for f, h in zip(cfg.encoder_ffn, cfg.encoder_heads)
        )
        self.decoder = nn.ModuleList(
            DecoderLayer(cfg.decoder_embed, cfg.encoder_embed, f, h, e)
            for f, h, e in zip(cfg.decoder_ffn, cfg.decoder_heads, cfg.ende_heads)
        )

    def decoder_layers(self) -> list[DecoderLayer]:
        return [cast(DecoderLayer, layer) for layer in self.decoder]

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every encoder layer's output, the last one last."""
        outs = []
        for layer in self.encoder:
            x = layer(x)
            outs.append(x)
        return outs

    def memories(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per decoder layer, its last `reads` encoder outputs joined along time (HAT's
        arbitrary encoder-decoder attention)."""
        return [torch.cat(outs[::-1][:k], dim=1) for k in self.reads]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        memories = self.memories(self.encode(x))
        y = x.new_zeros(x.size(0), x.size(1), self.decoder_dim)
        mask = torch.triu(x.new_full((x.size(1), x.size(1)), float("-inf")), diagonal=1)
        for layer, memory in zip(self.decoder, memories):
            y = layer(y, memory, mask)
        return y


def sinusoids(positions: int, dim: int) -> torch.Tensor:
    """fairseq's sinusoidal position table (sin half, cos half), rows from position 0."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    angles = torch.arange(positions, dtype=torch.float32)[:, None] * freq[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return F.pad(table, (0, dim - 2 * half))


class Translator(nn.Module):
    """A SubTransformer translating one sentence the way HAT's latency measurement ran it:
    the encoder once on `tokens` source tokens (batch 1), its outputs repeated for `BEAM`
    beams, then `tokens` auto-regressive decoder steps on the `BEAM` hypotheses with
    cached keys and values, each ending in the output layer over the vocabulary. HAT fed
    fixed dummy tokens; here each beam feeds back its own arg-max, which costs as little
    and keeps every step's output layer in an exported graph. Input: (1, 1, 1, tokens)
    token ids as floats, clamped into the vocabulary; output: (1, vocab) logits of the
    first beam's last step."""

    positions: torch.Tensor  # a buffer: the sinusoidal table

    def __init__(
        self, cfg: SubTransformer, vocab: int, tokens: int, *, shared_embeddings: bool = True
    ) -> None:
        super().__init__()
        self.body = SubTransformerBody(cfg)
        self.tokens = tokens
        self.encoder_dim, self.decoder_dim = cfg.encoder_embed, cfg.decoder_embed
        width = max(cfg.encoder_embed, cfg.decoder_embed)
        # share-all-embeddings (WMT): one table, each side reads its leading dims (HAT's
        # EmbeddingSuper); otherwise (IWSLT) the decoder's own table is its output layer
        self.decoder_embed = nn.Embedding(vocab, width if shared_embeddings else cfg.decoder_embed)
        self.encoder_embed = (
            self.decoder_embed if shared_embeddings else nn.Embedding(vocab, cfg.encoder_embed)
        )
        # fairseq numbers positions from padding index + 1 = 2
        self.register_buffer("positions", sinusoids(tokens + 2, width)[2:], persistent=False)

    def _embed(self, table: nn.Embedding, ids: torch.Tensor, dim: int) -> torch.Tensor:
        return F.embedding(ids, table.weight[:, :dim]) * math.sqrt(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ids from whatever the caller feeds (zeros, or random normals from a timer)
        src = x.reshape(1, -1).long().clamp(0, self.decoder_embed.num_embeddings - 1)
        h = self._embed(self.encoder_embed, src, self.encoder_dim)
        h = h + self.positions[: self.tokens, : self.encoder_dim]
        memories = [m.repeat(BEAM, 1, 1) for m in self.body.memories(self.body.encode(h))]
        decoder = self.body.decoder_layers()
        static = [layer.ende.memory(m) for layer, m in zip(decoder, memories)]
        out_weight = self.decoder_embed.weight[:, : self.decoder_dim]
        token = src.new_full((BEAM, 1), EOS)
        caches: list[Cache | None] = [None] * len(decoder)
        logits = out_weight.new_zeros(BEAM, out_weight.size(0))
        for t in range(self.tokens):
            y = self._embed(self.decoder_embed, token, self.decoder_dim)
            y = y + self.positions[t : t + 1, : self.decoder_dim]
            for i, layer in enumerate(decoder):
                y, caches[i] = layer.step(y, caches[i], static[i])
            logits = F.linear(y[:, -1], out_weight)
            token = logits.argmax(dim=-1, keepdim=True)
        return logits[:1]
