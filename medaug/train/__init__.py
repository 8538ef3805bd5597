"""Training of the generative models: Adam, early stopping, NaN guard, curves, resume."""

from medaug.train.trainer import NonFiniteError, TrainingConfig, TrainingResult, evaluate_elbo, train_model

__all__ = ["NonFiniteError", "TrainingConfig", "TrainingResult", "evaluate_elbo", "train_model"]
