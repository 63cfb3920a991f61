"""Recorded benchmark results, and the tables the results page and chapter 11 render from them.

Two sources, never mixed up:

* **The paper's numbers** — :func:`paper_table1` returns Table 1 of the Hard-Mining paper
  (Srivastava, Murali & Dubey, CVIP 2020, arXiv:1908.09747: ResNet18 trained on CASIA-WebFace,
  verification accuracy in % on LFW and YTF) as data, with its citation.
* **Our full-profile numbers** — a JSON file written by a full-profile run of our code
  (:data:`DEFAULT_FULL_PROFILE_RESULTS`), read by :func:`load_full_profile_results`. Until that
  file exists the tables say "not yet run"; nothing is estimated or copied in its place.

Full-profile results file (JSON, accuracies in percent)::

    {
      "kind": "fr_course.full_profile_table1", "version": 1,
      "recipe": "paper", "commit": "<git sha>", "hardware": "1x NVIDIA H100 80GB", "date": "YYYY-MM-DD",
      "protocol": "insightface 10-fold LFW protocol: flip-sum, squared L2, ... mean ± population std",
      "rows": [
        {"method": "ArcFace", "lfw": {"mean": 97.80, "std": 0.62}, "cfp_fp": {...}, "agedb_30": {...}},
        ...
      ]
    }

``method`` is one of :data:`TABLE1_METHODS`; each benchmark key is one of :data:`BENCHMARKS`.
The loss-head speed benchmark (``benchmarks/results/losses-cpu.json``, written by
``benchmarks/bench_losses.py``) is rendered by :func:`loss_heads_markdown`, for the Performance page
and for the script's own Markdown copy.

Everything here is plain Python (no pandas, no torch) so the Sphinx build can import it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

RESULTS_KIND = "fr_course.full_profile_table1"
RESULTS_VERSION = 1
DEFAULT_FULL_PROFILE_RESULTS = Path("benchmarks") / "results" / "full_profile_table1.json"
# The checkout this module lives in (an editable install); relative result paths resolve here.
_REPO_ROOT = Path(__file__).resolve().parents[1]
NOT_YET_RUN = "not yet run"
NOT_RUN = "—"
# A cell for a comparison that does not exist (e.g. a head with no pytorch-metric-learning twin).
NO_COMPARISON = "–"
LOSS_HEADS_RESULTS = Path("benchmarks") / "results" / "losses-cpu.json"
# Our heads that pytorch-metric-learning also implements, and the name of its class.
PML_TWINS = {"arcface": "ArcFaceLoss", "cosface": "CosFaceLoss", "sphereface": "SphereFaceLoss"}

# Benchmark keys in display order, with their printed names.
BENCHMARKS = {"lfw": "LFW", "ytf": "YTF", "cfp_fp": "CFP-FP", "agedb_30": "AgeDB-30"}

# The methods of the paper's Table 1 and the fr_course loss each corresponds to.
TABLE1_METHODS = {
    "CE": {"loss": "softmax"},
    "HM-CE": {"loss": "hard_mining", "base": "softmax"},
    "A-Softmax": {"loss": "sphereface"},
    "HM-A-Softmax": {"loss": "hard_mining", "base": "sphereface"},
    "ArcFace": {"loss": "arcface"},
    "HM-ArcFace": {"loss": "hard_mining", "base": "arcface"},
}

PAPER_TABLE1_BIBKEY = "srivastava2020hardmining"
PAPER_TABLE1_CITATION = (
    "Y. Srivastava, V. Murali and S. R. Dubey, \"Hard-Mining Loss based Convolutional Neural Network for "
    "Face Recognition\", CVIP 2020 (arXiv:1908.09747), Table 1: ResNet18 trained on CASIA-WebFace, "
    "verification accuracy (%) on LFW and YTF."
)
# Table 1 as printed in the paper (accuracy in %), method -> {benchmark: value}.
_PAPER_TABLE1 = {
    "CE": {"lfw": 95.35, "ytf": 91.8},
    "HM-CE": {"lfw": 96.75, "ytf": 93.1},
    "A-Softmax": {"lfw": 97.12, "ytf": 93.9},
    "HM-A-Softmax": {"lfw": 97.3, "ytf": 94.1},
    "ArcFace": {"lfw": 97.79, "ytf": 94.54},
    "HM-ArcFace": {"lfw": 97.9, "ytf": 94.67},
}


class ResultsFileError(ValueError):
    """A results file is missing, malformed, or holds a value that cannot be right."""


@dataclass(frozen=True)
class Accuracy:
    """A verification accuracy in percent; ``std`` (population std over folds) may be unknown."""

    mean: float
    std: float | None = None

    def __str__(self) -> str:
        # The paper prints its numbers with the precision it measured them to; keep it as given.
        text = f"{self.mean:g}" if self.std is None else f"{self.mean:.2f} ± {self.std:.2f}"
        return text


@dataclass(frozen=True)
class PaperTable:
    """A published table: ``rows`` maps method -> {benchmark key: Accuracy}."""

    rows: dict[str, dict[str, Accuracy]]
    benchmarks: tuple[str, ...]
    citation: str
    bibkey: str
    setting: str


@dataclass(frozen=True)
class FullProfileResults:
    """Our recorded full-profile run: accuracies per method and where they come from."""

    rows: dict[str, dict[str, Accuracy]]
    recipe: str
    commit: str
    hardware: str
    date: str
    protocol: str
    path: Path

    def provenance(self) -> str:
        return (
            f"Our numbers: `{_shown(self.path)}` — {self.recipe} recipe, commit {self.commit}, "
            f"{self.hardware}, {self.date}. Protocol: {self.protocol}. Our columns show the mean "
            "± std over the 10 folds of each test set (one training run; the fold spread, not the "
            "uncertainty of the mean)."
        )


def resolve_results_path(path: str | Path | None = None) -> Path:
    """``path`` as given if absolute, else relative to the repository root (default: the full-profile file)."""
    path = Path(DEFAULT_FULL_PROFILE_RESULTS if path is None else path)
    return path if path.is_absolute() else _REPO_ROOT / path


def _shown(path: Path) -> str:
    """A path as the page prints it: relative to the repository when it lies inside it."""
    try:
        return path.resolve().relative_to(_REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def paper_table1() -> PaperTable:
    """Table 1 of the Hard-Mining paper (ResNet18, CASIA-WebFace → LFW / YTF), as data."""
    rows = {method: {key: Accuracy(value) for key, value in cells.items()} for method, cells in _PAPER_TABLE1.items()}
    return PaperTable(
        rows=rows,
        benchmarks=("lfw", "ytf"),
        citation=PAPER_TABLE1_CITATION,
        bibkey=PAPER_TABLE1_BIBKEY,
        setting="ResNet18 trained on CASIA-WebFace; accuracy (%) on LFW and YTF",
    )


def _accuracy(value, where: str) -> Accuracy:
    """One recorded accuracy: ``{"mean": %, "std": %}``, as the 10-fold protocol reports it."""
    if not isinstance(value, dict) or set(value) != {"mean", "std"}:
        raise ResultsFileError(f"{where} must be an object with exactly 'mean' and 'std' (percent), got {value!r}")
    mean, std = value["mean"], value["std"]
    for name, number in (("mean", mean), ("std", std)):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ResultsFileError(f"{where}.{name} must be a finite number, got {number!r}")
    if not 0.0 <= mean <= 100.0:
        raise ResultsFileError(f"{where}.mean = {mean} is not a percentage in [0, 100]")
    if mean <= 1.0:
        raise ResultsFileError(f"{where}.mean = {mean} looks like a fraction; the file records percent")
    if not 0.0 <= std <= 50.0:
        raise ResultsFileError(f"{where}.std = {std} is not a plausible standard deviation in percent")
    return Accuracy(float(mean), float(std))


def load_full_profile_results(path: str | Path | None = None) -> FullProfileResults:
    """Read and validate a full-profile results file (format in the module docstring).

    ``path`` defaults to :data:`DEFAULT_FULL_PROFILE_RESULTS`; a relative path is taken from the
    repository root. Raises :class:`ResultsFileError` naming the file and the key for anything
    missing or wrong, ``FileNotFoundError`` when the file does not exist.
    """
    path = resolve_results_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"full-profile results file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ResultsFileError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path}: expected a JSON object at the top level")
    if data.get("kind") != RESULTS_KIND or data.get("version") != RESULTS_VERSION:
        raise ResultsFileError(
            f"{path}: kind/version must be {RESULTS_KIND!r}/{RESULTS_VERSION}, "
            f"got {data.get('kind')!r}/{data.get('version')!r}"
        )
    meta = {}
    for key in ("recipe", "commit", "hardware", "date", "protocol"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ResultsFileError(f"{path}: key {key!r} must be a non-empty string")
        meta[key] = value.strip()
    raw_rows = data.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise ResultsFileError(f"{path}: key 'rows' must be a non-empty list")
    rows: dict[str, dict[str, Accuracy]] = {}
    for i, row in enumerate(raw_rows):
        where = f"{path}: rows[{i}]"
        if not isinstance(row, dict):
            raise ResultsFileError(f"{where} must be an object")
        method = row.get("method")
        if method not in TABLE1_METHODS:
            raise ResultsFileError(f"{where}.method = {method!r}; expected one of {', '.join(TABLE1_METHODS)}")
        if method in rows:
            raise ResultsFileError(f"{where}: method {method!r} appears twice")
        unknown = set(row) - {"method"} - set(BENCHMARKS)
        if unknown:
            raise ResultsFileError(f"{where}: unknown keys {sorted(unknown)}; benchmarks are {', '.join(BENCHMARKS)}")
        cells = {key: _accuracy(row[key], f"{where}.{key}") for key in BENCHMARKS if key in row}
        if not cells:
            raise ResultsFileError(f"{where}: no benchmark result in the row")
        rows[method] = cells
    return FullProfileResults(rows=rows, path=path, **meta)


def render_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """A Markdown (GitHub/MyST) pipe table. ``align`` holds "l", "r" or "c" per column."""
    width = len(header)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row needs {width} cells: {[len(row) for row in rows]}")
    align = align or ["l"] + ["r"] * (width - 1)
    if len(align) != width or set(align) - {"l", "r", "c"}:
        raise ValueError(f"align must hold {width} of 'l', 'r', 'c', got {align!r}")
    rule = {"l": ":--", "r": "--:", "c": ":-:"}

    def line(cells):
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(rule[a] for a in align), *(line(row) for row in rows)])


def table1_comparison(ours: FullProfileResults | None) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the paper's Table 1 beside our full-profile numbers (or "not yet run")."""
    paper = paper_table1()
    header = ["Method"] + [f"{BENCHMARKS[key]} (paper)" for key in paper.benchmarks]
    if ours is None:
        our_keys = ["lfw"]
    else:
        present = {key for cells in ours.rows.values() for key in cells}
        our_keys = [key for key in BENCHMARKS if key in present]
    header += [f"{BENCHMARKS[key]} (ours)" for key in our_keys]
    rows = []
    for method, cells in paper.rows.items():
        row = [method] + [str(cells[key]) for key in paper.benchmarks]
        for key in our_keys:
            if ours is None:
                row.append(NOT_YET_RUN)
            else:
                value = ours.rows.get(method, {}).get(key)
                row.append(NOT_RUN if value is None else str(value))
        rows.append(row)
    return header, rows


