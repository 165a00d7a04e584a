"""The export's file layout: file names and the schema version of the layout and the card."""

from __future__ import annotations

from hwnas.errors import HwnasError

#: version of the export's file layout and model-card fields
SCHEMA_VERSION = 1
ONNX_FILE = "model.onnx"
WEIGHTS_FILE = "weights.safetensors"
CARD_MD = "model_card.md"
CARD_JSON = "model_card.json"


class ExportError(HwnasError):
    """The exported model does not match the PyTorch network (or cannot be written)."""
