"""One small exception hierarchy: the CLI turns any `HwnasError` into a one-line message
and exit code 2, so every error a user can cause must derive from it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HwnasError(Exception):
    """Base class of every error hwnas raises on purpose."""


class UnknownNameError(HwnasError, KeyError):
    """A name (space, dataset, metric, target, strategy, ...) that no registry holds."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str = "") -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        where = f" {where}" if where else ""
        close = difflib.get_close_matches(str(name), self.valid, n=3, cutoff=0.75)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        super().__init__(
            f"unknown {kind} {name!r}{where}; {hint}valid: {', '.join(self.valid) or '(none)'}"
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class SpecError(HwnasError, ValueError):
    """A malformed specification: objective, constraint, architecture, config file."""


class ConfigConflictError(HwnasError):
    """A resumed run asked for a configuration different from the one it was started with."""


class EvaluationError(HwnasError):
    """An evaluation failed; the study records it as failed and goes on."""


class SetupError(HwnasError):
    """An evaluation cannot work as configured (a file, an option, the data): every one
    would fail alike, so a study stops at the first, recording nothing for it, instead of
    spending its budget on failures; fixed, the run resumes. Sources raise it from `check`
    before anything is evaluated, and from `evaluate` when the setup breaks mid-run."""


class DependencyError(SetupError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


#: optional top-level modules and the extra of `pip install "hwnas[EXTRA]"` that brings each
EXTRAS = {
    "torch": "torch",
    "onnx": "torch",
    "onnxruntime": "torch",
    "safetensors": "torch",
    "pymoo": "bench",
    "optuna": "bench",
    "botorch": "botorch",
    "gpytorch": "botorch",
    "ray": "ray",
    "zigzag": "zigzag",
    "yaml": "zigzag",
    "gymnasium": "gym",
}


def missing_dependency(module: str, needed_by: str) -> DependencyError:
    """`needed_by needs MODULE: pip install ...`, naming hwnas's extra for an optional
    dependency (dotted names count by their top level)."""
    top = module.partition(".")[0]
    extra = EXTRAS.get(top)
    how = f'pip install "hwnas[{extra}]"' if extra else f"pip install {top}"
    return DependencyError(f"{needed_by} needs {top}: {how}")
