"""What hwnas knows about each named dataset without loading it: image channels, side and
number of classes (or, for token-id text, sequence length and vocabulary). Spaces take their input shapes from here, builders their classifier
widths and loaders their record layout, so the three cannot disagree. Pure data: it imports
nothing from hwnas but `errors`, and sits at the bottom layer (tests/test_architecture.py),
so a space may read it without importing the loaders."""

from __future__ import annotations

from dataclasses import dataclass

from hwnas.errors import SpecError, UnknownNameError


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's images (`channels` x `side` x `side`) and its number of `classes`; for
    token-id text (`vocab` > 0) an input is `side` token ids instead of an image; for a
    translation task, `tokens` per input sentence and `classes` its vocabulary."""

    name: str
    channels: int
    side: int
    classes: int
    #: the vocabulary of token-id text; 0 for images
    vocab: int = 0
    #: tokens per sentence of a translation task (HAT's), 0 otherwise
    tokens: int = 0

    @property
    def is_text(self) -> bool:
        return self.vocab > 0

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image; (1, 1, tokens) of one sentence to
        translate; token-id text has no image shape."""
        if self.tokens:
            return (1, 1, self.tokens)
        if self.is_text:
            raise SpecError(
                f"dataset {self.name!r} is token-id text ({self.side} tokens), not images"
            )
        return (self.channels, self.side, self.side)

    @property
    def seq_len(self) -> int:
        """Tokens per input of a text dataset."""
        if not self.is_text:
            raise SpecError(f"dataset {self.name!r} is images, not token-id text")
        return self.side


CATALOGUE: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("cifar10", 3, 32, 10),
        DatasetInfo("cifar100", 3, 32, 100),
        # NB201's down-sampled ImageNet: 120 of the 1,000 classes at 16x16
        DatasetInfo("imagenet16", 3, 16, 120),
        DatasetInfo("imagenet", 3, 224, 1000),
        DatasetInfo("fashion-mnist", 1, 28, 10),
        DatasetInfo("digits", 1, 8, 10),  # scikit-learn's 8x8 digits
        # token-id text for encoders (BERT's WordPiece vocabulary), GLUE-style sentence
        # (pair) classification: the sequence length is the dataset's; no data ships
        DatasetInfo("seq128", 1, 128, 2, vocab=30522),
        DatasetInfo("seq512", 1, 512, 2, vocab=30522),
        # HAT's translation tasks: the dummy sentence HAT timed and counted (30 tokens WMT,
        # 23 IWSLT) and the BPE vocabulary the task's name implies (assumed: the exact
        # dictionaries are not available offline; they set only the output layer's width)
        DatasetInfo("wmt14.en-de", 1, 1, 32768, tokens=30),
        DatasetInfo("wmt14.en-fr", 1, 1, 40000, tokens=30),
        DatasetInfo("wmt19.en-de", 1, 1, 32768, tokens=30),
        DatasetInfo("iwslt14.de-en", 1, 1, 10000, tokens=23),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """The catalogue entry of `name`; an `UnknownNameError` lists the known ones."""
    if name not in CATALOGUE:
        raise UnknownNameError("dataset", name, CATALOGUE, "in the dataset catalogue")
    return CATALOGUE[name]


def head_classes(dataset: str, classes: int | None = None) -> int:
    """The classes a network built for `dataset` outputs: `classes` when the data says so
    (a `folder:` dataset of 3 classes on cifar10-shaped networks), else the catalogue's."""
    if classes is None:
        return dataset_info(dataset).classes
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise SpecError(f"classes must be a positive integer, got {classes!r}")
    return classes
