"""Per-sample values of every loss against the independent float64 NumPy reference, and against
pytorch-metric-learning where it has the same loss (spec/losses.md, tests 1 and 3)."""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_losses as ref  # noqa: E402

from fr_course import losses  # noqa: E402

D, C = 8, 7
COUNTS = [100, 50, 10, 5, 2, 300, 7]
# Target angles: near 0, small, ordinary, around the ArcFace fallback point π - m for m = 0.5
# (2.64), past it, and near π.
THETAS = [1e-4, 1e-3, 0.3, 0.9, 1.4, 2.0, 2.5, 2.7, 2.9, 3.05, math.pi - 1e-3, math.pi - 1e-5]


def make_batch(seed=0, random_rows=8, norm_range=(0.5, 4.0), orthogonal=False):
    """float32 (x, W, y): rows with constructed target angles followed by random rows.

    ``orthogonal``: prototypes with orthogonal directions (so small-θ samples saturate).
    """
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((C, D))
    if orthogonal:
        w = np.linalg.qr(w.T)[0].T * rng.uniform(0.5, 2.0, size=(C, 1))
    w = w.astype(np.float32)
    n = len(THETAS) + random_rows
    y = rng.integers(0, C, size=n)
    norms = rng.uniform(*norm_range, size=n)
    built = ref.embeddings_at_angles(w, y[: len(THETAS)], THETAS, rng, norms[: len(THETAS)])
    x = np.concatenate([built, rng.standard_normal((random_rows, D)) * norms[len(THETAS):, None]])
    return x.astype(np.float32), w, y


def run_head(head, x, w, y, dtype):
    """Per-sample losses of ``head`` (eval mode) with weight ``w``, computed in ``dtype``."""
    head = head.to(dtype).eval()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
        out = head.per_sample(torch.from_numpy(x).to(dtype), torch.from_numpy(y))
    assert out.dtype == dtype and out.shape == (len(y),)
    return out.double().numpy()


def assert_matches(head, x, w, y, expected):
    """float64 head: agrees to 1e-9; float32 head (the production path): to 1e-5 relative.

    Two float32 allowances, both float32 facts rather than formula errors (the float64 run pins
    the formula): an absolute floor of 1e-6, since float32 cross-entropy cannot resolve a loss of
    1e-8 (``log(1 + 1e-8)`` rounds to 0); and 1e-3 relative for targets within 0.05 rad of 0 or
    π, where float32 cosines (error ~6e-8) make θ = arccos(cos θ) uncertain by 6e-8/sin θ and the
    clamp bound 1 - 1e-6 is itself not representable.
    """
    f64 = run_head(head, x, w, y, torch.float64)
    np.testing.assert_allclose(f64, expected, rtol=1e-9, atol=1e-10)
    f32 = run_head(head, x, w, y, torch.float32)
    theta = np.arccos(np.clip(ref.cosines(x64(x), w)[np.arange(len(y)), y], -1.0, 1.0))
    edge = (theta < 0.05) | (theta > math.pi - 0.05)
    np.testing.assert_allclose(f32[~edge], expected[~edge], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f32[edge], expected[edge], rtol=1e-3, atol=1e-6)


def x64(x):
    return x.astype(np.float64)


