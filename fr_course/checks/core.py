"""What every check shares: the report, calling student code safely, and moving results as JSON.

A check is split in two halves so that the grader can run them in two processes:

* ``probe(fn)`` calls the student's function on the check's inputs (regenerated from a seed) and
  records what came back — values, shapes, dtypes, gradients, exceptions — as plain JSON data.
  This half runs wherever the student's code lives: in the notebook, or in the grader's kernel.
* ``judge(probe)`` recomputes the same inputs and the reference results from ``fr_course`` and
  turns the differences into :class:`CheckItem` diagnoses. The grader runs this half in its own
  process, where the student's code cannot touch the reference.

In a notebook, ``check_*(fn)`` simply does both.
"""

from __future__ import annotations

import dis
import json
import math
import traceback
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

#: Largest output a probe records (values beyond it are summarised, not stored).
MAX_VALUES = 50_000


# --------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class CheckItem:
    """One check: its name, whether it passed, what was found, points earned of ``max_points``."""

    name: str
    passed: bool
    message: str
    points: float
    max_points: float

    @classmethod
    def result(cls, name: str, passed: bool, message: str, max_points: float) -> "CheckItem":
        return cls(name, bool(passed), message, float(max_points) if passed else 0.0, float(max_points))

    @classmethod
    def skipped(cls, name: str, reason: str, max_points: float) -> "CheckItem":
        return cls(name, False, f"not checked: {reason}", 0.0, float(max_points))


