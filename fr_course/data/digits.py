"""scikit-learn's digits as a toy for 2-D / 3-D feature pictures.

``sklearn.datasets.load_digits`` ships inside scikit-learn (no download): 1,797 grey 8x8 images
of the digits 0-9 with intensities 0..16. The course trains a tiny network whose last layer is
2- or 3-dimensional on them, so that the features of each loss can be drawn on the circle or
the sphere — the pictures of the SphereFace, CosFace and ArcFace papers, made in seconds on a CPU.

* :func:`load_digits_dataset` — a stratified, seeded train/test split, floats in [0, 1].
* :class:`DigitsNet` — an MLP 64 -> 128 -> 64 -> ``feature_dim`` (PReLU), the feature extractor.
* :func:`train_digits` — a seeded training loop: any loss head with the ``head(embeddings,
  labels) -> scalar`` interface of :mod:`fr_course.losses`, or a loss name.
* :func:`plot_features_2d` / :func:`plot_features_3d` — features coloured by class, with the
  class prototype directions (rows of the head's ``weight``) when given.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 10
INPUT_DIM = 64


def load_digits_dataset(split: str = "train", seed: int = 0, test_fraction: float = 0.25,
                        flat: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)``: float32 (N, 64) — or (N, 1, 8, 8) if ``flat=False`` — in [0, 1], int64 (N,).

    The split is stratified by class and a pure function of ``seed`` and ``test_fraction``; the
    two splits are disjoint and together hold all 1,797 images.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(indices, test_size=test_fraction, random_state=seed,
                                           stratify=digits.target)
    chosen = np.sort(train_idx if split == "train" else test_idx)
    images = torch.from_numpy((digits.data[chosen] / 16.0).astype(np.float32))
    labels = torch.from_numpy(digits.target[chosen].astype(np.int64))
    return (images, labels) if flat else (images.reshape(-1, 1, 8, 8), labels)


class DigitsNet(nn.Module):
    """MLP feature extractor 64 -> hidden -> hidden/2 -> ``feature_dim`` (no activation at the end).

    A low ``feature_dim`` (2 or 3) is the point: the features can be drawn as they are.
    Accepts (N, 64) or (N, 1, 8, 8) input.
    """

    def __init__(self, feature_dim: int = 2, hidden: int = 128):
        super().__init__()
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, int) or feature_dim < 1:
            raise ValueError(f"feature_dim must be a positive integer, got {feature_dim!r}")
        self.feature_dim = feature_dim
        self.layers = nn.Sequential(
            nn.Linear(INPUT_DIM, hidden), nn.PReLU(hidden),
            nn.Linear(hidden, hidden // 2), nn.PReLU(hidden // 2),
            nn.Linear(hidden // 2, feature_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images.reshape(images.shape[0], -1))


def predict(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Class decisions of a head: ``argmax (W x + b)`` if it has a bias (plain softmax), else
    the nearest prototype by cosine (every normalised loss decides that way at test time)."""
    weight = head.weight
    bias = getattr(head, "bias", None)
    if isinstance(bias, torch.Tensor):
        return F.linear(features, weight, bias).argmax(dim=1)
    return (F.normalize(features, dim=1) @ F.normalize(weight, dim=1).T).argmax(dim=1)


