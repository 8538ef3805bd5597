"""What the benchmark scripts share.

The scripts are run as modules from the repository root (``python -m benchmarks.<group>.<name>``),
so ``medaug`` and ``benchmarks`` import without installing the project and without editing
``sys.path``.
"""

from __future__ import annotations

from pathlib import Path

import torch

#: The repository root (the folder holding ``benchmarks/`` and ``medaug/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where the studies write the results they quote.
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels, so that a wall-clock reading covers them (no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