MARGIN_CASES = [
    ("normface", {}, lambda x, w, y: ref.normface(x, w, y)),
    ("normface", {"s": 10.0}, lambda x, w, y: ref.normface(x, w, y, s=10.0)),
    ("cosface", {}, lambda x, w, y: ref.cosface(x, w, y)),
    ("cosface", {"s": 30.0, "m": 0.2}, lambda x, w, y: ref.cosface(x, w, y, 30.0, 0.2)),
    ("arcface", {}, lambda x, w, y: ref.arcface(x, w, y)),
    ("arcface", {"grad": "ste"}, lambda x, w, y: ref.arcface(x, w, y)),
    ("arcface", {"easy_margin": True}, lambda x, w, y: ref.arcface(x, w, y, easy_margin=True)),
    ("arcface", {"m": 1.0, "s": 16.0}, lambda x, w, y: ref.arcface(x, w, y, 16.0, 1.0)),
    ("arcface", {"m": 0.2, "grad": "ste", "easy_margin": True},
     lambda x, w, y: ref.arcface(x, w, y, m=0.2, easy_margin=True)),
    ("combined", {}, lambda x, w, y: ref.combined(x, w, y)),
    ("combined", {"m1": 1.35, "m2": 0.5, "m3": 0.1}, lambda x, w, y: ref.combined(x, w, y, 64.0, 1.35, 0.5, 0.1)),
    ("sface", {}, lambda x, w, y: ref.sface(x, w, y)),
    ("sface", {"s": 10.0, "k": 10.0, "a": 1.0, "b": 1.5}, lambda x, w, y: ref.sface(x, w, y, 10.0, 10.0, 1.0, 1.5)),
    ("combined", {"m1": 1.35, "m2": 0.25, "m3": 0.1},
     lambda x, w, y: ref.combined(x, w, y, 64.0, 1.35, 0.25, 0.1)),
    ("eqm", {}, lambda x, w, y: ref.eqm(x, w, y)),
    ("eqm", {"s": 16.0, "t1": 0.5, "t2": -0.2}, lambda x, w, y: ref.eqm(x, w, y, 16.0, 0.5, -0.2)),
    ("eqm", {"t1": 0.95, "t2": 0.6}, lambda x, w, y: ref.eqm(x, w, y, 64.0, 0.95, 0.6)),
    ("eqm", {"s": 30.0, "t1": 1.0, "t2": -1.0}, lambda x, w, y: ref.normface(x, w, y, 30.0)),
]
SV_CASES = [
    (dict(m=m, t=t, margin_type=mt, form=form))
    for mt in ("am", "arc")
    for form in ("adaptive", "fixed")
    for m, t in ((0.35, 1.2), (0.5, 1.5), (0.0, 1.3))
]


@pytest.mark.parametrize("name,hp,reference", MARGIN_CASES, ids=lambda v: str(v) if not callable(v) else "")
def test_margin_losses_match_reference(name, hp, reference):
    x, w, y = make_batch()
    assert_matches(losses.build(name, D, C, **hp), x, w, y, reference(x64(x), w, y))


@pytest.mark.parametrize("hp", SV_CASES, ids=str)
def test_sv_softmax_matches_reference(hp):
    x, w, y = make_batch(seed=1)
    assert_matches(losses.build("sv_softmax", D, C, **hp), x, w, y, ref.sv_softmax(x64(x), w, y, **hp))


def test_sv_softmax_has_support_vectors_in_the_test_batch():
    # Otherwise the test above would not exercise the re-weighting.
    x, w, y = make_batch(seed=1)
    cos = ref.cosines(x64(x), w)
    f = cos[np.arange(len(y)), y] - 0.35
    beats = (cos > f[:, None]).sum(axis=1) - 1
    assert (beats > 0).sum() >= 3 and (beats == 0).sum() >= 2


def test_softmax_matches_reference():
    x, w, y = make_batch()
    bias = np.linspace(-1.0, 1.0, C).astype(np.float32)
    head = losses.build("softmax", D, C)
    with torch.no_grad():
        head.bias.copy_(torch.from_numpy(bias))
    assert_matches(head, x, w, y, ref.softmax(x64(x), w, bias, y))


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("lam_args", [dict(lambda_base=0.0, lambda_min=0.0), dict(lambda_base=0.0, lambda_min=5.0)])
def test_sphereface_matches_reference(m, lam_args):
    x, w, y = make_batch(seed=2)
    lam = lam_args["lambda_min"]
    assert_matches(losses.build("sphereface", D, C, m=m, **lam_args), x, w, y, ref.sphereface(x64(x), w, y, m, lam))


def test_sphereface_covers_every_branch_k_for_m4():
    x, w, y = make_batch(seed=2)
    theta = np.arccos(np.clip(ref.cosines(x64(x), w)[np.arange(len(y)), y], -1, 1))
    assert set(np.floor(4 * theta / math.pi).astype(int)) == {0, 1, 2, 3}


def test_sphereface_psi_branches():
    thetas = torch.tensor([0.1, 1.0, 1.7, 2.6, 3.1], dtype=torch.float64)
    got = losses.sphereface_psi(thetas, 4).numpy()
    want = [ref.sphereface_psi(float(t), 4) for t in thetas]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(np.diff(got) < 0), "ψ must decrease monotonically on [0, π]"


@pytest.mark.parametrize("it", [0, 1, 10, 250, 1000, 20000])
def test_sphereface_lambda_schedule(it):
    x, w, y = make_batch(seed=3)
    head = losses.build("sphereface", D, C)
    head.iteration.fill_(it)
    lam = ref.sphereface_lambda(it)
    assert float(head.current_lambda()) == pytest.approx(lam, rel=1e-12)
    assert_matches(head, x, w, y, ref.sphereface(x64(x), w, y, 4, lam))


