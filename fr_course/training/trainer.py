"""The training loop: ``Trainer(config).fit()`` -> results dict (also ``<out_dir>/results.json``).

One step, in the order it happens::

    images, labels = next batch                    # uint8 (N, 3, H, W), seeded shard order
    images = random_hflip(images, flip_generator)  # the recipes' only augmentation
    x = normalize(images)                          # (x − 127.5) / 127.5
    with autocast(bf16 if amp):                    # backbone in bf16, loss head in float32
        loss = head(backbone(x), labels)           # backbone + head = one DDP module
    loss.backward()
    clip_grad_norm_(backbone, grad_clip)           # as insightface: the backbone only
    stop if the loss or the gradient norm is not finite (NonFiniteLossError)
    optimizer.step(); scheduler.step()             # SGD, per-step lr schedule

The loss head's parameters (the class prototypes ``weight``, NormFace's learnable ``s``, the
softmax bias) are trained by the same SGD as the backbone; weight decay applies to the prototypes
(a matrix) but not to scalars and biases (:mod:`fr_course.training.optim`).

After each epoch: evaluation on every pair set (rank 0; every ``eval_every`` epochs and always
after the last), a checkpoint (atomic), a line in ``metrics.jsonl``. At the end: ``results.json``.
Re-creating a ``Trainer`` with ``resume=True`` continues from the checkpoint bit for bit (on the
same machine and thread count): weights, optimiser, schedule, loss-head buffers, RNG states and
the data order are all restored or re-derived (:mod:`fr_course.training.sampling`).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .. import losses, models
from ..data import device_decode
from ..data.transforms import normalize, random_hflip
from . import checkpoint, distributed, rng
from .checkpoint import CheckpointError, checkpoint_path
from .config import RESUME_MUTABLE, ConfigError, TrainConfig, resume_differences
from .metrics import METRICS_NAME, MetricsLog
from .optim import build_optimizer, build_scheduler
from .report import (PROTOCOL_DETAIL, RESULTS_NAME, environment, format_accuracy, protocol_name,
                     verification_entry)
from .sampling import make_loader, make_sampler, seed_worker, start_epoch
from .sources import TrainingData, load_training_data


class NonFiniteLossError(RuntimeError):
    """The loss (or the gradient norm) became NaN/inf; training stopped before the update."""

    def __init__(self, message: str, epoch: int, step: int, value: float):
        super().__init__(message)
        self.epoch, self.step, self.value = epoch, step, value


class LossModel(nn.Module):
    """Backbone and loss head as one module ``(images, labels) -> loss``, so one DDP wrapper
    averages the gradients of both and keeps the class prototypes identical on every rank."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images), labels)


def build_backbone(config: TrainConfig) -> nn.Module:
    """The backbone a config names (ConfigError for a wrong name or option)."""
    try:
        return models.build(config.model, embedding_dim=config.embedding_dim,
                            input_size=config.input_size, width=config.width, dropout=config.dropout)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"model: {exc}") from None


def build_head(config: TrainConfig, class_counts) -> nn.Module:
    """The loss head a config names, for ``len(class_counts)`` classes; HSM (also as Hard-Mining's
    base) gets ``class_counts``, the training set's images per class."""
    hparams = dict(config.loss_kwargs)
    if "class_counts" in hparams or "class_counts" in dict(hparams.get("base_kwargs") or {}):
        raise ConfigError("loss class_counts come from the training set: do not set them")
    if config.loss == "hsm":
        hparams["class_counts"] = class_counts
    elif config.loss == "hard_mining" and hparams.get("base") == "hsm":
        hparams["base_kwargs"] = {**dict(hparams.get("base_kwargs") or {}), "class_counts": class_counts}
    try:
        return losses.build(config.loss, embedding_dim=config.embedding_dim,
                            num_classes=len(class_counts), **hparams)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"loss {config.loss!r}: {exc}") from None


