"""Elastic BERT-style encoders in the FlexiBERT / InstaTune style: per network the hidden
size and the number of layers, per layer the number of attention heads and the FFN width,
spanning BERT-Tiny to BERT-Base (Turc et al. 2019; Devlin et al. 2019). Heads are 64 wide
as in every published BERT (q/k/v width = heads x 64, independent of the hidden size), so
a smaller layer's weights are leading slices of a larger one's.

The sequence length is the dataset's (`seq128`, `seq512`: GLUE-style classification of
token ids from BERT's 30,522-word vocabulary; hwnas ships no text, so quality comes from
the user, e.g. `--quality predictor:LABELS.csv`). A network is BERT's encoder: word and
learned position embeddings with a LayerNorm, post-norm layers (attention, add, LayerNorm;
GELU FFN, add, LayerNorm), the tanh pooler on the first token and a linear classifier. It
takes token ids as float32 (exact below 2**24; see `hwnas.models.bert`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hwnas.datasets.catalogue import dataset_info, head_classes
from hwnas.errors import SpecError, UnknownNameError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, LayeredSpace
from hwnas.spaces._models import builder

HIDDENS: tuple[int, ...] = (128, 256, 384, 512, 768)
LAYERS: tuple[int, ...] = tuple(range(2, 13))
HEADS: tuple[int, ...] = (2, 4, 8, 12)
FFNS: tuple[int, ...] = (512, 1024, 2048, 3072)
MAX_LAYERS = max(LAYERS)
#: the width of one attention head in every published BERT
HEAD_DIM = 64


@dataclass(frozen=True)
class BertLayer:
    """One encoder layer, everything that determines its cost."""

    tokens: int
    hidden: int
    heads: int
    ffn: int
    head_dim: int = HEAD_DIM  # q, k, v and the attention output are heads x head_dim wide

    def signature(self) -> str:
        """The layer's lookup-table key: tokens x dims x heads x FFN width."""
        return f"bert:t{self.tokens}:d{self.hidden}:h{self.heads}:f{self.ffn}"


_LAYER_RE = re.compile(r"^h(\d+)f(\d+)$")
_HIDDEN_RE = re.compile(r"^d(\d+)$")