def table1_markdown(path: str | Path | None = None, *, myst: bool = True) -> str:
    """The Table 1 comparison as Markdown, with the paper's citation and our provenance (if any).

    A missing results file means our full profile has not been run: the table says so. A results
    file that exists but is malformed raises (the page must not hide a broken record). ``myst``
    cites with the ``{cite}`` role (book pages); ``myst=False`` writes the citation out in full, for
    plain Markdown such as a notebook's ``display(Markdown(...))``.
    """
    path = resolve_results_path(path)
    ours = load_full_profile_results(path) if path.is_file() else None
    header, rows = table1_comparison(ours)
    paper = paper_table1()
    source = f"{{cite}}`{paper.bibkey}`, Table 1" if myst else paper.citation
    notes = [
        render_table(header, rows),
        "",
        f"Paper columns: the published numbers of {source} ({paper.setting}), copied as printed; "
        "they were not measured by this project.",
        "",
        ours.provenance() if ours is not None else (
            f"Our columns: {NOT_YET_RUN}. No full-profile results file (`{_shown(path)}`) has been "
            "recorded yet; the numbers will appear here once a full-profile run of this code writes it."
        ),
    ]
    return "\n".join(notes)


# ------------------------------------------------------------------------ loss-head speed benchmark


def _verdict(record: dict, targets: dict) -> str:
    """The targets column of the loss-head table, in plain words."""
    name = record["name"]
    if name == "bare":
        return "reference: the bare step"
    if name.startswith("pml_"):
        return "reference: pytorch-metric-learning"
    limit_bare = float(targets.get("ratio_vs_bare", 1.15))
    limit_pml = float(targets.get("ratio_vs_pml", 1.0))
    ratio = float(record["ratio_vs_bare"])
    twin = record.get("ratio_vs_pml")
    misses = []
    if ratio > limit_bare:
        misses.append(f"{ratio:.2f}× the bare step (at most {limit_bare:g}× allowed)")
    if twin is not None and float(twin) > limit_pml:
        misses.append(f"slower than pytorch-metric-learning's {PML_TWINS.get(name, 'twin')}")
    if misses:
        return "misses: " + "; ".join(misses)
    if twin is not None:
        return f"within {limit_bare:g}× bare, faster than its twin"
    return f"within {limit_bare:g}× bare"