def test_sphereface_lambda_schedule_custom():
    head = losses.build("sphereface", D, C, lambda_base=50.0, lambda_gamma=0.5, lambda_power=2.0, lambda_min=0.1)
    for it in (0, 3, 40, 400):
        head.iteration.fill_(it)
        assert float(head.current_lambda()) == pytest.approx(ref.sphereface_lambda(it, 50.0, 0.5, 2.0, 0.1), rel=1e-12)


def test_sphereface_training_counts_the_call_before_computing_lambda():
    # the official Caffe layer increments its counter first: the first call uses it = 1 (λ ≈ 892.9)
    x, w, y = make_batch(seed=3)
    head = losses.build("sphereface", D, C).train()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
    xt = torch.from_numpy(x).double()
    head = head.double()
    for it in range(3):
        got = head.per_sample(xt, torch.from_numpy(y)).detach().numpy()
        np.testing.assert_allclose(got, ref.sphereface(x64(x), w, y, 4, ref.sphereface_lambda(it + 1)), rtol=1e-9)
    assert int(head.iteration) == 3
    assert ref.sphereface_lambda(1) == pytest.approx(1000.0 / 1.12)


def test_sphereface_counter_does_not_move_on_bad_input():
    head = losses.build("sphereface", D, C).train()
    x = torch.randn(4, D)
    with pytest.raises(ValueError):
        head.per_sample(x, torch.tensor([0, 1, 2, C]))
    assert int(head.iteration) == 0


HSM_CASES = [
    {},
    {"s": 20.0, "m_max": 0.3, "m_p": 0.2, "tau": 0.5},
]


@pytest.mark.parametrize("hp", HSM_CASES, ids=str)
def test_hsm_matches_reference_with_saturated_and_unsaturated_samples(hp):
    x, w, y = make_batch(orthogonal=True)
    mu, p = ref.hsm_pseudo_margins(x64(x), w, y, COUNTS, **hp)
    assert (mu > 0).sum() >= 2 and (mu == 0).sum() >= 2, "need both kinds of sample"
    assert np.min(np.abs(p - hp.get("tau", 0.9))) > 1e-4, "p too close to tau: fragile test"
    head = losses.build("hsm", D, C, class_counts=COUNTS, **hp)
    assert_matches(head, x, w, y, ref.hsm(x64(x), w, y, COUNTS, **hp))


def test_hsm_class_margins_buffer():
    head = losses.build("hsm", D, C, class_counts=COUNTS, m_max=0.4)
    np.testing.assert_allclose(head.class_margins.numpy(), ref.hsm_class_margins(COUNTS, 0.4), rtol=1e-6)
    assert head.class_margins.argmax() == int(np.argmin(COUNTS))  # minority class: largest margin