@register_space("bert")
class BertSpace(LayeredSpace):
    description = (
        "elastic BERT encoder (FlexiBERT / InstaTune style): hidden 128-768, 2-12 layers, "
        "per layer heads 2/4/8/12 (x64) and FFN 512-3072; sequence length from the dataset"
    )
    datasets: ClassVar[tuple[str, ...]] = ("seq128", "seq512")

    #: the published BERT sizes (Turc et al.'s compact models and BERT-Base)
    PRESETS: ClassVar[dict[str, str]] = {
        "bert-tiny": "d128|" + ",".join(["h2f512"] * 2),
        "bert-mini": "d256|" + ",".join(["h4f1024"] * 4),
        "bert-small": "d512|" + ",".join(["h8f2048"] * 4),
        "bert-medium": "d512|" + ",".join(["h8f2048"] * 8),
        "bert-base": "d768|" + ",".join(["h12f3072"] * 12),
    }

    def __init__(self) -> None:
        dims = [Dimension("hidden", HIDDENS), Dimension("layers", LAYERS)]
        for i in range(MAX_LAYERS):
            dims += [Dimension(f"heads_{i}", HEADS), Dimension(f"ffn_{i}", FFNS)]
        self.dimensions = tuple(dims)

    # --- genes ------------------------------------------------------------------------
    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """Layers beyond the depth do not exist: their genes are reset to 0."""
        out = [int(g) for g in genes]
        for i in range(LAYERS[out[1]], MAX_LAYERS):
            out[2 + 2 * i] = out[3 + 2 * i] = 0
        return tuple(out)

    def key(self, genes: Sequence[int]) -> str:
        """`d768|h12f3072,h12f3072,...`: hidden size, then each layer (their number is the
        depth)."""
        layers = [
            f"h{HEADS[genes[2 + 2 * i]]}f{FFNS[genes[3 + 2 * i]]}" for i in range(LAYERS[genes[1]])
        ]
        return f"d{HIDDENS[genes[0]]}|{','.join(layers)}"

    def parse(self, text: str) -> Architecture:
        """A key (`d128|h2f512,h2f512`) or a preset name (`bert-base`)."""
        text = str(text).strip()
        if text in self.PRESETS:
            text = self.PRESETS[text]
        elif "|" not in text:
            raise UnknownNameError("bert preset", text, self.PRESETS)
        parts = text.split("|")
        if len(parts) != 2:
            raise SpecError(
                f"bert architecture {text!r}: expected dHIDDEN|layers separated by '|', got "
                f"{len(parts)} parts"
            )
        m = _HIDDEN_RE.match(parts[0].strip())
        if not m or int(m.group(1)) not in HIDDENS:
            raise SpecError(
                f"bert architecture {text!r}: hidden {parts[0]!r} is not d followed by one of "
                f"{', '.join(map(str, HIDDENS))}"
            )
        layers = [s.strip() for s in parts[1].split(",")]
        if len(layers) not in LAYERS:
            raise SpecError(
                f"bert architecture {text!r}: {len(layers)} layers; expected "
                f"{LAYERS[0]}..{MAX_LAYERS}"
            )
        genes = [HIDDENS.index(int(m.group(1))), LAYERS.index(len(layers))]
        genes += [0] * (2 * MAX_LAYERS)
        for i, layer in enumerate(layers):
            lm = _LAYER_RE.match(layer)
            if not lm:
                raise SpecError(
                    f"bert architecture {text!r}: layer {layer!r} is not hHEADSfFFN (e.g. h12f3072)"
                )
            for what, value, choices, at in (
                ("heads", int(lm.group(1)), HEADS, 2 + 2 * i),
                ("ffn", int(lm.group(2)), FFNS, 3 + 2 * i),
            ):
                if value not in choices:
                    raise SpecError(
                        f"bert architecture {text!r}: {what} {value} is not one of "
                        f"{', '.join(map(str, choices))}"
                    )
                genes[at] = choices.index(value)
        return self.make(genes)

    # --- structure --------------------------------------------------------------------
    def input_shape(self, dataset: str) -> tuple[int]:
        """(tokens,): one input is the dataset's sequence of token ids."""
        return (dataset_info(self.check_dataset(dataset)).seq_len,)

    def plan(self, arch: Architecture, dataset: str, classes: int | None = None) -> dict[str, Any]:
        """The network as data (every width computed): the builder and the profiler's lookup
        table both read it, so they cannot disagree."""
        info = dataset_info(self.check_dataset(dataset))
        tokens, hidden = info.seq_len, HIDDENS[arch.genes[0]]
        layers = [
            BertLayer(tokens, hidden, HEADS[arch.genes[2 + 2 * i]], FFNS[arch.genes[3 + 2 * i]])
            for i in range(LAYERS[arch.genes[1]])
        ]
        return {
            "input": (tokens,),
            "embed": {"vocab": info.vocab, "tokens": tokens, "hidden": hidden},
            "layers": layers,
            "head": {"tokens": tokens, "hidden": hidden, "classes": head_classes(dataset, classes)},
        }

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """A `torch.nn.Module` (eval mode) for the dataset's token ids, with `classes`
        outputs (default: the dataset's)."""
        return builder("bert").build_network(self.plan(arch, dataset, classes)).eval()

    def layers(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """(signature, module factory, input shape) of each part a latency lookup table
        measures separately: the embeddings, every layer (keyed by tokens x dims x heads x
        FFN width), the pooler and classifier (`classes` outputs)."""
        plan = self.plan(arch, dataset, classes)
        emb, head = plan["embed"], plan["head"]
        out: list[tuple[str, Any, tuple[int, ...]]] = [
            (
                f"bert-embed:v{emb['vocab']}:t{emb['tokens']}:d{emb['hidden']}",
                lambda: builder("bert").Embeddings(emb),
                plan["input"],
            )
        ]
        for layer in plan["layers"]:
            shape = (layer.tokens, layer.hidden)
            out.append((layer.signature(), lambda b=layer: builder("bert").EncoderLayer(b), shape))
        out.append(
            (
                f"bert-head:t{head['tokens']}:d{head['hidden']}:c{head['classes']}",
                lambda: builder("bert").Pooler(head),
                (head["tokens"], head["hidden"]),
            )
        )
        return out

    def profile_units(
        self,
        dataset: str,
        allowed: Sequence[Sequence[int]] | None = None,
        classes: int | None = None,
    ) -> list[tuple[str, Any, tuple[int, ...]]]:
        """Every distinct `layers` entry for a dataset, each once. Layers are alike at every
        position, so hidden x heads x FFN (the union over allowed layers) covers the space."""
        allowed = allowed or [range(len(d.choices)) for d in self.dimensions]
        heads = sorted({h for i in range(MAX_LAYERS) for h in allowed[2 + 2 * i]})
        ffns = sorted({f for i in range(MAX_LAYERS) for f in allowed[3 + 2 * i]})
        units: dict[str, tuple[str, Any, tuple[int, ...]]] = {}
        for d in allowed[0]:
            for h in heads:
                for f in ffns:
                    genes = [int(a[0]) for a in allowed]
                    genes[0], genes[1], genes[2], genes[3] = d, 0, h, f
                    for unit in self.layers(self.make(genes), dataset, classes):
                        units.setdefault(unit[0], unit)
        return list(units.values())
