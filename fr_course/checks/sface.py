"""Checks for the SFace loss computed from a cosine matrix (assignment 2).

The student writes ``sface_loss(cos, labels, s, k, a, b) -> (N,)`` per-sample losses

    L_i = −s·sg(σ_a(θ_y))·cos θ_y + Σ_{j≠y} s·sg(σ_b(θ_j))·cos θ_j,
    σ_a(θ) = 1 / (1 + exp(−k(θ − a))),  σ_b(θ) = 1 / (1 + exp(k(θ − b))),

with θ and both sigmoids detached (sg), so that ∂L/∂cos θ_y = −s·σ_a(θ_y) and
∂L/∂cos θ_j = s·σ_b(θ_j) (Zhong et al., IEEE TIP 2021, arXiv:2205.12010; spec ``losses.md``).

The reference is :class:`fr_course.losses.SFace` itself, fed the cosines directly. The gradient
checks compare autograd through the student's function with the reference's on the target column
and on the other columns separately; inputs near θ = a and θ = b, where the sigmoids change fast,
make a missing stop-gradient visible (it adds −s·σ_a'(θ)·cos θ·dθ/dcos θ to the target's gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .core import CheckItem, as_array, close, degrees, output_problem, own_code_item, run_check
from .margins import probe_cases

DEFAULTS = {"s": 64.0, "k": 80.0, "a": 0.87, "b": 1.2}
_OTHER = {False: {"s": 10.0, "k": 20.0, "a": 0.6, "b": 1.4}, True: {"s": 32.0, "k": 40.0, "a": 0.7, "b": 1.3}}
_ATOL, _RTOL = 1e-5, 1e-6


@dataclass(frozen=True)
class Case:
    name: str
    cos: np.ndarray
    labels: np.ndarray
    hp: dict


def cases(seed: int = 0, hidden: bool = False) -> dict[str, Case]:
    """``main`` (defaults), ``scale`` (other s), ``shape`` (other k, a, b) and ``edges`` (cos = ±1)."""
    rng = np.random.default_rng([seed, int(hidden), 2])
    n, c = 40, 6
    a, b = DEFAULTS["a"], DEFAULTS["b"]
    labels = rng.integers(0, c, n)
    theta = rng.uniform(0.05, math.pi - 0.05, (n, c))
    near_b = rng.random((n, c)) < 0.3  # a third of the negatives where σ_b switches
    theta[near_b] = rng.uniform(b - 0.08, b + 0.08, int(near_b.sum()))
    target = np.concatenate([rng.uniform(a - 0.08, a + 0.08, 16), rng.uniform(0.05, math.pi - 0.05, n - 16)])
    theta[np.arange(n), labels] = rng.permutation(target)
    main = Case("main", np.cos(theta), labels.astype(np.int64), dict(DEFAULTS))
    other = _OTHER[hidden]
    scale = Case("scale", main.cos, main.labels, {**DEFAULTS, "s": other["s"]})
    shape = Case("shape", main.cos, main.labels, {**other, "s": DEFAULTS["s"]})
    edge_cos = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, 1.0, -1.0], [1.0, 0.3, -1.0]])
    edges = Case("edges", edge_cos, np.array([0, 0, 2, 0]), dict(DEFAULTS))
    return {"main": main, "scale": scale, "shape": shape, "edges": edges}


# --------------------------------------------------------------------------- probe

def probe(fn: Callable, seed: int = 0, hidden: bool = False) -> dict:
    """Run ``fn`` on every case (plain and with ``requires_grad``) and record what it returned."""
    return probe_cases("sface", fn, cases(seed, hidden), seed, hidden)


# --------------------------------------------------------------------------- reference and variants

def reference(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """``(per-sample losses, d(sum of losses)/d cos)`` of :class:`fr_course.losses.SFace`, float64."""
    import torch

    from ..losses import SFace

    class _OnCosines(SFace):
        def cosine(self, embeddings):  # the check hands the head its cosines directly
            return embeddings

    head = _OnCosines(1, case.cos.shape[1], **case.hp)
    cos = torch.tensor(case.cos, dtype=torch.float64, requires_grad=True)
    loss = head._per_sample(cos, torch.tensor(case.labels))
    (grad,) = torch.autograd.grad(loss.sum(), cos)
    return loss.detach().numpy(), grad.numpy()


def _sigmoids(theta: np.ndarray, hp: dict) -> tuple[np.ndarray, np.ndarray]:
    k, a, b = hp["k"], hp["a"], hp["b"]
    return 1.0 / (1.0 + np.exp(-k * (theta - a))), 1.0 / (1.0 + np.exp(k * (theta - b)))


def _value_variants(case: Case) -> dict[str, np.ndarray]:
    """Per-sample values of the formulas students write by mistake (float64, NumPy)."""
    cos, labels, hp = case.cos, case.labels, case.hp
    s, k, a, b = hp["s"], hp["k"], hp["a"], hp["b"]
    n = len(labels)
    rows = np.arange(n)
    theta = np.arccos(np.clip(cos, -1 + 1e-6, 1 - 1e-6))
    sig_a, sig_b = _sigmoids(theta, hp)
    others = np.ones(cos.shape, dtype=bool)
    others[rows, labels] = False
    c_y, pull = cos[rows, labels], sig_a[rows, labels]
    push = np.sum(np.where(others, sig_b * cos, 0.0), axis=1)
    flipped_b = np.sum(np.where(others, cos / (1.0 + np.exp(-k * (theta - b))), 0.0), axis=1)
    flipped_a = 1.0 / (1.0 + np.exp(k * (theta[rows, labels] - a)))
    on_cos_a = 1.0 / (1.0 + np.exp(-k * (c_y - a)))
    on_cos_b = np.sum(np.where(others, cos / (1.0 + np.exp(k * (cos - b))), 0.0), axis=1)
    return {
        "the sum over the negatives includes the label's own class (it runs over j ≠ y only)":
            s * (push + sig_b[rows, labels] * c_y - pull * c_y),
        "the pull term has the wrong sign: it is −s·σ_a(θ_y)·cos θ_y": s * (push + pull * c_y),
        "σ_b has the sign of σ_a: σ_b(θ) = 1 / (1 + exp(+k(θ − b))) switches *off* beyond b":
            s * (flipped_b - pull * c_y),
        "σ_a has the sign of σ_b: σ_a(θ) = 1 / (1 + exp(−k(θ − a))) switches *on* beyond a":
            s * (push - flipped_a * c_y),
        "the sigmoids take cos θ instead of the angle θ = arccos(cos θ)": s * (on_cos_b - on_cos_a * c_y),
        "the loss is not multiplied by s": push - pull * c_y,
        "the negatives are averaged, not summed": s * (push / (cos.shape[1] - 1) - pull * c_y),
    }


def _undetached_gradient(case: Case) -> np.ndarray:
    """d(sum L)/d cos if θ were *not* detached: the sigmoids' own derivatives are added."""
    cos, labels, hp = case.cos, case.labels, case.hp
    s, k = hp["s"], hp["k"]
    c = np.clip(cos, -1 + 1e-6, 1 - 1e-6)
    theta = np.arccos(c)
    dtheta = -1.0 / np.sqrt(np.maximum((1 - c) * (1 + c), 1e-6))
    sig_a, sig_b = _sigmoids(theta, hp)
    push = s * sig_b + s * cos * (-k * sig_b * (1 - sig_b)) * dtheta
    pull = -s * sig_a - s * cos * (k * sig_a * (1 - sig_a)) * dtheta
    rows = np.arange(len(labels))
    grad = push.copy()
    grad[rows, labels] = pull[rows, labels]
    return grad


