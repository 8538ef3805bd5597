"""Training of the generative models: Adam, early stopping, NaN guard, curves, resume.

The 2D quick check, which trains on slices, is :mod:`medaug.slicecheck`.
"""

from medaug.train.trainer import NonFiniteError, TrainingConfig, TrainingResult, evaluate_elbo, train_model

__all__ = ["NonFiniteError", "TrainingConfig", "TrainingResult", "evaluate_elbo", "train_model"]
