"""Execute chapter notebooks with papermill, the only way committed outputs are produced.

Each notebook runs in a temporary folder (its working directory is still ``notebooks/``, as under
nbval) and is copied over its destination only when every cell succeeded, so a failed run never
damages a committed notebook. The copy is cleaned by :mod:`.clean` (no timing records, no injected
cell, execution counts kept), its setup cells are tagged for the website
(:func:`.clean.tag_setup_cells`) and it is written atomically.

Profiles: ``quick`` runs the committed notebooks with their own defaults (no parameter is injected,
so the committed file shows exactly the code that produced its outputs) and writes them back in
place. ``full`` injects ``PROFILE="full"`` (plus any ``-p`` overrides), keeps papermill's
injected-parameters cell as the record of what was run, and writes to a separate folder: it never
overwrites the committed quick-profile notebooks.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import book
from .clean import strip_run_metadata, tag_setup_cells

PROFILES = ("quick", "full")
KERNEL_NAME = "python3"
DEFAULT_FULL_OUTPUT = Path("runs") / "notebooks-full"
TIMINGS_FILE = Path("_build") / "notebook_timings.json"
# Quick-profile chapters take minutes; a cell still running after this is hung, not slow.
QUICK_CELL_TIMEOUT_S = 900
# Variables set for the kernel while a notebook runs (the same ones CI sets for nbval).
RUN_ENV = {"TQDM_DISABLE": "1"}


class NotebookRunError(RuntimeError):
    """A notebook failed; the message names the notebook and the failing cell."""


@dataclass(frozen=True)
class RunResult:
    """What happened to one notebook: ``ok``, wall time, where it was written, or why it failed."""

    name: str
    ok: bool
    seconds: float
    destination: Path
    error: str | None = None


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the duration of the block (the kernel inherits them)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def check_kernel(kernel_name: str = KERNEL_NAME) -> None:
    """Refuse a kernel that would run another Python than this one (it would miss fr_course/torch).

    jupyter_client starts a kernelspec whose command is a bare ``python``/``python3`` with the
    current interpreter; an absolute path elsewhere would silently run a different environment.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel as exc:
        raise NotebookRunError(f"no Jupyter kernel named {kernel_name!r}: install ipykernel in {sys.prefix}") from exc
    command = spec.argv[0]
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if command in bare or Path(command).resolve() == Path(sys.executable).resolve():
        return
    raise NotebookRunError(
        f"kernel {kernel_name!r} runs {command}, not this interpreter ({sys.executable}); "
        f"reinstall it with `{sys.executable} -m ipykernel install --sys-prefix`"
    )


def _describe_failure(source_nb, error: Exception) -> str:
    """Name the failing cell by its position in the source notebook, its first line and the error."""
    cell_source = getattr(error, "source", None)
    if cell_source is None:
        return f"{type(error).__name__}: {error}".strip()
    index = next((i for i, cell in enumerate(source_nb.cells) if cell.source == cell_source), None)
    where = f"cell {index}" if index is not None else "an injected cell"
    first_line = next((line for line in cell_source.splitlines() if line.strip()), "")
    return f"{where} (In [{error.exec_count}], starting {first_line.strip()!r}) raised {error.ename}: {error.evalue}"


