"""PyTorch builders of the spaces' networks (the `torch` extra). Import the submodules only
from code that needs torch (after `hwnas._imports.optional_import("torch", ...)`):
`import hwnas` never does."""
