"""Checks for CosFace and ArcFace logits computed from a cosine matrix (assignment 1).

The student writes ``cosface_logits(cos, labels, s, m)`` and ``arcface_logits(cos, labels, s, m)``:
from the (N, C) cosines ``cos[i, j] = cos θ_j`` of sample i and the labels y_i, the (N, C) logits

* CosFace: ``z_y = s·(cos θ_y − m)``, ``z_j = s·cos θ_j`` (j ≠ y);
* ArcFace: ``z_y = s·cos(θ_y + m)`` where ``θ_y + m ≤ π``, else ``s·(cos θ_y − m·sin m)``;
  ``z_j = s·cos θ_j`` (spec ``losses.md``; Deng et al., CVPR 2019, arXiv:1801.07698).

The reference is the package's own heads (:meth:`fr_course.losses.base.MarginLoss.scaled_logits`),
in float64. The inputs put target angles on both sides of the branch point π − m (and close to
it), so a wrong or missing branch is found and located; a second call with other ``s``, ``m``
catches hard-coded hyper-parameters, and cos = ±1 catches NaN gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .core import (CheckItem, as_array, borrowed_references, call, close, degrees, encode, output_problem,
                   own_code_item, run_check)

KINDS = ("cosface", "arcface")
DEFAULTS = {"cosface": {"s": 64.0, "m": 0.35}, "arcface": {"s": 64.0, "m": 0.5}}
# Hyper-parameters of the second call: one pair for the notebook checks, another for the grader.
_OTHER = {False: {"cosface": {"s": 30.0, "m": 0.2}, "arcface": {"s": 30.0, "m": 0.3}},
          True: {"cosface": {"s": 16.0, "m": 0.25}, "arcface": {"s": 20.0, "m": 0.4}}}
FORBIDDEN = ("fr_course.losses",)
# Tolerances on logits: float64 formulas agree to ~1e-13; a float32 computation to ~1e-6·s.
_ATOL, _RTOL = 1e-5, 1e-6
# At cos = ±1 the reference clamps cos to ±(1 − 1e-6) before sqrt, which moves z/s by up to ~1.5e-3.
_EDGE_ATOL = 3e-3


@dataclass(frozen=True)
class Case:
    name: str
    cos: np.ndarray      # (N, C) float64
    labels: np.ndarray   # (N,) int64
    hp: dict


def cases(kind: str, seed: int = 0, hidden: bool = False) -> dict[str, Case]:
    """The inputs of the check: ``main`` (the default s, m), ``scale`` and ``margin`` (the same
    cosines with another s, resp. another m) and ``edges`` (cosines exactly ±1)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, int(hidden), KINDS.index(kind), 1])
    default, other = DEFAULTS[kind], _OTHER[hidden][kind]
    main = _random_case("main", kind, rng, default, n=48, c=7)
    scale = Case("scale", main.cos, main.labels, {"s": other["s"], "m": default["m"]})
    margin = Case("margin", main.cos, main.labels, {"s": default["s"], "m": other["m"]})
    edge_cos = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, 1.0, -1.0], [1.0, 0.3, -1.0], [-0.2, -1.0, 1.0]])
    edges = Case("edges", edge_cos, np.array([0, 0, 2, 0, 1]), dict(default))
    return {"main": main, "scale": scale, "margin": margin, "edges": edges}


def _random_case(name: str, kind: str, rng: np.random.Generator, hp: dict, n: int, c: int) -> Case:
    labels = rng.integers(0, c, n)
    theta = rng.uniform(0.0, math.pi, (n, c))
    if kind == "arcface":  # both sides of the branch point π − m, some within 0.04 rad of it
        b = math.pi - hp["m"]
        parts = [rng.uniform(0.02, b - 0.05, n - 24), rng.uniform(b + 0.05, math.pi - 0.02, 12),
                 rng.uniform(b - 0.04, b - 0.004, 6), rng.uniform(b + 0.004, b + 0.04, 6)]
        target = rng.permutation(np.concatenate(parts))
    else:
        target = rng.uniform(0.02, math.pi - 0.02, n)
    theta[np.arange(n), labels] = target
    return Case(name, np.cos(theta), labels.astype(np.int64), dict(hp))


