"""Training of the AD-vs-CN CNN (thesis sec. 1.5.5): Adam, cross-entropy, keep the best epoch.

After every epoch the network is evaluated on the (always real) validation set; the kept weights
are those of the epoch with the highest validation balanced accuracy (ties: lower validation
loss, then the earlier epoch). One seed fixes the initial weights, the batch order, dropout and
the augmentation, so the same call gives the same bytes on CPU (the history holds no timings
for that reason).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from medaug.classify.augment import ClassicAugmentation
from medaug.classify.data import VolumeSet, require_both_labels
from medaug.classify.metrics import balanced_accuracy_score
from medaug.classify.networks import Conv5FC3, Conv5FC3Config


@dataclass(frozen=True)
class ClassifierTrainingConfig:
    epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"          # "auto": CUDA when present, else CPU
    eval_batch_size: int = 32
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"epochs and batch sizes must be >= 1: {self}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], **overrides: Any) -> "ClassifierTrainingConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{**values, **overrides})


@dataclass
class TrainingResult:
    """The network with the kept weights (in eval mode), one history row per epoch, the kept epoch."""

    model: Conv5FC3
    history: pd.DataFrame
    best_epoch: int

    @property
    def best(self) -> dict[str, float]:
        return self.history.loc[self.history["epoch"] == self.best_epoch].iloc[0].to_dict()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """Index batches over ``range(n)`` (shuffled with ``generator``); a trailing batch of one image
    joins the previous batch, since batch norm cannot train on a single 1x1x1 feature map."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """(N, 1, D, H, W) -> logits (N, 2) on CPU, model in eval mode."""
    model.eval()
    outputs = [model(images[idx].to(device)).float().cpu() for idx in _batches(len(images), batch_size, None)]
    return torch.cat(outputs) if outputs else torch.zeros((0, 2))


def _validation_scores(model: nn.Module, validation: VolumeSet, config: ClassifierTrainingConfig,
                       device: torch.device) -> tuple[float, float]:
    logits = predict_logits(model, validation.images, config.eval_batch_size, device)
    loss = float(nn.functional.cross_entropy(logits, validation.labels))
    ba = balanced_accuracy_score(validation.labels.numpy(), logits.argmax(1).numpy())
    return loss, ba


def train_classifier(network: Conv5FC3Config, train: VolumeSet, validation: VolumeSet,
                     config: ClassifierTrainingConfig,
                     augmentation: ClassicAugmentation | None = None) -> TrainingResult:
    """Build ``network`` (seeded), train it on ``train``, keep the best epoch on ``validation``.

    Args:
        network: the architecture; its ``in_shape`` must match the images.
        train: training images (N, 1, D, H, W), both labels present.
        validation: real validation images, both labels present.
        augmentation: applied to every training image of every batch when given.
    """
    require_both_labels(train, "training set")
    require_both_labels(validation, "validation set")
    for name, volumes in (("training", train), ("validation", validation)):
        if volumes.spatial_shape != network.in_shape:
            raise ValueError(f"{name} images are {volumes.spatial_shape}, the network expects {network.in_shape}")

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = Conv5FC3(network).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()

    rows: list[dict[str, float]] = []
    best_key: tuple[float, float] | None = None
    best_state: dict[str, torch.Tensor] = {}
    epochs = tqdm(range(1, config.epochs + 1), desc="classifier", unit="epoch", disable=not config.progress)
    for epoch in epochs:
        model.train()
        total, predictions, targets = 0.0, [], []
        for idx in _batches(len(train), config.batch_size, generator):
            images = train.images[idx]
            if augmentation is not None:
                images = augmentation.batch(images)
            labels = train.labels[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = model(images.to(device))
            loss = loss_fn(logits, labels.to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            predictions.append(logits.detach().argmax(1).cpu())
            targets.append(labels)
        val_loss, val_ba = _validation_scores(model, validation, config, device)
        rows.append({
            "epoch": epoch,
            "train_loss": total / len(train),
            "train_balanced_accuracy": balanced_accuracy_score(torch.cat(targets).numpy(), torch.cat(predictions).numpy()),
            "validation_loss": val_loss,
            "validation_balanced_accuracy": val_ba,
        })
        key = (val_ba, -val_loss)
        if best_key is None or key > best_key:
            best_key, best_epoch = key, epoch
            best_state = copy.deepcopy(model.state_dict())
        epochs.set_postfix(val_ba=f"{val_ba:.3f}", best=best_epoch)

    model.load_state_dict(best_state)
    model.eval()
    history = pd.DataFrame(rows)
    history["kept"] = np.asarray(history["epoch"] == best_epoch)
    return TrainingResult(model.cpu(), history, best_epoch)
