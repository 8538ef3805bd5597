"""Training of the generative models: Adam, early stopping, NaN guard, curves, resume; the 2D mode's slices.

The 2D quick check itself is :func:`medaug.train.slice_check.run_slice_check` (not imported here:
it pulls in the samplers and the audit's diversity measures).
"""

from medaug.train.slices import extract_slices
from medaug.train.trainer import NonFiniteError, TrainingConfig, TrainingResult, evaluate_elbo, train_model

__all__ = ["NonFiniteError", "TrainingConfig", "TrainingResult", "evaluate_elbo", "extract_slices", "train_model"]
