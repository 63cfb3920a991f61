"""Training runs for the chapters, cached by configuration so that no run is made twice.

A chapter asks for a run by what defines it — the loss, its hyper-parameters, the profile, the seed,
any data or training overrides — and gets the same :class:`Run` whether it trains now or another
chapter trained it before::

    from fr_course import experiments
    run = experiments.run("arcface", seed=0)                 # quick profile, synthetic faces
    run.accuracy, run.accuracy_std                           # 10-fold LFW-protocol accuracy
    run.history                                              # per-epoch loss and accuracy

The cache key is a hash of the complete resolved :class:`~fr_course.training.TrainConfig` (minus
where its files go), of the torch version and of the source code of the sub-packages that decide a
run's numbers (losses, models, data, evaluation, training): a change to any of them retrains instead
of serving a stale number. Runs live in
``fr_course.paths.cache_dir("runs")/<key>/`` (``$FR_COURSE_CACHE`` moves it), each with the trainer's
``results.json``, ``metrics.jsonl``, checkpoint and the verification cosines (``cosines.npz``).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from .paths import cache_dir

#: Config fields that do not change what a run computes (where it writes, how many loader workers).
_NOT_IN_KEY = ("out_dir", "num_workers")


@dataclass(frozen=True)
class Run:
    """One finished training run (from the cache or just trained)."""

    key: str
    path: Path
    results: dict[str, Any]
    history: list[dict[str, Any]]
    positive_cosines: np.ndarray
    negative_cosines: np.ndarray

    @property
    def loss(self) -> str:
        return self.results["loss"]

    @property
    def verification(self) -> dict[str, Any]:
        """The final verification entry of the (first) pair set."""
        return next(iter(self.results["verification"].values()))

    @property
    def accuracy(self) -> float:
        """Mean 10-fold accuracy, a fraction."""
        return self.verification["accuracy"]

    @property
    def accuracy_std(self) -> float:
        return self.verification["accuracy_std"]

    @property
    def accuracy_pct(self) -> str:
        """``"93.45 ± 1.20"`` (percent)."""
        return self.verification["accuracy_pct"]

    @property
    def epoch_losses(self) -> list[float]:
        return [r["loss"] for r in self.history]

    @property
    def epoch_accuracies(self) -> list[float]:
        return [next(iter(r["verification"].values()))["accuracy"] for r in self.history]

    def load_model(self):
        """The trained backbone and loss head, in eval mode, on the CPU."""
        from .training import TrainConfig, build_backbone, build_head, load_checkpoint

        config = TrainConfig.from_dict(self.results["config"])
        state = load_checkpoint(self.path / "checkpoint.pt")
        backbone = build_backbone(config)
        backbone.load_state_dict(state["model"])
        # placeholder counts: HSM keeps its real class counts and margins as buffers in the state
        head = build_head(config, np.ones(self.results["data"]["num_classes"], dtype=np.int64))
        head.load_state_dict(state["head"])
        return backbone.eval(), head.eval()


#: The sub-packages whose code decides what a training run computes (plots, the notebook runner
#: and this module do not).
_RESULT_CODE = ("losses", "models", "data", "evaluation", "training")


def _code_fingerprint(path: Path) -> bytes:
    """The code of one module without its docstrings and comments (its syntax tree).

    A reworded docstring or comment does not change a number, so it must not throw away the cached
    runs; any change to the code itself does.
    """
    tree = ast.parse(path.read_bytes())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False).encode()


def _loss_modules(config) -> set[str]:
    """The modules of ``fr_course/losses`` that define the run's loss (and a wrapped base loss)."""
    from . import losses

    names = [config.loss]
    if config.loss == "hard_mining":
        names.append(config.loss_kwargs.get("base", "softmax"))
    return {losses.LOSSES[name].__module__.rsplit(".", 1)[-1] + ".py" for name in names if name in losses.LOSSES}


def _source_digest(config=None) -> str:
    """Hash of the code that decides a run's numbers: editing it invalidates cached runs.

    Every module of the result-deciding sub-packages counts, except the modules of *other* losses
    (editing EqM does not retrain ArcFace); without ``config`` every loss module counts.
    """
    from . import losses

    root = Path(__file__).resolve().parent
    loss_files = {cls.__module__.rsplit(".", 1)[-1] + ".py" for cls in losses.LOSSES.values()}
    skip = set() if config is None else loss_files - _loss_modules(config)
    digest = hashlib.sha256()
    for path in sorted(p for sub in _RESULT_CODE for p in (root / sub).rglob("*.py")):
        if path.parent.name == "losses" and path.name in skip:
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(_code_fingerprint(path))
    return digest.hexdigest()


