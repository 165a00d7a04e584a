"""What every suite shares: failing with a message that names the plugin, expecting an
error, and a toy space no built-in plugin knows (so a plugin's refusal of a foreign
context can be checked). Plain functions and `AssertionError`s: no test runner needed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import ClassVar

from hwnas.spaces import Architecture, Dimension, SearchSpace


def expect(condition: object, message: str) -> None:
    """Fail with `message` unless `condition` holds (an `assert` that `python -O` keeps)."""
    if not condition:
        raise AssertionError(message)


@contextmanager
def expect_raises(
    error: type[BaseException], what: str, match: str | None = None
) -> Iterator[None]:
    """The block must raise `error` (whose message matches `match`): `what` says what was
    done, for the failure message."""
    try:
        yield
    except error as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(
                f"{what}: raised {type(exc).__name__}({exc}), whose message does not match "
                f"{match!r}"
            ) from exc
        return
    except Exception as exc:
        raise AssertionError(
            f"{what}: expected {error.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: expected {error.__name__}, nothing was raised")


class TinySpace(SearchSpace):
    """3 x 3 x 2 = 18 architectures keyed `a-b-c`: small enough for a strategy to exhaust,
    and foreign to every table, target and quality estimator."""

    name = "hwnas-testing-tiny"
    datasets: ClassVar[tuple[str, ...]] = ("synthetic",)

    def __init__(self) -> None:
        self.dimensions = (
            Dimension("a", (0, 1, 2)),
            Dimension("b", (0, 1, 2)),
            Dimension("c", (0, 1)),
        )

    def key(self, genes: Sequence[int]) -> str:
        return "-".join(str(g) for g in genes)

    def parse(self, text: str) -> Architecture:
        from hwnas.errors import SpecError

        try:
            genes = [int(p) for p in text.split("-")]
        except ValueError:
            raise SpecError(f"{self.name}: {text!r} is not an architecture (a-b-c)") from None
        return self.make(genes)