# --------------------------------------------------------------------------- judge

def judge(probed: dict, name: str = "sface_loss") -> list[CheckItem]:
    """Diagnoses of a :func:`probe` result against :class:`fr_course.losses.SFace`."""
    all_cases = cases(probed["seed"], probed["hidden"])
    main_case, main = all_cases["main"], probed["cases"]["main"]
    n, c = main_case.cos.shape
    hp = main_case.hp
    call_text = (f"{name}(cos, labels, s={hp['s']:g}, k={hp['k']:g}, a={hp['a']:g}, b={hp['b']:g}) with cos of "
                 f"shape ({n}, {c})")
    titles = [("runs", 1), ("output shape and dtype", 1), ("input left unchanged", 1), ("loss values", 2),
              ("gradient on the target cosine", 2), ("gradient on the other cosines", 2), ("uses s, k, a, b", 1),
              ("cos = ±1", 1)]
    items: list[CheckItem] = []
    if main["error"]:
        items.append(CheckItem.result("runs", False, f"{call_text} raised {main['error']}", 1))
        items += [CheckItem.skipped(t, "the function raised an error (see above)", p) for t, p in titles[1:]]
        items.append(CheckItem.skipped("written by you", "the function raised an error (see above)", 1))
        return items
    items.append(CheckItem.result("runs", True, f"{call_text} returns without error", 1))

    def hint(shape):
        if shape == ():
            return ": a scalar (the mean?); return one loss per sample"
        if shape == (n, c):
            return ": per-class terms; add them up for each sample"
        if shape in ((n, 1), (1, n)):
            return ": squeeze it to one dimension"
        return ""

    blocking, dtype_problem = output_problem(main["output"], (n,), "cos", hint)
    if blocking:
        items.append(CheckItem.result("output shape and dtype", False, blocking, 1))
        items += [CheckItem.skipped(t, "the output has the wrong type or shape (see above)", p) for t, p in titles[2:]]
        items.append(own_code_item(probed.get("borrowed"), "numpy/torch functions are fine"))
        return items
    items.append(CheckItem.result("output shape and dtype", dtype_problem is None,
                                  dtype_problem or f"a ({n},) torch.float64 tensor: one loss per sample", 1))
    modified = bool(main.get("modified_input"))
    items.append(CheckItem.result("input left unchanged", not modified,
                                  "your function changed `cos` in place; work on a copy or use out-of-place "
                                  "operations" if modified else "`cos` is not modified", 1))

    values = as_array(main["output"])
    ref, ref_grad = reference(main_case)
    s = hp["s"]
    value_ok = close(values, ref, _ATOL * s, _RTOL)
    items.append(_value_item(values, ref, value_ok, main_case))
    items += _gradient_items(main, main_case, ref_grad, value_ok)
    items.append(_hyper_item(all_cases, probed["cases"], name, values, bool(value_ok.all())))
    items.append(_edge_item(all_cases["edges"], probed["cases"]["edges"], bool(value_ok.all())))
    items.append(own_code_item(probed.get("borrowed"), "numpy/torch functions are fine"))
    return items


