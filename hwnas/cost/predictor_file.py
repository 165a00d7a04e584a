"""`latency@FILE.json`: a predictor file, whichever command made it. The file is read once
and its `kind` picks the target: a per-layer profile (`hwnas profile`) or a few-shot
transfer predictor (`hwnas calibrate`)."""

from __future__ import annotations

from pathlib import Path

from hwnas.cost import Target, register_target_resolver
from hwnas.cost.lut import KIND as PROFILE_KIND
from hwnas.cost.lut import LatencyPredictor, read_predictor_file
from hwnas.cost.targets import ProfileTarget
from hwnas.cost.transfer import KIND as TRANSFER_KIND
from hwnas.cost.transfer import TransferTarget, read_transfer
from hwnas.errors import SpecError


@register_target_resolver("FILE.json")
def predictor_target(name: str) -> Target | None:
    if not name.endswith(".json") or name.startswith("roofline:"):
        return None
    data = read_predictor_file(name, "latency predictor", "hwnas profile or hwnas calibrate")
    kind = data.get("kind")
    if kind == PROFILE_KIND:
        meta = LatencyPredictor.from_dict(data, name).meta  # a malformed file fails here
        return ProfileTarget(
            name,
            f"latency predictor profiled on {meta.get('host')} ({meta.get('runtime')})",
            str(Path(name)),
            kind="predicted",
            path=name,
        )
    if kind == TRANSFER_KIND:
        return TransferTarget.of(read_transfer(data, name), name)
    raise SpecError(
        f"{name}: kind {kind!r} is neither a latency profile ({PROFILE_KIND!r}, from hwnas "
        f"profile) nor a transfer predictor ({TRANSFER_KIND!r}, from hwnas calibrate)"
    )