def execute_notebook(
    source: str | Path,
    destination: str | Path,
    *,
    parameters: dict | None = None,
    drop_injected: bool = True,
    kernel_name: str = KERNEL_NAME,
    cell_timeout: float | None = None,
) -> float:
    """Run ``source`` with papermill and write the cleaned result to ``destination``.

    Returns the wall time in seconds. On any failure raises :class:`NotebookRunError` naming the
    notebook and the failing cell; ``destination`` is then left exactly as it was.
    """
    import nbformat
    import papermill

    source = Path(source).resolve()
    destination = Path(destination).resolve()
    if not source.is_file():
        raise NotebookRunError(f"{source} does not exist")
    source_nb = nbformat.read(source, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fr_course_nb_") as scratch:
        executed_path = Path(scratch) / source.name
        try:
            with _environment(RUN_ENV):
                papermill.execute_notebook(
                    str(source),
                    str(executed_path),
                    parameters=parameters or None,
                    kernel_name=kernel_name,
                    cwd=str(source.parent),
                    progress_bar=False,
                    log_output=False,
                    execution_timeout=cell_timeout,
                )
        except Exception as error:  # papermill raises several types; all mean "do not copy back"
            raise NotebookRunError(f"{source.name}: {_describe_failure(source_nb, error)}") from error
        seconds = time.perf_counter() - start
        executed = strip_run_metadata(nbformat.read(executed_path, as_version=4), drop_injected=drop_injected)
        tag_setup_cells(executed)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.partial")
        nbformat.write(executed, partial)
        os.replace(partial, destination)
    return seconds


def _record_timings(root: Path, profile: str, results: list[RunResult]) -> Path:
    """Merge this run's wall times into ``_build/notebook_timings.json`` (never a committed file)."""
    path = root / TIMINGS_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        recorded = {}
    section = recorded.setdefault(profile, {})
    for result in results:
        section[result.name] = {"seconds": round(result.seconds, 1), "ok": result.ok}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def run(
    names: list[str] | None = None,
    *,
    profile: str = "quick",
    parameters: dict | None = None,
    output_dir: str | Path | None = None,
    root: str | Path | None = None,
    cell_timeout: float | None = None,
    log=print,
) -> list[RunResult]:
    """Execute chapter notebooks (default: every chapter of ``_toc.yml`` that exists), in book order.

    ``quick`` writes back to ``notebooks/`` unless ``output_dir`` is given and accepts no
    ``parameters``; ``full`` injects ``PROFILE="full"`` plus ``parameters`` and writes to
    ``output_dir`` (default ``runs/notebooks-full``). A failing notebook is reported and the others
    still run. Wall times are printed and merged into ``_build/notebook_timings.json``.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    root = book.find_root(root)
    notebooks_dir = (root / book.NOTEBOOK_DIR).resolve()
    if profile == "quick":
        if parameters:
            raise ValueError(
                "the quick profile runs the notebooks with their own defaults (committed outputs must match "
                "the committed code); use --profile full, or papermill directly, to pass parameters"
            )
        injected, drop_injected = None, True
        target_dir = Path(output_dir).resolve() if output_dir is not None else notebooks_dir
        timeout = QUICK_CELL_TIMEOUT_S if cell_timeout is None else cell_timeout
    else:
        injected, drop_injected = {"PROFILE": "full", **(parameters or {})}, False
        target_dir = Path(output_dir if output_dir is not None else root / DEFAULT_FULL_OUTPUT).resolve()
        if target_dir == notebooks_dir:
            raise ValueError(f"full-profile outputs must not overwrite the committed notebooks in {notebooks_dir}")
        timeout = cell_timeout

    if names:
        selected = book.resolve_names(list(names), root)
    else:
        selected = book.chapter_names(root)
        missing = [n for n in selected if not book.notebook_path(n, root).is_file()]
        if missing:
            log(f"[notebooks] not written yet, skipped: {', '.join(missing)}")
        selected = [n for n in selected if n not in missing]
    check_kernel()

    results = []
    for name in selected:
        destination = target_dir / f"{name}.ipynb"
        log(f"[notebooks] {name}: running ({profile} profile)")
        start = time.perf_counter()
        try:
            seconds = execute_notebook(
                book.notebook_path(name, root),
                destination,
                parameters=injected,
                drop_injected=drop_injected,
                cell_timeout=timeout,
            )
            results.append(RunResult(name, True, seconds, destination))
            log(f"[notebooks] {name}: ok in {seconds:.1f} s -> {destination}")
        except NotebookRunError as error:
            seconds = time.perf_counter() - start
            results.append(RunResult(name, False, seconds, destination, str(error)))
            log(f"[notebooks] {name}: FAILED after {seconds:.1f} s, left untouched: {error}")
    if results:
        timings = _record_timings(root, profile, results)
        total = sum(r.seconds for r in results)
        failed = [r.name for r in results if not r.ok]
        log(f"[notebooks] {len(results) - len(failed)}/{len(results)} ok, {total:.1f} s in all; timings in {timings}")
        if failed:
            log(f"[notebooks] failed: {', '.join(failed)}")
    return results