class CheckReport:
    """The checks of one function: printable (✓/✗ per check) and machine-readable (:meth:`rows`)."""

    def __init__(self, title: str, items: Sequence[CheckItem]):
        self.title = title
        self.items = list(items)
        self._printed_in: int | None = None  # the IPython cell that already printed this report

    @property
    def passed(self) -> bool:
        return all(item.passed for item in self.items)

    @property
    def points(self) -> float:
        return sum(item.points for item in self.items)

    @property
    def max_points(self) -> float:
        return sum(item.max_points for item in self.items)

    def rows(self) -> list[tuple[str, bool, str, float]]:
        """``(check name, passed, message, points)`` per check, for the grader's CSV."""
        return [(item.name, item.passed, item.message, item.points) for item in self.items]

    def __str__(self) -> str:
        lines = [f"{self.title}"]
        for item in self.items:
            mark = "✓" if item.passed else "✗"
            lines.append(f"  {mark} {item.name}: {item.message}")
        n_ok = sum(item.passed for item in self.items)
        verdict = "all checks pass." if self.passed else "fix the ✗ above and run this cell again."
        lines.append(f"{n_ok}/{len(self.items)} checks, {_fmt(self.points)}/{_fmt(self.max_points)} points: {verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        n_ok = sum(item.passed for item in self.items)
        return f"<CheckReport {self.title!r}: {n_ok}/{len(self.items)} checks passed>"

    def _ipython_display_(self) -> None:
        """Show the report, unless the check already printed it in this same cell."""
        if self._printed_in is None or self._printed_in != _execution_count():
            print(self)


def _fmt(value: float) -> str:
    return f"{value:g}"


def run_check(title: str, probe: Callable[[], dict], judge: Callable[[dict], list[CheckItem]],
              verbose: bool = True) -> CheckReport:
    """``judge(probe())`` as a :class:`CheckReport`, printed unless ``verbose`` is false."""
    report = CheckReport(title, judge(probe()))
    if verbose:
        print(report)
        report._printed_in = _execution_count()
    return report


def _execution_count() -> int | None:
    """The running IPython cell's number (None outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.execution_count


# --------------------------------------------------------------------------- calling student code

def describe_exception(exc: BaseException) -> str:
    """``TypeError: ... (line 4: `return x @ w`)`` — the error and the student's line that raised it."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_student_file(f.filename)]
    if frames and frames[-1].line:
        text += f" (line {frames[-1].lineno}: `{frames[-1].line.strip()}`)"
    return _shorten(text, 400)


def _is_student_file(filename: str) -> bool:
    """Notebook cells (ipykernel's temporary files, ``<ipython-input-…>``, ``<string>``), not libraries."""
    path = filename.replace("\\", "/")
    if "ipykernel_" in path or path.startswith("<"):
        return True
    return not any(part in path for part in ("site-packages", "/fr_course/", "/lib/python"))


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call(fn: Callable, *args, **kwargs) -> tuple[Any, str | None]:
    """``(result, None)`` or ``(None, description of the exception)``; KeyboardInterrupt passes."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # student code may raise anything; the message is the diagnosis
        return None, describe_exception(exc)


# --------------------------------------------------------------------------- JSON-able outputs

def encode(obj: Any, depth: int = 0) -> dict:
    """What a student's function returned, as JSON data: kind, type, shape, dtype and float values."""
    import torch

    if isinstance(obj, torch.Tensor):
        info = {"kind": "tensor", "type": "torch.Tensor", "shape": list(obj.shape), "dtype": str(obj.dtype),
                "requires_grad": bool(obj.requires_grad)}
        if obj.is_complex():
            return {**info, "values": None}
        array = obj.detach().cpu()
        array = array.double() if array.is_floating_point() or array.dtype == torch.bool else array.to(torch.float64)
        return {**info, "values": _values(array.numpy())}
    if isinstance(obj, np.ndarray):
        info = {"kind": "ndarray", "type": "numpy.ndarray", "shape": list(obj.shape), "dtype": str(obj.dtype)}
        if not (np.issubdtype(obj.dtype, np.number) or obj.dtype == bool) or np.iscomplexobj(obj):
            return {**info, "values": None}
        return {**info, "values": _values(obj.astype(np.float64))}
    if isinstance(obj, (bool, np.bool_)):
        return {"kind": "number", "type": type(obj).__name__, "shape": [], "values": float(obj)}
    if isinstance(obj, (int, float, np.integer, np.floating)):
        return {"kind": "number", "type": type(obj).__name__, "shape": [], "values": float(obj)}
    if isinstance(obj, (tuple, list)) and depth < 2:
        return {"kind": "sequence", "type": type(obj).__name__, "shape": [len(obj)],
                "items": [encode(item, depth + 1) for item in list(obj)[:10]]}
    if obj is None:
        return {"kind": "none", "type": "None", "shape": None, "values": None}
    return {"kind": "other", "type": type(obj).__name__, "shape": None, "values": None}


def _values(array: np.ndarray):
    if array.size > MAX_VALUES:
        return None
    return array.tolist()


def as_array(encoded: dict | None) -> np.ndarray | None:
    """The float64 values of an :func:`encode`-d output (None if it had none)."""
    if encoded is None or encoded.get("values") is None:
        return None
    return np.asarray(encoded["values"], dtype=np.float64).reshape(encoded["shape"] or ())


def to_json(probe: dict) -> str:
    """A probe result as JSON text (NaN and inf kept, as Python's json writes them)."""
    return json.dumps(probe, allow_nan=True)


def from_json(text: str) -> dict:
    return json.loads(text)


# --------------------------------------------------------------------------- "written by you"

def borrowed_references(fn: Callable, forbidden: Iterable[str], max_depth: int = 3) -> list[str]:
    """Names that ``fn`` (and the helper functions it calls) take from the ``forbidden`` modules.

    A heuristic reading of the compiled code: every global name a function uses is looked up in
    its module; a module, class or function that lives in a forbidden package (e.g.
    ``fr_course.losses``) is reported. Attribute access through the package itself
    (``fr_course.losses.ArcFace``) is caught by the attribute names. Helpers defined in the same
    notebook are followed ``max_depth`` levels deep.
    """
    prefixes = tuple(forbidden)
    found: list[str] = []
    seen: set[int] = set()

    def forbidden_name(module_name: str | None) -> bool:
        return bool(module_name) and any(module_name == p or module_name.startswith(p + ".") for p in prefixes)

    def code_objects(code: types.CodeType):
        yield code
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from code_objects(const)

    def visit(func: Callable, depth: int) -> None:
        func = getattr(func, "__func__", func)
        code = getattr(func, "__code__", None)
        if code is None or id(func) in seen or depth > max_depth:
            return
        seen.add(id(func))
        namespace = getattr(func, "__globals__", {})
        closure = [c.cell_contents for c in (getattr(func, "__closure__", None) or ()) if _has_contents(c)]
        names = {name for co in code_objects(code) for name in co.co_names}
        attribute_names = set(names)
        for co in code_objects(code):  # imports inside the function: `from fr_course import losses`
            module = None
            for instruction in dis.get_instructions(co):
                if instruction.opname == "IMPORT_NAME":
                    module = str(instruction.argval)
                    if forbidden_name(module):
                        found.append(module)
                elif instruction.opname == "IMPORT_FROM" and module and forbidden_name(f"{module}.{instruction.argval}"):
                    found.append(f"{module}.{instruction.argval}")
        for value in [namespace[n] for n in names if n in namespace] + closure:
            if isinstance(value, types.ModuleType):
                if forbidden_name(value.__name__):
                    found.append(value.__name__)
                elif any(p.startswith(value.__name__ + ".") for p in prefixes):
                    # e.g. `fr_course` used as fr_course.losses.X: look at the attribute names
                    for prefix in prefixes:
                        tail = prefix[len(value.__name__) + 1:].split(".")[0]
                        if tail in attribute_names:
                            found.append(prefix)
                continue
            module_name = getattr(value, "__module__", None)
            if callable(value) and forbidden_name(module_name):
                found.append(f"{module_name}.{getattr(value, '__qualname__', getattr(value, '__name__', '?'))}")
            elif callable(value) and module_name == getattr(func, "__module__", None):
                visit(value, depth + 1)  # a helper written next to the graded function

    visit(fn, 0)
    return sorted(set(found))


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def own_code_item(references: list[str] | None, allowed_hint: str, max_points: float = 1.0) -> CheckItem:
    """The "written by you" check from :func:`borrowed_references` (None: could not be inspected)."""
    name = "written by you"
    if references is None:
        return CheckItem.skipped(name, "the function could not be inspected", max_points)
    if references:
        return CheckItem.result(
            name, False,
            f"it uses {', '.join(references)} from the course package; the point is to write it yourself "
            f"({allowed_hint})", max_points)
    return CheckItem.result(name, True, "does not call the course's reference implementation", max_points)


# --------------------------------------------------------------------------- small helpers

def degrees(theta: float) -> str:
    return f"{math.degrees(theta):.1f}°"


def close(a: np.ndarray, b: np.ndarray, atol: float, rtol: float = 0.0) -> np.ndarray:
    """Element-wise ``|a - b| <= atol + rtol·|b|``, False where either is NaN/inf and they differ."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(a - b) <= atol + rtol * np.abs(b)
    return ok | ((a == b) & ~np.isnan(a))


def shape_text(shape) -> str:
    return "a scalar" if not shape else f"shape {tuple(shape)}"


def output_problem(out: dict, expected_shape: tuple, what: str, extra_hint: Callable[[tuple], str] | None = None,
                   dtype: str = "torch.float64") -> tuple[str | None, str | None]:
    """``(blocking problem, dtype problem)`` of an encoded output expected to be a tensor of
    ``expected_shape`` and ``dtype``; None where there is none."""
    kind = out.get("kind")
    if kind == "ndarray":
        return (f"returned a numpy array; return a torch tensor (built from `{what}` with torch operations) "
                f"so that gradients can flow back", None)
    if kind != "tensor":
        return f"returned {out.get('type')}, expected a torch tensor of shape {expected_shape}", None
    shape = tuple(out["shape"])
    if shape != tuple(expected_shape):
        hint = extra_hint(shape) if extra_hint else ""
        return f"returned {shape_text(shape)}, expected shape {tuple(expected_shape)}{hint}", None
    if out.get("values") is None:
        return f"returned a {out.get('dtype')} tensor, expected real floating-point values", None
    if out.get("dtype") != dtype:
        return None, (f"returned {out.get('dtype')} for {dtype} input: compute in the input's dtype "
                      f"(avoid .float() or torch.tensor(..., dtype=torch.float32))")
    return None, None
