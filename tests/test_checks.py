"""fr_course.checks: each check passes a right implementation and names each deliberate bug.

The implementations below are written here, independently of fr_course.losses / evaluation, the
way a student would write them; each buggy variant changes one thing.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from fr_course import checks
from fr_course.checks import core, margins, sface, verification


def _failed(report) -> dict[str, str]:
    return {item.name: item.message for item in report.items if not item.passed}


# ----------------------------------------------------------------------------- margins

def arcface_right(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    c = cos[rows, labels]
    sin = torch.sqrt((1 - c * c).clamp_min(1e-6))
    target = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sin * math.sin(m), c - m * math.sin(m))
    return (s * cos).index_put((rows, labels), s * target)


def cosface_right(cos, labels, s=64.0, m=0.35):
    rows = torch.arange(cos.shape[0])
    return (s * cos).index_put((rows, labels), s * (cos[rows, labels] - m))


def arcface_no_fallback(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    c = cos[rows, labels]
    sin = torch.sqrt((1 - c * c).clamp_min(1e-6))
    return (s * cos).index_put((rows, labels), s * (c * math.cos(m) - sin * math.sin(m)))


def arcface_branch_at_90(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    c = cos[rows, labels]
    sin = torch.sqrt((1 - c * c).clamp_min(1e-6))
    target = torch.where(c > 0, c * math.cos(m) - sin * math.sin(m), c - m * math.sin(m))
    return (s * cos).index_put((rows, labels), s * target)


def arcface_fallback_minus_m(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    c = cos[rows, labels]
    sin = torch.sqrt((1 - c * c).clamp_min(1e-6))
    target = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sin * math.sin(m), c - m)
    return (s * cos).index_put((rows, labels), s * target)


def arcface_acos(cos, labels, s=64.0, m=0.5):  # exact values, but d acos/dc is infinite at ±1
    rows = torch.arange(cos.shape[0])
    c = cos[rows, labels]
    target = torch.where(c > math.cos(math.pi - m), torch.cos(torch.acos(c) + m), c - m * math.sin(m))
    return (s * cos).index_put((rows, labels), s * target)


def arcface_ste(cos, labels, s=64.0, m=0.5):
    z = arcface_right(cos, labels, s, m)
    return s * cos + (z - s * cos).detach()


def arcface_in_place(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    z = arcface_right(cos.detach().clone(), labels, 1.0, m)
    cos[rows, labels] = z[rows, labels]
    return s * cos


def arcface_target_only(cos, labels, s=64.0, m=0.5):
    return arcface_right(cos, labels, s, m)[torch.arange(cos.shape[0]), labels]


def arcface_hard_coded(cos, labels, s=64.0, m=0.5):
    return arcface_right(cos, labels, 64.0, 0.5)


def arcface_float32(cos, labels, s=64.0, m=0.5):
    return arcface_right(cos.float(), labels, s, m)


def arcface_unscaled_others(cos, labels, s=64.0, m=0.5):
    rows = torch.arange(cos.shape[0])
    return cos.index_put((rows, labels), arcface_right(cos, labels, s, m)[rows, labels])


def arcface_every_column(cos, labels, s=64.0, m=0.5):
    sin = torch.sqrt((1 - cos * cos).clamp_min(1e-6))
    return s * torch.where(cos > math.cos(math.pi - m), cos * math.cos(m) - sin * math.sin(m), cos - m * math.sin(m))


def arcface_via_reference(cos, labels, s=64.0, m=0.5):
    from fr_course import losses

    return losses.build("arcface", embedding_dim=1, num_classes=cos.shape[1], s=s, m=m).scaled_logits(cos, labels)


def arcface_raises(cos, labels, s=64.0, m=0.5):
    raise NotImplementedError("write me")


def arcface_numpy(cos, labels, s=64.0, m=0.5):
    return arcface_right(cos, labels, s, m).detach().numpy()


def cosface_plus(cos, labels, s=64.0, m=0.35):
    return cosface_right(cos, labels, s, -m)


def cosface_detached(cos, labels, s=64.0, m=0.35):
    return torch.tensor(cosface_right(cos, labels, s, m).tolist(), dtype=torch.float64)


def test_right_margin_implementations_pass_every_check():
    for check, fn in ((checks.check_arcface_logits, arcface_right), (checks.check_cosface_logits, cosface_right)):
        report = check(fn, verbose=False)
        assert report.passed, _failed(report)
        assert report.points == report.max_points > 0


@pytest.mark.parametrize("fn, item, phrase", [
    (arcface_no_fallback, "fallback where θ + m > π", "no fallback"),
    (arcface_branch_at_90, "target logit where θ + m ≤ π", "switches to the fallback between θ = 8"),
    (arcface_fallback_minus_m, "fallback where θ + m > π", "not s·(cos θ − m)"),
    (arcface_acos, "cos = ±1", "gradient is NaN/inf"),
    (arcface_ste, "gradient", "straight-through"),
    (arcface_in_place, "input left unchanged", "in place"),
    (arcface_target_only, "output shape and dtype", "target logits only"),
    (arcface_hard_coded, "uses s and m", "it still uses s=64"),
    (arcface_float32, "output shape and dtype", "torch.float32"),
    (arcface_unscaled_others, "non-target logits", "not multiplied by s"),
    (arcface_every_column, "non-target logits", "applied to other classes too"),
    (arcface_via_reference, "written by you", "fr_course.losses"),
    (arcface_raises, "runs", "NotImplementedError: write me"),
    (arcface_numpy, "output shape and dtype", "numpy array"),
])
def test_arcface_check_names_the_bug(fn, item, phrase):
    report = checks.check_arcface_logits(fn, verbose=False)
    failed = _failed(report)
    assert item in failed, failed
    assert phrase in failed[item], failed[item]
    assert report.points < report.max_points


def test_one_wrong_branch_costs_only_its_own_checks():
    """A missing fallback fails the fallback check, not the gradient or hyper-parameter checks."""
    failed = _failed(checks.check_arcface_logits(arcface_no_fallback, verbose=False))
    assert set(failed) == {"fallback where θ + m > π"}


@pytest.mark.parametrize("fn, item, phrase", [
    (cosface_plus, "target logit", "wrong sign"),
    (cosface_detached, "gradient", "not connected"),
])
def test_cosface_check_names_the_bug(fn, item, phrase):
    failed = _failed(checks.check_cosface_logits(fn, verbose=False))
    assert item in failed and phrase in failed[item], failed


def test_arcface_cases_straddle_the_branch_point():
    for hidden in (False, True):
        case = margins.cases("arcface", seed=3, hidden=hidden)["main"]
        theta = np.arccos(case.cos[np.arange(len(case.labels)), case.labels])
        gap = theta - (math.pi - case.hp["m"])
        assert (gap < 0).sum() >= 10 and (gap > 0).sum() >= 10
        assert np.abs(gap).min() < 0.04  # some within 0.04 rad of π − m on each side
    visible, hidden = margins.cases("arcface", 0, False), margins.cases("arcface", 0, True)
    assert not np.allclose(visible["main"].cos, hidden["main"].cos)
    assert visible["margin"].hp != hidden["margin"].hp


# ----------------------------------------------------------------------------- SFace

def _sface(cos, labels, s, k, a, b, detach_a=True, detach_b=True, include_target=False):
    rows = torch.arange(cos.shape[0])
    theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
    theta_a = theta.detach() if detach_a else theta
    theta_b = theta.detach() if detach_b else theta
    pull = torch.sigmoid(k * (theta_a[rows, labels] - a))
    push = torch.sigmoid(-k * (theta_b - b))
    if not include_target:
        mask = torch.ones_like(cos)
        mask[rows, labels] = 0.0
        push = push * mask
    return s * ((push * cos).sum(1) - pull * cos[rows, labels])


def sface_right(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, k, a, b)


def sface_no_sg(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, k, a, b, detach_a=False, detach_b=False)


def sface_no_sg_pull(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, k, a, b, detach_a=False)


def sface_with_target(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, k, a, b, include_target=True)


def sface_mean(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, k, a, b).mean()


def sface_no_grad(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    with torch.no_grad():
        return _sface(cos, labels, s, k, a, b)


def sface_flipped_b(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2):
    return _sface(cos, labels, s, -k, a, b) * 0 + _sface_flip_b(cos, labels, s, k, a, b)


def _sface_flip_b(cos, labels, s, k, a, b):
    rows = torch.arange(cos.shape[0])
    with torch.no_grad():
        theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
        pull = torch.sigmoid(k * (theta[rows, labels] - a))
        push = torch.sigmoid(k * (theta - b))
        push[rows, labels] = 0
    return s * ((push * cos).sum(1) - pull * cos[rows, labels])


def test_right_sface_passes_every_check():
    report = checks.check_sface_loss(sface_right, verbose=False)
    assert report.passed, _failed(report)


@pytest.mark.parametrize("fn, expected", [
    (sface_no_sg, {"gradient on the target cosine": "σ_a(θ_y) is not detached",
                   "gradient on the other cosines": "σ_b(θ_j) is not detached"}),
    (sface_no_sg_pull, {"gradient on the target cosine": "σ_a(θ_y) is not detached"}),
    (sface_with_target, {"loss values": "includes the label's own class"}),
    (sface_mean, {"output shape and dtype": "one loss per sample"}),
    (sface_no_grad, {"gradient on the target cosine": "not connected"}),
    (sface_flipped_b, {"loss values": "σ_b has the sign of σ_a"}),
])
def test_sface_check_names_the_bug(fn, expected):
    failed = _failed(checks.check_sface_loss(fn, verbose=False))
    for item, phrase in expected.items():
        assert item in failed and phrase in failed[item], failed
    if fn is sface_no_sg_pull:  # the push is detached here: its check must pass
        assert "gradient on the other cosines" not in failed


# ----------------------------------------------------------------------------- k-fold accuracy

def kfold_right(emb_a, emb_b, is_same, n_folds=10):
    a = emb_a / np.linalg.norm(emb_a, axis=1, keepdims=True)
    b = emb_b / np.linalg.norm(emb_b, axis=1, keepdims=True)
    d = np.sum((a - b) ** 2, axis=1)
    grid = np.arange(0, 4, 0.01)
    correct = (d[None, :] < grid[:, None]) == np.asarray(is_same)[None, :]
    accuracies, thresholds = [], []
    for fold in np.array_split(np.arange(len(d)), n_folds):
        test = np.zeros(len(d), dtype=bool)
        test[fold] = True
        best = int(np.argmax(correct[:, ~test].sum(axis=1)))
        thresholds.append(grid[best])
        accuracies.append(correct[best, test].mean())
    return np.mean(accuracies), np.std(accuracies), np.array(thresholds)


def test_protocol_defaults_are_the_reference():
    rng = np.random.default_rng(5)
    for p, n_folds in ((600, 10), (203, 10), (97, 5)):
        a, b = rng.standard_normal((2, p, 8))
        b = np.where(rng.random((p, 1)) < 0.5, a + 0.7 * b, b)
        same = rng.random(p) < 0.5
        case = verification.Case("t", a, b, same, n_folds)
        ours, ref = verification.protocol(a, b, same, n_folds), verification.reference(case)
        assert ours[0] == pytest.approx(ref[0], abs=1e-12) and ours[1] == pytest.approx(ref[1], abs=1e-12)
        np.testing.assert_allclose(ours[2], ref[2])


def test_right_kfold_passes_every_check():
    report = checks.check_kfold_accuracy(kfold_right, verbose=False)
    assert report.passed, _failed(report)


@pytest.mark.parametrize("reason", list(verification.VARIANTS))
def test_kfold_check_names_each_protocol_mistake(reason):
    change = verification.VARIANTS[reason]

    def student(emb_a, emb_b, is_same, n_folds=10):
        return verification.protocol(emb_a, emb_b, is_same, n_folds, **change)

    failed = _failed(checks.check_kfold_accuracy(student, verbose=False))
    assert failed and any(reason in message for message in failed.values()), (change, failed)


def test_kfold_check_other_mistakes():
    def percent(a, b, same, n_folds=10):
        mean, std, thr = kfold_right(a, b, same, n_folds)
        return 100 * mean, 100 * std, thr

    def in_place(a, b, same, n_folds=10):
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        return kfold_right(a, b, same, n_folds)

    def borrowed(a, b, same, n_folds=10):
        from fr_course.evaluation import kfold_accuracy
        r = kfold_accuracy(a, b, same, n_folds)
        return r.accuracy_mean, r.accuracy_std, r.thresholds

    assert "not percent" in _failed(checks.check_kfold_accuracy(percent, verbose=False))[
        "returns (mean, std, thresholds)"]
    assert "inputs left unchanged" in _failed(checks.check_kfold_accuracy(in_place, verbose=False))
    assert set(_failed(checks.check_kfold_accuracy(borrowed, verbose=False))) == {"written by you"}


# ----------------------------------------------------------------------------- experiment summary

def test_experiment_summary_check():
    good = {"arcface": {"clean": 0.88, "label_noise=0.2": 0.77}, "sface": {"clean": 0.86, "label_noise=0.2": 0.84}}
    assert checks.check_experiment_summary(good, verbose=False).passed
    assert not checks.check_experiment_summary({"arcface": {"clean": 88.0, "noisy": 77.0},
                                                "sface": {"clean": 86.0, "noisy": 84.0}}, verbose=False).passed
    failed = _failed(checks.check_experiment_summary({"arcface": {"clean": 0.9}, "magic": {"clean": 0.9}},
                                                     verbose=False))
    assert "'magic' is not a loss" in failed["two losses of the course"]
    assert "the same settings for both" in failed
    assert not checks.check_experiment_summary([0.9, 0.8], verbose=False).passed


# ----------------------------------------------------------------------------- report and transport

def test_report_prints_marks_and_points(capsys):
    report = checks.check_arcface_logits(arcface_no_fallback)
    text = capsys.readouterr().out
    assert "✓ runs" in text and "✗ fallback where θ + m > π" in text
    assert f"{report.points:g}/{report.max_points:g} points" in text
    rows = report.rows()
    assert len(rows) == len(report.items) and all(len(row) == 4 for row in rows)
    assert sum(row[3] for row in rows) == report.points


def test_probe_survives_json_and_judges_the_same():
    """The grader moves probes through JSON between processes: the verdict must not change."""
    for key, fn in (("arcface_logits", arcface_branch_at_90), ("sface_loss", sface_no_sg),
                    ("kfold_accuracy", kfold_right)):
        spec = checks.PROBES[key]
        probed = spec.probe(fn, seed=11, hidden=True)
        direct = spec.judge(probed)
        moved = spec.judge(core.from_json(core.to_json(probed)))
        assert [(i.name, i.passed, i.message) for i in direct] == [(i.name, i.passed, i.message) for i in moved]
        json.loads(core.to_json(probed))  # plain JSON (NaN aside)


def test_borrowed_references_follow_helpers_and_attributes():
    import fr_course

    def helper(cos, labels):
        return fr_course.losses.arcface.additive_angular_margin(cos, 0.5)

    def student(cos, labels, s=64.0, m=0.5):
        return helper(cos, labels)

    assert core.borrowed_references(student, ("fr_course.losses",)) == ["fr_course.losses"]
    assert core.borrowed_references(arcface_right, ("fr_course.losses",)) == []