def test_hsm_logits_have_pseudo_margin_on_saturated_samples_only():
    x, w, y = make_batch(orthogonal=True)
    head = losses.build("hsm", D, C, class_counts=COUNTS).double()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
    z = head.logits(torch.from_numpy(x64(x)), torch.from_numpy(y)).detach().numpy()
    mu, _ = ref.hsm_pseudo_margins(x64(x), w, y, COUNTS)
    cos = ref.cosines(x64(x), w)
    margins = ref.hsm_class_margins(COUNTS)
    want = 64.0 * (cos + mu[:, None])
    want[np.arange(len(y)), y] = 64.0 * (cos[np.arange(len(y)), y] - margins[y])
    np.testing.assert_allclose(z, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("t1,t2", [(0.7, 0.1), (0.5, -0.2), (0.9, 0.3)])
def test_eqm_logits_are_clipped_cosines_and_forward_is_the_mean(t1, t2):
    x, w, y = make_batch()
    head = losses.build("eqm", D, C, s=20.0, t1=t1, t2=t2).double()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
    xt, yt = torch.from_numpy(x64(x)), torch.from_numpy(y)
    z = head.logits(xt, yt).detach().numpy()
    cos = ref.cosines(x64(x), w)
    rows = np.arange(len(y))
    want = 20.0 * np.maximum(cos, t2)
    want[rows, y] = 20.0 * np.minimum(cos[rows, y], t1)
    np.testing.assert_allclose(z, want, rtol=1e-12, atol=1e-12)
    # Both sides of both thresholds occur in the batch, so the clipping is exercised.
    off = np.ones_like(cos, dtype=bool)
    off[rows, y] = False
    assert (cos[rows, y] > t1).any() and (cos[rows, y] < t1).any()
    assert (cos[off] > t2).any() and (cos[off] < t2).any()
    assert head.batch_term(yt) is None
    assert head(xt, yt).item() == pytest.approx(ref.eqm(x64(x), w, y, 20.0, t1, t2).mean(), rel=1e-12)


def test_eqm_loss_floor_is_the_offset_term():
    # A sample that meets both limits has L = log(1 + (C-1)·exp(-s(t1 - t2))), whatever its cosines.
    w = np.eye(C, D)
    x = np.eye(C, D)  # each sample on its own prototype: cos θ_y = 1 ≥ t1, cos θ_j = 0 ≤ t2
    y = np.arange(C)
    for s, t1, t2 in ((64.0, 0.7, 0.1), (8.0, 0.9, 0.3), (2.0, 0.5, 0.0)):
        head = losses.build("eqm", D, C, s=s, t1=t1, t2=t2).double()
        got = run_head(head, x, w, y, torch.float64)
        np.testing.assert_allclose(got, math.log1p((C - 1) * math.exp(-s * (t1 - t2))), rtol=1e-9, atol=1e-14)


# ----------------------------------------------------------------------------- combined margin


COMBINED_GRID = [(m1, m2, m3) for m1 in (0.8, 1.0, 1.2, 1.35, 2.0, 4.0)
                 for m2 in (0.0, 0.1, 0.25, 0.5, 1.0) for m3 in (0.0, 0.1, 0.35)]


@pytest.mark.parametrize("m1,m2,m3", COMBINED_GRID)
def test_combined_target_logit_never_increases_with_theta(m1, m2, m3):
    # The fallback exists so that z_y keeps falling as θ grows; it must not jump up at
    # θ_b = (π - m2)/m1, which ArcFace's own shift m2·sin m2 would do for m1 > 1.
    head = losses.build("combined", 2, 1, s=1.0, m1=m1, m2=m2, m3=m3).double()
    theta = torch.linspace(0.0, math.pi, 20001, dtype=torch.float64)
    boundary = (math.pi - m2) / m1
    if 0.0 < boundary < math.pi:  # sample both sides of the boundary closely
        theta = torch.cat([theta, boundary + torch.tensor([-1e-9, 0.0, 1e-9], dtype=torch.float64)])
        theta = theta.sort().values
    z = head.target(torch.cos(theta), torch.zeros_like(theta, dtype=torch.long))
    steps = z[1:] - z[:-1]
    assert steps.max().item() <= 1e-12, (m1, m2, m3, steps.max().item())


def test_combined_fallback_is_continuous_for_m1_above_one_and_arcface_for_m1_one():
    head = losses.build("combined", 2, 1, s=1.0, m1=1.35, m2=0.25, m3=0.1).double()
    boundary = (math.pi - 0.25) / 1.35
    just = torch.tensor([boundary - 1e-7, boundary + 1e-7], dtype=torch.float64)
    z = head.target(torch.cos(just), torch.zeros(2, dtype=torch.long))
    assert abs(z[1].item() - z[0].item()) < 1e-5  # was a jump of +0.40 with m2·sin m2
    head = losses.build("combined", 2, 1, s=1.0, m1=1.0, m2=0.3, m3=0.2).double()
    past = torch.tensor([math.cos(3.0)], dtype=torch.float64)
    want = math.cos(3.0) - 0.2 - 0.3 * math.sin(0.3)
    assert head.target(past, torch.zeros(1, dtype=torch.long)).item() == pytest.approx(want, rel=1e-12)


HM_BASES = [  # (base, base_kwargs, reference, embedding norms giving easy and hard samples)
    ("softmax", {}, lambda x, w, y: ref.softmax(x, w, np.zeros(C), y), (1.0, 12.0)),
    ("cosface", {}, lambda x, w, y: ref.cosface(x, w, y), (1.0, 1.0)),
    ("arcface", {"s": 16.0}, lambda x, w, y: ref.arcface(x, w, y, s=16.0), (1.0, 1.0)),
    ("sphereface", {"lambda_base": 0.0, "lambda_min": 1.0}, lambda x, w, y: ref.sphereface(x, w, y, 4, 1.0),
     (5.0, 30.0)),
    ("sface", {"s": 4.0}, lambda x, w, y: ref.sface(x, w, y, s=4.0), (1.0, 1.0)),
]


@pytest.mark.parametrize("form", ["eq4", "alg1"])
@pytest.mark.parametrize("base,base_kwargs,reference,norms", HM_BASES, ids=lambda v: v if isinstance(v, str) else "")
def test_hard_mining_matches_reference(base, base_kwargs, reference, norms, form):
    x, w, y = make_batch(seed=4, norm_range=norms, orthogonal=True)
    head = losses.build("hard_mining", D, C, base=base, base_kwargs=base_kwargs, form=form)
    base_losses = reference(x64(x), w, y)
    gate_on = 1.0 / (1.0 + np.exp(-35.0 * (1.1 * base_losses - 0.75)))
    assert gate_on.min() < 0.1 and gate_on.max() > 0.9, "batch must mix easy and hard samples"
    assert_matches(head, x, w, y, ref.hard_mining(base_losses, form=form))


def test_hard_mining_custom_gate():
    x, w, y = make_batch(seed=4)
    head = losses.build("hard_mining", D, C, base="normface", base_kwargs={"s": 5.0},
                        alpha=2.0, beta=0.7, A=3.0, B=0.2, form="alg1")
    want = ref.hard_mining(ref.normface(x64(x), w, y, 5.0), 2.0, 0.7, 3.0, 0.2, "alg1")
    assert_matches(head, x, w, y, want)


def test_normface_min_scale_reaches_target_probability():
    # Prototypes on a regular simplex, each feature on its own prototype: p_y equals P exactly at
    # the bound (NormFace, Proposition 2).
    for c, p in ((10, 0.9), (10572, 0.99), (2, 0.6)):
        s = losses.normface_min_scale(c, p)
        logits = np.full(c, -s / (c - 1))
        logits[0] = s
        assert ref.softmax_prob(logits, 0) == pytest.approx(p, rel=1e-9)


# ----------------------------------------------------------------------------- pytorch-metric-learning

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def _pml_pair(name, hp, pml_cls, pml_kwargs, x, w, y, dtype):
    ours = losses.build(name, D, C, **hp).to(dtype).eval()
    theirs = pml_cls(num_classes=C, embedding_size=D, **pml_kwargs).to(dtype)
    with torch.no_grad():
        ours.weight.copy_(torch.from_numpy(w))
        theirs.W.copy_(torch.from_numpy(w).T)  # PML keeps W as (d, C)
    xt, yt = torch.from_numpy(x).to(dtype), torch.from_numpy(y)
    with torch.no_grad():
        return ours(xt, yt).item(), theirs(xt, yt).item()


PML_CASES = [
    ("arcface", {"s": 64.0, "m": 0.5}, "ArcFaceLoss", {"margin": math.degrees(0.5), "scale": 64.0}),
    ("arcface", {"s": 30.0, "m": 0.3}, "ArcFaceLoss", {"margin": math.degrees(0.3), "scale": 30.0}),
    ("cosface", {"s": 64.0, "m": 0.35}, "CosFaceLoss", {"margin": 0.35, "scale": 64.0}),
    ("normface", {"s": 20.0}, "NormalizedSoftmaxLoss", {"temperature": 1.0 / 20.0}),
    ("sphereface", {"m": 4, "lambda_base": 0.0, "lambda_min": 0.0}, "SphereFaceLoss", {"margin": 4, "scale": 1}),
    ("sphereface", {"m": 3, "lambda_base": 0.0, "lambda_min": 0.0}, "SphereFaceLoss", {"margin": 3, "scale": 1}),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PML's own NumPy 2 deprecation
@pytest.mark.parametrize("name,hp,pml_name,pml_kwargs", PML_CASES, ids=lambda v: str(v))
def test_matches_pytorch_metric_learning(name, hp, pml_name, pml_kwargs):
    # The batch avoids θ within 1e-3 of 0 or π, where our 1e-6 clamp and PML's clamp to [-1, 1]
    # legitimately differ.
    x, w, y = make_batch(seed=5, random_rows=24)
    keep = np.r_[2:10, len(THETAS):len(y)]
    x, y = x[keep], y[keep]
    cls = getattr(pml_losses, pml_name)
    ours, theirs = _pml_pair(name, hp, cls, pml_kwargs, x, w, y, torch.float64)
    assert ours == pytest.approx(theirs, rel=1e-10)
    ours, theirs = _pml_pair(name, hp, cls, pml_kwargs, x, w, y, torch.float32)
    assert ours == pytest.approx(theirs, rel=1e-5)