def _value_item(values, ref, value_ok, case) -> CheckItem:
    title = "loss values"
    if value_ok.all():
        return CheckItem.result(title, True, "equal to the reference for every sample", 2)
    s = case.hp["s"]
    for reason, variant in _value_variants(case).items():
        if np.all(close(values, variant, _ATOL * s, _RTOL)):
            return CheckItem.result(title, False, reason, 2)
    i = int(np.flatnonzero(~value_ok)[0])
    theta_y = math.acos(max(-1.0, min(1.0, case.cos[i, case.labels[i]])))
    return CheckItem.result(title, False, f"{int((~value_ok).sum())} of {len(values)} per-sample losses differ "
                                          f"from the reference (e.g. sample {i}, θ_y = {degrees(theta_y)}: you "
                                          f"return {values[i]:.4f}, expected {ref[i]:.4f})", 2)


def _gradient_items(entry, case, ref_grad, value_ok) -> list[CheckItem]:
    titles = ("gradient on the target cosine", "gradient on the other cosines")
    if entry.get("grad_error"):
        reason = entry["grad_error"]
        if "not connected" in reason:
            reason += (": only θ and the sigmoids are detached, the cosines must keep their gradient (do not "
                       "compute the whole loss under torch.no_grad() or from detached cosines)")
        return [CheckItem.result(t, False, reason, 2) for t in titles]
    grad = as_array(entry["grad"])
    if grad is None or grad.shape != ref_grad.shape:
        return [CheckItem.result(t, False, "the gradient with respect to `cos` has the wrong shape", 2) for t in titles]
    if not value_ok.any():
        return [CheckItem.skipped(t, "no per-sample loss has the right value yet", 2) for t in titles]
    s = case.hp["s"]
    rows = np.arange(len(case.labels))
    target = np.zeros(case.cos.shape, dtype=bool)
    target[rows, case.labels] = True
    usable = np.broadcast_to(value_ok[:, None], case.cos.shape)  # rows whose loss value is right
    scope = "" if value_ok.all() else " (checked on the samples whose loss is right)"
    undetached = _undetached_gradient(case)
    theta = np.arccos(np.clip(case.cos, -1.0, 1.0))
    items = []
    for title, mask, symbol, weight, sig in ((titles[0], target, "θ_y", "−s·σ_a(θ_y)", "σ_a(θ_y)"),
                                              (titles[1], ~target, "θ_j", "s·σ_b(θ_j)", "σ_b(θ_j)")):
        region = mask & usable
        got, want = grad[region], ref_grad[region]
        ok = close(got, want, _ATOL * s, _RTOL)
        if ok.all():
            items.append(CheckItem.result(title, True, f"∂L/∂cos {symbol} = {weight}{scope}", 2))
            continue
        if np.all(close(got, undetached[region], _ATOL * s, 1e-5)):
            message = (f"{sig} is not detached: autograd differentiates the sigmoid too, adding "
                       f"s·σ'(θ)·cos θ·dθ/dcos θ to {weight}; compute θ and the sigmoids under torch.no_grad() "
                       f"(or call .detach() on θ)")
        elif np.all(got == 0):
            message = f"no gradient reaches cos {symbol}: it must be {weight}"
        else:
            i = int(np.flatnonzero(~ok)[0])
            message = (f"{int((~ok).sum())} entries differ from {weight} (e.g. at {symbol} = "
                       f"{degrees(theta[region][i])}: {got[i]:.4f}, expected {want[i]:.4f})")
        items.append(CheckItem.result(title, False, message + scope, 2))
    return items


