"""The `given` strategy: listed architectures first, in order and once each, then random
sampling; a study over them stores where each came from and shows it as `origin`."""

from __future__ import annotations

import pytest

import hwnas
from hwnas.strategies import make_strategy
from hwnas.testing._strategy import tiny_problem

KEYS = ["0-1-1", "2-0-1", "0-1-1"]


def test_listed_architectures_come_first_then_random() -> None:
    strategy = make_strategy("given", tiny_problem(), 0, {"archs": KEYS})
    first = [a.key for a in strategy.ask(2)]
    assert first == ["0-1-1", "2-0-1"]
    rest = [a.key for a in strategy.ask(3)]
    assert len(rest) == 3 and not set(rest) & set(first)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"archs": ["0-1-9"]}, "option archs, entry 0"),
        ({"archs": KEYS, "origins": ["a"]}, "origins has 1 entries for 3"),
        ({"archs": "0-1-1"}, "lists of strings"),
    ],
)
def test_bad_options_say_what_is_wrong(options: dict, message: str) -> None:
    with pytest.raises(hwnas.SpecError, match=message):
        make_strategy("given", tiny_problem(), 0, options)


def test_a_study_of_given_architectures_records_their_origins(tmp_path) -> None:
    keys = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    ]
    study = hwnas.Study(
        strategy="given",
        strategy_options={"archs": keys, "origins": ["NB201 best on CIFAR-10", "index 0"]},
        budget=2,
        out_dir=tmp_path,
    )
    frame = study.optimize().evaluations()
    assert list(frame["arch"]) == keys
    assert list(frame["origin"]) == ["NB201 best on CIFAR-10", "index 0"]
    assert hwnas.load_results(tmp_path).origins[keys[1]] == "index 0"
    assert "origin" not in hwnas.Study(budget=2).optimize().evaluations().columns
