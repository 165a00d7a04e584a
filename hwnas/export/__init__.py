"""Export one evaluated architecture of a run as a deployable artifact: `model.onnx`
(checked with onnx.checker and run once in ONNX Runtime against PyTorch),
`weights.safetensors` (the state dict with metadata) and a model card (`model_card.md`,
`model_card.json`) that carries every metric of the evaluation with its provenance and says
where the weights came from: a supernet checkpoint, fine-tuning, or nowhere (untrained).

The run is read from its ledger (the same file `Study.load` reads), not by reopening the
study: exporting needs neither the run's quality estimator nor its targets to be
importable, and it must not rewrite the run's files.

The implementation lives in private modules, one job each: `_run` (reading the run),
`_pick` (the pick language), `_weights` (supernet weights, fine-tuning), `_write` (ONNX,
safetensors, `load_model`), `_card` (the model card), `_export` (`export_run`)."""

from hwnas.export._card import md_code, render_card
from hwnas.export._export import ExportResult, export_run
from hwnas.export._layout import ExportError
from hwnas.export._pick import Picked, PickError, pick_evaluation
from hwnas.export._write import compare_logits, load_model

__all__ = [
    "ExportError",
    "ExportResult",
    "PickError",
    "Picked",
    "compare_logits",
    "export_run",
    "load_model",
    "md_code",
    "pick_evaluation",
    "render_card",
]
