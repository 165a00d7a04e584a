"""A run's configuration: everything that determines its evaluations (plus its budget),
as plain, type-checked data stored in the ledger; and the host facts stamped beside it."""

from __future__ import annotations

import platform
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from hwnas._version import __version__
from hwnas.errors import SpecError

#: the default strategy (`hwnas bench`'s winner); named here so that a configuration needs
#: no strategy plugin to be read
DEFAULT_STRATEGY = "linas"

CONFIG_FILE = "config.json"
#: options a resumed run may change: a larger budget continues the same run
RESUMABLE_CHANGES = ("budget",)


@dataclass
class StudyConfig:
    """Everything that determines a run's evaluations (plus its budget)."""

    space: str = "nb201"
    dataset: str = "cifar10"
    objectives: list[str] = field(default_factory=lambda: ["accuracy:max", "latency@pixel3:min"])
    constraints: list[str] = field(default_factory=list)
    strategy: str = DEFAULT_STRATEGY
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: int = 200
    seed: int = 0
    quality: str = "tabular"
    #: dataset spec of the images data-dependent estimators read (None: their default)
    data: str | None = None
    #: search a sub-space only: dimension name (or shell pattern) -> allowed choices
    restrict: dict[str, list[str]] = field(default_factory=dict)
    #: a quantisation policy (`w=4,6,8;a=8;first=8`), folded into `space` as
    #: `SPACE+quant:POLICY` (hwnas.spaces.quant) and then None, so a run has one spelling
    quant: str | None = None

    def __post_init__(self) -> None:
        if self.quant is not None and isinstance(self.space, str):
            self.space, self.quant = quant_space_name(self.space, self.quant), None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "configuration") -> StudyConfig:
        """Settings from stored or given data, type-checked (a damaged ledger must give a
        clear error, not a traceback); unknown keys are ignored, missing ones default."""
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected an object of settings, got {type(data).__name__}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name, value in known.items():
            kind = _FIELD_KINDS[name]
            if not _is_kind(value, kind):
                raise SpecError(f"{where}: {name} must be {kind}, got {value!r}")
        return cls(**known)

    def differences(self, other: StudyConfig) -> list[str]:
        """`name: stored -> requested` for every setting that differs, budget excepted."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{k}: {mine[k]!r} -> {theirs[k]!r}"
            for k in mine
            if k not in RESUMABLE_CHANGES and mine[k] != theirs[k]
        ]


_FIELD_KINDS = {
    "space": "a string",
    "dataset": "a string",
    "objectives": "a list of strings",
    "constraints": "a list of strings",
    "strategy": "a string",
    "strategy_options": "an object",
    "budget": "an integer",
    "seed": "an integer",
    "quality": "a string",
    "data": "a string or null",
    "restrict": "an object of string lists",
    "quant": "a string or null",
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "a string":
        return isinstance(value, str)
    if kind == "a string or null":
        return value is None or isinstance(value, str)
    if kind == "a list of strings":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if kind == "an object of string lists":
        return isinstance(value, dict) and all(
            isinstance(k, str) and _is_kind(v, "a list of strings") for k, v in value.items()
        )
    if kind == "an object":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, int) and not isinstance(value, bool)


def quant_space_name(space: str, quant: str | None) -> str:
    """The space `space` with the quantisation policy `quant` as genes (`mbv3` and
    `w=4,8` -> `mbv3+quant:w=4,8`; '' -> `mbv3+quant`, the default policy; None: `space`)."""
    if quant is None:
        return space
    if "+quant" in space:
        raise SpecError(f"space {space!r} is already quantised; give the policy once")
    return f"{space}+quant:{quant}" if quant.strip() else f"{space}+quant"


def host_info() -> dict[str, str]:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hwnas": __version__,
    }
