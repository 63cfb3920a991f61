"""What every chapter notebook does with its parameters, written once.

Each chapter has the same papermill ``parameters`` cell (``PROFILE``, ``DATA_ROOT``, ``DEVICE``,
``EPOCHS``, ``SEED``) and then trains its face experiments either in the quick profile (cached CPU
runs on the synthetic faces, shared between chapters) or in the full profile (the Hard-Mining
paper's recipe on CASIA-WebFace). :class:`Chapter` checks those parameters and turns a chapter's
list of runs into :func:`fr_course.experiments.run` calls::

    chapter = Chapter(PROFILE, seed=SEED, epochs=EPOCHS, data_root=DATA_ROOT, device=DEVICE)
    runs = chapter.runs({"ArcFace": "arcface",
                         "ArcFace (ste)": dict(loss="arcface", loss_kwargs={"grad": "ste"})})

:meth:`Chapter.runs` first trains the runs the cache does not hold yet, one per CPU core at a time
(:func:`fr_course.experiments.train_missing`), so a chapter with several quick-profile runs takes
the time of the longest, not of their sum, and gets the same numbers as if they had run one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

PROFILES = ("quick", "full")

#: What a full-profile chapter needs and how to get it (the message of a missing DATA_ROOT).
DATA_ROOT_HELP = (
    "PROFILE='full' needs DATA_ROOT: the folder of the aligned CASIA-WebFace (train.rec, train.idx) and the "
    "verification files beside it (lfw.bin, cfp_fp.bin, agedb_30.bin, ...), e.g. insightface's "
    "faces_webface_112x112. Check a copy with `python data_scripts/inspect_casia.py DATA_ROOT`; pack aligned "
    "image folders with `python data_scripts/folder_to_rec.py SRC DATA_ROOT` and build lfw.bin with "
    "`python data_scripts/lfw_to_bin.py`."
)


@dataclass(frozen=True)
class Chapter:
    """A chapter's parameters, checked, and the way its face experiments are trained.

    ``quick_overrides`` are :class:`~fr_course.training.TrainConfig` fields this chapter sets for
    its quick-profile runs only (e.g. ``{"synthetic_overrides": {"imbalance": 2.0}}`` for the
    long-tailed faces of chapters 6 and 7); the full profile trains on CASIA-WebFace as it is.
    """

    profile: str = "quick"
    seed: int = 0
    epochs: int | None = None
    data_root: str | None = None
    device: str | None = None
    quick_overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"PROFILE must be 'quick' or 'full', got {self.profile!r}")
        if self.profile == "full" and not self.data_root:
            raise ValueError(DATA_ROOT_HELP)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"SEED must be a non-negative integer, got {self.seed!r}")
        if self.epochs is not None and (isinstance(self.epochs, bool) or not isinstance(self.epochs, int)
                                        or self.epochs < 1):
            raise ValueError(f"EPOCHS must be None or a positive integer, got {self.epochs!r}")

    @property
    def quick_defaults(self) -> bool:
        """True when the notebook runs as committed: its outputs and check tolerances are for this."""
        return self.profile == "quick" and self.epochs is None and self.seed == 0

    @property
    def embed_device(self) -> str:
        """Where to embed images for the chapter's analyses: the CPU in the quick profile."""
        if self.profile == "quick":
            return "cpu"
        import torch

        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def run_kwargs(self, loss: str, quick_overrides: Mapping[str, Any] | None = None,
                   **settings: Any) -> dict[str, Any]:
        """The keyword arguments of :func:`fr_course.experiments.run` for this chapter's ``loss`` run.

        ``settings`` are ``loss_kwargs=...`` and any TrainConfig overrides; they win over the
        chapter's own. ``quick_overrides`` apply in the quick profile only (on top of the chapter's).
        """
        kwargs: dict[str, Any] = {"seed": self.seed}
        if self.profile == "quick":
            kwargs.update(self.quick_overrides)
            kwargs.update(quick_overrides or {})
        else:
            kwargs.update(profile="paper", data="casia", data_root=self.data_root, device=self.device or "auto")
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        kwargs.update(settings)
        return {"loss": loss, **kwargs}

    def run(self, loss: str, quick_overrides: Mapping[str, Any] | None = None, **settings: Any):
        """One face experiment (:func:`fr_course.experiments.run`), trained now or from the cache."""
        from .. import experiments

        return experiments.run(**self.run_kwargs(loss, quick_overrides, **settings))

    def runs(self, specs: Mapping[str, str | Mapping[str, Any]], quick_overrides: Mapping[str, Any] | None = None):
        """Several face experiments, by label: ``{"label": "loss"}`` or ``{"label": {"loss": ..., **settings}}``.

        ``quick_overrides`` apply to all of them in the quick profile only. The runs the cache lacks
        are trained side by side first (one per core, CPU only).
        """
        from .. import experiments

        requests = {}
        for label, spec in specs.items():
            if isinstance(spec, str):
                spec = {"loss": spec}
            elif not isinstance(spec, Mapping) or "loss" not in spec:
                raise ValueError(f"run {label!r}: give a loss name or a dict with a 'loss' key, got {spec!r}")
            requests[label] = self.run_kwargs(quick_overrides=quick_overrides, **spec)
        return experiments.run_all(requests)

    def check(self, runs) -> None:
        """The check cell after a face experiment: what must hold for any seed on any CPU.

        Losses finite and falling; in the quick profile at its default epochs, each run's accuracy
        inside the interval derived from its measured spread over seeds and instruction sets
        (:func:`fr_course.notebooks.spread.check_runs`, which prints the spread and the interval).
        """
        from .spread import check_runs

        check_runs(runs, measured=self.profile == "quick" and self.epochs is None)

    def compare(self, runs, a: str, b: str):
        """Print the measured paired difference of runs ``a`` and ``b`` (labels of ``runs``) and
        whether it is resolved; assert the live difference fits it (quick profile, default epochs).
        Returns the :class:`~fr_course.notebooks.spread.PairedDifference`, or None in other profiles.
        """
        from .spread import check_difference

        if self.profile != "quick" or self.epochs is not None:
            print(f"{a} vs {b}: no measured spread for this profile")
            return None
        return check_difference(runs, a, b)
