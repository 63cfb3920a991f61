"""Gradients (spec/losses.md, test 2): float64 ``gradcheck`` of every loss and option, and proof
that the detached parts really are detached — the head's autograd gradient equals a finite
difference of the formula with those parts frozen, and differs from a finite difference of the
un-detached formula."""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_losses as ref  # noqa: E402

from fr_course import losses  # noqa: E402

N, D, C = 6, 4, 5
COUNTS = [40, 3, 12, 7, 100]


class _PerSample(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x, y):
        return self.head.per_sample(x, y)


def inputs(seed=0, thetas=(0.4, 1.3, 2.2, 2.9), norm_range=(0.5, 3.0)):
    """float64 (x, W, y); the first rows sit at chosen target angles (incl. past π - 0.5)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((C, D))
    y = rng.integers(0, C, size=N)
    norms = rng.uniform(*norm_range, size=N)
    x = rng.standard_normal((N, D)) * norms[:, None]
    x[: len(thetas)] = ref.embeddings_at_angles(w, y[: len(thetas)], thetas, rng, norms[: len(thetas)])
    return x, w, y


def gradcheck_head(head, x, w, y, **kwargs):
    """gradcheck of per_sample (a Jacobian) and of forward, w.r.t. embeddings and all parameters."""
    head = head.double().eval()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
    names = [name for name, _ in head.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in head.named_parameters()]
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.from_numpy(y)
    wrapper = _PerSample(head)

    def per_sample(x_, *ps):
        return functional_call(wrapper, {f"head.{n}": p for n, p in zip(names, ps)}, (x_, yt))

    def forward(x_, *ps):
        return functional_call(head, dict(zip(names, ps)), (x_, yt))

    # fast_mode compares vᵀJu for random u, v (one finite difference per input instead of one
    # per input element): any wrong Jacobian entry is caught with probability 1.
    kwargs.setdefault("fast_mode", True)
    ok = torch.autograd.gradcheck(per_sample, (xt, *params), **kwargs)
    return ok and torch.autograd.gradcheck(forward, (xt, *params), **kwargs)


GRADCHECK_CASES = [
    ("softmax", {}),
    ("normface", {}),
    ("normface", {"s": 5.0, "learn_scale": True}),
    ("sphereface", {"m": 4}),  # λ = 1000 at iteration 0
    ("sphereface", {"m": 4, "lambda_base": 0.0, "lambda_min": 0.0}),
    ("sphereface", {"m": 3, "lambda_base": 0.0, "lambda_min": 2.0}),
    ("sphereface", {"m": 2, "lambda_base": 0.0, "lambda_min": 0.0}),
    ("sphereface", {"m": 1, "lambda_base": 0.0, "lambda_min": 0.0}),
    ("cosface", {}),
    ("arcface", {}),
    ("arcface", {"easy_margin": True}),
    ("arcface", {"m": 1.2, "s": 10.0}),
    ("combined", {}),
    ("combined", {"m1": 1.35, "m2": 0.5, "m3": 0.1, "s": 16.0}),
    ("eqm", {}),
    ("eqm", {"s": 8.0, "t1": 0.5, "t2": -0.3}),
    ("eqm", {"s": 16.0, "t1": 0.9, "t2": 0.4}),
    ("eqm", {"s": 8.0, "t1": 1.0, "t2": -1.0}),
    ("hsm", {"class_counts": COUNTS}),
    ("hsm", {"class_counts": COUNTS, "s": 10.0, "tau": 0.3, "m_p": 0.3}),
    *[("sv_softmax", dict(margin_type=mt, form=form, t=t))
      for mt in ("am", "arc") for form in ("adaptive", "fixed") for t in (1.0, 1.4)],
    *[("hard_mining", dict(base=base, base_kwargs=kw, form=form))
      for base, kw in (("softmax", {}), ("arcface", {"s": 8.0}), ("sphereface", {"lambda_base": 0.0}),
                       ("cosface", {"s": 8.0}), ("eqm", {"s": 8.0}))
      for form in ("eq4", "alg1")],
]


@pytest.mark.parametrize("name,hp", GRADCHECK_CASES, ids=str)
def test_gradcheck(name, hp):
    x, w, y = inputs()
    if name == "eqm":  # away from the kinks, and with both sides of each threshold present
        assert_clear_of_eqm_kinks(x, w, y, hp.get("t1", 0.7), hp.get("t2", 0.1))
    assert gradcheck_head(losses.build(name, D, C, **hp), x, w, y)


def assert_clear_of_eqm_kinks(x, w, y, t1, t2, gap=1e-3):
    cos = ref.cosines(x, w)
    rows = np.arange(len(y))
    target = cos[rows, y]
    others = np.delete(cos, y + rows * cos.shape[1])  # flattened non-target cosines
    assert np.abs(target - t1).min() > gap and np.abs(others - t2).min() > gap
    if t1 < 1.0:
        assert (target > t1).any() and (target < t1).any()
    if t2 > -1.0:
        assert (others > t2).any() and (others < t2).any()


def test_gradcheck_hard_mining_where_the_gate_is_steep():
    # Losses near the gate's threshold B/β so that σ' matters.
    x, w, y = inputs(seed=3, norm_range=(0.3, 0.8))
    head = losses.build("hard_mining", D, C, base="softmax", A=5.0, B=1.6)
    assert gradcheck_head(head, x, w, y)


# ----------------------------------------------------------------------------- detached parts

def numeric_grads(fn, x, w, h=1e-6):
    """Central differences of ``fn(x, w).sum()`` w.r.t. x and w (float64 NumPy)."""
    grads = []
    for which in (0, 1):
        base = (x, w)[which]
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[idx] += h
            minus[idx] -= h
            args_p = (plus, w) if which == 0 else (x, plus)
            args_m = (minus, w) if which == 0 else (x, minus)
            grad[idx] = (fn(*args_p).sum() - fn(*args_m).sum()) / (2 * h)
        grads.append(grad)
    return grads


def autograd_grads(head, x, w, y, method="per_sample"):
    head = head.double().eval()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w))
    head.zero_grad()
    xt = torch.from_numpy(x).requires_grad_()
    getattr(head, method)(xt, torch.from_numpy(y)).sum().backward()
    return xt.grad.numpy(), head.weight.grad.numpy()


def assert_grads_close(got, want, rtol=1e-5, atol=1e-6):
    for g, w_ in zip(got, want):
        np.testing.assert_allclose(g, w_, rtol=rtol, atol=atol)


def max_gap(got, want):
    return max(np.abs(g - w_).max() / (np.abs(w_).max() + 1e-12) for g, w_ in zip(got, want))


def test_sface_sigmas_are_detached():
    x, w, y = inputs(seed=1)
    hp = dict(s=8.0, k=6.0, a=0.9, b=1.4)  # gentle sigmoids: σ' is large on this batch
    got = autograd_grads(losses.build("sface", D, C, **hp), x, w, y)
    sig_a, sig_b = ref.sface_sigmas(x, w, y, hp["k"], hp["a"], hp["b"])
    frozen = numeric_grads(lambda x_, w_: ref.sface_frozen(x_, w_, y, sig_a, sig_b, hp["s"]), x, w)
    assert_grads_close(got, frozen)
    full = numeric_grads(lambda x_, w_: ref.sface(x_, w_, y, **hp), x, w)
    assert max_gap(got, full) > 0.05, "gradient would equal that of the un-detached formula"


def test_sface_fails_gradcheck_by_design():
    x, w, y = inputs(seed=1)
    head = losses.build("sface", D, C, s=8.0, k=6.0, a=0.9, b=1.4)
    assert not gradcheck_head(head, x, w, y, raise_exception=False)


def test_arcface_ste_detaches_the_margin():
    x, w, y = inputs(seed=2)
    s, m = 8.0, 0.5
    got = autograd_grads(losses.build("arcface", D, C, s=s, m=m, grad="ste"), x, w, y)
    cos_y = ref.cosines(x, w)[np.arange(N), y]
    shift = np.array([ref.arc_target(c, m) - c for c in cos_y])
    frozen = numeric_grads(lambda x_, w_: ref.arcface_frozen_shift(x_, w_, y, shift, s), x, w)
    assert_grads_close(got, frozen)
    exact = numeric_grads(lambda x_, w_: ref.arcface(x_, w_, y, s, m), x, w)
    assert max_gap(got, exact) > 0.05
    assert_grads_close(autograd_grads(losses.build("arcface", D, C, s=s, m=m), x, w, y), exact)


def test_arcface_exact_and_ste_target_gradients_differ_by_sin_ratio():
    # ∂z_y/∂x: exact = s·sin(θ+m)/sin θ·∂cos θ_y/∂x, ste = s·∂cos θ_y/∂x (no fallback rows).
    x, w, y = inputs(seed=2, thetas=(0.3, 0.8, 1.5, 2.1, 2.5, 0.05))
    m, grads = 0.5, {}
    for mode in ("exact", "ste"):
        head = losses.build("arcface", D, C, s=1.0, m=m, grad=mode).double()
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(w))
        xt = torch.from_numpy(x).requires_grad_()
        z = head.logits(xt, torch.from_numpy(y))
        z[np.arange(N), y].sum().backward()
        grads[mode] = xt.grad.numpy()
    theta = np.arccos(ref.cosines(x, w)[np.arange(N), y])
    ratio = np.sin(theta + m) / np.sin(theta)
    np.testing.assert_allclose(grads["exact"], ratio[:, None] * grads["ste"], rtol=1e-6, atol=1e-9)


def test_hsm_pseudo_margin_is_detached():
    x, w, y = inputs(seed=4, thetas=(0.05, 0.1, 1.5, 2.5, 0.2, 2.0), norm_range=(1.0, 1.0))
    w = np.linalg.qr(w.T)[0].T if C <= D else w
    hp = dict(s=10.0, m_max=0.3, m_p=0.2, tau=0.5)
    mu, p = ref.hsm_pseudo_margins(x, w, y, COUNTS, **hp)
    assert (mu > 0).any() and (mu == 0).any()
    head = losses.build("hsm", D, C, class_counts=COUNTS, **hp)
    got = autograd_grads(head, x, w, y)
    frozen = numeric_grads(lambda x_, w_: ref.hsm_with_mu(x_, w_, y, COUNTS, mu, hp["s"], hp["m_max"]), x, w)
    assert_grads_close(got, frozen)
    # μ_i = m_p·1[p_i > tau] is piecewise constant, so the un-detached formula has the same
    # derivative except where p_i crosses tau. Put tau just below one p_i: a finite difference of
    # the full formula then picks up the jump, autograd (μ detached) does not.
    k = int(np.argmax(mu > 0))
    hp_edge = dict(hp, tau=float(p[k]) - 1e-9)
    head_edge = losses.build("hsm", D, C, class_counts=COUNTS, **hp_edge)
    got_edge = autograd_grads(head_edge, x, w, y)
    full = numeric_grads(lambda x_, w_: ref.hsm(x_, w_, y, COUNTS, **hp_edge), x, w)
    assert max_gap(got_edge, full) > 1.0
    assert_grads_close(got_edge, got)  # same μ, same gradient


def test_sv_softmax_indicator_is_a_mask():
    # The indicator has no gradient; its effect is only through which logit formula applies,
    # so the autograd gradient equals the finite difference of the full formula.
    x, w, y = inputs(seed=5)
    hp = dict(s=8.0, m=0.2, t=1.5, margin_type="am", form="adaptive")
    got = autograd_grads(losses.build("sv_softmax", D, C, **hp), x, w, y)
    assert_grads_close(got, numeric_grads(lambda x_, w_: ref.sv_softmax(x_, w_, y, **hp), x, w))


def test_learnable_scale_gets_a_gradient():
    x, w, y = inputs()
    head = losses.build("normface", D, C, s=10.0, learn_scale=True)
    head(torch.from_numpy(x).float(), torch.from_numpy(y)).backward()
    assert isinstance(head.s, nn.Parameter) and head.s.grad is not None and head.s.grad != 0
    assert not math.isclose(float(head.s.grad), 0.0)


# ----------------------------------------------------------------------------- EqM's silent region

def eqm_single_sample_grads(s, t1, t2, cos_y, cos_others, seed=0):
    """Autograd gradients (x, W) for one sample with the given target and non-target cosines.

    The prototypes are orthonormal, so one sample fixes its cosine with every class.
    """
    rng = np.random.default_rng(seed)
    dim = C + 1
    w = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:C] * rng.uniform(0.5, 2.0, (C, 1))
    cosines = np.asarray(cos_others, dtype=np.float64).copy()
    cosines = np.insert(cosines, 0, cos_y)  # the sample's label is 0
    rest = math.sqrt(1.0 - float(np.sum(cosines ** 2)))
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    w_hat = w / np.linalg.norm(w, axis=1, keepdims=True)
    # x̂ = Σ cos_j Ŵ_j + rest·u with u orthogonal to every Ŵ_j.
    u = basis[:, 0] - w_hat.T @ (w_hat @ basis[:, 0])
    u /= np.linalg.norm(u)
    x = (cosines @ w_hat + rest * u)[None, :] * 2.5
    head = losses.build("eqm", dim, C, s=s, t1=t1, t2=t2)
    np.testing.assert_allclose(ref.cosines(x, w)[0], cosines, atol=1e-12)
    return autograd_grads(head, x, w, np.array([0]))


@pytest.mark.parametrize("s", [1.0, 64.0, 1000.0])
@pytest.mark.parametrize("t1,t2,cos_y,cos_others", [
    (0.7, 0.1, 0.75, [0.05, -0.1, 0.0, -0.3]),
    (0.5, -0.2, 0.55, [-0.25, -0.3, -0.22, -0.4]),
    (0.9, 0.6, 0.92, [0.3, -0.1, 0.0, 0.05]),
])
def test_eqm_sample_meeting_both_limits_has_exactly_zero_gradient(s, t1, t2, cos_y, cos_others):
    gx, gw = eqm_single_sample_grads(s, t1, t2, cos_y, cos_others)
    assert np.all(gx == 0.0) and np.all(gw == 0.0)


def test_eqm_target_prototype_gets_no_gradient_once_cos_y_reaches_t1():
    t1, t2 = 0.7, 0.1
    # cos θ_y above t1, two non-targets above t2: only those two prototypes (and x) move.
    gx, gw = eqm_single_sample_grads(8.0, t1, t2, cos_y=0.75, cos_others=[0.3, 0.2, 0.0, -0.2])
    assert np.all(gw[0] == 0.0)
    assert np.all(gw[3] == 0.0) and np.all(gw[4] == 0.0)  # cos θ_j ≤ t2: no gradient
    assert np.abs(gw[1]).max() > 1e-4 and np.abs(gw[2]).max() > 1e-4 and np.abs(gx).max() > 1e-4


def test_eqm_non_target_prototypes_get_no_gradient_below_t2():
    t1, t2 = 0.7, 0.1
    # cos θ_y below t1 (a hard sample), every non-target below t2: only W_y (and x) move.
    gx, gw = eqm_single_sample_grads(8.0, t1, t2, cos_y=0.4, cos_others=[0.05, 0.0, -0.3, -0.6])
    assert np.all(gw[1:] == 0.0)
    assert np.abs(gw[0]).max() > 1e-4 and np.abs(gx).max() > 1e-4


def test_eqm_gradient_equals_finite_difference_of_the_hinge_form():
    x, w, y = inputs(seed=6)
    hp = dict(s=8.0, t1=0.6, t2=0.0)
    assert_clear_of_eqm_kinks(x, w, y, hp["t1"], hp["t2"])
    got = autograd_grads(losses.build("eqm", D, C, **hp), x, w, y)
    assert_grads_close(got, numeric_grads(lambda x_, w_: ref.eqm(x_, w_, y, **hp), x, w))
