"""Training of the generative models: Adam, early stopping, NaN guard, curves, resume.

The 2D quick check, which trains on slices, is :mod:`medaug.slicecheck`.
"""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "config": ["TrainingConfig", "TrainingResult"],
    "finite": ["NonFiniteError"],
    "trainer": ["evaluate_elbo", "train_model"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