def isa_setting() -> str:
    """The CPU instruction-set override of this process, e.g. ``"aten=default,onednn=SSE41"``.

    ``ATEN_CPU_CAPABILITY`` picks PyTorch's vectorised kernels and ``ONEDNN_MAX_CPU_ISA`` oneDNN's
    (convolutions); both change the last bits of a CPU run, which training amplifies. ``"native"``
    when neither is set. Part of the cache key: a run trained under one setting is never served
    under another.
    """
    parts = [f"{name}={os.environ[var]}" for name, var in (("aten", "ATEN_CPU_CAPABILITY"),
                                                           ("onednn", "ONEDNN_MAX_CPU_ISA"))
             if os.environ.get(var)]
    return ",".join(parts) or "native"


def config_for(loss: str, *, profile: str = "quick", seed: int = 0, loss_kwargs: dict | None = None,
               **overrides: Any):
    """The :class:`~fr_course.training.TrainConfig` that :func:`run` would train.

    ``loss_kwargs`` are merged over the profile's own per-loss settings (the quick profile's
    ``QUICK_LOSS_KWARGS``), so a chapter that changes one hyper-parameter keeps the others.
    """
    from .training import get_profile

    from .training.profiles import quick_loss_kwargs

    config = get_profile(profile, loss=loss, seed=seed, **overrides)
    if loss_kwargs:
        merged = (quick_loss_kwargs(loss, loss_kwargs) if config.profile == "quick"
                  else {**config.loss_kwargs, **loss_kwargs})
        config = config.replace(loss_kwargs=merged)
    return config


def cache_key(config) -> str:
    values = {k: v for k, v in config.to_dict().items() if k not in _NOT_IN_KEY}
    key = {"config": values, "torch": torch.__version__, "source": _source_digest(config)}
    if config.device == "cpu":
        key["isa"] = isa_setting()
    blob = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run(loss: str, *, profile: str = "quick", seed: int = 0, loss_kwargs: dict | None = None,
        retrain: bool = False, quiet: bool = True, **overrides: Any) -> Run:
    """Train ``loss`` in ``profile`` (or fetch the identical run from the cache).

    ``overrides`` are :class:`~fr_course.training.TrainConfig` fields (``epochs=4``,
    ``synthetic_overrides={"label_noise": 0.2}``, ...). ``quiet`` keeps the per-epoch lines of the
    trainer out of the notebook (progress bars still go to stderr unless ``TQDM_DISABLE=1``).
    """
    config = config_for(loss, profile=profile, seed=seed, loss_kwargs=loss_kwargs, **overrides)
    key = cache_key(config)
    path = cache_dir("runs") / key
    if not retrain and (path / "done").is_file():
        return _load(key, path)
    _train(config, path, quiet)
    return _load(key, path)


def run_many(losses: Iterable[str], seeds: Sequence[int] = (0,), *, processes: int | None = None,
             **kwargs: Any) -> dict[tuple[str, int], Run]:
    """:func:`run` for every (loss, seed); ``kwargs`` apply to all of them (see :func:`run_all`)."""
    requests = {(loss, seed): {**kwargs, "loss": loss, "seed": seed} for loss in losses for seed in seeds}
    return run_all(requests, processes=processes)


def run_all(requests: Mapping[Any, Mapping[str, Any]], *, processes: int | None = None) -> dict[Any, Run]:
    """:func:`run` for each value of ``requests`` (a dict of :func:`run`'s arguments), by key.

    The runs the cache lacks are trained first, ``processes`` at a time (:func:`train_missing`).
    """
    configs = []
    for kwargs in requests.values():
        if not kwargs.get("retrain", False):
            config_kwargs = {k: v for k, v in kwargs.items() if k not in ("retrain", "quiet")}
            configs.append(config_for(**config_kwargs))
    quiet = all(kwargs.get("quiet", True) for kwargs in requests.values())
    train_missing(configs, processes=processes, quiet=quiet)
    return {name: run(**kwargs) for name, kwargs in requests.items()}


