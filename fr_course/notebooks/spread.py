"""The measured spread of every chapter run, and the check cells' tolerances derived from it.

A quick-profile run is seeded and deterministic on one machine, yet its numbers depend on the CPU's
vector instruction set: PyTorch and oneDNN pick their kernels by it, the last bits of every sum
change, and a few epochs of training turn those bits into tenths of a point of accuracy (or more).
``benchmarks/bench_spread.py`` therefore trains every run the chapters show under several seeds and
several emulated instruction sets (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``) and records, per
run, the range and standard deviation of its accuracy. It writes the summary next to this module
(``spread.json``, shipped with the package so a check cell works on Colab too).

A check cell then asserts what holds for any seed on any CPU: the accuracy lies within the measured
range widened by ``FACTOR`` standard deviations on each side (and at least ``MIN_MARGIN``)::

    chapter.check(runs)          # one line per run: the measured spread and the accepted interval

The printed lines depend only on the record, never on this machine's result, so nbval compares them
exactly on any CPU; a run outside its interval fails with its value and the interval.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

#: Where bench_spread.py writes the summary the check cells read.
SPREAD_FILE = Path(__file__).resolve().parent / "spread.json"

#: The accepted interval: the measured range widened by FACTOR standard deviations on each side ...
FACTOR = 3.0
#: ... and by at least this much (a fraction: 1 point of accuracy), for runs whose measured
#: spread is tiny because few seeds happened to agree.
MIN_MARGIN = 0.01

#: A paired difference counts as resolved only with at least this many (seed, instruction set) pairs.
MIN_PAIRS_TO_RESOLVE = 5

#: Config fields that do not define *which* run it is for the spread: the seed varies within a
#: record, and the rest change only where files go or how the run is displayed.
_NOT_IN_SPEC = ("seed", "out_dir", "num_workers", "progress", "verbose", "log_every")


def spec_id(config) -> str:
    """A short name for a run's configuration with the seed left out (it varies within a record)."""
    values = {k: v for k, v in config.to_dict().items() if k not in _NOT_IN_SPEC}
    blob = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Spread:
    """The measured accuracy of one run configuration over seeds x instruction sets (fractions)."""

    label: str
    n: int
    seeds: tuple[int, ...]
    isas: tuple[str, ...]
    mean: float
    std: float
    min: float
    max: float

    @property
    def margin(self) -> float:
        return max(FACTOR * self.std, MIN_MARGIN)

    @property
    def accepted(self) -> tuple[float, float]:
        return self.min - self.margin, self.max + self.margin

    def describe(self) -> str:
        lo, hi = self.accepted
        seeds = ", ".join(str(s) for s in self.seeds)
        return (f"measured {100 * self.min:.1f}–{100 * self.max:.1f} % in {self.n} runs (seeds {seeds}; "
                f"{len(self.isas)} instruction set{'s' if len(self.isas) > 1 else ''}; std {100 * self.std:.2f}); "
                f"accepted {100 * lo:.1f}–{100 * hi:.1f} % (the range ± max({FACTOR:g} std, "
                f"{100 * MIN_MARGIN:g} point))")


@lru_cache(maxsize=1)
def _record() -> dict[str, Any]:
    if not SPREAD_FILE.is_file():
        raise FileNotFoundError(f"{SPREAD_FILE} is missing: run `python benchmarks/bench_spread.py` "
                                f"to measure the chapter runs' spread")
    return json.loads(SPREAD_FILE.read_text())


def spread_for(config) -> Spread | None:
    """The recorded spread of the run ``config`` describes (None if it was never measured)."""
    entry = _record()["runs"].get(spec_id(config))
    if entry is None:
        return None
    return Spread(label=entry["label"], n=entry["n"], seeds=tuple(entry["seeds"]), isas=tuple(entry["isas"]),
                  mean=entry["mean"], std=entry["std"], min=entry["min"], max=entry["max"])