def _hyper_item(all_cases, entries, name, values, values_ok) -> CheckItem:
    """Against the reference once the values are right; else by the function's own behaviour."""
    title = "uses s, k, a, b"
    n = len(all_cases["main"].labels)
    outputs = {}
    for key in ("scale", "shape"):
        case, entry = all_cases[key], entries[key]
        args = ", ".join(f"{p}={case.hp[p]:g}" for p in ("s", "k", "a", "b"))
        if entry.get("error"):
            return CheckItem.result(title, False, f"{name}(cos, labels, {args}) raised {entry['error']}", 1)
        blocking, _ = output_problem(entry["output"], (n,), "cos")
        if blocking:
            return CheckItem.result(title, False, f"with {args}: {blocking}", 1)
        outputs[key] = as_array(entry["output"])
    s0, s1 = all_cases["main"].hp["s"], all_cases["scale"].hp["s"]
    if values_ok:
        wrong = [key for key in outputs
                 if not np.all(close(outputs[key], reference(all_cases[key])[0], _ATOL * s0, _RTOL))]
        if not wrong:
            return CheckItem.result(title, True, "right with other s, k, a, b too", 1)
        what = {"scale": "another s", "shape": "other k, a, b"}
        return CheckItem.result(title, False, f"wrong with {' and with '.join(what[w] for w in wrong)}: use the "
                                              f"function's arguments, not constants", 1)
    problems = []
    if not np.all(close(outputs["scale"], values * (s1 / s0), _ATOL * s1, _RTOL)):
        problems.append("the loss does not scale with s")
    if np.all(close(outputs["shape"], values, _ATOL * s0, _RTOL)):
        problems.append("changing k, a and b does not change the loss")
    if problems:
        return CheckItem.result(title, False, "; ".join(problems), 1)
    return CheckItem.result(title, True, "the loss scales with s and changes with k, a, b (its values are "
                                         "checked above)", 1)


def _edge_item(case, entry, values_ok) -> CheckItem:
    title = "cos = ±1"
    if entry.get("error"):
        return CheckItem.result(title, False, f"with cosines exactly ±1 it raised {entry['error']}", 1)
    blocking, _ = output_problem(entry["output"], (len(case.labels),), "cos")
    if blocking:
        return CheckItem.result(title, False, f"with cosines exactly ±1: {blocking}", 1)
    values = as_array(entry["output"])
    hint = "clamp cos into [−1 + 1e-6, 1 − 1e-6] before arccos (its derivative is infinite at ±1)"
    if not np.all(np.isfinite(values)):
        return CheckItem.result(title, False, f"NaN or inf in the loss when some cosines are exactly ±1; {hint}", 1)
    ref, _ = reference(case)
    if values_ok and not np.all(close(values, ref, 1e-3 * case.hp["s"])):
        return CheckItem.result(title, False, "at cos = ±1 the loss differs from the reference", 1)
    grad = as_array(entry.get("grad"))
    if entry.get("grad_error") or grad is None:  # already a ✗ of the gradient check: not counted twice
        return CheckItem.result(title, True, "finite loss when cosines are exactly ±1 (the gradient is "
                                             "discussed above)", 1)
    if not np.all(np.isfinite(grad)):
        return CheckItem.result(title, False, f"the loss is finite but its gradient is NaN/inf at cos = ±1; {hint} "
                                              f"— or detach θ, as SFace does", 1)
    return CheckItem.result(title, True, "finite loss and gradient when cosines are exactly ±1", 1)


def check_sface_loss(fn: Callable, *, seed: int = 0, verbose: bool = True):
    """Check ``fn(cos, labels, s=64.0, k=80.0, a=0.87, b=1.2) -> (N,)`` against SFace (values and the
    stop-gradients); print a ✓/✗ report and return it."""
    return run_check(f"check_sface_loss({getattr(fn, '__name__', 'fn')})", lambda: probe(fn, seed),
                     lambda p: judge(p, getattr(fn, "__name__", None) or "sface_loss"), verbose)
