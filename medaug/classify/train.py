"""Training of the AD-vs-CN CNN (thesis sec. 1.5.5): Adam, cross-entropy, keep the best checkpoint.

The length of training is a :class:`~medaug.classify.budget.TrainingBudget`: epochs (the thesis:
validation after every epoch) or optimisation steps (the same cap of Adam updates for every
training set, validation every ``eval_every`` steps). At each validation the network is scored on
the (always real) validation set: cross-entropy, balanced accuracy and ROC AUC. The kept weights
are those of the best validation by the selection criterion, and training stops early once
``patience`` validations brought no better one (:mod:`medaug.classify.selection`; the thesis: best
balanced accuracy, no early stopping). One seed fixes the initial weights, the batch order,
dropout and the augmentation, so the same call gives the same bytes on CPU (the history holds no
timings for that reason).

Data path: each batch is gathered on the CPU, pinned and copied with ``non_blocking=True`` when the
network runs on CUDA (:func:`to_device`); the training loss and the predictions of a validation
window are accumulated on the device and read back once per validation, so the loop does not wait
for the GPU at every step. The loss is summed in float64, the precision of a Python float, so the
history's bytes do not depend on where the sum is taken.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from medaug.classify.augment import ClassicAugmentation
from medaug.classify.budget import TrainingBudget, batch_stream, epoch_batches
from medaug.classify.data import VolumeSet, require_both_labels
from medaug.classify.metrics import balanced_accuracy_score, roc_auc_score
from medaug.classify.networks import Conv5FC3, Conv5FC3Config
from medaug.classify.selection import CAP, PATIENCE, Selection, patience_exhausted, selection_keys
from medaug.config import check_keys, dataclass_keys
from medaug.runtime import resolve_device


@dataclass(frozen=True)
class ClassifierTrainingConfig:
    """``classify.training``: budget (epochs or a step cap), selection criterion and early-stopping
    patience (:mod:`medaug.classify.selection`), batch size (images), Adam settings, device."""

    budget: TrainingBudget = TrainingBudget()
    selection: str = "validation_loss"
    smoothing_window: int = 5     # validations averaged by selection smoothed_ba
    patience: int | None = None   # validations without improvement before stopping; None: train to the cap
    min_steps: int = 0            # early stopping never stops training before this step
    batch_size: int = 8
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"          # "auto": CUDA when present, else CPU
    eval_batch_size: int = 32
    progress: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.budget, TrainingBudget):
            raise TypeError(f"budget must be a TrainingBudget, got {type(self.budget).__name__}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1: {self}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        self.selector  # checks the criterion, window, patience and min_steps

    @property
    def selector(self) -> Selection:
        """The selection criterion and early stopping as a :class:`Selection`."""
        return Selection(self.selection, self.smoothing_window, self.patience, self.min_steps)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], **overrides: Any) -> "ClassifierTrainingConfig":
        """From the ``classify.training`` mapping; ``budget`` is a mapping there (see TrainingBudget)."""
        if "epochs" in values:
            raise ValueError("classify.training.epochs is not a parameter: set classify.training.budget "
                             "({unit: epochs, epochs: N} or {unit: steps, steps: N, eval_every: M})")
        check_keys(values, dataclass_keys(cls), "classify.training")
        values = dict(values)
        if "budget" in values and not isinstance(values["budget"], TrainingBudget):
            values["budget"] = TrainingBudget.from_dict(values["budget"] or {})
        return cls(**{**values, **overrides})


HISTORY_COLUMNS = ["step", "epoch", "images_seen", "train_loss", "train_balanced_accuracy",
                   "validation_loss", "validation_balanced_accuracy", "validation_roc_auc", "kept"]


@dataclass
class TrainingResult:
    """The network with the kept weights (in eval mode) and one history row per validation.

    History columns (:data:`HISTORY_COLUMNS`): ``step`` (Adam updates so far), ``epoch`` (passes over
    the training set so far, images_seen / training images; a whole number under an epoch budget),
    ``images_seen`` (training images fed so far), the training loss and balanced accuracy over the
    batches since the previous validation, the validation loss, balanced accuracy and ROC AUC,
    ``kept``. ``steps`` is the step training stopped at (``cap`` or earlier: ``stop_reason`` is
    ``cap`` or ``patience``).
    """

    model: Conv5FC3
    history: pd.DataFrame
    best_step: int
    steps: int            # Adam updates done (the stopped step)
    images_seen: int      # training images fed (each augmented copy counts once)
    cap: int = 0          # Adam updates the budget allows
    stop_reason: str = CAP

    @property
    def best(self) -> dict[str, float]:
        return self.history.loc[self.history["step"] == self.best_step].iloc[0].to_dict()

    @property
    def best_epoch(self) -> float:
        """Passes over the training set at the kept checkpoint (a whole number under an epoch budget)."""
        value = float(self.best["epoch"])
        return int(value) if value.is_integer() else value


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``: pinned then copied with ``non_blocking=True`` from the CPU to CUDA
    (the copy overlaps the host's next work), a plain ``.to`` otherwise (the same tensor on the CPU)."""
    if device.type == "cuda" and tensor.device.type == "cpu" and torch.cuda.is_available():
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """(N, 1, D, H, W) -> logits (N, 2) on CPU, model in eval mode."""
    model.eval()
    outputs = [model(to_device(images[idx], device)).float() for idx in epoch_batches(len(images), batch_size, None)]
    return torch.cat(outputs).cpu() if outputs else torch.zeros((0, 2))