def train_digits(loss_head: nn.Module | str, feature_dim: int = 2, epochs: int = 20, seed: int = 0,
                 *, batch_size: int = 64, lr: float = 5e-3, weight_decay: float = 5e-4,
                 loss_kwargs: Mapping[str, Any] | None = None, return_split: str = "train",
                 net: nn.Module | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]]:
    """Train :class:`DigitsNet` + ``loss_head`` on the digits; returns ``(features, labels, history)``.

    ``loss_head``: a module called as ``head(embeddings, labels) -> scalar`` whose ``weight``
    (10, feature_dim) holds the class prototypes, or a name for
    ``fr_course.losses.build(name, embedding_dim=feature_dim, num_classes=10, **loss_kwargs)``
    (then built under the seed, so the whole run is reproducible). Adam on the network and the
    head's parameters, shuffling from a generator seeded by ``seed``; the global RNG is restored
    afterwards; runs on one CPU thread. ``features``: float32 (N, feature_dim) of the
    ``return_split`` split, after training, in eval mode. ``history``: per-epoch ``loss`` (mean over batches), ``train_accuracy`` and
    ``test_accuracy`` (fractions, decisions by :func:`predict`).
    """
    if return_split not in ("train", "test"):
        raise ValueError(f"return_split must be 'train' or 'test', got {return_split!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    train_x, train_y = load_digits_dataset("train", seed=seed)
    test_x, test_y = load_digits_dataset("test", seed=seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: threads only add overhead (and thread-count drift)
    try:
        return _train(loss_head, feature_dim, epochs, seed, batch_size, lr, weight_decay, loss_kwargs,
                      return_split, net, (train_x, train_y, test_x, test_y))
    finally:
        torch.set_num_threads(threads)


def _train(loss_head, feature_dim, epochs, seed, batch_size, lr, weight_decay, loss_kwargs, return_split,
           net, data):
    train_x, train_y, test_x, test_y = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsNet(feature_dim) if net is None else net
        if isinstance(loss_head, str):
            from .. import losses

            head = losses.build(loss_head, embedding_dim=feature_dim, num_classes=NUM_CLASSES,
                                **dict(loss_kwargs or {}))
        else:
            if loss_kwargs:
                raise ValueError("loss_kwargs is only used when loss_head is a loss name")
            head = loss_head
        weight = getattr(head, "weight", None)
        if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (NUM_CLASSES, feature_dim):
            raise ValueError(f"loss_head.weight must be a ({NUM_CLASSES}, {feature_dim}) tensor of class "
                             f"prototypes, got {None if weight is None else tuple(weight.shape)}")
        parameters = list(model.parameters()) + [p for p in head.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
        order = torch.Generator().manual_seed(seed)
        history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
        for _ in range(epochs):
            model.train()
            head.train()
            losses_seen = []
            for batch in torch.randperm(len(train_y), generator=order).split(batch_size):
                loss = head(model(train_x[batch]), train_y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses_seen.append(float(loss.detach()))
            history["loss"].append(float(np.mean(losses_seen)))
            model.eval()
            head.eval()
            with torch.no_grad():
                for name, x, y in (("train_accuracy", train_x, train_y), ("test_accuracy", test_x, test_y)):
                    history[name].append(float((predict(head, model(x)) == y).float().mean()))
        with torch.no_grad():
            x, y = (train_x, train_y) if return_split == "train" else (test_x, test_y)
            features = model(x).numpy().astype(np.float32)
    return features, y.numpy(), history


def _prototypes(weight) -> np.ndarray | None:
    if weight is None:
        return None
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().cpu().float().numpy()
    return np.asarray(weight, dtype=np.float64)


def plot_features_2d(features, labels, weight=None, ax=None, normalize: bool = False,
                     title: str | None = None, s: float = 6.0):
    """Scatter 2-D features coloured by class; rays along the prototypes ``weight`` (C, 2).

    ``normalize=True`` projects the features onto the unit circle (and draws it), the picture
    of the normalised losses. Returns the matplotlib axis.
    """
    import matplotlib.pyplot as plt

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or features.shape[1] != 2:
        raise ValueError(f"features must have shape (N, 2), got {features.shape}")
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} features but {len(labels)} labels")
    if normalize:
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    colours = plt.get_cmap("tab10")
    for c in np.unique(labels):
        points = features[labels == c]
        ax.scatter(points[:, 0], points[:, 1], s=s, color=colours(int(c) % 10), label=str(c), alpha=0.7,
                   linewidths=0)
    reach = 1.0 if normalize else float(np.percentile(np.linalg.norm(features, axis=1), 95))
    if normalize:
        angle = np.linspace(0.0, 2.0 * np.pi, 361)
        ax.plot(np.cos(angle), np.sin(angle), color="0.6", lw=0.8)
    prototypes = _prototypes(weight)
    if prototypes is not None:
        if prototypes.ndim != 2 or prototypes.shape[1] != 2:
            raise ValueError(f"weight must have shape (C, 2), got {prototypes.shape}")
        directions = prototypes / np.maximum(np.linalg.norm(prototypes, axis=1, keepdims=True), 1e-12)
        for c, (dx, dy) in enumerate(directions):
            ax.plot([0.0, 1.15 * reach * dx], [0.0, 1.15 * reach * dy], color=colours(c % 10), lw=1.2)
    ax.set_aspect("equal")
    ax.legend(fontsize=6, markerscale=2, loc="upper right", ncol=2, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_features_3d(features, labels, weight=None, ax=None, title: str | None = None, s: float = 4.0):
    """3-D features projected on the unit sphere, coloured by class; prototype directions as rays."""
    import matplotlib.pyplot as plt

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or features.shape[1] != 3:
        raise ValueError(f"features must have shape (N, 3), got {features.shape}")
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} features but {len(labels)} labels")
    points = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if ax is None:
        ax = plt.figure(figsize=(4, 4)).add_subplot(projection="3d")
    colours = plt.get_cmap("tab10")
    for c in np.unique(labels):
        p = points[labels == c]
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], s=s, color=colours(int(c) % 10), depthshade=False)
    prototypes = _prototypes(weight)
    if prototypes is not None:
        if prototypes.ndim != 2 or prototypes.shape[1] != 3:
            raise ValueError(f"weight must have shape (C, 3), got {prototypes.shape}")
        directions = prototypes / np.maximum(np.linalg.norm(prototypes, axis=1, keepdims=True), 1e-12)
        for c, d in enumerate(directions):
            ax.plot([0, 1.2 * d[0]], [0, 1.2 * d[1]], [0, 1.2 * d[2]], color=colours(c % 10), lw=1.2)
    ax.set_box_aspect((1, 1, 1))
    if title:
        ax.set_title(title, fontsize=9)
    return ax
