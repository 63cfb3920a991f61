"""fr_course.experiments (cached runs, parallel training) and fr_course.notebooks.chapter.Chapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fr_course import experiments
from fr_course.notebooks.chapter import Chapter


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FR_COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _weights(run):
    state = torch.load(run.path / "checkpoint.pt", map_location="cpu", weights_only=True)
    return state["model"], state["head"]


def _assert_same_weights(a, b):
    for part_a, part_b in zip(_weights(a), _weights(b)):
        assert part_a.keys() == part_b.keys()
        for name in part_a:
            assert torch.equal(part_a[name], part_b[name]), name


def test_parallel_training_is_bit_identical_to_training_alone(cache, monkeypatch):
    logged = []
    configs = [experiments.config_for(loss, profile="smoke") for loss in ("softmax", "arcface")]
    trained = experiments.train_missing(configs, processes=2, log=logged.append)
    assert len(trained) == 2 and "2 at a time" in logged[0] and sum("done:" in line for line in logged) == 2
    parallel = {loss: experiments.run(loss, profile="smoke") for loss in ("softmax", "arcface")}
    # nothing is left to train: a second call is a no-op that says nothing
    assert experiments.train_missing(configs, processes=2, log=logged.append) == [] and len(logged) == 3

    # the same two runs trained again here, one after the other, in another cache
    monkeypatch.setenv("FR_COURSE_CACHE", str(cache.parent / "alone"))
    for loss, run in parallel.items():
        alone = experiments.run(loss, profile="smoke")
        assert alone.key == run.key
        _assert_same_weights(alone, run)
        assert alone.accuracy == run.accuracy
        np.testing.assert_array_equal(alone.positive_cosines, run.positive_cosines)


def test_run_all_trains_each_config_once_and_keeps_labels(cache):
    logged = []
    requests = {"a": dict(loss="softmax", profile="smoke"), "b": dict(loss="softmax", profile="smoke"),
                "c": dict(loss="cosface", profile="smoke", loss_kwargs={"m": 0.2})}
    configs = [experiments.config_for(**kw) for kw in requests.values()]
    assert len(experiments.train_missing(configs, processes=1, log=logged.append)) == 2
    runs = experiments.run_all(requests, processes=1)
    assert list(runs) == ["a", "b", "c"] and runs["a"].key == runs["b"].key != runs["c"].key
    assert runs["c"].results["config"]["loss_kwargs"] == {"m": 0.2}


def test_train_missing_reports_the_failing_run(cache):
    bad = experiments.config_for("arcface", profile="smoke").replace(loss_kwargs={"m": -1.0})
    with pytest.raises(Exception, match="m must be >= 0"):
        experiments.train_missing([bad], processes=1, log=lambda _: None)
    bad2 = experiments.config_for("cosface", profile="smoke").replace(loss_kwargs={"m": -1.0})
    with pytest.raises(RuntimeError, match=r"training (arcface|cosface) \(m=-1.0\) seed 0 failed: .*m must be >= 0"):
        experiments.train_missing([bad, bad2], processes=2, log=lambda _: None)
    with pytest.raises(ValueError, match="processes must be >= 1"):
        experiments.train_missing([experiments.config_for("softmax", profile="smoke")], processes=0)


def test_default_processes_respects_the_cap(monkeypatch):
    monkeypatch.setenv("FR_COURSE_PROCESSES", "1")
    assert experiments.default_processes() == 1
    monkeypatch.setenv("FR_COURSE_PROCESSES", "zero")
    with pytest.raises(ValueError, match="FR_COURSE_PROCESSES must be a positive integer"):
        experiments.default_processes()


def test_chapter_checks_its_parameters():
    with pytest.raises(ValueError, match="PROFILE must be 'quick' or 'full', got 'fast'"):
        Chapter("fast")
    with pytest.raises(ValueError, match="needs DATA_ROOT.*inspect_casia.py"):
        Chapter("full")
    with pytest.raises(ValueError, match="EPOCHS must be None or a positive integer"):
        Chapter(epochs=0)
    with pytest.raises(ValueError, match="SEED must be a non-negative integer"):
        Chapter(seed=-1)
    assert Chapter().quick_defaults and not Chapter(seed=1).quick_defaults and not Chapter(epochs=2).quick_defaults
    assert Chapter().embed_device == "cpu"


def test_chapter_run_arguments_per_profile():
    imbalance = {"synthetic_overrides": {"imbalance": 2.0}}
    quick = Chapter(seed=3, quick_overrides=imbalance)
    assert quick.run_kwargs("arcface", loss_kwargs={"m": 0.3}) == {
        "loss": "arcface", "seed": 3, "synthetic_overrides": {"imbalance": 2.0}, "loss_kwargs": {"m": 0.3}}
    full = Chapter("full", epochs=2, data_root="/data/casia", quick_overrides=imbalance)
    assert full.run_kwargs("cosface") == {"loss": "cosface", "seed": 0, "profile": "paper", "data": "casia",
                                          "data_root": "/data/casia", "device": "auto", "epochs": 2}
    config = experiments.config_for(**full.run_kwargs("cosface"))
    assert config.profile == "paper" and config.epochs == 2 and config.data_root == "/data/casia"
    with pytest.raises(ValueError, match="give a loss name or a dict with a 'loss' key"):
        quick.runs({"x": {"m": 0.3}})
