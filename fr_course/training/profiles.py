"""Named training recipes: ``quick`` (CPU, synthetic faces), ``paper`` and ``modern`` (CASIA-WebFace),
and ``smoke`` (seconds: checks that an installation trains, evaluates and resumes).

``get_profile(name, **overrides)`` returns a validated :class:`~fr_course.training.config.TrainConfig`.
All three use SGD with momentum 0.9 and weight decay 5e-4 on conv/linear weights (the loss head's
class prototypes included, as in insightface's ``arcface_torch``, whose optimiser holds the
backbone and the ``PartialFC`` weight in one SGD); BatchNorm parameters and biases get no decay.

``quick`` — the course's default, a few minutes per run on 2 CPU cores
    Synthetic faces ("small" preset), a ResNet-18 of the real topology but 16 base channels, 32×32
    inputs, 128-d embeddings; fp32 on the CPU with deterministic algorithms and no DataLoader
    workers, so every number in the book is reproducible bit for bit on the same machine. Its
    calibrated numbers (epochs, batch, learning rate, schedule) live in :data:`QUICK`, and any
    per-loss hyper-parameters it uses instead of the papers' in :data:`QUICK_LOSS_KWARGS`, and
    nowhere else.

``paper`` — the Hard-Mining paper's recipe (Srivastava, Murali, Dubey, CVIP 2020, §4)
    CASIA-WebFace at 112×112, ResNet-18, SGD momentum 0.9, batch 64, lr 0.01 multiplied by 0.1 at
    epochs 8, 12 and 16, 20 epochs, fp32. The paper mentions no gradient clipping, so none is
    applied (``--set grad_clip=5`` if a margin loss diverges from scratch). Two known deviations:
    the paper normalises with ``(x − 127.5)/128`` where we use ``/127.5`` (a 0.4 % rescaling of the
    input), and its MTCNN alignment is replaced by insightface's aligned ``faces_webface_112x112``.

``modern`` — what one would run today on one GPU, following insightface ``arcface_torch``
    * batch 512 and lr 0.1: insightface's CASIA setting (lr 0.1 at a total batch of 512); with a
      different ``batch_size`` the lr is scaled linearly (Goyal et al. 2017) unless given;
    * 2 warm-up epochs (10 % of the run, ≈1,900 steps on CASIA) then polynomial decay with power 2
      (``arcface_torch``'s ``PolyScheduler``): margin losses trained from scratch on CASIA are the
      case users report stalling or going NaN, and warm-up is the standard cure;
    * backbone gradient clipping at norm 5 (``clip_grad_norm_(backbone.parameters(), 5)`` in
      ``arcface_torch``'s training loop);
    * bf16 autocast (no loss scaler needed, unlike fp16; the loss heads compute in float32) and
      channels_last memory format for tensor-core convolutions; ``torch.compile`` is left to
      ``--set compile=true`` because its first-step compilation costs minutes;
    * 20 epochs, like ``paper``, so the two recipes are compared at equal data passes.
"""

from __future__ import annotations

from typing import Any, Callable

from .config import ConfigError, TrainConfig, field_names, valid_keys_hint

#: The quick profile's calibrated knobs, in one place (the course's tables were produced with them).
QUICK: dict[str, Any] = dict(
    epochs=4,
    batch_size=64,
    lr=0.1,
    warmup_epochs=1.0,
    schedule="cosine",
)

#: Per-loss hyper-parameters the quick profile uses instead of the paper defaults; an explicit
#: ``loss_kwargs`` entry wins over them. The normalised cross-entropy heads train with s = 32
#: instead of 64: with 128-d embeddings, 300 classes and a network this narrow, s = 64 makes the
#: first epochs' loss ~45 (every logit gap is multiplied by 64), the clipped gradients spend the
#: warm-up on a few confidently wrong samples, and ArcFace on 20 % noisy labels ended in a
#: collapse (every test pair closer than the protocol's first threshold, accuracy 50 %) on one CPU
#: and at 77 % on another. s = 32 is still far above NormFace's bound for C = 300 and P = 0.9
#: (s ≥ 7.9), and the runs train smoothly on every seed and instruction set measured
#: (``benchmarks/results/spread-cpu.md``). SV-Softmax already defaults to s = 32; SFace (no
#: softmax) and the unnormalised softmax / SphereFace heads keep their defaults.
QUICK_LOSS_KWARGS: dict[str, dict[str, Any]] = {
    name: {"s": 32.0} for name in ("normface", "cosface", "arcface", "combined", "eqm", "hsm")
}


