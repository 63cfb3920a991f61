"""Checks for the 10-fold verification accuracy (assignment 3).

The student writes ``kfold_accuracy(emb_a, emb_b, is_same, n_folds=10) -> (mean, std, thresholds)``,
the LFW protocol as insightface runs it (spec ``data.md`` §4): L2-normalise, squared distance
``d = ‖â − b̂‖²``, ``n_folds`` contiguous folds (the first ``P mod n_folds`` one pair larger), for each
fold the first threshold of ``np.arange(0, 4, 0.01)`` that is best on the *other* folds, "same"
where ``d < t``, accuracy on the held-out fold; mean and population std (ddof = 0).

The reference is :func:`fr_course.evaluation.kfold_accuracy`. To say *what* is wrong, the judge
also computes the protocol with one detail changed at a time (:func:`protocol`) — no
normalisation, threshold chosen on the held-out fold, strided folds, ``d ≤ t``, last instead of
first best threshold, ddof = 1, ... — and names the variant the student's numbers match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .core import CheckItem, as_array, borrowed_references, call, encode, own_code_item, run_check

FORBIDDEN = ("fr_course.evaluation",)
_GRID = np.arange(0, 4, 0.01)


@dataclass(frozen=True)
class Case:
    name: str
    emb_a: np.ndarray
    emb_b: np.ndarray
    is_same: np.ndarray
    n_folds: int


def cases(seed: int = 0, hidden: bool = False) -> dict[str, Case]:
    """``main`` (600 pairs, LFW layout, embeddings of random norms), ``uneven`` (203 pairs),
    ``five_folds`` (n_folds=5) and ``identical`` (matched pairs at distance exactly 0)."""
    rng = np.random.default_rng([seed, int(hidden), 3])
    layout = np.tile(np.repeat([True, False], 30), 10)  # per fold: 30 matched, then 30 mismatched
    main = _pairs("main", rng, layout, 10)
    uneven = _pairs("uneven", rng, rng.random(203) < 0.5, 10)
    five = _pairs("five_folds", rng, rng.random(250) < 0.5, 5)
    same = np.tile(np.repeat([True, False], 5), 10)
    a = rng.standard_normal((100, 8))
    b = np.where(same[:, None], a, rng.standard_normal((100, 8)))
    identical = Case("identical", a, b, same, 10)
    return {"main": main, "uneven": uneven, "five_folds": five, "identical": identical}


def _pairs(name: str, rng: np.random.Generator, is_same: np.ndarray, n_folds: int, dim: int = 16) -> Case:
    """Pairs of noisy copies of one identity vector (matched) or of two (mismatched), scaled by
    random norms so that forgetting to normalise changes the result."""
    p = len(is_same)
    first = rng.standard_normal((p, dim))
    second = np.where(is_same[:, None], first, rng.standard_normal((p, dim)))
    emb_a = first + 0.9 * rng.standard_normal((p, dim))
    emb_b = second + 0.9 * rng.standard_normal((p, dim))
    norms = np.exp(rng.normal(0.0, 0.7, (2, p, 1)))
    return Case(name, emb_a * norms[0], emb_b * norms[1], is_same, n_folds)


# --------------------------------------------------------------------------- the protocol and its variants

def protocol(emb_a, emb_b, is_same, n_folds: int = 10, *, normalise: bool = True, folds: str = "contiguous",
             select: str = "others", compare: str = "<", tie: str = "first", ddof: int = 0,
             distance: str = "squared") -> tuple[float, float, np.ndarray]:
    """The LFW protocol with one detail switchable, for diagnoses; the defaults are the real one.

    ``folds``: "contiguous" (KFold), "strided" (fold k = pairs k, k+n, ...), "truncate" (blocks of
    P // n, the remainder never tested), "last_gets_rest"; ``select``: "others" (the other folds),
    "test" (the held-out fold itself), "all"; ``compare``: "<" or "<="; ``tie``: "first"/"last";
    ``distance``: "squared", "euclidean" (‖â − b̂‖) or "cosine" (cos > t on np.arange(-1, 1, 0.01)).
    """
    a, b = np.asarray(emb_a, dtype=np.float64), np.asarray(emb_b, dtype=np.float64)
    same = np.asarray(is_same, dtype=bool)
    if normalise:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
    p = len(same)
    if distance == "cosine":
        score, grid = -np.sum(a * b, axis=1), -np.arange(-1, 1, 0.01)  # "same" where cos > t
        shown = -grid
    else:
        score = np.sum((a - b) ** 2, axis=1)
        if distance == "euclidean":
            score = np.sqrt(score)
        grid = shown = _GRID
    predicted = score[None, :] < grid[:, None] if compare == "<" else score[None, :] <= grid[:, None]
    correct = predicted == same[None, :]
    index = np.arange(p)
    if folds == "contiguous":
        parts = np.array_split(index, n_folds)
    elif folds == "strided":
        parts = [index[k::n_folds] for k in range(n_folds)]
    else:
        size = p // n_folds
        parts = [index[k * size:(k + 1) * size] for k in range(n_folds)]
        if folds == "last_gets_rest":
            parts[-1] = index[(n_folds - 1) * size:]
    accuracies, thresholds = [], []
    for part in parts:
        held_out = np.zeros(p, dtype=bool)
        held_out[part] = True
        chooser = {"others": ~held_out, "test": held_out, "all": np.ones(p, dtype=bool)}[select]
        counts = correct[:, chooser].sum(axis=1)
        best = int(np.argmax(counts)) if tie == "first" else len(counts) - 1 - int(np.argmax(counts[::-1]))
        thresholds.append(shown[best])
        accuracies.append(correct[best, held_out].mean())
    return float(np.mean(accuracies)), float(np.std(accuracies, ddof=ddof)), np.array(thresholds)


VARIANTS: dict[str, dict] = {
    "the embeddings are not L2-normalised before the distance (divide each row by its norm first)":
        {"normalise": False},
    "each fold's threshold is chosen on that same held-out fold, which is optimistic; choose it on the "
    "other folds": {"select": "test"},
    "the threshold is chosen on all pairs, the held-out fold included; choose it on the other folds only":
        {"select": "all"},
    "the folds must be contiguous blocks in file order (fold 1 = the first P/n_folds pairs, ...), not "
    "every n-th pair": {"folds": "strided"},
    "when P is not a multiple of n_folds, the first P mod n_folds folds get one pair more (scikit-learn's "
    "KFold, np.array_split); your folds leave the remainder out": {"folds": "truncate"},
    "when P is not a multiple of n_folds, the first P mod n_folds folds get one pair more (scikit-learn's "
    "KFold, np.array_split); your last fold takes the whole remainder": {"folds": "last_gets_rest"},
    "predict \"same\" where the distance is strictly below the threshold (d < t), not d ≤ t": {"compare": "<="},
    "when several thresholds are equally good on the training folds take the first (smallest), as "
    "np.argmax does; you took the last": {"tie": "last"},
    "the std is the population standard deviation (ddof = 0, np.std's default); you used ddof = 1": {"ddof": 1},
    "the distance is the squared Euclidean distance ‖â − b̂‖² (in [0, 4]), not ‖â − b̂‖": {"distance": "euclidean"},
    "the thresholds are squared distances on np.arange(0, 4, 0.01), not cosine similarities":
        {"distance": "cosine"},
}


def reference(case: Case) -> tuple[float, float, np.ndarray]:
    """``(mean, std, thresholds)`` from :func:`fr_course.evaluation.kfold_accuracy`."""
    from ..evaluation import kfold_accuracy

    result = kfold_accuracy(case.emb_a, case.emb_b, case.is_same, n_folds=case.n_folds)
    return result.accuracy_mean, result.accuracy_std, np.asarray(result.thresholds)


# --------------------------------------------------------------------------- probe

def probe(fn: Callable, seed: int = 0, hidden: bool = False) -> dict:
    """Call ``fn`` on every case with NumPy inputs and record what it returned."""
    result: dict = {"kind": "kfold", "seed": seed, "hidden": hidden, "cases": {}}
    try:
        result["borrowed"] = borrowed_references(fn, FORBIDDEN)
    except Exception:  # inspection is best effort
        result["borrowed"] = None
    for name, case in cases(seed, hidden).items():
        a, b, same = case.emb_a.copy(), case.emb_b.copy(), case.is_same.copy()
        out, error = call(fn, a, b, same, n_folds=case.n_folds)
        entry: dict = {"error": error}
        if error is None:
            entry["output"] = encode(out)
            entry["modified_input"] = not (np.array_equal(a, case.emb_a) and np.array_equal(b, case.emb_b)
                                           and np.array_equal(same, case.is_same))
        result["cases"][name] = entry
    return result


def _unpack(encoded: dict, n_folds: int) -> tuple[tuple[float, float, np.ndarray] | None, str | None]:
    """``(mean, std, thresholds)`` from an encoded output, or why it is not that."""
    if encoded.get("kind") != "sequence" or encoded["shape"] != [3]:
        return None, (f"returned {encoded.get('type')}"
                      + (f" of length {encoded['shape'][0]}" if encoded.get("kind") == "sequence" else "")
                      + "; return a tuple (mean, std, thresholds)")
    mean_e, std_e, thr_e = encoded["items"]
    numbers = []
    for label, item in (("mean", mean_e), ("std", std_e)):
        value = as_array(item)
        if value is None or value.size != 1:
            return None, f"the {label} is {item.get('type')} {item.get('shape')}, expected one number"
        numbers.append(float(value.reshape(())))
    thresholds = as_array(thr_e)
    if thresholds is None or thresholds.shape != (n_folds,):
        shape = thr_e.get("shape")
        return None, f"thresholds must be {n_folds} numbers, one per fold; got {thr_e.get('type')} of shape {shape}"
    return (numbers[0], numbers[1], thresholds), None


def _matches(got, expected) -> tuple[bool, bool, bool]:
    return (abs(got[0] - expected[0]) <= 1e-9, abs(got[1] - expected[1]) <= 1e-9,
            bool(np.allclose(got[2], expected[2], rtol=0, atol=1e-9)))


def _diagnose(got, case: Case) -> str | None:
    for reason, change in VARIANTS.items():
        variant = protocol(case.emb_a, case.emb_b, case.is_same, case.n_folds, **change)
        if all(_matches(got, variant)):
            return reason
    return None


# --------------------------------------------------------------------------- judge

def judge(probed: dict, name: str = "kfold_accuracy") -> list[CheckItem]:
    """Diagnoses of a :func:`probe` result against :func:`fr_course.evaluation.kfold_accuracy`."""
    all_cases = cases(probed["seed"], probed["hidden"])
    main_case, main = all_cases["main"], probed["cases"]["main"]
    p = len(main_case.is_same)
    call_text = f"{name}(emb_a, emb_b, is_same, n_folds=10) with {p} pairs of 16-D embeddings"
    titles = [("runs", 1), ("returns (mean, std, thresholds)", 1), ("inputs left unchanged", 1), ("mean accuracy", 2),
              ("standard deviation", 1), ("thresholds", 1), ("P not a multiple of n_folds", 1), ("uses n_folds", 1),
              ("strict d < t", 1)]
    items: list[CheckItem] = []
    if main["error"]:
        items.append(CheckItem.result("runs", False, f"{call_text} raised {main['error']}", 1))
        items += [CheckItem.skipped(t, "the function raised an error (see above)", pts) for t, pts in titles[1:]]
        items.append(CheckItem.skipped("written by you", "the function raised an error (see above)", 1))
        return items
    items.append(CheckItem.result("runs", True, f"{call_text} returns without error", 1))
    got, problem = _unpack(main["output"], main_case.n_folds)
    if problem is None and got[0] > 1.0:
        problem = f"the mean accuracy is {got[0]:.4g}: return fractions in [0, 1] (0.875), not percent (87.5)"
    if problem:
        items.append(CheckItem.result("returns (mean, std, thresholds)", False, problem, 1))
        items += [CheckItem.skipped(t, "the output has the wrong form (see above)", pts) for t, pts in titles[2:]]
        items.append(own_code_item(probed.get("borrowed"), "numpy is fine; sklearn's KFold too"))
        return items
    items.append(CheckItem.result("returns (mean, std, thresholds)", True, "two numbers and one threshold per fold", 1))
    modified = bool(main.get("modified_input"))
    items.append(CheckItem.result("inputs left unchanged", not modified,
                                  "your function changed its input arrays in place (e.g. `emb_a /= norm`); "
                                  "normalise into new arrays (`a = emb_a / norm`)" if modified
                                  else "emb_a, emb_b and is_same are not modified", 1))

    expected = reference(main_case)
    mean_ok, std_ok, thr_ok = _matches(got, expected)
    diagnosis = None if (mean_ok and std_ok and thr_ok) else _diagnose(got, main_case)
    folds_text = ", ".join(f"{t:.2f}" for t in expected[2][:3])
    items.append(CheckItem.result(
        "mean accuracy", mean_ok,
        f"{100 * got[0]:.2f} % as the reference" if mean_ok else
        f"{100 * got[0]:.2f} %, expected {100 * expected[0]:.2f} %" + (f": {diagnosis}" if diagnosis else ""), 2))
    items.append(CheckItem.result(
        "standard deviation", std_ok,
        f"{100 * got[1]:.2f} % as the reference" if std_ok else
        f"{100 * got[1]:.2f} %, expected {100 * expected[1]:.2f} %" + (f": {diagnosis}" if diagnosis else ""), 1))
    if thr_ok:
        items.append(CheckItem.result("thresholds", True, "the same threshold as the reference on every fold", 1))
    else:
        k = int(np.flatnonzero(~np.isclose(got[2], expected[2], rtol=0, atol=1e-9))[0])
        items.append(CheckItem.result(
            "thresholds", False, f"fold {k + 1}: your threshold {got[2][k]:.4g}, expected {expected[2][k]:.2f} "
                                 f"(the first three: {folds_text})" + (f": {diagnosis}" if diagnosis else ""), 1))
    for key, title in (("uneven", "P not a multiple of n_folds"), ("five_folds", "uses n_folds"),
                       ("identical", "strict d < t")):
        items.append(_case_item(title, all_cases[key], probed["cases"][key]))
    items.append(own_code_item(probed.get("borrowed"), "numpy is fine; sklearn's KFold too"))
    return items


def _case_item(title: str, case: Case, entry: dict) -> CheckItem:
    what = f"{len(case.is_same)} pairs, n_folds={case.n_folds}"
    if entry.get("error"):
        return CheckItem.result(title, False, f"with {what} it raised {entry['error']}", 1)
    got, problem = _unpack(entry["output"], case.n_folds)
    if problem:
        return CheckItem.result(title, False, f"with {what}: {problem}", 1)
    expected = reference(case)
    if all(_matches(got, expected)):
        return CheckItem.result(title, True, f"right with {what}", 1)
    diagnosis = _diagnose(got, case)
    detail = (f"mean {100 * got[0]:.2f} % (expected {100 * expected[0]:.2f} %), thresholds "
              f"{', '.join(f'{t:.4g}' for t in got[2][:3])}, ... (expected "
              f"{', '.join(f'{t:.2f}' for t in expected[2][:3])}, ...)")
    return CheckItem.result(title, False, f"with {what}: {diagnosis or detail}", 1)


def check_kfold_accuracy(fn: Callable, *, seed: int = 0, verbose: bool = True):
    """Check ``fn(emb_a, emb_b, is_same, n_folds=10) -> (mean, std, thresholds)`` against the LFW
    protocol of ``fr_course.evaluation``; print a ✓/✗ report and return it."""
    return run_check(f"check_kfold_accuracy({getattr(fn, '__name__', 'fn')})", lambda: probe(fn, seed),
                     lambda p: judge(p, getattr(fn, "__name__", None) or "kfold_accuracy"), verbose)
