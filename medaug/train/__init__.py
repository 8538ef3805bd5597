"""Training of the generative models: Adam, early stopping, NaN guard, curves, resume.

The 2D quick check, which trains on slices, is :mod:`medaug.slicecheck`.
"""

from medaug._exports import lazy_exports

_EXPORTS = {
    "evaluate_elbo": "trainer",
    "NonFiniteError": "trainer",
    "train_model": "trainer",
    "TrainingConfig": "trainer",
    "TrainingResult": "trainer",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