def loss_heads_table(payload: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the loss-head benchmark (``bench_losses.py``'s results payload).

    A comparison that does not exist (a head that pytorch-metric-learning does not implement, a
    memory figure that was not measured) shows "–", never ``nan``.
    """
    records = payload.get("records")
    if not isinstance(records, list) or not records:
        raise ResultsFileError("the loss-head results hold no 'records'")
    targets = payload.get("targets") or {}

    def number(value, fmt: str) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return NO_COMPARISON
        return format(value, fmt)

    header = ["head", "ms per step", "× bare step", "× its PML twin", "peak MB", "against the targets"]
    rows = [[r["name"], number(r.get("ms"), ".1f"), number(r.get("ratio_vs_bare"), ".3f"),
             number(r.get("ratio_vs_pml"), ".3f"), number(r.get("peak_mb"), ".0f"), _verdict(r, targets)]
            for r in records]
    return header, rows


def loss_heads_markdown(path: str | Path | None = None) -> str:
    """The loss-head benchmark as Markdown: provenance, the targets in words, the table."""
    path = resolve_results_path(LOSS_HEADS_RESULTS if path is None else path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ResultsFileError(f"{path}: not valid JSON ({error})") from error
    header, rows = loss_heads_table(payload)
    targets = payload.get("targets") or {}
    setting = payload.get("setting") or {}
    machine = payload.get("machine") or {}
    limit_bare = float(targets.get("ratio_vs_bare", 1.15))
    lines = [
        f"Recorded by `{payload.get('command', '?')}` on {payload.get('date', '?')}, commit "
        f"`{payload.get('commit', '?')}`; {machine.get('cpu', '?')}, {machine.get('logical_cpus', '?')} "
        f"logical CPUs, torch {machine.get('torch', '?')} ({machine.get('torch_threads', '?')} threads). "
        f"One forward and backward pass, N = {setting.get('N', '?')}, d = {setting.get('d', '?')}, "
        f"C = {setting.get('C', '?'):,} classes, {setting.get('dtype', '?')} on the "
        f"{str(setting.get('device', '?')).upper()}; medians over {setting.get('rounds', '?')} "
        "interleaved rounds.",
        "",
        render_table(header, rows, align=["l", "r", "r", "r", "r", "l"]),
        "",
        f"The targets: every head at most {limit_bare:g}× the time of the bare step (a normalised "
        "linear layer and cross-entropy, the least work any cosine head must do), and, where "
        "pytorch-metric-learning implements the same loss (its ArcFace, CosFace and SphereFace), "
        "no slower than that implementation on the same inputs. \"× its PML twin\" is that ratio; "
        f"\"{NO_COMPARISON}\" marks a head that has no such twin (or a reference row).",
    ]
    return "\n".join(lines)
