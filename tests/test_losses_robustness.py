"""Numerical robustness (spec/losses.md, test 4): no NaN/inf in values or gradients with cosines
of exactly ±1, zero and tiny embeddings, a zero prototype, huge and small scales, and bf16
autocast inputs; under autocast the head's maths stays in float32."""

from __future__ import annotations

import pytest
import torch

from fr_course import losses

D, C = 6, 5
COUNTS = [1, 2, 3, 4, 5]

CONFIGS = [
    ("softmax", {}),
    ("normface", {}),
    ("normface", {"learn_scale": True}),
    ("sphereface", {}),
    ("sphereface", {"lambda_base": 0.0, "lambda_min": 0.0, "m": 4}),
    ("cosface", {}),
    ("arcface", {}),
    ("arcface", {"grad": "ste"}),
    ("arcface", {"easy_margin": True}),
    ("combined", {}),
    ("eqm", {}),
    ("hsm", {"class_counts": COUNTS}),
    ("sv_softmax", {"margin_type": "am", "form": "adaptive"}),
    ("sv_softmax", {"margin_type": "arc", "form": "fixed"}),
    ("sface", {}),
    ("hard_mining", {"base": "arcface"}),
    ("hard_mining", {"base": "sphereface", "form": "alg1"}),
]
SCALED = {"normface", "cosface", "arcface", "combined", "eqm", "hsm", "sv_softmax", "sface"}


def extreme_batch():
    """(head-independent) prototypes and embeddings at the edges of the domain."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(C, D, generator=g)
    w[3] = 0.0  # a zero prototype
    x = torch.stack([
        w[0],                # cos θ_y = +1 exactly (θ = 0)
        -w[1],               # cos θ_y = -1 (θ = π, past every fallback point)
        w[2] * 3.0,          # on the prototype, larger norm
        w[0],                # cos θ_j = +1 for a non-target class (label 4 below)
        torch.zeros(D),      # zero-norm embedding
        w[4] * 1e-30,        # tiny norm
        torch.randn(D, generator=g),
    ])
    y = torch.tensor([0, 1, 2, 4, 3, 4, 1])
    return x, w, y


def run(head, x, w, y, autocast=None):
    """Loss, per-sample losses and gradients (x, weight) of one training step."""
    with torch.no_grad():
        head.weight.copy_(w)
    head.zero_grad()
    x = x.detach().clone().requires_grad_()
    if autocast is None:
        per_sample = head.per_sample(x, y)
        loss = head(x, y)
    else:
        with torch.autocast("cpu", dtype=autocast):
            per_sample = head.per_sample(x, y)
            loss = head(x, y)
    loss.backward()
    return loss, per_sample, x.grad, head.weight.grad


def assert_finite(*tensors):
    for t in tensors:
        assert t is not None and torch.isfinite(t.float()).all(), t


@pytest.mark.parametrize("name,hp", CONFIGS, ids=str)
def test_edges_give_finite_values_and_gradients(name, hp):
    x, w, y = extreme_batch()
    for dtype in (torch.float32, torch.float64):
        head = losses.build(name, D, C, **hp).to(dtype)
        assert_finite(*run(head, x.to(dtype), w.to(dtype), y))


@pytest.mark.parametrize("s", [1e-3, 1e4, 1e6])
@pytest.mark.parametrize("name", sorted(SCALED))
def test_huge_and_small_scale(name, s):
    x, w, y = extreme_batch()
    hp = {"class_counts": COUNTS} if name == "hsm" else {}
    assert_finite(*run(losses.build(name, D, C, s=s, **hp), x, w, y))


@pytest.mark.parametrize("name,hp", CONFIGS, ids=str)
def test_bf16_autocast_inputs(name, hp):
    x, w, y = extreme_batch()
    x = torch.cat([x, torch.randn(4, D, generator=torch.Generator().manual_seed(1))])
    y = torch.cat([y, torch.tensor([0, 1, 2, 3])])
    head = losses.build(name, D, C, **hp)
    loss, per_sample, gx, gw = run(head, x.bfloat16(), w, y, autocast=torch.bfloat16)
    assert per_sample.dtype == torch.float32 and loss.dtype == torch.float32
    assert gx.dtype == torch.bfloat16
    assert_finite(loss, per_sample, gx, gw)
    # The same bf16 inputs without autocast give the same float32 result: nothing inside the head
    # ran in bf16 (a bf16 matmul or CE would be off by ~1e-2).
    head_ref = losses.build(name, D, C, **hp)
    _, expected, _, _ = run(head_ref, x.bfloat16().float(), w, y)
    torch.testing.assert_close(per_sample, expected, rtol=1e-6, atol=1e-6)


def test_logits_and_cosines_are_float32_under_autocast():
    x, w, y = extreme_batch()
    for name in ("normface", "arcface", "sphereface", "sv_softmax", "softmax"):
        head = losses.build(name, D, C)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert head.logits(x.bfloat16(), y).dtype == torch.float32
            assert head.per_sample(x.bfloat16(), y).dtype == torch.float32
            cos = head.cosine(x.bfloat16())
        assert cos.dtype == torch.float32
        torch.testing.assert_close(cos, head.cosine(x.bfloat16().float()), rtol=0, atol=1e-7)


def test_float64_stays_float64():
    x, w, y = extreme_batch()
    head = losses.build("arcface", D, C).double()
    assert head.per_sample(x.double(), y).dtype == torch.float64
    assert head.logits(x.double(), y).dtype == torch.float64