def default_processes() -> int:
    """How many runs to train at once: one per usable core (``$FR_COURSE_PROCESSES`` caps it)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    cap = os.environ.get("FR_COURSE_PROCESSES")
    if cap is not None:
        if not cap.isdigit() or int(cap) < 1:
            raise ValueError(f"FR_COURSE_PROCESSES must be a positive integer, got {cap!r}")
        cores = min(cores, int(cap))
    return max(1, cores)


def train_missing(configs: Sequence, *, processes: int | None = None, quiet: bool = True,
                  log: Callable[[str], None] = print) -> list[str]:
    """Train those of ``configs`` that the cache does not hold yet; return their cache keys.

    A chapter's CPU runs are trained single-threaded (see :func:`_cpu_threads`), so on a machine
    with k cores k of them can train side by side, each in its own process, and every run is still
    bit-identical to the same run trained alone: this only changes how long a chapter takes.
    ``processes`` defaults to :func:`default_processes`; runs on a GPU, and a single missing run,
    are trained here in this process, one after the other. Each finished run is written to the
    cache exactly as :func:`run` writes it, so a later :func:`run` of the same config finds it.
    """
    missing: dict[str, Any] = {}
    for config in configs:
        key = cache_key(config)
        if key not in missing and not (cache_dir("runs") / key / "done").is_file():
            missing[key] = config
    if not missing:
        return []
    processes = default_processes() if processes is None else processes
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    workers = min(processes, len(missing))
    if any(config.device != "cpu" for config in missing.values()):
        workers = 1  # a GPU (or "auto") run uses the whole device; training two at once gains nothing
    names = ", ".join(_describe(config) for config in missing.values())
    log(f"[experiments] training {len(missing)} run(s) not in the cache, {workers} at a time: {names}")
    if workers == 1:
        for key, config in missing.items():
            start = time.perf_counter()
            _train(config, cache_dir("runs") / key, quiet)
            log(f"[experiments] done: {_describe(config)} ({time.perf_counter() - start:.0f} s)")
        return list(missing)
    import multiprocessing

    # spawn, not fork: a forked copy of a process that already started torch's thread pools (a
    # Jupyter kernel, a test) can deadlock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        start = time.perf_counter()
        futures = {pool.submit(_train_in_worker, config.to_dict(), str(cache_dir("runs") / key), quiet): config
                   for key, config in missing.items()}
        for future in as_completed(futures):
            config = futures[future]
            try:
                future.result()
            except Exception as error:
                raise RuntimeError(f"training {_describe(config)} failed: {error}") from error
            log(f"[experiments] done: {_describe(config)} ({time.perf_counter() - start:.0f} s since start)")
    return list(missing)


def _describe(config) -> str:
    extra = []
    if config.loss_kwargs:
        extra.append(", ".join(f"{k}={v}" for k, v in sorted(config.loss_kwargs.items())))
    if getattr(config, "synthetic_overrides", None):
        extra.append(", ".join(f"{k}={v}" for k, v in sorted(config.synthetic_overrides.items())))
    detail = f" ({'; '.join(extra)})" if extra else ""
    return f"{config.loss}{detail} seed {config.seed}"


def _train_in_worker(config: dict, path: str, quiet: bool) -> None:
    """Entry point of a :func:`train_missing` worker process."""
    from .training import TrainConfig

    _train(TrainConfig.from_dict(config), Path(path), quiet)


def summarize(runs: dict[tuple[str, int], Run]) -> list[dict[str, Any]]:
    """Mean ± population std over seeds of each loss's final accuracy (in %), one row per loss."""
    rows = []
    for loss in dict.fromkeys(name for name, _ in runs):
        accs = np.array([r.accuracy for (name, _), r in runs.items() if name == loss]) * 100
        rows.append({"loss": loss, "seeds": len(accs), "mean": float(accs.mean()), "std": float(accs.std()),
                     "runs": [float(a) for a in accs]})
    return rows


def _train(config, path: Path, quiet: bool) -> None:
    from .training import Trainer

    if path.exists():  # an interrupted run: start it again from scratch
        shutil.rmtree(path)
    config = config.replace(out_dir=str(path))
    sink = io.StringIO() if quiet else None
    with _cpu_threads(1 if config.device == "cpu" else None), \
            (contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext()):
        trainer = Trainer(config)
        trainer.fit()
        final = next(iter(trainer.evaluate().values()))
    np.savez(path / "cosines.npz", positive=final.positive_cosines, negative=final.negative_cosines)
    (path / "done").write_text("ok\n")


@contextlib.contextmanager
def _cpu_threads(count: int | None):
    """Run the block with ``count`` intra-op threads (None: unchanged), then restore the setting.

    CPU convolutions sum in a thread-count-dependent order, so a run trained with 2 threads
    differs in its last bits from the same run with 1, and after a few epochs by a few tenths of a
    point of accuracy. The chapters' runs are therefore always trained single-threaded: a reader's
    machine, CI and ``OMP_NUM_THREADS=1`` all reproduce the committed numbers. (The CLI and the
    trainer itself use every core.)
    """
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load(key: str, path: Path) -> Run:
    results = json.loads((path / "results.json").read_text())
    history = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()
               if line.strip() and json.loads(line).get("kind") == "epoch"]
    cosines = np.load(path / "cosines.npz")
    return Run(key=key, path=path, results=results, history=history,
               positive_cosines=cosines["positive"], negative_cosines=cosines["negative"])
