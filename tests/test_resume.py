"""Exact resume: 2 epochs straight == 1 epoch, a new process-like Trainer with resume=True, 1 more.

SphereFace is used because it keeps state outside the weights (its iteration counter drives the
λ annealing), the schedule has a warm-up and a cosine decay, and step records are logged, so the
check covers the loss buffers, the scheduler, the optimiser's momentum and the metrics log.
"""

from __future__ import annotations

import pytest
import torch

from fr_course.training import ConfigError, Trainer, get_profile, load_checkpoint, read_metrics, strip_timing


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    config = get_profile("smoke", loss="sphereface", out_dir=str(root / "straight"), log_every=3,
                         verbose=False)
    straight = Trainer(config)
    straight.fit()

    resumed_config = config.replace(out_dir=str(root / "resumed"))
    first = Trainer(resumed_config, data=straight.data)
    first.fit(max_epochs=1)
    after_one_epoch = {k: v.clone() for k, v in first.backbone.state_dict().items()}
    del first
    second = Trainer(resumed_config, resume=True, data=straight.data)
    second.fit()
    return straight, second, after_one_epoch


def _assert_same_tensors(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resumed_weights_loss_state_and_optimizer_are_bit_identical(runs):
    straight, resumed, after_one_epoch = runs
    _assert_same_tensors(straight.backbone.state_dict(), resumed.backbone.state_dict())
    _assert_same_tensors(straight.head.state_dict(), resumed.head.state_dict())
    # The comparison has teeth: the second epoch changed the weights, and the counter counted both epochs.
    assert any(not torch.equal(v, straight.backbone.state_dict()[k]) for k, v in after_one_epoch.items())
    assert int(resumed.head.iteration) == 2 * straight.steps_per_epoch == resumed.global_step
    a, b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for index, state in a["state"].items():
        assert torch.equal(state["momentum_buffer"], b["state"][index]["momentum_buffer"])
    assert straight.scheduler.state_dict() == resumed.scheduler.state_dict()


def test_resumed_metrics_and_checkpoints_are_identical(runs):
    straight, resumed, _ = runs
    a, b = read_metrics(straight.out_dir), read_metrics(resumed.out_dir)
    assert [r["kind"] for r in a].count("epoch") == 2 and any(r["kind"] == "step" for r in a)
    assert strip_timing(a) == strip_timing(b)
    saved_a, saved_b = load_checkpoint(straight.out_dir), load_checkpoint(resumed.out_dir)
    _assert_same_tensors(saved_a["model"], saved_b["model"])
    _assert_same_tensors(saved_a["head"], saved_b["head"])
    assert strip_timing(saved_a["history"]) == strip_timing(saved_b["history"])


def test_resume_refuses_a_result_changing_config_but_allows_more_epochs(runs):
    _, resumed, _ = runs
    config = resumed.config
    with pytest.raises(ConfigError) as info:
        Trainer(config.replace(lr=0.2), resume=True, data=resumed.data)
    assert "lr: 0.05 -> 0.2" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="loss: 'sphereface' -> 'arcface'"):
        Trainer(config.replace(loss="arcface"), resume=True, data=resumed.data)
    with pytest.warns(UserWarning, match="cosine schedule's horizon changes"):
        longer = Trainer(config.replace(epochs=3), resume=True, data=resumed.data)
    assert longer.epoch == 2 and longer.global_step == resumed.global_step