# --------------------------------------------------------------------------- probe (student side)

def probe(kind: str, fn: Callable, seed: int = 0, hidden: bool = False) -> dict:
    """Run ``fn`` on every case (once plain, once with ``requires_grad``) and record the results."""
    return probe_cases(kind, fn, cases(kind, seed, hidden), seed, hidden)


def probe_cases(kind: str, fn: Callable, all_cases: dict, seed: int, hidden: bool) -> dict:
    """What ``fn(cos, labels, **hp)`` returned on each case: output, error, in-place change, gradient.

    Shared by every check on functions of a cosine matrix (the margins here, SFace).
    """
    import torch

    result: dict = {"kind": kind, "seed": seed, "hidden": hidden, "cases": {}}
    try:
        result["borrowed"] = borrowed_references(fn, FORBIDDEN)
    except Exception:  # an exotic callable: inspection is best effort
        result["borrowed"] = None
    for name, case in all_cases.items():
        cos = torch.tensor(case.cos, dtype=torch.float64)
        before = cos.clone()
        out, error = call(fn, cos, torch.tensor(case.labels), **case.hp)
        entry: dict = {"error": error}
        if error is None:
            entry["output"] = encode(out)
            entry["modified_input"] = not torch.equal(cos, before)
        entry.update(gradient_of(fn, case.cos, case.labels, case.hp))
        result["cases"][name] = entry
    return result


def gradient_of(fn: Callable, cos_values: np.ndarray, labels: np.ndarray, kwargs: dict, reduce=None) -> dict:
    """``{"grad": encoded d(sum of output)/d cos, "grad_error": why not}`` for a fresh call of ``fn``."""
    import torch

    cos = torch.tensor(cos_values, dtype=torch.float64, requires_grad=True)
    out, error = call(fn, cos, torch.tensor(labels), **kwargs)
    if error is not None:
        return {"grad": None, "grad_error": f"with requires_grad=True input it raised {error}"}
    if not isinstance(out, torch.Tensor):
        return {"grad": None, "grad_error": f"it returned {type(out).__name__}, not a tensor"}
    if not out.requires_grad:
        return {"grad": None, "grad_error": "the result is not connected to `cos` by autograd"}
    try:
        (grad,) = torch.autograd.grad(out.sum() if reduce is None else reduce(out), cos, allow_unused=True)
    except Exception as exc:  # e.g. an in-place operation on a leaf, a shape error in backward
        return {"grad": None, "grad_error": f"backward failed: {type(exc).__name__}: {exc}"}
    if grad is None:
        return {"grad": None, "grad_error": "the result is not connected to `cos` by autograd"}
    return {"grad": encode(grad), "grad_error": None}


# --------------------------------------------------------------------------- reference