def _validation_scores(model: nn.Module, validation: VolumeSet, config: ClassifierTrainingConfig,
                       device: torch.device) -> dict[str, float]:
    """Cross-entropy, balanced accuracy and ROC AUC (of P(AD) in float64) on the validation set."""
    logits = predict_logits(model, validation.images, config.eval_batch_size, device)
    labels = validation.labels.numpy()
    return {"validation_loss": float(nn.functional.cross_entropy(logits, validation.labels)),
            "validation_balanced_accuracy": balanced_accuracy_score(labels, logits.argmax(1).numpy()),
            "validation_roc_auc": roc_auc_score(labels, torch.softmax(logits.double(), dim=1)[:, 1].numpy())}


class _Window:
    """The training batches since the last validation: loss (summed on the device), predictions, labels."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros((), dtype=torch.float64, device=self.device)  # sum of loss x batch size
        self.images, self.predictions, self.targets = 0, [], []

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.loss += loss.detach().double() * len(labels)  # float64 as loss.item() * len(idx) was
        self.images += len(labels)
        self.predictions.append(logits.detach().argmax(1))
        self.targets.append(labels)

    def row(self, step: int, images_seen: int, n_train: int, scores: dict[str, float]) -> dict[str, float]:
        """One history row (training figures over the window, then ``scores``); starts a new window."""
        row = {
            "step": step,
            "epoch": images_seen / n_train,
            "images_seen": images_seen,
            "train_loss": float(self.loss) / self.images,
            "train_balanced_accuracy": balanced_accuracy_score(torch.cat(self.targets).numpy(),
                                                               torch.cat(self.predictions).cpu().numpy()),
            **scores,
        }
        self.reset()
        return row


def _check_inputs(network: Conv5FC3Config, train: VolumeSet, validation: VolumeSet,
                  augmented: torch.Tensor | None) -> None:
    require_both_labels(train, "training set")
    require_both_labels(validation, "validation set")
    for name, volumes in (("training", train), ("validation", validation)):
        if volumes.spatial_shape != network.in_shape:
            raise ValueError(f"{name} images are {volumes.spatial_shape}, the network expects {network.in_shape}")
    if augmented is not None and tuple(augmented.shape) != (len(train),):
        raise ValueError(f"augmented mask of shape {tuple(augmented.shape)} for {len(train)} training images")


def _step(model: Conv5FC3, optimizer, train: VolumeSet, idx, augmentation: ClassicAugmentation | None,
          augmented: torch.Tensor | None, device: torch.device):
    """One Adam step on the batch ``idx``; returns (loss, logits, labels)."""
    images = train.images[idx]
    if augmentation is not None:
        images = augmentation.batch(images, None if augmented is None else augmented[idx])
    labels = train.labels[idx]
    optimizer.zero_grad(set_to_none=True)
    logits = model(to_device(images, device))
    loss = nn.functional.cross_entropy(logits, to_device(labels, device))
    loss.backward()
    optimizer.step()
    return loss, logits, labels


def train_classifier(network: Conv5FC3Config, train: VolumeSet, validation: VolumeSet,
                     config: ClassifierTrainingConfig,
                     augmentation: ClassicAugmentation | None = None,
                     augmented: torch.Tensor | None = None) -> TrainingResult:
    """Build ``network`` (seeded), train it on ``train`` for at most ``config.budget``, keep the
    checkpoint of ``validation`` chosen by ``config.selection``, stop early after ``config.patience``
    validations without a better one.

    Args:
        network: the architecture; its ``in_shape`` must match the images.
        train: training images (N, 1, D, H, W), both labels present.
        validation: real validation images, both labels present.
        augmentation: applied on the fly to the training images of every batch when given.
        augmented: bool (N,), which training images ``augmentation`` applies to (None: all).
    """
    _check_inputs(network, train, validation, augmented)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = Conv5FC3(network).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    budget, n_train, selection = config.budget, len(train), config.selector
    total_steps = budget.total_steps(n_train, config.batch_size)
    rows: list[dict[str, float]] = []
    best_key: tuple[float, float, float] | None = None
    best_state: dict[str, torch.Tensor] = {}
    best_step, best_index, stop_reason, images_seen = 0, 0, CAP, 0
    window = _Window(device)
    progress = tqdm(total=total_steps, desc="classifier", unit="step", disable=not config.progress)
    stream = batch_stream(n_train, config.batch_size, generator)
    model.train()
    for step in range(1, total_steps + 1):
        _, idx = next(stream)
        window.add(*_step(model, optimizer, train, idx, augmentation, augmented, device))
        images_seen += len(idx)
        progress.update(1)
        if not budget.validates_after(step, n_train, config.batch_size):
            continue
        scores = _validation_scores(model, validation, config, device)
        model.train()
        rows.append(window.row(step, images_seen, n_train, scores))
        key = selection_keys(rows, selection)[-1]   # a row's score depends on the rows so far only
        if best_key is None or key > best_key:
            best_key, best_step, best_index = key, step, len(rows) - 1
            best_state = copy.deepcopy(model.state_dict())
        progress.set_postfix(val_loss=f"{scores['validation_loss']:.3f}", best_step=best_step)
        if step < total_steps and patience_exhausted(len(rows), best_index, step, selection):
            stop_reason = PATIENCE
            break
    progress.close()
    model.load_state_dict(best_state)
    model.eval()
    history = pd.DataFrame(rows)
    history["kept"] = np.asarray(history["step"] == best_step)
    return TrainingResult(model.cpu(), history[HISTORY_COLUMNS], best_step, step, images_seen,
                          total_steps, stop_reason)
