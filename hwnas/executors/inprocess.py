"""The default: evaluate in the driver, a batch at a time. Cheap metrics stay one
vectorised lookup per batch; expensive ones run candidate by candidate, each yielded (and
so committed) as soon as it is complete."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from hwnas.errors import SpecError
from hwnas.executors import register_executor
from hwnas.executors._base import Executor
from hwnas.spaces import Architecture
from hwnas.trial import Outcome


@register_executor("inprocess")
class InProcessExecutor(Executor):
    description = "in the driver process, one batch at a time (default)"

    def __init__(
        self, workers: int | None = None, timeout: float | None = None, retries: int = 1
    ) -> None:
        super().__init__(workers, timeout, retries)
        if workers not in (None, 1):
            raise SpecError("the inprocess executor has one worker; use --executor process")
        if timeout is not None:
            raise SpecError(
                "an in-process evaluation cannot be interrupted; use --executor process or ray "
                "for a timeout"
            )

    def run(self, archs: Sequence[Architecture]) -> Iterator[tuple[Architecture, Outcome]]:
        return self.job.evaluator.evaluate(archs)
