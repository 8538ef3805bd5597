"""Two-label CNN classification (AD vs CN in the thesis and the demo) on real, synthetic and real +
synthetic training sets.

- :mod:`networks`: Conv5_FC3 of Wen et al. (2020) (``baseline``, ``baseline-downsampled``) and a
  ``small`` CPU variant; :func:`build_classifier`.
- :mod:`labels`: the two classes, ``classify.labels: {negative, positive}`` (:class:`ClassLabels`).
- :mod:`data`: volumes of a split and synthetic volumes, loaded once into memory (:class:`VolumeSet`).
- :mod:`augment`: the classic-augmentation baseline (affine, elastic, bias field, noise; batched, on the fly).
- :mod:`budget`: how long training lasts, in epochs (thesis) or in optimisation steps (equal for
  every training set), and when the validation set is scored.
- :mod:`selection`: which validation's checkpoint is kept (validation loss, ROC AUC, smoothed or
  plain balanced accuracy) and early stopping with a patience under the step cap.
- :mod:`train`: Adam + cross-entropy, the checkpoint chosen by :mod:`selection` is kept.
- :mod:`metrics`: balanced accuracy, sensitivity (recall of the positive label), specificity, ROC AUC.
- :mod:`evaluate`: per-participant predictions and summaries over runs.
- :mod:`checkpoint`: safetensors + JSON.
- :mod:`trainsets`: the training sets of the ``classify`` parameters; :mod:`sets`: their volumes,
  the validation set and the test cohorts; :mod:`stage`: the ``train_classifier`` stages (every run
  of one training set in one process). The ``evaluate`` stage is :mod:`medaug.evaluate.stage`.
"""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "augment": ["augmentation_from_params", "AugmentationConfig", "ClassicAugmentation"],
    "budget": ["batches_per_epoch", "TrainingBudget"],
    "checkpoint": ["CheckpointError", "load_classifier", "save_classifier"],
    "data": [
        "ClassifierDataError", "concatenate", "LABELS", "qc_excluded_sessions",
        "require_both_labels", "split_volumes", "synthetic_volumes", "VolumeSet"
    ],
    "labels": ["ClassLabels", "ClassLabelsError", "DEMO_CLASSES"],
    "evaluate": [
        "CONVERGENCE_KEY", "METRIC_NAMES", "predict", "prediction_metrics", "summarize_convergence",
        "summarize_runs"
    ],
    "metrics": [
        "balanced_accuracy_score", "classification_metrics", "roc_auc_score", "sensitivity_score",
        "specificity_score"
    ],
    "networks": [
        "build_classifier", "classifier_config", "Conv5FC3", "Conv5FC3Config", "flatten_size",
        "scaled_fc_features", "VARIANTS"
    ],
    "selection": ["CRITERIA", "kept_in_last_fifth", "kept_index", "Selection"],
    "train": ["ClassifierTrainingConfig", "train_classifier", "TrainingResult"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
