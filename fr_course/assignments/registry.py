"""The assignments: their files, the names they grade, their time limits.

The grader trusts this table, not the submitted notebook: what is graded and how long a
submission may run is decided here, in the instructor's copy of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT_DIR = Path("notebooks") / "assignments"
STUDENT_DIR = ASSIGNMENT_DIR / "student"


@dataclass(frozen=True)
class Graded:
    """A name the notebook must define and the :data:`fr_course.checks.PROBES` check it is graded by."""

    name: str
    check: str


@dataclass(frozen=True)
class Assignment:
    name: str                      # file stem, e.g. "a1_margin_logits"
    title: str
    graded: tuple[Graded, ...]
    timeout_s: float               # wall-clock budget of the submission's own cells
    trains: bool = False           # running it trains networks (minutes, cached by fr_course.experiments)
    figure_points: float = 0.0     # points for showing at least one figure

    @property
    def filename(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def short(self) -> str:
        """The number part, e.g. "a1": submissions may be named by it."""
        return self.name.split("_")[0]


ASSIGNMENTS: dict[str, Assignment] = {a.name: a for a in (
    Assignment("a1_margin_logits", "CosFace and ArcFace logits",
               (Graded("cosface_logits", "cosface_logits"), Graded("arcface_logits", "arcface_logits")), 300),
    Assignment("a2_sface_loss", "The SFace loss and its stop-gradients",
               (Graded("sface_loss", "sface_loss"),), 300),
    Assignment("a3_verification_accuracy", "The 10-fold verification accuracy",
               (Graded("kfold_accuracy", "kfold_accuracy"),), 600),
    Assignment("a4_noise_experiment", "An open experiment: two losses on noisy or imbalanced faces",
               (Graded("SUMMARY", "experiment_summary"),), 1800, trains=True, figure_points=1.0),
)}


def find(stem: str) -> Assignment | None:
    """The assignment a submitted file is for: its full name (``a1_margin_logits``) or number (``a1``)."""
    if stem in ASSIGNMENTS:
        return ASSIGNMENTS[stem]
    short = stem.split("_")[0].lower()
    matches = [a for a in ASSIGNMENTS.values() if a.short == short]
    return matches[0] if len(matches) == 1 else None


def select(names: list[str] | None) -> list[Assignment]:
    """Assignments by name or number (all of them without names); unknown names raise ValueError."""
    if not names:
        return list(ASSIGNMENTS.values())
    chosen = []
    for name in names:
        found = find(Path(name).stem)
        if found is None:
            raise ValueError(f"unknown assignment {name!r}; known: {', '.join(ASSIGNMENTS)}")
        chosen.append(found)
    return chosen
