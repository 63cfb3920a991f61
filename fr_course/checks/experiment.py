"""Check the shape of the results table of the open experiment (assignment 4).

The experiment itself is open, so only the form of its summary is checked: a dict
``{loss name: {setting name: verification accuracy}}`` with two losses of the course, the same
two or more settings for both (a clean baseline and the perturbed data), accuracies as fractions.
What the numbers mean is for the write-up, which a person grades.
"""

from __future__ import annotations

import math
from typing import Any

from .core import CheckItem, run_check


def probe(summary: Any) -> dict:
    """The summary as JSON data (numbers as floats, anything else by its type name)."""
    if not isinstance(summary, dict):
        return {"kind": "experiment", "type": type(summary).__name__, "summary": None}
    table = {}
    for loss, row in list(summary.items())[:10]:
        if isinstance(row, dict):
            table[str(loss)] = {str(k): _number(v) for k, v in list(row.items())[:10]}
        else:
            table[str(loss)] = type(row).__name__
    return {"kind": "experiment", "type": "dict", "summary": table}


def _number(value: Any):
    try:
        return float(value)
    except (TypeError, ValueError):
        return f"<{type(value).__name__}>"


def judge(probed: dict, name: str = "SUMMARY") -> list[CheckItem]:
    from ..losses import LOSSES

    titles = (("two losses of the course", 1), ("the same settings for both", 1), ("accuracies as fractions", 1))
    table = probed.get("summary")
    if table is None:
        return [CheckItem.result(titles[0][0], False, f"{name} is a {probed.get('type')}, expected a dict "
                                                      f"{{loss: {{setting: accuracy}}}}", 1)] + \
               [CheckItem.skipped(t, f"{name} is not a dict", p) for t, p in titles[1:]]
    items = []
    unknown = [loss for loss in table if loss not in LOSSES]
    if len(table) != 2 or unknown:
        problem = (f"{len(table)} entries, expected two losses" if len(table) != 2 else
                   f"{', '.join(map(repr, unknown))} is not a loss of the course (valid: {', '.join(LOSSES)})")
        items.append(CheckItem.result(titles[0][0], False, problem, 1))
    else:
        items.append(CheckItem.result(titles[0][0], True, " and ".join(table), 1))
    rows = {loss: row for loss, row in table.items() if isinstance(row, dict)}
    settings = {tuple(sorted(row)) for row in rows.values()}
    if len(rows) != len(table):
        items.append(CheckItem.result(titles[1][0], False, "each loss must map to a dict {setting: accuracy}", 1))
    elif len(settings) != 1 or len(next(iter(settings))) < 2:
        items.append(CheckItem.result(titles[1][0], False, "both losses need the same settings, at least two "
                                                           "(the baseline and the perturbed data)", 1))
    else:
        items.append(CheckItem.result(titles[1][0], True, ", ".join(next(iter(settings))), 1))
    values = [v for row in rows.values() for v in row.values()]
    bad = [v for v in values if not isinstance(v, float) or not math.isfinite(v) or not 0.0 <= v <= 1.0]
    if not values or bad:
        items.append(CheckItem.result(titles[2][0], False, f"accuracies must be numbers in [0, 1] (the fraction "
                                                           f"from run.accuracy); got {bad[0] if bad else 'none'}", 1))
    else:
        items.append(CheckItem.result(titles[2][0], True, f"{len(values)} accuracies in [0, 1]", 1))
    return items


def check_experiment_summary(summary: Any, *, verbose: bool = True):
    """Check that ``summary`` is ``{loss: {setting: accuracy}}`` for two losses; print a ✓/✗ report."""
    return run_check("check_experiment_summary(SUMMARY)", lambda: probe(summary), judge, verbose)
