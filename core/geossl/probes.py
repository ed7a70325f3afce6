"""Evaluating a self-supervised image backbone: linear probe and kNN probe on labelled sites."""

from __future__ import annotations

import copy

import torch
from torch import nn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from core.data.splits import label_subset
from core.image.augment import horizontal_flip, random_resized_crop
from core.objectives import LossOutput, cross_entropy_loss
from core.train.config import RunConfig
from core.train.device import module_device
from core.train.loop import fit
from core.train.tasks import shuffled_batches


def probe_metrics(task, label_ratio: float, split: str = "test") -> dict[str, float]:
    """Linear probe (logistic regression on frozen, standardised features) top-1 and macro-F1, and
    kNN top-1, trained on the ``label_ratio`` budget of labelled training sites, scored on ``split``."""
    sites = task.sites
    train = torch.from_numpy(label_subset(sites.label_ranks, label_ratio).nonzero()[0])
    evaluated = sites.labelled_sites(split)
    scaler = StandardScaler().fit(task.features(train).numpy())
    train_x = scaler.transform(task.features(train).numpy())
    test_x = scaler.transform(task.features(evaluated).numpy())
    train_y, test_y = sites.labels[train].numpy(), sites.labels[evaluated].numpy()
    probe = LogisticRegression(max_iter=2000, C=0.5).fit(train_x, train_y)
    predicted = probe.predict(test_x)
    return {
        "linear_top1": float((predicted == test_y).mean()),
        "linear_f1": float(f1_score(test_y, predicted, average="macro")),
        "knn_top1": task.knn_accuracy(train, evaluated),
    }


class FinetuneProbeTask:
    """Fine-tuning probe: the (copied) backbone plus a linear head trained end to end on the label
    budget's first acquisitions, with light crop/flip augmentation; validated on top-1."""

    monitor = "val_top1"
    monitor_mode = "max"

    def __init__(self, moco_task, config: RunConfig, label_ratio: float) -> None:
        sites = moco_task.sites
        self.moco_task = moco_task
        self.config = config
        backbone = copy.deepcopy(moco_task.model.backbone).requires_grad_(True)
        feature_dim = moco_task.model.head[0].in_features
        self.model = nn.Sequential(backbone, nn.Linear(feature_dim, len(sites.class_names)))
        self.train_sites = torch.from_numpy(label_subset(sites.label_ranks, label_ratio).nonzero()[0])
        self.val_sites = sites.labelled_sites("val")

    def _inputs(self, sites: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        pixels = self.moco_task.pixels(self.moco_task.sites.first_images(sites))
        if generator is not None:
            pixels = horizontal_flip(random_resized_crop(pixels, (0.6, 1.0), (3 / 4, 4 / 3), generator), 0.5, generator)
        return self.moco_task.normalise(pixels)

    def train_batches(self, epoch: int, generator: torch.Generator, rank: int, world_size: int):
        return shuffled_batches(self.train_sites, self.config.batch_size, generator, rank, world_size)

    def training_loss(self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator) -> LossOutput:
        device = module_device(model)
        return cross_entropy_loss(model(self._inputs(batch, generator).to(device)), self.moco_task.sites.labels[batch].to(device))

    def predict(self, sites: torch.Tensor) -> torch.Tensor:
        """Predicted classes of ``sites``, on the CPU."""
        device = module_device(self.model)
        return torch.cat(
            [self.model(self._inputs(sites[i : i + 1024]).to(device)).argmax(1).cpu() for i in range(0, len(sites), 1024)]
        )

    def validate(self) -> dict[str, float]:
        labels = self.moco_task.sites.labels[self.val_sites]
        return {"val_top1": float((self.predict(self.val_sites) == labels).float().mean())}


def finetune_probe(moco_task, label_ratio: float, epochs: int = 5, seed: int = 0, split: str = "test") -> dict[str, float]:
    """Fine-tune a copy of the backbone through the shared trainer; top-1 and macro-F1 on ``split``."""
    config = RunConfig.from_dict({"stage": "image_classifier", "seed": seed, "epochs": epochs, "batch_size": 128, "patience": epochs})
    torch.manual_seed(seed)
    task = FinetuneProbeTask(moco_task, config, label_ratio)
    result = fit(task, config, None)
    task.model.load_state_dict(result.best_state)
    task.model.eval()
    evaluated = moco_task.sites.labelled_sites(split)
    with torch.no_grad():
        predicted = task.predict(evaluated).numpy()
    truth = moco_task.sites.labels[evaluated].numpy()
    return {"finetune_top1": float((predicted == truth).mean()), "finetune_f1": float(f1_score(truth, predicted, average="macro"))}
