"""AD-vs-CN CNN classification on real, synthetic and real + synthetic training sets.

- :mod:`networks`: Conv5_FC3 of Wen et al. (2020) (``baseline``, ``baseline-downsampled``) and a
  ``small`` CPU variant; :func:`build_classifier`.
- :mod:`data`: volumes of a split and synthetic volumes, loaded once into memory (:class:`VolumeSet`).
- :mod:`augment`: the classic-augmentation baseline (MONAI transforms, on the fly).
- :mod:`budget`: how long training lasts, in epochs (thesis) or in optimisation steps (equal for
  every training set), and when the validation set is scored.
- :mod:`selection`: which validation's checkpoint is kept (validation loss, ROC AUC, smoothed or
  plain balanced accuracy) and early stopping with a patience under the step cap.
- :mod:`train`: Adam + cross-entropy, the checkpoint chosen by :mod:`selection` is kept.
- :mod:`metrics`: balanced accuracy, sensitivity (AD positive), specificity, ROC AUC.
- :mod:`evaluate`: per-participant predictions and summaries over runs.
- :mod:`checkpoint`: safetensors + JSON.
- :mod:`trainsets`: the training sets of the ``classify`` parameters; :mod:`sets`: their volumes,
  the validation set and the test cohorts; :mod:`stage`: the ``train_classifier`` stages (every run
  of one training set in one process). The ``evaluate`` stage is :mod:`medaug.evaluate.stage`.
"""

from medaug.classify.augment import AugmentationConfig, ClassicAugmentation, augmentation_from_params
from medaug.classify.budget import TrainingBudget, batches_per_epoch
from medaug.classify.checkpoint import CheckpointError, load_classifier, save_classifier
from medaug.classify.data import (
    LABELS,
    ClassifierDataError,
    VolumeSet,
    concatenate,
    qc_excluded_sessions,
    require_both_labels,
    split_volumes,
    synthetic_volumes,
)
from medaug.classify.evaluate import (
    CONVERGENCE_KEY,
    METRIC_NAMES,
    predict,
    prediction_metrics,
    summarize_convergence,
    summarize_runs,
)
from medaug.classify.metrics import (
    balanced_accuracy_score,
    classification_metrics,
    roc_auc_score,
    sensitivity_score,
    specificity_score,
)
from medaug.classify.networks import (
    VARIANTS,
    Conv5FC3,
    Conv5FC3Config,
    build_classifier,
    classifier_config,
    flatten_size,
    scaled_fc_features,
)
from medaug.classify.selection import CRITERIA, Selection, kept_in_last_fifth, kept_index
from medaug.classify.train import ClassifierTrainingConfig, TrainingResult, train_classifier

__all__ = [
    "CONVERGENCE_KEY", "CRITERIA", "LABELS", "METRIC_NAMES", "VARIANTS",
    "AugmentationConfig", "CheckpointError", "ClassicAugmentation", "ClassifierDataError",
    "ClassifierTrainingConfig", "Conv5FC3", "Conv5FC3Config", "Selection", "TrainingBudget", "TrainingResult", "VolumeSet",
    "augmentation_from_params", "balanced_accuracy_score", "batches_per_epoch", "build_classifier", "classification_metrics",
    "classifier_config", "concatenate", "flatten_size", "kept_in_last_fifth", "kept_index", "load_classifier", "predict", "prediction_metrics",
    "require_both_labels", "roc_auc_score", "save_classifier",
    "qc_excluded_sessions", "scaled_fc_features", "sensitivity_score", "specificity_score", "split_volumes", "summarize_convergence", "summarize_runs",
    "synthetic_volumes", "train_classifier",
]
