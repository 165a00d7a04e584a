"""The model card: every metric of the exported evaluation with its provenance, where the
weights came from, and how the ONNX file was checked; as JSON and as markdown."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from hwnas.errors import SpecError
from hwnas.export._layout import CARD_JSON, CARD_MD, ONNX_FILE, SCHEMA_VERSION, WEIGHTS_FILE
from hwnas.export._pick import Picked
from hwnas.models.onnx import INPUT_NAME, OUTPUT_NAME
from hwnas.results import Results
from hwnas.spaces import Architecture, SearchSpace
from hwnas.trial import OK


def build_card(
    run: Results,
    picked: Picked,
    shape: Sequence[int],
    classes: int,
    n_params: int,
    weights: dict[str, Any],
    accuracy: dict[str, Any] | None,
    check: dict[str, Any],
    opset: int,
    command: str | None,
) -> dict[str, Any]:
    from hwnas._version import __version__

    e = picked.evaluation
    arch = run.space.make(e.genes)
    feasible = e.status == OK
    return {
        "schema_version": SCHEMA_VERSION,
        "architecture": {
            "key": arch.key,
            "genes": list(arch.genes),
            "description": {k: _plain(v) for k, v in describe(run.space, arch).items()},
        },
        "space": {
            "name": run.space.name,
            "description": run.space.description,
            "dataset": run.config.dataset,
        },
        "input_shape": [1, *[int(s) for s in shape]],
        "dynamic_axes": {INPUT_NAME: [0], OUTPUT_NAME: [0]},
        "classes": classes,
        "parameters": n_params,
        "pick": {
            "spec": picked.pick,
            "trial": e.trial,
            "status": e.status,
            "feasible": feasible,
            "on_front": picked.on_front,
            "front_index": picked.front_index,
        },
        "metrics": {
            name: {"value": _json_float(value), "provenance": e.provenance.get(name, {})}
            for name, value in e.metrics.items()
        },
        "run": {
            "path": str(run.path),
            "objectives": [o.spec for o in run.objectives],
            "constraints": [c.spec for c in run.constraints],
            "quality": run.config.quality,
            "strategy": run.config.strategy,
            "seed": run.config.seed,
            "budget": run.config.budget,
            "host": run.host,
        },
        "weights": weights,
        "accuracy_after_export": accuracy,
        "onnx": {"file": ONNX_FILE, "opset": opset, "check": check},
        "files": [ONNX_FILE, WEIGHTS_FILE, CARD_MD, CARD_JSON],
        "hwnas_version": __version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command or f"hwnas.export.export_run({str(run.path)!r}, {picked.pick!r})",
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _json_float(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def md_code(value: Any, table: bool = False) -> str:
    """`value` as one markdown code span: control characters (newlines included) become
    spaces so nothing breaks out of its line, the fence outgrows any backtick run, and in
    a table cell `|` is escaped."""
    text = _CONTROL.sub(" ", str(value))
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_card(card: dict[str, Any]) -> str:
    """The model card as markdown; every value from the run is a code span (`md_code`)."""
    arch, space, pick = card["architecture"], card["space"], card["pick"]
    w = card["weights"]
    lines = [
        "# Model card",
        "",
        (
            f"Architecture {md_code(arch['key'])} from the {md_code(space['name'])} space "
            f"({space['description']}), built for {md_code(space['dataset'])}."
        ),
        "",
        (
            f"- input: {md_code(card['input_shape'])} float32 (batch axis dynamic), "
            f"output: logits over {card['classes']} classes"
        ),
        f"- parameters: {card['parameters']:,}",
        f"- chosen by {md_code(pick['spec'])}: trial {pick['trial']}, "
        + ("feasible" if pick["feasible"] else f"status {md_code(pick['status'])}")
        + (
            f", row {pick['front_index']} of pareto.csv"
            if pick["on_front"]
            else ", not on the run's Pareto front"
        ),
        "",
        "## Weights",
        "",
    ]
    if w["kind"] == "supernet":
        lines.append(
            f"Inherited from the supernet checkpoint {md_code(w['checkpoint'])} "
            f"(sha256 {md_code(w['sha256'])})."
        )
        for k, v in w.get("provenance", {}).items():
            lines.append(
                f"- {md_code(k)}: {md_code(json.dumps(v) if isinstance(v, (dict, list)) else v)}"
            )
    tuned = " and ".join(
        what
        for key, what in (
            ("finetuned", "fine-tuned"),
            ("quantisation_aware_steps", "trained quantisation-aware"),
        )
        if key in w
    )
    if w["kind"] != "supernet":
        lines.append(
            (f"Freshly initialised, then {tuned} (below). " if tuned else "**UNTRAINED**: ")
            + f"{w['init']}; {w['why']}."
        )
    elif tuned:
        lines.append(f"Then {tuned} (below).")
    acc = card["accuracy_after_export"]
    if acc is not None:
        lines += [
            "",
            "## Accuracy of these weights",
            "",
            (
                f"On {md_code(acc['data'])} (train/val/test {acc['sizes']['train']}/"
                f"{acc['sizes']['val']}/{acc['sizes']['test']} images, split seed "
                f"{acc['dataset_provenance'].get('split', {}).get('seed')}, resized to "
                f"{md_code(acc['input_shape'])}):"
            ),
            "",
        ]
        if acc["epochs"]:
            lines += [
                f"- validation accuracy before fine-tuning: {acc['val_accuracy_before']:.2f}%",
                (
                    f"- after {acc['epochs']} epoch(s) of fine-tuning: validation "
                    f"{acc['val_accuracy']:.2f}%, test {acc['test_accuracy']:.2f}%"
                ),
            ]
        else:
            lines.append(
                f"- validation {acc['val_accuracy']:.2f}%, test {acc['test_accuracy']:.2f}% "
                "(not fine-tuned)"
            )
        if "train_config" in acc:
            cfg = ", ".join(f"{k}={v}" for k, v in acc["train_config"].items())
            lines.append(f"- schedule (hwnas.training.fit): {md_code(cfg)}")
        if "quantisation_aware_steps" in w:
            lines.append("- (float weights before quantisation-aware training: see Quantisation)")
    if "quantisation" in card:
        lines += _quantisation_lines(card["quantisation"])
    lines += [
        "",
        "## Metrics recorded by the search",
        "",
        "These are the run's evaluation of this architecture, with their provenance; "
        + (
            "they describe the supernet-inherited network, not fine-tuned weights."
            if w["kind"] == "supernet"
            else "accuracies from a table or predictor describe the trained network of that "
            "source, not the weights exported here."
        ),
        "",
        "| metric | value | provenance |",
        "|---|---|---|",
    ]
    for name, m in card["metrics"].items():
        prov = "; ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(m["provenance"].items()))
        lines.append(
            f"| {md_code(name, True)} | {md_code(_fmt_value(m['value']), True)} | "
            f"{md_code(prov or '(none recorded)', True)} |"
        )
    lines += ["", "## Architecture", "", "| dimension | choice |", "|---|---|"]
    for dim, value in arch["description"].items():
        lines.append(f"| {md_code(dim, True)} | {md_code(value, True)} |")
    run = card["run"]
    onnx_check = card["onnx"]["check"]
    lines += [
        "",
        "## Run and export",
        "",
        f"- run: {md_code(run['path'])}, objectives {md_code(', '.join(run['objectives']))}"
        + (f", constraints {md_code(', '.join(run['constraints']))}" if run["constraints"] else "")
        + f", quality {md_code(run['quality'])}, strategy {md_code(run['strategy'])}, "
        f"seed {md_code(run['seed'])}",
        f"- run host: {md_code(', '.join(f'{k}={v}' for k, v in sorted(run['host'].items())))}",
        (
            f"- ONNX opset {card['onnx']['opset']}, checked with onnx.checker; ONNX Runtime "
            f"{md_code(onnx_check['onnxruntime'])} matches PyTorch on a batch of "
            f"{onnx_check['batch']} (max |diff| {onnx_check['max_abs_diff']:.2g})"
            + (
                "; these weights give the same logits for every input, so the graph was "
                "also checked with its batch norms recalibrated on random data (max |diff| "
                f"{onnx_check['recalibrated_check']['max_abs_diff']:.2g})"
                if "recalibrated_check" in onnx_check
                else ""
            )
        ),
        f"- hwnas {md_code(card['hwnas_version'])}, {md_code(card['date'])}",
        f"- command: {md_code(card['command'])}",
        "",
    ]
    return "\n".join(lines)


def _quantisation_lines(q: dict[str, Any]) -> list[str]:
    """The card's quantisation section: the policy, the calibration, the measured accuracy
    of the int8 file beside PyTorch's prediction, and QAT when it ran."""
    calib = q["calibration"]
    lines = [
        "",
        "## Quantisation",
        "",
        (
            f"`model.onnx` is the int8 QDQ graph of policy {md_code(q['policy'])} (bits "
            f"{md_code(', '.join(q['bits']))}), calibrated on {calib['images']} images of "
            f"{md_code(calib['data'])} ({calib['from']})."
        ),
        "",
        (
            f"- accuracy of `model.onnx` under ONNX Runtime: {q['accuracy_onnxruntime']:.2f}% "
            f"on {calib['validation_images']} validation images; PyTorch fake quantisation "
            f"predicted {q['accuracy_pytorch_fake_quant']:.2f}%"
        ),
    ]
    qat = q.get("qat")
    if qat is not None:
        lines.append(
            f"- quantisation-aware fine-tuning: {qat['steps']} steps ({qat['optimizer']}, lr "
            f"{qat['lr']:g}, batch {qat['batch_size']}, seed {qat['seed']}, {qat['images']} "
            f"training images, {qat['seconds']:.1f} s); PyTorch fake quantisation "
            f"{qat['accuracy_pytorch_fake_quant_before']:.2f}% before, "
            f"{q['accuracy_pytorch_fake_quant']:.2f}% after"
        )
    return lines


def describe(space: SearchSpace, arch: Architecture) -> dict[str, Any]:
    """The architecture's choices by dimension, without the genes that do not change the
    network (e.g. blocks beyond a stage's depth)."""
    out: dict[str, Any] = {}
    for i, (dim, value) in enumerate(space.describe(arch).items()):
        active = False
        for c in range(len(space.dimensions[i].choices)):
            if c == arch.genes[i]:
                continue
            genes = list(arch.genes)
            genes[i] = c
            try:
                if space.make(genes).key != arch.key:
                    active = True
                    break
            except SpecError:
                active = True
                break
        if active or len(space.dimensions[i].choices) == 1:
            out[dim] = value
    return out
