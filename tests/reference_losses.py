"""An independent float64 NumPy evaluation of every formula of spec/losses.md.

Written from the spec, sample by sample, without importing ``fr_course``: the tests compare the
package's vectorised PyTorch heads against these loops. Conventions copied from the spec:

* ``cos θ_j = Ŵ_j·x̂`` with ``x̂ = x / max(‖x‖, 1e-12)`` (the same zero-norm guard as F.normalize);
* cosines are clamped to ``[-1 + 1e-6, 1 - 1e-6]`` only where they enter ``arccos`` or ``sqrt``,
  and ``1 - cos²`` is clamped to ``≥ 1e-6``;
* CE on logits z is ``log Σ_j exp(z_j) - z_y``.

Also: NumPy helpers that build inputs with chosen target angles (θ near 0, near π, ...).
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-6


# ----------------------------------------------------------------------------- building blocks

def unit(v):
    v = np.asarray(v, dtype=np.float64)
    norm = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return v / np.maximum(norm, 1e-12)


def cosines(x, w):
    """(N, C) matrix of cosines between rows of x and rows of w."""
    return unit(x) @ unit(w).T


def clamped(c):
    return min(max(c, -1.0 + EPS), 1.0 - EPS)


def angle(c):
    return math.acos(clamped(c))


def sine(c):
    return math.sqrt(max(1.0 - clamped(c) ** 2, EPS))


def ce_row(z, y):
    z = np.asarray(z, dtype=np.float64)
    top = z.max()
    return top + math.log(np.sum(np.exp(z - top))) - z[y]


def softmax_prob(z, y):
    return math.exp(-ce_row(z, y))


def _ce_with_target(cos, y, s, target_fn):
    """Per-sample CE with z_j = s·cos_j and z_y = s·target_fn(i, cos_y)."""
    out = np.empty(len(y))
    for i, label in enumerate(y):
        z = s * cos[i].copy()
        z[label] = s * target_fn(i, cos[i, label])
        out[i] = ce_row(z, label)
    return out


# ----------------------------------------------------------------------------- the losses

def softmax(x, w, b, y):
    z = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
    return np.array([ce_row(z[i], label) for i, label in enumerate(y)])


def normface(x, w, y, s=64.0):
    return _ce_with_target(cosines(x, w), y, s, lambda i, c: c)


def sphereface_lambda(it, lambda_base=1000.0, lambda_gamma=0.12, lambda_power=1.0, lambda_min=5.0):
    return max(lambda_min, lambda_base * (1.0 + lambda_gamma * it) ** (-lambda_power))


def sphereface_psi(theta, m):
    k = math.floor(m * theta / math.pi)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def sphereface(x, w, y, m=4, lam=0.0):
    x = np.asarray(x, np.float64)
    cos = cosines(x, w)
    out = np.empty(len(y))
    for i, label in enumerate(y):
        norm = math.sqrt(float(np.sum(x[i] ** 2)))
        z = norm * cos[i].copy()
        c = cos[i, label]
        z[label] = norm * (lam * c + sphereface_psi(angle(c), m)) / (1.0 + lam)
        out[i] = ce_row(z, label)
    return out


def cosface(x, w, y, s=64.0, m=0.35):
    return _ce_with_target(cosines(x, w), y, s, lambda i, c: c - m)


def arc_target(c, m, easy_margin=False):
    """cos(θ+m) = c cos m - sin θ sin m, with the fallback / easy-margin rules of the spec."""
    shifted = c * math.cos(m) - sine(c) * math.sin(m)
    if easy_margin:
        return shifted if c > 0 else c
    return shifted if c > math.cos(math.pi - m) else c - m * math.sin(m)


def arcface(x, w, y, s=64.0, m=0.5, easy_margin=False):
    return _ce_with_target(cosines(x, w), y, s, lambda i, c: arc_target(c, m, easy_margin))


def arcface_frozen_shift(x, w, y, shift, s=64.0):
    """ArcFace 'ste' as seen by backward: z_y = s·(cos θ_y + shift_i), shift held constant."""
    return _ce_with_target(cosines(x, w), y, s, lambda i, c: c + shift[i])


def combined(x, w, y, s=64.0, m1=1.0, m2=0.3, m3=0.2):
    # Past m1·θ + m2 = π: cos θ - m3 - δ, δ = the larger of ArcFace's m2·sin m2 and the shift
    # 1 + cos θ_b that joins the pieces at θ_b = (π - m2)/m1 (the project's monotone fallback).
    shift = max(m2 * math.sin(m2), 1.0 + math.cos((math.pi - m2) / m1))

    def target(i, c):
        a = m1 * angle(c) + m2
        return math.cos(a) - m3 if a <= math.pi else c - m3 - shift

    return _ce_with_target(cosines(x, w), y, s, target)


def sv_softmax(x, w, y, s=32.0, m=0.35, t=1.2, margin_type="am", form="adaptive"):
    cos = cosines(x, w)
    out = np.empty(len(y))
    for i, label in enumerate(y):
        c_y = cos[i, label]
        f = c_y - m if margin_type == "am" else arc_target(c_y, m)
        z = np.empty(cos.shape[1])
        for k, c in enumerate(cos[i]):
            if k == label:
                z[k] = s * f
            elif c > f:  # a support vector: a negative that beats the (margined) target
                z[k] = s * (t * c + t - 1) if form == "adaptive" else s * (c + t - 1)
            else:
                z[k] = s * c
        out[i] = ce_row(z, label)
    return out


def sface_sigmas(x, w, y, k=80.0, a=0.87, b=1.2):
    """σ_a(θ_y) per sample and σ_b(θ_j) per (sample, class) at the given point."""
    cos = cosines(x, w)
    sig_a = np.array([1.0 / (1.0 + math.exp(-k * (angle(cos[i, label]) - a))) for i, label in enumerate(y)])
    sig_b = np.array([[1.0 / (1.0 + math.exp(k * (angle(c) - b))) for c in row] for row in cos])
    return sig_a, sig_b


def sface_frozen(x, w, y, sig_a, sig_b, s=64.0):
    """SFace with the sigmoid weights given (held constant): the function backward sees."""
    cos = cosines(x, w)
    out = np.empty(len(y))
    for i, label in enumerate(y):
        negatives = sum(sig_b[i, j] * cos[i, j] for j in range(cos.shape[1]) if j != label)
        out[i] = -s * sig_a[i] * cos[i, label] + s * negatives
    return out


def sface(x, w, y, s=64.0, k=80.0, a=0.87, b=1.2):
    sig_a, sig_b = sface_sigmas(x, w, y, k, a, b)
    return sface_frozen(x, w, y, sig_a, sig_b, s)


def hsm_class_margins(class_counts, m_max=0.5):
    n = np.asarray(class_counts, dtype=np.float64)
    return m_max * (n.min() / n) ** 0.25


def hsm_pseudo_margins(x, w, y, class_counts, s=64.0, m_max=0.5, m_p=0.1, tau=0.9):
    """μ_i = m_p·1[p_i > tau], p_i the label probability under z⁰ (class margin, no μ)."""
    margins = hsm_class_margins(class_counts, m_max)
    cos = cosines(x, w)
    mu = np.empty(len(y))
    p = np.empty(len(y))
    for i, label in enumerate(y):
        z0 = s * cos[i].copy()
        z0[label] = s * (cos[i, label] - margins[label])
        p[i] = softmax_prob(z0, label)
        mu[i] = m_p if p[i] > tau else 0.0
    return mu, p


def hsm_with_mu(x, w, y, class_counts, mu, s=64.0, m_max=0.5):
    margins = hsm_class_margins(class_counts, m_max)
    cos = cosines(x, w)
    out = np.empty(len(y))
    for i, label in enumerate(y):
        z = s * (cos[i] + mu[i])
        z[label] = s * (cos[i, label] - margins[label])
        out[i] = ce_row(z, label)
    return out


def hsm(x, w, y, class_counts, s=64.0, m_max=0.5, m_p=0.1, tau=0.9):
    mu, _ = hsm_pseudo_margins(x, w, y, class_counts, s, m_max, m_p, tau)
    return hsm_with_mu(x, w, y, class_counts, mu, s, m_max)


def eqm(x, w, y, s=64.0, t1=0.7, t2=0.1):
    """EqM (reconstructed), written in its hinge form, not as clipped logits.

    L_i = log(1 + Σ_{j≠y} exp(s·([cos_j - t2]_+ + [t1 - cos_y]_+ - (t1 - t2)))), which the spec
    states equals CE on z_y = s·min(cos_y, t1), z_j = s·max(cos_j, t2): computing it this other
    way also checks that identity.
    """
    cos = cosines(x, w)
    out = np.empty(len(y))
    for i, label in enumerate(y):
        pull = max(0.0, t1 - cos[i, label])
        exponents = np.array([s * (max(0.0, c - t2) + pull - (t1 - t2))
                              for j, c in enumerate(cos[i]) if j != label])
        top = max(0.0, exponents.max())  # log(exp(0) + Σ exp(e)) with a stable shift
        out[i] = top + math.log(math.exp(-top) + np.sum(np.exp(exponents - top)))
    return out


def hard_mining(base_losses, alpha=1.5, beta=1.1, A=35.0, B=0.75, form="eq4"):
    out = []
    for loss in np.asarray(base_losses, dtype=np.float64):
        gate = 1.0 / (1.0 + math.exp(-A * (beta * loss - B)))
        out.append(alpha * loss * gate if form == "eq4" else alpha * beta * loss * gate)
    return np.array(out)


# ----------------------------------------------------------------------------- inputs

def embeddings_at_angles(w, y, thetas, rng, norms=None):
    """Embeddings whose angle to their own prototype ``w[y_i]`` is ``thetas[i]`` (radians)."""
    w = np.asarray(w, np.float64)
    out = np.empty((len(y), w.shape[1]))
    for i, (label, theta) in enumerate(zip(y, thetas)):
        axis = unit(w[label])
        other = rng.standard_normal(w.shape[1])
        other = unit(other - (other @ axis) * axis)
        out[i] = math.cos(theta) * axis + math.sin(theta) * other
        if norms is not None:
            out[i] *= norms[i]
    return out