def loss_settings(config: TrainConfig) -> str:
    """``"arcface(s=64.0, m=0.5, easy_margin=False, grad='exact')"``: the loss and all its
    hyper-parameters (defaults filled in), for messages."""
    if config.loss not in losses.LOSSES:
        return config.loss
    values = {name: default for name, default in losses.hyperparameters(losses.LOSSES[config.loss]).items()
              if name != "class_counts"}
    values.update({k: v for k, v in config.loss_kwargs.items() if k != "class_counts"})
    shown = ", ".join(f"{k}={dict(v) if hasattr(v, 'keys') else v!r}" for k, v in values.items())
    return f"{config.loss}({shown})"


def resolve_device(name: str, info: distributed.DistInfo) -> torch.device:
    """``auto`` -> the local GPU if there is one, else the CPU; under DDP, GPU = LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name!r} but no CUDA GPU is available (use device=cpu)")
        if device.index is None:
            device = torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
    return device


@contextlib.contextmanager
def determinism(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic algorithms during ``fit`` when asked; the global flags are restored after."""
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        if enabled:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]


class Trainer:
    """Trains ``config.model`` with ``config.loss`` on ``config.data``; see the module docstring.

    ``resume=True`` continues from ``<out_dir>/checkpoint.pt`` (ConfigError if there is none or
    if a result-changing field of the config differs; ``epochs`` and the fields in
    :data:`~fr_course.training.config.RESUME_MUTABLE` may change). Without it, an existing
    checkpoint in ``out_dir`` is an error unless ``overwrite=True``.

    Attributes: ``backbone``, ``head``, ``optimizer``, ``scheduler``, ``data``
    (:class:`~fr_course.training.sources.TrainingData`), ``epoch`` (completed epochs),
    ``global_step``, ``history`` (the metrics records), ``out_dir``.
    """

    def __init__(self, config: TrainConfig, *, resume: bool = False, overwrite: bool = False,
                 data: TrainingData | None = None):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.dist = distributed.setup(config.device)
        self.device = resolve_device(config.device, self.dist)
        if config.batch_size % self.dist.world_size:
            raise ConfigError(f"batch_size={config.batch_size} is not divisible by the "
                              f"{self.dist.world_size} processes")
        ckpt = checkpoint_path(self.out_dir)
        if resume and not ckpt.is_file():
            raise ConfigError(f"--resume: no checkpoint at {ckpt}")
        if not resume and ckpt.is_file() and not overwrite:
            raise ConfigError(f"{self.out_dir} already holds a checkpoint: pass --resume to continue that "
                              f"run, --overwrite to start again, or choose another --out")

        build_head(config, np.ones(2, dtype=np.int64))  # wrong hyper-parameters fail before the data loads
        self.data = data if data is not None else load_training_data(config)
        torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
        self.backbone = build_backbone(config).to(self.device)
        self.head = build_head(config, self.data.train.class_counts).to(self.device)
        if config.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer([self.backbone, self.head], config)

        self.sampler = make_sampler(self.data.train, config.seed, self.dist.rank, self.dist.world_size)
        self.decode = self._choose_decode()
        if self.decode["choice"] == "device":
            # the workers only read bytes; whole batches are decoded on the device (data.device_decode)
            self.loader = device_decode.encoded_loader(
                self.data.train, self.sampler, config.batch_size // self.dist.world_size, config.num_workers,
                worker_init_fn=seed_worker, generator=torch.Generator())
            self.decoder = device_decode.DeviceJpegDecoder(self.data.train, self.device, config.input_size)
        else:
            self.loader = make_loader(self.data.train, self.sampler, config.batch_size // self.dist.world_size,
                                      config.num_workers, pin_memory=self.device.type == "cuda")
            self.decoder = None
        self.steps_per_epoch = len(self.loader)
        if config.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, config.max_steps_per_epoch)
        if self.steps_per_epoch == 0:
            raise ConfigError(f"the training set has {len(self.data.train)} images: not one full batch of "
                              f"{config.batch_size} per step (lower batch_size)")
        self.scheduler = build_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.flip_generator = torch.Generator()

        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.timing = {"train_s": 0.0, "eval_s": 0.0}
        self.metrics = MetricsLog(self.out_dir / METRICS_NAME, enabled=self.dist.is_main)
        if resume:
            self._restore(ckpt)
        elif self.dist.is_main:  # a fresh run: nothing of an overwritten one may survive
            ckpt.unlink(missing_ok=True)
            (self.out_dir / RESULTS_NAME).unlink(missing_ok=True)
            self.metrics.rewrite([])

        network = LossModel(torch.compile(self.backbone) if config.compile else self.backbone, self.head)
        self.network = distributed.wrap(network, self.dist, self.device)

    # ------------------------------------------------------------------ public
    def fit(self, max_epochs: int | None = None) -> dict[str, Any]:
        """Train up to ``config.epochs`` epochs (or stop after ``max_epochs`` in total, leaving the
        schedule unchanged — to interrupt a run on purpose) and return the results dict."""
        last = self.config.epochs if max_epochs is None else min(max_epochs, self.config.epochs)
        with determinism(self.config.deterministic, self.device):
            for epoch in range(self.epoch, last):
                self._run_epoch(epoch)
        results = self.results()
        if self.dist.is_main:
            from .atomic import atomic_write_json

            atomic_write_json(self.out_dir / RESULTS_NAME, results)
        distributed.barrier(self.dist)
        return results

    def evaluate(self, interim: bool = False) -> dict[str, Any]:
        """:class:`~fr_course.evaluation.VerificationResult` of the backbone on every pair set.

        ``interim`` (an epoch before the last, with ``eval_interim_pairs`` set): on each set's
        per-fold subset only.
        """
        from ..evaluation import verify

        was_training = self.backbone.training
        per_fold = self.config.eval_interim_pairs if interim else None
        results = {name: verify(self.backbone, pairs if per_fold is None else pairs.fold_subset(per_fold),
                                batch_size=self.config.eval_batch_size, device=self.device,
                                flip=self.config.eval_flip)
                   for name, pairs in self.data.pair_sets.items()}
        self.backbone.train(was_training)
        return results

    def results(self) -> dict[str, Any]:
        """The run's results (what ``results.json`` holds)."""
        config = self.config
        epoch_records = [r for r in self.history if r.get("kind") == "epoch"]
        verification = {}
        for record in epoch_records:
            for name, entry in record.get("verification", {}).items():
                verification[name] = {**entry, "epoch": record["epoch"],
                                      "accuracy_pct": format_accuracy(entry["accuracy"], entry["accuracy_std"]),
                                      "protocol": protocol_name(config.eval_flip)}
        images = sum(r["timing"]["images"] for r in epoch_records)
        return {
            "format": "fr_course.results.v1",
            "complete": self.epoch >= config.epochs,
            "loss": config.loss,
            "loss_settings": loss_settings(config),
            "profile": config.profile,
            "config": config.to_dict(),
            "data": self.data.summary,
            "epochs_completed": self.epoch,
            "global_step": self.global_step,
            "final_loss": epoch_records[-1]["loss"] if epoch_records else None,
            "verification": verification,
            "protocol": PROTOCOL_DETAIL,
            "environment": environment(self.device, self.dist.world_size),
            "input": self.decode,
            "timings": {**self.timing,
                        "images_per_s": images / self.timing["train_s"] if self.timing["train_s"] else None},
            "files": {"results": str(self.out_dir / RESULTS_NAME),
                      "checkpoint": str(checkpoint_path(self.out_dir)),
                      "metrics": str(self.out_dir / METRICS_NAME)},
        }

    def _choose_decode(self) -> dict[str, Any]:
        """Where this run decodes its training JPEGs (``config.decode``), and why.

        ``auto`` probes both paths on CUDA (:func:`~fr_course.data.device_decode.probe_decoders`) and
        keeps the faster; the synthetic faces are already decoded, so they always take "workers".
        """
        mode, train = self.config.decode, self.data.train
        encoded = hasattr(train, "_encoded")
        if mode == "device" and not encoded:
            raise ConfigError(f"decode='device' needs JPEG training data (data=casia or folder), not "
                              f"data={self.config.data!r}")
        if mode == "workers" or not encoded:
            return {"decode": mode, "choice": "workers"}
        if mode == "device":
            return {"decode": mode, "choice": "device"}
        if self.device.type != "cuda":
            return {"decode": mode, "choice": "workers", "reason": "no CUDA device"}
        probe = device_decode.probe_decoders(train, self.device, self.config.input_size,
                                             self.config.batch_size // self.dist.world_size, self.config.num_workers)
        if self.config.verbose and self.dist.is_main:
            print(f"input pipeline: PIL in {self.config.num_workers} worker(s) {probe['workers_images_per_s']:.0f} "
                  f"img/s, decode_jpeg on {self.device} {probe['device_images_per_s']:.0f} img/s -> {probe['choice']}")
        return {"decode": mode, **probe}

    # ------------------------------------------------------------------ one epoch
    def _run_epoch(self, epoch: int) -> None:
        config = self.config
        start = time.perf_counter()
        loss_mean, lr, steps = self._train_epoch(epoch)
        train_s = time.perf_counter() - start
        self.timing["train_s"] += train_s
        images = steps * config.batch_size
        distributed.sync_buffers(self.network, self.dist)
        record: dict[str, Any] = {"kind": "epoch", "epoch": epoch + 1, "step": self.global_step,
                                  "loss": loss_mean, "lr": lr}
        timing = {"epoch_s": train_s, "images": images, "images_per_s": images / train_s}
        final = epoch + 1 == config.epochs
        if final or (config.eval_every and (epoch + 1) % config.eval_every == 0):
            start = time.perf_counter()
            if self.dist.is_main and self.data.pair_sets:
                record["verification"] = {name: verification_entry(result)
                                          for name, result in self.evaluate(interim=not final).items()}
            distributed.barrier(self.dist)
            timing["eval_s"] = time.perf_counter() - start
            self.timing["eval_s"] += timing["eval_s"]
        record["timing"] = timing
        self.history.append(record)
        self.epoch = epoch + 1
        if self.dist.is_main:
            checkpoint.save(checkpoint_path(self.out_dir), self._state())
            self.metrics.append(record)
            if config.verbose:
                self._print_epoch(record)
        distributed.barrier(self.dist)

    def _train_epoch(self, epoch: int) -> tuple[float, float, int]:
        """Run one epoch; return (mean loss, last lr, steps)."""
        config = self.config
        start_epoch(self.loader, self.flip_generator, config.seed, epoch, self.dist.rank)
        self.backbone.train()
        self.head.train()
        total, steps, lr = 0.0, 0, self.scheduler.get_last_lr()[0]
        window, window_start = [], time.perf_counter()
        bar = self._progress(epoch)
        try:
            for _, batch in zip(range(self.steps_per_epoch), self.loader):
                images, labels = batch if self.decoder is None else self.decoder(batch)
                lr = self.scheduler.get_last_lr()[0]
                value = self._train_step(images, labels, epoch, steps)
                total += value
                steps += 1
                window.append(value)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.3g}", refresh=False)
                if config.log_every and self.global_step % config.log_every == 0:
                    elapsed = time.perf_counter() - window_start
                    record = {"kind": "step", "epoch": epoch + 1, "step": self.global_step,
                              "loss": math.fsum(window) / len(window), "lr": lr,
                              "timing": {"images_per_s": len(window) * config.batch_size / elapsed}}
                    self.history.append(record)
                    self.metrics.append(record)
                    window, window_start = [], time.perf_counter()
        finally:
            if bar is not None:
                bar.close()
        return total / steps, lr, steps

    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, epoch: int, index: int) -> float:
        config = self.config
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        x = normalize(random_hflip(images, self.flip_generator))
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.amp == "bf16"):
            loss = self.network(x, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.zeros((), device=self.device)
        if config.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.backbone.parameters(), config.grad_clip)
        # One host sync per step: the loss for the log (mean over ranks) and the finite check.
        checks = torch.stack([distributed.mean_over_ranks(loss.detach().float(), self.dist), norm.float()])
        value, norm_value = checks.tolist()
        if not (math.isfinite(value) and math.isfinite(norm_value)):
            raise self._non_finite(epoch, index, value, norm_value)
        self.optimizer.step()
        self.scheduler.step()
        self.global_step += 1
        return value

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "model": self.backbone.state_dict(),
            "head": self.head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng.capture({"flip": self.flip_generator}),
            "sampler": {"seed": self.config.seed, "epoch": self.epoch, "position": 0},
            "history": self.history,
            "timing": dict(self.timing),
            "data": self.data.summary,
            "world_size": self.dist.world_size,
        }

    def _restore(self, path: Path) -> None:
        try:
            state = checkpoint.load(path)
        except CheckpointError as exc:
            raise ConfigError(str(exc)) from None
        diffs = resume_differences(state["config"], self.config)
        if diffs:
            raise ConfigError(f"cannot resume {path}: the config differs in {'; '.join(diffs)} "
                              f"(a resumed run may change only {', '.join(sorted(RESUME_MUTABLE))})")
        saved, now = state.get("data", {}), self.data.summary
        for key in ("num_classes", "num_images"):
            if saved.get(key) != now[key]:
                raise ConfigError(f"cannot resume {path}: the training set has {now[key]} {key[4:]} "
                                  f"but the checkpoint was trained on {saved.get(key)}")
        old_epochs = state["config"]["epochs"]
        if old_epochs != self.config.epochs and self.config.schedule != "multistep":
            warnings.warn(f"resuming with epochs={self.config.epochs} instead of {old_epochs}: the "
                          f"{self.config.schedule} schedule's horizon changes, so the remaining "
                          f"learning rates differ from the original plan", stacklevel=3)
        if state.get("world_size", 1) != self.dist.world_size:
            warnings.warn(f"resuming on {self.dist.world_size} process(es), the checkpoint was written by "
                          f"{state.get('world_size', 1)}: each rank's share of the data order changes, so "
                          f"the run will not be bit-identical to an uninterrupted one", stacklevel=3)
        self.backbone.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rng.restore(state["rng"], {"flip": self.flip_generator})
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state["history"])
        self.timing.update(state.get("timing", {}))
        self.metrics.rewrite(self.history)

    # ------------------------------------------------------------------ messages
    def _non_finite(self, epoch: int, index: int, value: float, norm: float) -> NonFiniteLossError:
        what = f"loss {value}" if not math.isfinite(value) else f"gradient norm {norm} (loss {value})"
        ckpt = checkpoint_path(self.out_dir)
        kept = (f"the last good checkpoint {ckpt} (epoch {self.epoch}) is unchanged"
                if ckpt.is_file() else "no checkpoint was written yet")
        message = (f"non-finite {what} at epoch {epoch + 1}, step {index + 1} of the epoch "
                   f"(global step {self.global_step + 1}) with {loss_settings(self.config)}, "
                   f"lr {self.scheduler.get_last_lr()[0]:.4g}; training stopped before the update and "
                   f"{kept}. Try a lower lr, a warm-up (warmup_epochs), grad_clip, or a smaller scale s.")
        return NonFiniteLossError(message, epoch=epoch + 1, step=self.global_step + 1, value=value)

    def _progress(self, epoch: int):
        if not (self.dist.is_main and self.config.progress):
            return None
        from tqdm import tqdm

        # TQDM_DISABLE=1 (and other TQDM_* variables) are honoured by tqdm itself.
        return tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.config.epochs}",
                    unit="step", leave=False, file=sys.stderr, dynamic_ncols=True)

    def _print_epoch(self, record: dict[str, Any]) -> None:
        parts = [f"epoch {record['epoch']}/{self.config.epochs}", f"loss {record['loss']:.4f}",
                 f"lr {record['lr']:.4g}", f"{record['timing']['images_per_s']:.0f} img/s"]
        for name, entry in record.get("verification", {}).items():
            parts.append(f"{name} {format_accuracy(entry['accuracy'], entry['accuracy_std'])} %")
        print("  ".join(parts), flush=True)
