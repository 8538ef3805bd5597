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

from medaug._exports import lazy_exports

_EXPORTS = {
    "augmentation_from_params": "augment",
    "AugmentationConfig": "augment",
    "balanced_accuracy_score": "metrics",
    "batches_per_epoch": "budget",
    "build_classifier": "networks",
    "CheckpointError": "checkpoint",
    "ClassicAugmentation": "augment",
    "classification_metrics": "metrics",
    "classifier_config": "networks",
    "ClassifierDataError": "data",
    "ClassifierTrainingConfig": "train",
    "concatenate": "data",
    "Conv5FC3": "networks",
    "Conv5FC3Config": "networks",
    "CONVERGENCE_KEY": "evaluate",
    "CRITERIA": "selection",
    "flatten_size": "networks",
    "kept_in_last_fifth": "selection",
    "kept_index": "selection",
    "LABELS": "data",
    "load_classifier": "checkpoint",
    "METRIC_NAMES": "evaluate",
    "predict": "evaluate",
    "prediction_metrics": "evaluate",
    "qc_excluded_sessions": "data",
    "require_both_labels": "data",
    "roc_auc_score": "metrics",
    "save_classifier": "checkpoint",
    "scaled_fc_features": "networks",
    "Selection": "selection",
    "sensitivity_score": "metrics",
    "specificity_score": "metrics",
    "split_volumes": "data",
    "summarize_convergence": "evaluate",
    "summarize_runs": "evaluate",
    "synthetic_volumes": "data",
    "train_classifier": "train",
    "TrainingBudget": "budget",
    "TrainingResult": "train",
    "VARIANTS": "networks",
    "VolumeSet": "data",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