def quick_loss_kwargs(loss: str, loss_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The quick profile's hyper-parameters of ``loss`` with ``loss_kwargs`` merged over them.

    The Hard-Mining wrapper passes the quick profile's settings of its base loss on as
    ``base_kwargs`` (unless those are given), so HM-ArcFace trains the same ArcFace as ArcFace.
    """
    merged = {**QUICK_LOSS_KWARGS.get(loss, {}), **(loss_kwargs or {})}
    if loss == "hard_mining":
        base = merged.get("base", "softmax")
        merged["base_kwargs"] = {**QUICK_LOSS_KWARGS.get(base, {}), **merged.get("base_kwargs", {})}
        if not merged["base_kwargs"]:
            del merged["base_kwargs"]
    return merged


def quick(**overrides: Any) -> TrainConfig:
    """CPU, synthetic faces, deterministic: the profile every notebook runs by default."""
    loss = overrides.get("loss", TrainConfig.loss)
    values = dict(
        loss_kwargs=quick_loss_kwargs(loss),
        profile="quick",
        data="synthetic", synthetic_preset="small",
        model="resnet18", width=16, input_size=32, embedding_dim=128,
        momentum=0.9, weight_decay=5e-4, grad_clip=5.0,
        amp="off", channels_last=False, compile=False,
        device="cpu", deterministic=True, num_workers=0,
        # the learning curve's epochs on 10 x (50 + 50) of the 6,000 test pairs; the last on all
        eval_interim_pairs=50,
        out_dir="runs/quick",
    )
    values.update(QUICK)
    values.update(overrides)
    return TrainConfig(**values)


def paper(**overrides: Any) -> TrainConfig:
    """The Hard-Mining paper's CASIA-WebFace recipe (see the module docstring)."""
    values = dict(
        profile="paper",
        data="casia", data_root="data/faces_webface_112x112",
        model="resnet18", width=64, input_size=112, embedding_dim=512,
        epochs=20, batch_size=64, lr=0.01, momentum=0.9, weight_decay=5e-4,
        schedule="multistep", milestones=(8, 12, 16), gamma=0.1, warmup_epochs=0.0,
        grad_clip=None, amp="off", channels_last=False,
        device="auto", num_workers=8, out_dir="runs/paper",
    )
    values.update(overrides)
    return TrainConfig(**values)


#: ``modern``'s learning rate at its reference batch size (insightface's CASIA setting).
MODERN_LR, MODERN_BATCH = 0.1, 512


def modern(**overrides: Any) -> TrainConfig:
    """Large batch, warm-up + polynomial decay, bf16, channels_last (see the module docstring)."""
    batch = overrides.get("batch_size", MODERN_BATCH)
    values = dict(
        profile="modern",
        data="casia", data_root="data/faces_webface_112x112",
        model="resnet18", width=64, input_size=112, embedding_dim=512,
        epochs=20, batch_size=MODERN_BATCH, lr=MODERN_LR * batch / MODERN_BATCH,
        momentum=0.9, weight_decay=5e-4,
        schedule="poly", poly_power=2.0, warmup_epochs=2.0, grad_clip=5.0,
        amp="bf16", channels_last=True, compile=False,
        device="auto", num_workers=8, out_dir="runs/modern",
    )
    values.update(overrides)
    return TrainConfig(**values)


def smoke(**overrides: Any) -> TrainConfig:
    """A few seconds on a CPU: the "tiny" synthetic preset, a width-8 ResNet-18, 2 short epochs.

    Not a benchmark — it exercises every stage (data, training, evaluation, checkpoint, resume,
    results) for tests and for checking an installation.
    """
    values = dict(
        profile="smoke",
        data="synthetic", synthetic_preset="tiny",
        model="resnet18", width=8, input_size=32, embedding_dim=32,
        epochs=2, batch_size=32, max_steps_per_epoch=4, lr=0.05, momentum=0.9, weight_decay=5e-4,
        schedule="cosine", warmup_epochs=0.5, grad_clip=5.0,
        amp="off", device="cpu", deterministic=True, num_workers=0,
        out_dir="runs/smoke",
    )
    values.update(overrides)
    return TrainConfig(**values)


PROFILES: dict[str, Callable[..., TrainConfig]] = {"quick": quick, "paper": paper, "modern": modern,
                                                   "smoke": smoke}


def get_profile(name: str, **overrides: Any) -> TrainConfig:
    """The profile ``name`` with ``overrides`` (TrainConfig field values) applied and validated."""
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    unknown = sorted(set(overrides) - set(field_names()))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; {valid_keys_hint()}")
    return PROFILES[name](**overrides)