def reference(kind: str, case: Case, grad: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """``(logits, d(sum of logits)/d cos)`` of the package's head, in float64."""
    import torch

    from .. import losses

    extra = {"grad": grad} if kind == "arcface" else {}
    head = losses.build(kind, embedding_dim=1, num_classes=case.cos.shape[1], **case.hp, **extra)
    cos = torch.tensor(case.cos, dtype=torch.float64, requires_grad=True)
    z = head.scaled_logits(cos, torch.tensor(case.labels))
    (g,) = torch.autograd.grad(z.sum(), cos)
    return z.detach().numpy(), g.numpy()


def _candidates(kind: str, m: float, c: np.ndarray, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Target-logit formulas (divided by s) that students write, right ones first."""
    forms = {
        "cos(θ + m)": np.cos(theta + m),
        "cos θ − m·sin m": c - m * math.sin(m),
        "cos θ − m": c - m,
        "cos(θ − m)": np.cos(theta - m),
        "cos θ + m": c + m,
        "cos θ": c,
    }
    if kind == "cosface":
        forms = {"cos θ − m": forms.pop("cos θ − m"), **forms}
    return forms


def _classify(values: np.ndarray, forms: dict[str, np.ndarray], s: float) -> np.ndarray:
    """Per entry, the first formula whose ``s·f`` (or ``f``: "unscaled") matches; "" if none."""
    labels = np.full(values.shape, "", dtype=object)
    for scaled in (True, False):
        for name, f in forms.items():
            expected = s * f if scaled else f
            hit = (labels == "") & close(values, expected, _ATOL * (s if scaled else 1.0), _RTOL)
            labels[hit] = name if scaled else f"{name} (not multiplied by s)"
    return labels


# --------------------------------------------------------------------------- judge (grader side)

def judge(kind: str, probed: dict, name: str | None = None) -> list[CheckItem]:
    """Diagnoses of a :func:`probe` result against the reference (see the module docstring)."""
    name = name or f"{kind}_logits"
    all_cases = cases(kind, probed["seed"], probed["hidden"])
    main_case, main = all_cases["main"], probed["cases"]["main"]
    hp = main_case.hp
    n, c = main_case.cos.shape
    call_text = f"{name}(cos, labels, s={hp['s']:g}, m={hp['m']:g}) with cos of shape ({n}, {c})"
    arc = kind == "arcface"
    titles = [("runs", 1), ("output shape and dtype", 1), ("input left unchanged", 1), ("non-target logits", 1),
              ("target logit" + (" where θ + m ≤ π" if arc else ""), 2)]
    if arc:
        titles.append(("fallback where θ + m > π", 2))
    titles += [("uses s and m", 1), ("gradient", 1), ("cos = ±1", 1)]

    items: list[CheckItem] = []
    if main["error"]:
        items.append(CheckItem.result("runs", False, f"{call_text} raised {main['error']}", 1))
        items += [CheckItem.skipped(t, "the function raised an error (see above)", p) for t, p in titles[1:]]
        items.append(CheckItem.skipped("written by you", "the function raised an error (see above)", 1))
        return items
    items.append(CheckItem.result("runs", True, f"{call_text} returns without error", 1))

    blocking, dtype_problem = output_problem(main["output"], (n, c), "cos", _shape_hint(n, c))
    if blocking:
        items.append(CheckItem.result("output shape and dtype", False, blocking, 1))
        items += [CheckItem.skipped(t, "the output has the wrong type or shape (see above)", p) for t, p in titles[2:]]
        items.append(own_code_item(probed.get("borrowed"), "numpy/torch functions are fine"))
        return items
    items.append(CheckItem.result("output shape and dtype", dtype_problem is None,
                                  dtype_problem or f"a ({n}, {c}) torch.float64 tensor", 1))
    items.append(CheckItem.result(
        "input left unchanged", not main.get("modified_input"),
        "your function changed `cos` in place (e.g. `cos[rows, labels] = ...`); work on a copy "
        "(`logits = s * cos` makes one) or use out-of-place operations" if main.get("modified_input")
        else "`cos` is not modified", 1))

    values = as_array(main["output"])
    ref, ref_grad = reference(kind, main_case)
    s, m = hp["s"], hp["m"]
    rows = np.arange(n)
    target_mask = np.zeros((n, c), dtype=bool)
    target_mask[rows, main_case.labels] = True
    items.append(_non_target_item(values, main_case.cos, target_mask, s, m, kind))

    c_y = main_case.cos[rows, main_case.labels]
    theta_y = np.arccos(np.clip(c_y, -1.0, 1.0))
    z_y = values[rows, main_case.labels]
    labels_y = _classify(z_y, _candidates(kind, m, c_y, theta_y), s)
    if arc:
        inside = theta_y + m <= math.pi
        switch = _branch_switch(labels_y, theta_y, m)
        items.append(_region_item("target logit where θ + m ≤ π", inside, labels_y, "cos(θ + m)", z_y,
                                  ref[rows, main_case.labels], c_y, theta_y, s, m, switch, kind))
        items.append(_region_item("fallback where θ + m > π", ~inside, labels_y, "cos θ − m·sin m", z_y,
                                  ref[rows, main_case.labels], c_y, theta_y, s, m, switch, kind))
    else:
        items.append(_region_item("target logit", np.ones(n, dtype=bool), labels_y, "cos θ − m", z_y,
                                  ref[rows, main_case.labels], c_y, theta_y, s, m, None, kind))
    value_ok = close(values, ref, _ATOL * s, _RTOL)

    items.append(_hyper_item(kind, name, all_cases, probed["cases"], values, bool(value_ok.all())))
    items.append(_gradient_item(kind, main, main_case, ref_grad, target_mask, theta_y, value_ok))
    items.append(_edge_item(kind, all_cases["edges"], probed["cases"]["edges"], bool(value_ok.all())))
    items.append(own_code_item(probed.get("borrowed"), "numpy/torch functions are fine"))
    return items


def _shape_hint(n: int, c: int):
    def hint(shape: tuple) -> str:
        if shape == (n,):
            return ": that looks like the target logits only; return the whole matrix with the label's column replaced"
        if shape == (c, n):
            return ": transposed? rows are samples, columns are classes"
        if shape == ():
            return ": the function returns logits, not a loss"
        return ""
    return hint


def _example(where: np.ndarray, got: np.ndarray, expected: np.ndarray, c: np.ndarray, theta: np.ndarray) -> str:
    i = int(np.flatnonzero(where)[0])
    return (f"e.g. at θ_y = {degrees(theta[i])} (cos θ_y = {c[i]:.4f}) you return {got[i]:.4f}, "
            f"expected {expected[i]:.4f}")


def _non_target_item(values, cos, target_mask, s, m, kind) -> CheckItem:
    title = "non-target logits"
    got, c = values[~target_mask], cos[~target_mask]
    good = close(got, s * c, _ATOL * s, _RTOL)
    if good.all():
        return CheckItem.result(title, True, "z_j = s·cos θ_j for every class but the label", 1)
    theta = np.arccos(np.clip(c, -1.0, 1.0))
    labels = _classify(got, _candidates(kind, m, c, theta), s)
    bad = ~good
    counts = {lab: int(np.sum(labels[bad] == lab)) for lab in set(labels[bad])}
    top = max(counts, key=counts.get)
    share = f"{int(bad.sum())} of {bad.size} non-target logits differ from s·cos θ_j"
    if top == "cos θ (not multiplied by s)":
        reason = "they are not multiplied by s"
    elif top and top != "cos θ":
        reason = (f"they look like s·({top}): the margin was applied to other classes too; only the label's "
                  f"column gets it (index it as logits[torch.arange(N), labels])")
    else:
        reason = "check how you build the matrix before replacing the label's column"
    i = int(np.flatnonzero(bad)[0])
    return CheckItem.result(title, False, f"{share}: {reason} (e.g. cos θ_j = {c[i]:.4f}: you return "
                                          f"{got[i]:.4f}, expected {s * c[i]:.4f})", 1)


def _branch_switch(labels: np.ndarray, theta: np.ndarray, m: float) -> str | None:
    """Where the student's function switches from cos(θ + m) to the fallback, if it is not π − m."""
    main, fallback = labels == "cos(θ + m)", labels == "cos θ − m·sin m"
    if not (main.any() and fallback.any()) or not np.all(main | fallback):
        return None
    last_main, first_fallback = theta[main].max(), theta[fallback].min()
    if last_main >= first_fallback:
        return "the two branches are mixed up, not split at one angle: check the condition of your torch.where"
    if last_main <= math.pi - m <= first_fallback:
        return None
    return (f"your function switches to the fallback between θ = {degrees(last_main)} and {degrees(first_fallback)}, "
            f"but the switch belongs at θ = π − m = {degrees(math.pi - m)} (condition: cos θ > cos(π − m))")


_REASONS = {
    ("arcface", "cos(θ + m)", "cos θ − m·sin m"): "the fallback is used where θ + m ≤ π",
    ("arcface", "cos(θ + m)", "cos(θ − m)"): "the margin has the wrong sign: s·cos(θ − m) raises the target logit; "
                                             "ArcFace lowers it with s·cos(θ + m) = s·(cos θ cos m − sin θ sin m)",
    ("arcface", "cos(θ + m)", "cos θ − m"): "that is CosFace's margin s·(cos θ − m); ArcFace adds m to the angle: "
                                            "s·cos(θ + m)",
    ("arcface", "cos(θ + m)", "cos θ"): "no margin: the label's column is left at s·cos θ (check the indexing "
                                        "with labels)",
    ("arcface", "cos θ − m·sin m", "cos(θ + m)"): "no fallback: past π − m, cos(θ + m) rises again with θ, so a "
                                                 "sample moving away from its class would lower its loss; use "
                                                 "s·(cos θ − m·sin m) there",
    ("arcface", "cos θ − m·sin m", "cos θ − m"): "the fallback is s·(cos θ − m·sin m), not s·(cos θ − m)",
    ("arcface", "cos θ − m·sin m", "cos θ"): "past π − m you leave the target at s·cos θ (no margin at all); "
                                            "ArcFace's fallback is s·(cos θ − m·sin m)",
    ("cosface", "cos θ − m", "cos θ + m"): "the margin has the wrong sign: the target logit must go down, "
                                           "s·(cos θ − m)",
    ("cosface", "cos θ − m", "cos θ"): "no margin: the label's column is left at s·cos θ (check the indexing "
                                       "with labels)",
    ("cosface", "cos θ − m", "cos(θ + m)"): "that is ArcFace's angular margin; CosFace subtracts m from the "
                                            "cosine: s·(cos θ − m)",
}


def _region_item(title, region, labels, expected, got, ref, c, theta, s, m, switch, kind) -> CheckItem:
    points = 2
    if not region.any():
        return CheckItem.skipped(title, "no such target in the inputs", points)
    bad = region & (labels != expected)
    formula = {"cos(θ + m)": "s·cos(θ + m)", "cos θ − m·sin m": "s·(cos θ − m·sin m)",
               "cos θ − m": "s·(cos θ − m)"}[expected]
    if not bad.any():
        return CheckItem.result(title, True, f"z_y = {formula} for all {int(region.sum())} such targets", points)
    found = [lab for lab in labels[bad]]
    top = max(set(found), key=found.count)
    if top == f"{expected} (not multiplied by s)":
        reason = "the target logit is not multiplied by s"
    elif top.endswith("(not multiplied by s)"):
        base = top.replace(" (not multiplied by s)", "")
        reason = _REASONS.get((kind, expected, base), f"you compute {base}") + "; and it is not multiplied by s"
    else:
        reason = _REASONS.get((kind, expected, top), "the values match none of the usual formulas")
    text = f"{int(bad.sum())} of {int(region.sum())} differ from {formula}: {reason}"
    if switch and top in ("cos θ − m·sin m", "cos(θ + m)"):
        text += f"; {switch}"
    return CheckItem.result(title, False, f"{text} ({_example(bad, got, ref, c, theta)})", points)


def _other_output(entry: dict, shape: tuple, what: str) -> tuple[np.ndarray | None, str | None]:
    """The values of a secondary call, or why there are none."""
    if entry.get("error"):
        return None, f"{what} it raised {entry['error']}"
    blocking, _ = output_problem(entry["output"], shape, "cos")
    if blocking:
        return None, f"{what}: {blocking}"
    return as_array(entry["output"]), None


def _hyper_item(kind, name, all_cases, entries, values, values_ok) -> CheckItem:
    """Does the function use its s and m? Against the reference when the default case is right;
    otherwise by the function's own behaviour (z scales with s; the target column moves with m),
    so that one wrong formula is not penalised twice."""
    title = "uses s and m"
    main = all_cases["main"]
    shape = main.cos.shape
    s0, m0 = main.hp["s"], main.hp["m"]
    s1, m1 = all_cases["scale"].hp["s"], all_cases["margin"].hp["m"]
    scaled, why = _other_output(entries["scale"], shape, f"called as {name}(cos, labels, s={s1:g}, m={m0:g})")
    if why:
        return CheckItem.result(title, False, why, 1)
    moved, why = _other_output(entries["margin"], shape, f"called as {name}(cos, labels, s={s0:g}, m={m1:g})")
    if why:
        return CheckItem.result(title, False, why, 1)
    if values_ok:
        problems = []
        if not np.all(close(scaled, reference(kind, all_cases["scale"])[0], _ATOL * s1, _RTOL)):
            problems.append(f"with s={s1:g} the logits are wrong" +
                            (" (it still uses s=64)" if np.all(close(scaled, values, _ATOL * s0, _RTOL)) else ""))
        if not np.all(close(moved, reference(kind, all_cases["margin"])[0], _ATOL * s0, _RTOL)):
            problems.append(f"with m={m1:g} the logits are wrong" +
                            (f" (it still uses m={m0:g})" if np.all(close(moved, values, _ATOL * s0, _RTOL)) else ""))
        if problems:
            return CheckItem.result(title, False, "; ".join(problems) + ": use the function's arguments, not "
                                                                       "constants", 1)
        return CheckItem.result(title, True, f"right with s={s1:g} and with m={m1:g} too", 1)
    problems = []
    if not np.all(close(scaled, values * (s1 / s0), _ATOL * s1, _RTOL)):
        problems.append(f"the logits do not scale with s (s={s1:g} should give {s1 / s0:g} times the logits of "
                        f"s={s0:g})")
    rows = np.arange(len(main.labels))
    mask = np.ones(shape, dtype=bool)
    mask[rows, main.labels] = False
    if np.all(close(moved[rows, main.labels], values[rows, main.labels], _ATOL * s0, _RTOL)):
        problems.append(f"changing m from {m0:g} to {m1:g} does not change the target logits")
    if problems:
        return CheckItem.result(title, False, "; ".join(problems), 1)
    return CheckItem.result(title, True, "the logits scale with s and the target logits move with m (their "
                                         "values are checked above)", 1)


def _gradient_item(kind, entry, case, ref_grad, target_mask, theta_y, value_ok) -> CheckItem:
    """Autograd's d(sum z)/d cos against the reference, on the entries whose values are right."""
    title = "gradient"
    if entry.get("grad_error"):
        reason = entry["grad_error"]
        if "not connected" in reason:
            reason += (": .detach(), .numpy(), .item(), torch.no_grad() or building a new tensor with "
                       "torch.tensor(...) cut the graph")
        return CheckItem.result(title, False, reason, 1)
    grad = as_array(entry["grad"])
    s = case.hp["s"]
    if grad is None or grad.shape != ref_grad.shape:
        return CheckItem.result(title, False, "the gradient with respect to `cos` has the wrong shape", 1)
    if not value_ok.any():
        return CheckItem.skipped(title, "no logit has the right value yet", 1)
    scope = "" if value_ok.all() else " (checked where the values are right)"
    bad = value_ok & ~close(grad, ref_grad, _ATOL * s, _RTOL)
    if not bad.any():
        return CheckItem.result(title, True, f"autograd gives the reference's gradient{scope}", 1)
    if kind == "arcface":
        _, ste = reference(kind, case, grad="ste")
        if np.all(close(grad, ste, _ATOL * s, _RTOL)[value_ok]):
            return CheckItem.result(title, False, "this is the straight-through gradient (the margin is detached); "
                                                  "this assignment asks for the exact gradient of the formula, so "
                                                  "nothing may be detached", 1)
    rows = np.arange(len(case.labels))
    if (bad & target_mask).any():
        i = int(np.flatnonzero(bad[rows, case.labels])[0])
        detail = (f"at θ_y = {degrees(theta_y[i])}: ∂z_y/∂cos θ_y = {grad[i, case.labels[i]]:.4f}, expected "
                  f"{ref_grad[i, case.labels[i]]:.4f}")
        where = "target"
    else:
        r, col = map(int, np.argwhere(bad)[0])
        detail = f"∂z_j/∂cos θ_j = {grad[r, col]:.4f} for a non-target class, expected {ref_grad[r, col]:.4f} (= s)"
        where = "non-target"
    return CheckItem.result(title, False, f"the gradient differs on {int(bad.sum())} {where} entries{scope}; "
                                          f"{detail}", 1)


def _edge_item(kind, case, entry, values_ok) -> CheckItem:
    """Finite logits and gradients at cos = ±1 (and, once the formula is right, the right values)."""
    title = "cos = ±1"
    if entry.get("error"):
        return CheckItem.result(title, False, f"with cosines exactly ±1 it raised {entry['error']}", 1)
    values, why = _other_output(entry, case.cos.shape, "with cosines exactly ±1")
    if why:
        return CheckItem.result(title, False, why, 1)
    hint = ("clamp cos into [−1 + 1e-6, 1 − 1e-6] before arccos, or 1 − cos² to ≥ 1e-6 before sqrt: their "
            "derivatives are infinite at ±1")
    if not np.all(np.isfinite(values)):
        return CheckItem.result(title, False, f"NaN or inf in the logits when some cosines are exactly ±1; {hint}", 1)
    ref, _ = reference(kind, case)
    if values_ok and not np.all(close(values, ref, _EDGE_ATOL * case.hp["s"])):
        return CheckItem.result(title, False, "at cos = ±1 the logits differ from the reference by more than the "
                                              "clamping explains", 1)
    grad = as_array(entry.get("grad"))
    if entry.get("grad_error") or grad is None:  # already a ✗ of the gradient check: not counted twice
        return CheckItem.result(title, True, "finite logits when cosines are exactly ±1 (the gradient is "
                                             "discussed above)", 1)
    if not np.all(np.isfinite(grad)):
        return CheckItem.result(title, False, f"the values are finite but the gradient is NaN/inf at cos = ±1; {hint}", 1)
    return CheckItem.result(title, True, "finite logits and gradients when cosines are exactly ±1", 1)


# --------------------------------------------------------------------------- notebook entry points

def check_cosface_logits(fn: Callable, *, seed: int = 0, verbose: bool = True):
    """Check ``fn(cos, labels, s=64.0, m=0.35) -> (N, C) logits`` against CosFace; print a ✓/✗ report."""
    return run_check(f"check_cosface_logits({getattr(fn, '__name__', 'fn')})", lambda: probe("cosface", fn, seed),
                     lambda p: judge("cosface", p, getattr(fn, "__name__", None)), verbose)


def check_arcface_logits(fn: Callable, *, seed: int = 0, verbose: bool = True):
    """Check ``fn(cos, labels, s=64.0, m=0.5) -> (N, C) logits`` against ArcFace (with its fallback past
    π − m); print a ✓/✗ report and return it."""
    return run_check(f"check_arcface_logits({getattr(fn, '__name__', 'fn')})", lambda: probe("arcface", fn, seed),
                     lambda p: judge("arcface", p, getattr(fn, "__name__", None)), verbose)
