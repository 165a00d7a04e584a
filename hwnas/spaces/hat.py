"""HAT's SuperTransformer search spaces (Wang et al., ACL 2020, mit-han-lab/
hardware-aware-transformers), exactly as its configs define them: `hat` is
`configs/{wmt14.en-de,wmt14.en-fr,wmt19.en-de}/supertransformer/space0.yml` (one space, three
tasks) and `hat-iwslt` is `configs/iwslt14.de-en/supertransformer/space1.yml` (smaller FFN
and head choices). A SubTransformer is an encoder-decoder Transformer: per-network encoder and
decoder embedding dims and decoder depth, per-layer FFN dims and heads, and per decoder layer
how many of the last encoder layers its encoder-decoder attention reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hwnas.datasets.catalogue import dataset_info
from hwnas.errors import SpecError
from hwnas.spaces import register_space
from hwnas.spaces._base import Architecture, Dimension, SearchSpace

ENCODER_LAYERS = 6
MAX_DECODER_LAYERS = 6
#: HAT's q/k/v projections are this wide whatever the embedding dim (`qkv-dim: 512`)
QKV_DIM = 512
#: `decoder-arbitrary-ende-attn` value -> encoder layers the attention reads (HAT: -1 the
#: last one, 1 the last two, 2 the last three)
ENDE_LAYERS = {-1: 1, 1: 2, 2: 3}


@dataclass(frozen=True)
class SubTransformer:
    """One SubTransformer as plain data (HAT's `get_subtransformer_config`), which the
    builders, the counts and the latency features read; decoder lists hold `decoder_layers`
    entries."""

    encoder_embed: int
    decoder_embed: int
    encoder_ffn: tuple[int, ...]
    encoder_heads: tuple[int, ...]
    decoder_ffn: tuple[int, ...]
    decoder_heads: tuple[int, ...]
    ende_heads: tuple[int, ...]
    ende_arbitrary: tuple[int, ...]  # HAT's values: -1, 1, 2

    @property
    def decoder_layers(self) -> int:
        return len(self.decoder_ffn)

    def hat_features(self) -> list[float]:
        """HAT's 10 latency-predictor features (`utils.get_config_features`): dims, depths
        and the per-layer choices averaged over the layers."""

        def mean(values: Sequence[int]) -> float:
            return sum(values) / len(values)

        return [
            float(self.encoder_embed),
            float(len(self.encoder_ffn)),
            mean(self.encoder_ffn),
            mean(self.encoder_heads),
            float(self.decoder_embed),
            float(self.decoder_layers),
            mean(self.decoder_ffn),
            mean(self.decoder_heads),
            mean(self.ende_heads),
            mean([ENDE_LAYERS[a] for a in self.ende_arbitrary]),
        ]


_LAYER_RE = re.compile(r"^(\d+)h(\d+)$")
_DEC_LAYER_RE = re.compile(r"^(\d+)h(\d+)e(\d+)a(\d+)$")
_PART_RE = re.compile(r"^([ed])(\d+):(.+)$")
#: the YAML fields of a HAT SubTransformer file (`configs/*/subtransformer/*.yml`)
_FIELDS = {
    "encoder_embed": "encoder-embed-dim-subtransformer",
    "decoder_embed": "decoder-embed-dim-subtransformer",
    "encoder_layers": "encoder-layer-num-subtransformer",
    "decoder_layers": "decoder-layer-num-subtransformer",
    "encoder_ffn": "encoder-ffn-embed-dim-all-subtransformer",
    "encoder_heads": "encoder-self-attention-heads-all-subtransformer",
    "decoder_ffn": "decoder-ffn-embed-dim-all-subtransformer",
    "decoder_heads": "decoder-self-attention-heads-all-subtransformer",
    "ende_heads": "decoder-ende-attention-heads-all-subtransformer",
    "ende_arbitrary": "decoder-arbitrary-ende-attn-all-subtransformer",
}


class HATSpace(SearchSpace):
    """A HAT SuperTransformer space; subclasses set the config's choices. Genes: encoder
    and decoder embed dims, encoder depth (fixed at 6), 6 encoder layers x (FFN, heads),
    decoder depth, 6 decoder layers x (FFN, self heads, ende heads, arbitrary attention);
    the genes of decoder layers beyond the depth are reset (canonical)."""

    embed_choices: ClassVar[tuple[int, ...]] = (640, 512)
    ffn_choices: ClassVar[tuple[int, ...]] = (3072, 2048, 1024)
    head_choices: ClassVar[tuple[int, ...]] = (8, 4)
    decoder_layer_choices: ClassVar[tuple[int, ...]] = (6, 5, 4, 3, 2, 1)
    arbitrary_choices: ClassVar[tuple[int, ...]] = (-1, 1, 2)
    #: `share-all-embeddings` in the task's config: one table for source, target, output
    shared_embeddings: ClassVar[bool] = True

    def __init__(self) -> None:
        dims = [
            Dimension("encoder_embed", self.embed_choices),
            Dimension("decoder_embed", self.embed_choices),
            Dimension("encoder_layers", (ENCODER_LAYERS,)),
        ]
        for i in range(ENCODER_LAYERS):
            dims += [
                Dimension(f"encoder_ffn_{i}", self.ffn_choices),
                Dimension(f"encoder_heads_{i}", self.head_choices),
            ]
        dims.append(Dimension("decoder_layers", self.decoder_layer_choices))
        for i in range(MAX_DECODER_LAYERS):
            dims += [
                Dimension(f"decoder_ffn_{i}", self.ffn_choices),
                Dimension(f"decoder_heads_{i}", self.head_choices),
                Dimension(f"ende_heads_{i}", self.head_choices),
                Dimension(f"ende_arbitrary_{i}", self.arbitrary_choices),
            ]
        self.dimensions = tuple(dims)
        self._index = {d.name: i for i, d in enumerate(self.dimensions)}

    # --- genes <-> SubTransformer --------------------------------------------------------
    def _value(self, genes: Sequence[int], name: str) -> Any:
        i = self._index[name]
        return self.dimensions[i].choices[genes[i]]

    def _depth(self, genes: Sequence[int]) -> int:
        return int(self._value(genes, "decoder_layers"))

    def canonical(self, genes: Sequence[int]) -> tuple[int, ...]:
        """Decoder layers beyond the depth do not exist: their genes are reset to 0."""
        out = [int(g) for g in genes]
        for i in range(self._depth(out), MAX_DECODER_LAYERS):
            for name in ("decoder_ffn", "decoder_heads", "ende_heads", "ende_arbitrary"):
                out[self._index[f"{name}_{i}"]] = 0
        return tuple(out)

    def config(self, arch: Architecture) -> SubTransformer:
        """The architecture as HAT's SubTransformer config."""
        g = arch.genes
        enc = range(ENCODER_LAYERS)
        dec = range(self._depth(g))
        return SubTransformer(
            encoder_embed=int(self._value(g, "encoder_embed")),
            decoder_embed=int(self._value(g, "decoder_embed")),
            encoder_ffn=tuple(int(self._value(g, f"encoder_ffn_{i}")) for i in enc),
            encoder_heads=tuple(int(self._value(g, f"encoder_heads_{i}")) for i in enc),
            decoder_ffn=tuple(int(self._value(g, f"decoder_ffn_{i}")) for i in dec),
            decoder_heads=tuple(int(self._value(g, f"decoder_heads_{i}")) for i in dec),
            ende_heads=tuple(int(self._value(g, f"ende_heads_{i}")) for i in dec),
            ende_arbitrary=tuple(int(self._value(g, f"ende_arbitrary_{i}")) for i in dec),
        )

    def from_config(self, cfg: SubTransformer, where: str) -> Architecture:
        """The architecture of a SubTransformer config; a value outside the space's choices
        is a `SpecError` naming `where` and the field."""
        genes = [0] * len(self.dimensions)

        def put(name: str, value: int, field: str) -> None:
            choices = self.dimensions[self._index[name]].choices
            if value not in choices:
                raise SpecError(
                    f"{where}: {field} {value!r} is not in space {self.name!r}'s choices "
                    f"{list(choices)}"
                )
            genes[self._index[name]] = choices.index(value)

        put("encoder_embed", cfg.encoder_embed, "encoder embed dim")
        put("decoder_embed", cfg.decoder_embed, "decoder embed dim")
        put("encoder_layers", len(cfg.encoder_ffn), "encoder layers")
        put("decoder_layers", cfg.decoder_layers, "decoder layers")
        for i in range(len(cfg.encoder_ffn)):
            put(f"encoder_ffn_{i}", cfg.encoder_ffn[i], f"encoder layer {i} FFN dim")
            put(f"encoder_heads_{i}", cfg.encoder_heads[i], f"encoder layer {i} heads")
        for i in range(cfg.decoder_layers):
            put(f"decoder_ffn_{i}", cfg.decoder_ffn[i], f"decoder layer {i} FFN dim")
            put(f"decoder_heads_{i}", cfg.decoder_heads[i], f"decoder layer {i} heads")
            put(f"ende_heads_{i}", cfg.ende_heads[i], f"decoder layer {i} ende heads")
            put(f"ende_arbitrary_{i}", cfg.ende_arbitrary[i], f"decoder layer {i} ende attn")
        return self.make(genes)

    # --- identity ------------------------------------------------------------------------
    def key(self, genes: Sequence[int]) -> str:
        """`e512:1024h4,3072h8,...|d640:3072h8e4a2,...`: the encoder dim then FFNhHEADS
        per encoder layer; the decoder dim then FFNhSELFeENDEaK per decoder layer, where K
        is how many of the last encoder layers its encoder-decoder attention reads."""
        c = self.config(Architecture("", tuple(genes)))
        enc = ",".join(f"{f}h{h}" for f, h in zip(c.encoder_ffn, c.encoder_heads))
        dec = ",".join(
            f"{f}h{h}e{e}a{ENDE_LAYERS[a]}"
            for f, h, e, a in zip(c.decoder_ffn, c.decoder_heads, c.ende_heads, c.ende_arbitrary)
        )
        return f"e{c.encoder_embed}:{enc}|d{c.decoder_embed}:{dec}"

    def parse(self, text: str) -> Architecture:
        """A key, or the path of a HAT SubTransformer YAML file in its published format
        (`configs/<task>/subtransformer/*.yml`)."""
        text = str(text).strip()
        if text.endswith((".yml", ".yaml")) or ("|" not in text and Path(text).is_file()):
            return self.from_config(read_subtransformer(text), text)
        parts = text.split("|")
        matches = [_PART_RE.match(p) for p in parts]
        if len(parts) != 2 or not all(matches) or [m.group(1) for m in matches if m] != ["e", "d"]:
            raise SpecError(
                f"{self.name} architecture {text!r}: expected 'eDIM:FFNhH,...|dDIM:FFNhHeHaK,"
                "...' (e.g. e512:1024h4,...|d512:3072h8e8a1) or a HAT SubTransformer .yml"
            )
        enc_m, dec_m = matches[0], matches[1]
        assert enc_m is not None and dec_m is not None
        enc = [_LAYER_RE.match(s) for s in enc_m.group(3).split(",")]
        dec = [_DEC_LAYER_RE.match(s) for s in dec_m.group(3).split(",")]
        bad = [s for s, m in zip(enc_m.group(3).split(","), enc) if not m] + [
            s for s, m in zip(dec_m.group(3).split(","), dec) if not m
        ]
        if bad:
            raise SpecError(
                f"{self.name} architecture {text!r}: layer {bad[0]!r} is not FFNhHEADS "
                "(encoder) or FFNhHEADSeENDEHEADSaK (decoder)"
            )
        layers_of = {v: k for k, v in ENDE_LAYERS.items()}
        arbitrary = []
        for m in dec:
            assert m is not None
            k = int(m.group(4))
            if k not in layers_of:
                raise SpecError(
                    f"{self.name} architecture {text!r}: a{k}: a decoder layer reads the "
                    "last 1, 2 or 3 encoder layers (a1, a2, a3)"
                )
            arbitrary.append(layers_of[k])
        cfg = SubTransformer(
            encoder_embed=int(enc_m.group(2)),
            decoder_embed=int(dec_m.group(2)),
            encoder_ffn=tuple(int(m.group(1)) for m in enc if m),
            encoder_heads=tuple(int(m.group(2)) for m in enc if m),
            decoder_ffn=tuple(int(m.group(1)) for m in dec if m),
            decoder_heads=tuple(int(m.group(2)) for m in dec if m),
            ende_heads=tuple(int(m.group(3)) for m in dec if m),
            ende_arbitrary=tuple(arbitrary),
        )
        return self.from_config(cfg, f"{self.name} architecture {text!r}")

    # --- networks ------------------------------------------------------------------------
    def input_shape(self, dataset: str) -> tuple[int, int, int]:
        """(1, 1, tokens): one source sentence of the task's dummy length as token ids."""
        return dataset_info(self.check_dataset(dataset)).input_shape

    def build(self, arch: Architecture, dataset: str, classes: int | None = None) -> Any:
        """The SubTransformer as HAT timed it (`hwnas.models.hat.Translator`): encoder once,
        then as many incremental decoder steps as source tokens, beam 4; `classes` is the
        vocabulary (default: the task's)."""
        from hwnas.spaces._models import builder

        info = dataset_info(self.check_dataset(dataset))
        return builder("hat").Translator(
            self.config(arch),
            classes or info.classes,
            info.input_shape[2],
            shared_embeddings=self.shared_embeddings,
        )

    def counted_network(
        self, arch: Architecture, dataset: str, classes: int | None = None
    ) -> tuple[Any, tuple[int, ...]]:
        """HAT's counting convention (its README's #Params and FLOPs): the encoder and
        decoder layers on one teacher-forced pass of the task's dummy length, without the
        embeddings and the output layer."""
        from hwnas.spaces._models import builder

        tokens = dataset_info(self.check_dataset(dataset)).input_shape[2]
        cfg = self.config(arch)
        return builder("hat").SubTransformerBody(cfg), (tokens, cfg.encoder_embed)


def read_subtransformer(path: str) -> SubTransformer:
    """A HAT SubTransformer YAML file (`yaml.safe_load`); a missing or malformed field is a
    `SpecError` naming the file and the field."""
    import yaml

    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(
            f"{where}: cannot read a HAT SubTransformer file ({exc.strerror})"
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or _FIELDS["encoder_embed"] not in data:
        hint = " (a *common.yml holds HAT's shared settings, not an architecture)"
        raise SpecError(
            f"{where}: no field {_FIELDS['encoder_embed']!r}: not a HAT SubTransformer "
            f"file{hint if isinstance(data, dict) else ''}"
        )

    def number(key: str) -> int:
        field = _FIELDS[key]
        value = data.get(field)
        if type(value) is not int:
            raise SpecError(f"{where}: field {field!r} must be an integer, got {value!r}")
        return value

    def numbers(key: str, n: int) -> tuple[int, ...]:
        field = _FIELDS[key]
        value = data.get(field)
        if not isinstance(value, list) or len(value) < n or not all(type(v) is int for v in value):
            raise SpecError(
                f"{where}: field {field!r} must list at least {n} integers (one per layer), "
                f"got {value!r}"
            )
        return tuple(value[:n])

    enc_layers, dec_layers = number("encoder_layers"), number("decoder_layers")
    if enc_layers < 1 or dec_layers < 1:
        raise SpecError(f"{where}: layer counts must be positive, got {enc_layers}/{dec_layers}")
    return SubTransformer(
        encoder_embed=number("encoder_embed"),
        decoder_embed=number("decoder_embed"),
        encoder_ffn=numbers("encoder_ffn", enc_layers),
        encoder_heads=numbers("encoder_heads", enc_layers),
        decoder_ffn=numbers("decoder_ffn", dec_layers),
        decoder_heads=numbers("decoder_heads", dec_layers),
        ende_heads=numbers("ende_heads", dec_layers),
        ende_arbitrary=numbers("ende_arbitrary", dec_layers),
    )


@register_space("hat")
class HATWMTSpace(HATSpace):
    description = "HAT's WMT SuperTransformer space (space0.yml): encoder-decoder Transformers"
    datasets: ClassVar[tuple[str, ...]] = ("wmt14.en-de", "wmt14.en-fr", "wmt19.en-de")


@register_space("hat-iwslt")
class HATIWSLTSpace(HATSpace):
    description = "HAT's IWSLT'14 De-En SuperTransformer space (space1.yml)"
    datasets: ClassVar[tuple[str, ...]] = ("iwslt14.de-en",)
    ffn_choices: ClassVar[tuple[int, ...]] = (2048, 1024, 512)
    head_choices: ClassVar[tuple[int, ...]] = (4, 2)
    shared_embeddings: ClassVar[bool] = False
