"""PyTorch builders of the spaces' networks (the `torch` extra). Import the submodules only
from code that needs torch: `import hwnas` never does."""