def check_runs(runs: Mapping[str, Any], *, measured: bool = True, require_record: bool = True) -> None:
    """Assert what a chapter's face runs must show on any seed and CPU; print the tolerances used.

    Every run: finite losses that fall from the first epoch to the last. With ``measured`` (the
    quick profile at its default epochs): the accuracy inside the interval :class:`Spread` derives
    from the record. A run the record does not know is an error: the chapter asks for a run that
    ``benchmarks/bench_spread.py`` does not measure, or the quick profile changed since — unless
    ``require_record`` is False (an assignment's own experiment), which only says so.
    """
    from ..training import TrainConfig

    failures = []
    for label, run in runs.items():
        losses = run.epoch_losses
        if not all(math.isfinite(v) for v in losses):
            failures.append(f"{label}: non-finite training loss {losses}")
        elif len(losses) > 1 and not losses[-1] < losses[0]:
            failures.append(f"{label}: the training loss did not fall ({losses[0]:.3f} -> {losses[-1]:.3f})")
        if not measured:
            print(f"{label}: loss finite and falling (no measured spread for this profile)")
            continue
        spread = spread_for(TrainConfig.from_dict(run.results["config"]))
        if spread is None and not require_record:
            print(f"{label}: loss finite and falling (not a chapter run: no measured spread to compare with)")
            continue
        if spread is None:
            failures.append(f"{label}: no measured spread for this configuration in {SPREAD_FILE.name}; "
                            f"add it to benchmarks/bench_spread.py and re-run it")
            continue
        lo, hi = spread.accepted
        print(f"{label}: {spread.describe()}")
        if not lo <= run.accuracy <= hi:
            failures.append(f"{label}: accuracy {100 * run.accuracy:.2f} % outside the accepted "
                            f"{100 * lo:.1f}–{100 * hi:.1f} %")
    if failures:
        raise AssertionError("; ".join(failures))


@dataclass(frozen=True)
class PairedDifference:
    """accuracy(a) − accuracy(b) over the runs recorded for both at the same seed and instruction set."""

    a: str
    b: str
    n: int
    min: float
    max: float
    std: float

    @property
    def same_sign(self) -> bool:
        """Every paired run puts a and b in the same order."""
        return self.n > 0 and (self.min > 0 or self.max < 0)

    @property
    def resolved(self) -> bool:
        """The same order in every paired run, and at least :data:`MIN_PAIRS_TO_RESOLVE` of them
        (with two or three pairs, one sign agreeing by chance is too likely to call it an effect)."""
        return self.same_sign and self.n >= MIN_PAIRS_TO_RESOLVE

    @property
    def accepted(self) -> tuple[float, float]:
        margin = max(FACTOR * self.std, MIN_MARGIN)
        return self.min - margin, self.max + margin

    def describe(self) -> str:
        if self.resolved:
            verdict = f"resolved: {self.a} {'above' if self.min > 0 else 'below'} {self.b} in all {self.n} paired runs"
        elif self.same_sign:
            verdict = (f"not resolved at this scale: the same sign in all {self.n} paired runs, but fewer "
                       f"than {MIN_PAIRS_TO_RESOLVE} were measured")
        else:
            verdict = "not resolved at this scale: the sign changes with seed or CPU"
        return (f"{self.a} − {self.b}: {100 * self.min:+.1f} to {100 * self.max:+.1f} points over {self.n} "
                f"runs paired by seed and instruction set; {verdict}")


def paired_difference(config_a, config_b, label_a: str = "a", label_b: str = "b") -> PairedDifference:
    """The recorded paired difference of two run configurations (accuracy, fractions)."""
    runs = _record()["runs"]
    missing = [label for label, c in ((label_a, config_a), (label_b, config_b)) if spec_id(c) not in runs]
    if missing:
        raise KeyError(f"no measured spread for {', '.join(missing)} in {SPREAD_FILE.name}; "
                       f"add it to benchmarks/bench_spread.py and re-run it")
    va, vb = runs[spec_id(config_a)]["values"], runs[spec_id(config_b)]["values"]
    diffs = [va[k] - vb[k] for k in sorted(set(va) & set(vb))]
    if not diffs:
        return PairedDifference(label_a, label_b, 0, math.nan, math.nan, math.nan)
    mean = sum(diffs) / len(diffs)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs))
    return PairedDifference(label_a, label_b, len(diffs), min(diffs), max(diffs), std)


def check_difference(runs: Mapping[str, Any], a: str, b: str) -> PairedDifference:
    """Print the measured paired difference of runs ``a`` and ``b``; assert the live one fits it.

    The statement a chapter may make about the two follows :attr:`PairedDifference.resolved`:
    an order only where every measured pair agrees, otherwise "not resolved at this scale".
    """
    from ..training import TrainConfig

    config = {label: TrainConfig.from_dict(runs[label].results["config"]) for label in (a, b)}
    diff = paired_difference(config[a], config[b], a, b)
    print(diff.describe())
    live = runs[a].accuracy - runs[b].accuracy
    lo, hi = diff.accepted
    assert lo <= live <= hi, (f"{a} − {b} = {100 * live:+.2f} points, outside the accepted "
                              f"{100 * lo:+.1f} to {100 * hi:+.1f}")
    return diff
