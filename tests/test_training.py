"""fr_course.training: config overrides, profiles, optimiser groups, schedules, sampling, atomic
writes, RNG state, the trainer's outputs and its non-finite-loss stop."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

from fr_course.training import (ConfigError, NonFiniteLossError, TrainConfig, Trainer, build_backbone,
                                build_head, get_profile, load_checkpoint, parse_overrides, read_metrics)
from fr_course.training import atomic, checkpoint, rng
from fr_course.training.optim import build_optimizer, build_scheduler, lr_factor
from fr_course.training.sampling import make_sampler


# ---------------------------------------------------------------------- config and overrides

def test_overrides_are_coerced_to_the_field_types():
    got = parse_overrides(["epochs=3", "lr=0.05", "grad_clip=none", "milestones=2,4",
                           "channels_last=yes", "loss.s=30", "loss.easy_margin=true",
                           "synthetic.difficulty=0.5", "data_root=/x"], loss="arcface")
    assert got == {"epochs": 3, "lr": 0.05, "grad_clip": None, "milestones": (2, 4),
                   "channels_last": True, "loss_kwargs": {"s": 30.0, "easy_margin": True},
                   "synthetic_overrides": {"difficulty": 0.5}, "data_root": "/x"}
    assert type(got["epochs"]) is int and type(got["loss_kwargs"]["s"]) is float  # typed like the default
    nested = parse_overrides(["loss=hard_mining", "loss.base=arcface", "loss.base_kwargs.m=0.3"])
    assert nested == {"loss": "hard_mining", "loss_kwargs": {"base": "arcface", "base_kwargs": {"m": 0.3}}}


@pytest.mark.parametrize("item, words", [
    ("epoch=3", ["unknown config key 'epoch'", "epochs", "loss.<hyper-parameter>"]),
    ("loss_kwargs.s=3", ["only loss.<name> and synthetic.<name>"]),
    ("epochs=three", ["epochs", "'three'", "integer"]),
    ("channels_last=maybe", ["channels_last", "boolean"]),
    ("loss.q=1", ["'arcface' has no hyper-parameter 'q'", "easy_margin"]),
    ("lr", ["expected key=value"]),
])
def test_bad_overrides_give_one_line_naming_the_key(item, words):
    with pytest.raises(ConfigError) as info:
        parse_overrides([item], loss="arcface")
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("change, word", [
    ({"amp": "fp16"}, "amp"), ({"schedule": "step"}, "schedule"), ({"batch_size": 1}, "batch_size"),
    ({"milestones": (12, 8)}, "milestones"), ({"lr": -0.1}, "lr"), ({"grad_clip": 0.0}, "grad_clip"),
    ({"data": "casia", "data_root": None}, "data_root"), ({"epochs": 2.5}, "epochs"),
])
def test_invalid_values_are_rejected(change, word):
    with pytest.raises(ConfigError, match=word):
        get_profile("quick", **change)


def test_config_round_trips_through_json():
    config = get_profile("modern", loss="hard_mining", loss_kwargs={"base": "arcface", "base_kwargs": {"m": 0.4}})
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and isinstance(again.milestones, tuple)
    with pytest.raises(ConfigError, match="unknown config key"):
        TrainConfig.from_dict({**config.to_dict(), "bogus": 1})


def test_profiles_follow_their_recipes():
    paper = get_profile("paper")  # the Hard-Mining paper: ResNet18, SGD 0.9, batch 64, lr 0.01, x0.1 at 8/12/16, 20 epochs
    assert (paper.model, paper.input_size, paper.batch_size, paper.lr, paper.momentum, paper.milestones,
            paper.gamma, paper.epochs, paper.schedule, paper.data) == (
        "resnet18", 112, 64, 0.01, 0.9, (8, 12, 16), 0.1, 20, "multistep", "casia")
    quick = get_profile("quick")
    assert (quick.device, quick.data, quick.width, quick.input_size, quick.embedding_dim, quick.num_workers,
            quick.deterministic) == ("cpu", "synthetic", 16, 32, 128, 0, True)
    modern = get_profile("modern")
    assert (modern.batch_size, modern.amp, modern.channels_last, modern.grad_clip) == (512, "bf16", True, 5.0)
    assert get_profile("modern", batch_size=256).lr == pytest.approx(modern.lr / 2)  # linear scaling
    assert get_profile("modern", batch_size=256, lr=0.3).lr == 0.3
    for name in ("quick", "paper", "modern", "smoke"):
        assert get_profile(name).weight_decay == 5e-4
    with pytest.raises(ConfigError, match="unknown profile 'fast'; valid: quick, paper, modern"):
        get_profile("fast")


# ---------------------------------------------------------------------- optimiser and schedule

def test_weight_decay_skips_batchnorm_biases_and_scalars():
    config = get_profile("smoke", loss="normface", loss_kwargs={"learn_scale": True})
    torch.manual_seed(0)
    backbone = build_backbone(config)
    head = build_head(config, np.full(5, 3))
    optimizer = build_optimizer([backbone, head], config)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    every = [p for m in (backbone, head) for p in m.parameters() if p.requires_grad]  # (the last BN's scale is frozen)
    assert sorted(map(id, decay["params"] + no_decay["params"])) == sorted(map(id, every))
    bn = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bn and all(any(p is q for q in no_decay["params"]) for m in bn
                      for p in (m.weight, m.bias) if p is not None and p.requires_grad)
    assert any(p is head.weight for p in decay["params"])  # the prototypes are decayed, as in insightface
    scalars = [p for p in head.parameters() if p.ndim == 0]
    assert scalars and any(p is scalars[0] for p in no_decay["params"])  # NormFace's learnable s
    # Behaviour, not only bookkeeping: with zero gradients one SGD step shrinks exactly the decayed tensors.
    before = [p.detach().clone() for p in every]
    for p in every:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    decayed = {id(p) for p in decay["params"]}
    for p, old in zip(every, before):
        expected = old * (1 - config.lr * 5e-4) if id(p) in decayed else old
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)


def test_multistep_schedule_is_the_paper_schedule():
    config = get_profile("paper")
    spe = 7  # steps per epoch
    for epoch, factor in [(0, 1.0), (7, 1.0), (8, 0.1), (11, 0.1), (12, 0.01), (16, 0.001), (19, 0.001)]:
        for step in (epoch * spe, epoch * spe + spe - 1):
            assert lr_factor(step, config, spe) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize("schedule", ["cosine", "poly"])
def test_warmup_then_decay(schedule):
    config = get_profile("quick", schedule=schedule, epochs=10, warmup_epochs=2.0, poly_power=2.0)
    spe = 5
    warm, total = 10, 50
    assert [lr_factor(s, config, spe) for s in range(warm)] == pytest.approx([(s + 1) / warm for s in range(warm)])
    for step in (warm, 23, 37, total - 1):
        p = (step - warm) / (total - warm)
        expected = 0.5 * (1 + math.cos(math.pi * p)) if schedule == "cosine" else (1 - p) ** 2
        assert lr_factor(step, config, spe) == pytest.approx(expected, rel=1e-12)
    # The torch scheduler applies exactly these factors, step after step.
    param = torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = torch.optim.SGD([param], lr=config.lr)
    scheduler = build_scheduler(optimizer, config, spe)
    for step in range(total):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(config.lr * lr_factor(step, config, spe))
        optimizer.step()
        scheduler.step()


def test_sampler_order_is_a_function_of_seed_and_epoch_and_shards_are_disjoint():
    data = list(range(103))

    def order(seed, epoch, rank=0, world=1):
        sampler = make_sampler(data, seed, rank, world)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(3, 1) == order(3, 1)
    assert order(3, 1) != order(3, 2) and order(3, 1) != order(4, 1)
    assert sorted(order(3, 1)) == data
    shards = [order(3, 1, rank, 2) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 51 and not set(shards[0]) & set(shards[1])


# ---------------------------------------------------------------------- atomic files, RNG state

def test_a_failed_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "checkpoint.pt"
    atomic.atomic_torch_save({"x": torch.arange(3)}, target)
    old = target.read_bytes()

    def broken(handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write(target, broken)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    generator = torch.Generator().manual_seed(5)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.normal()  # leaves a cached Gaussian in NumPy's state
    state = rng.capture({"flip": generator})
    torch.save(state, tmp_path / "rng.pt")

    def draw():
        return (torch.rand(4).tolist(), np.random.normal(size=3).tolist(), random.random(),
                torch.rand(2, generator=generator).tolist())

    first = draw()
    rng.restore(torch.load(tmp_path / "rng.pt", weights_only=True), {"flip": generator})
    assert draw() == first


# ---------------------------------------------------------------------- the trainer

@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    """A smoke-profile ArcFace run stopped after its first of two epochs."""
    out = tmp_path_factory.mktemp("run") / "arcface"
    config = get_profile("smoke", loss="arcface", out_dir=str(out), verbose=False)
    trainer = Trainer(config)
    results = trainer.fit(max_epochs=1)
    return config, trainer, results


def test_trainer_writes_checkpoint_metrics_and_results(one_epoch_run):
    config, trainer, results = one_epoch_run
    out = trainer.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.jsonl", "results.json"]
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["config"] == config.to_dict() and on_disk["complete"] is False
    for key in ("environment", "timings", "verification", "loss_settings", "data", "protocol"):
        assert key in on_disk
    assert {"python", "torch", "fr_course", "cpu", "torch_threads", "git_commit"} <= set(on_disk["environment"])
    (name, entry), = on_disk["verification"].items()
    assert 0.0 <= entry["accuracy"] <= 1.0 and entry["epoch"] == 1
    assert entry["accuracy_pct"] == f"{100 * entry['accuracy']:.2f} ± {100 * entry['accuracy_std']:.2f}"
    records = read_metrics(out)
    assert [r["kind"] for r in records] == ["epoch"] and records[0]["step"] == trainer.steps_per_epoch
    assert math.isfinite(records[0]["loss"]) and records[0]["verification"][name]["accuracy"] == entry["accuracy"]
    state = load_checkpoint(out)  # weights_only=True inside
    assert set(checkpoint.REQUIRED) <= set(state) and state["epoch"] == 1
    assert TrainConfig.from_dict(state["config"]) == config
    for key, value in trainer.backbone.state_dict().items():
        assert torch.equal(state["model"][key], value)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(one_epoch_run):
    config, trainer, _ = one_epoch_run
    ckpt = trainer.out_dir / "checkpoint.pt"
    good = ckpt.read_bytes()
    resumed = Trainer(config, resume=True)
    calls = []
    real_forward = resumed.head.forward

    def nan_at_second_step(embeddings, labels):
        calls.append(1)
        loss = real_forward(embeddings, labels)
        return loss * float("nan") if len(calls) == 2 else loss

    resumed.head.forward = nan_at_second_step
    with pytest.raises(NonFiniteLossError) as info:
        resumed.fit()
    message = str(info.value)
    for words in ("non-finite loss nan", "epoch 2", "step 2 of the epoch", "arcface(s=64.0, m=0.5",
                  "easy_margin=False", f"the last good checkpoint {ckpt} (epoch 1) is unchanged"):
        assert words in message
    assert info.value.epoch == 2 and math.isnan(info.value.value)
    assert ckpt.read_bytes() == good
    assert [r["epoch"] for r in read_metrics(trainer.out_dir)] == [1]


def test_existing_run_needs_resume_or_overwrite(one_epoch_run, tmp_path):
    config, trainer, _ = one_epoch_run
    with pytest.raises(ConfigError, match="already holds a checkpoint"):
        Trainer(config)
    with pytest.raises(ConfigError, match="--resume: no checkpoint at"):
        Trainer(config.replace(out_dir=str(tmp_path / "empty")), resume=True)


def test_hsm_gets_the_class_counts_of_the_training_set():
    counts = np.array([4, 1, 9])
    head = build_head(get_profile("smoke", loss="hsm"), counts)
    assert torch.equal(head.class_counts.cpu(), torch.as_tensor(counts))
    wrapped = build_head(get_profile("smoke", loss="hard_mining", loss_kwargs={"base": "hsm"}), counts)
    assert torch.equal(wrapped.base.class_counts.cpu(), torch.as_tensor(counts))
    with pytest.raises(ConfigError, match="class_counts come from the training set"):
        build_head(get_profile("smoke", loss="hsm", loss_kwargs={"class_counts": [1, 1, 1]}), counts)
    with pytest.raises(ConfigError, match="loss 'arcface'"):
        build_head(get_profile("smoke", loss="arcface", loss_kwargs={"s": -1.0}), counts)
