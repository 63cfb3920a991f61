"""Keep a submission's kernel away from the solutions and from other students' submissions.

The grader runs :func:`install_guard` in the kernel before any of the student's cells. It adds a
Python audit hook (PEP 578, ``sys.addaudithook``; a hook cannot be removed once added) that
refuses, with ``PermissionError``:

* opening a file (event ``open``: ``open``, ``io.open``, ``os.open``, ``pathlib``, ``shutil``...)
  or listing a folder (``os.listdir``, ``os.scandir``) under a blocked folder — the solution
  notebooks in ``notebooks/assignments/`` (the student versions in ``student/`` stay readable),
  the repository's ``.git`` (old solutions live in its history) and the submissions folder — unless
  the path is under an allowed folder (the submission's own temporary copy);
* starting a process (``subprocess``, ``os.system``, ``os.exec*``, ``os.posix_spawn``) whose
  command line names a blocked folder.

Each refusal is appended to a log the grader reads afterwards and reports as feedback, even if the
student's code swallowed the exception.

The grader installs the guard through :func:`guard_environment`: a ``sitecustomize.py`` on the
kernel's ``PYTHONPATH`` calls :func:`install_from_environment` when the interpreter starts, so the
kernel is guarded before it runs anything, and so is every Python process the notebook starts
(``subprocess``, ``multiprocessing``), since they inherit the environment. This is a guard against
casual peeking, not a security boundary: a non-Python program started under another name, or code
that calls the C library directly, is not seen by audit hooks. Graders who need isolation should
run the grader itself inside a container.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterable

#: Environment variable holding the guard's settings (JSON) for the processes of a submission.
ENV_VAR = "FR_COURSE_GUARD"
_installed = False

_SITECUSTOMIZE = """\
# Written by the fr_course grader: every Python process of this submission starts guarded.
from fr_course.assignments.sandbox import install_from_environment

install_from_environment()
"""

_PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
_PATH_EVENTS = ("open", "os.listdir", "os.scandir")


def guard_environment(blocked: Iterable[str], allowed: Iterable[str], log_path: str, folder: Path,
                      env: dict[str, str]) -> dict[str, str]:
    """``env`` plus what makes a Python process started with it install the guard at start-up.

    Writes ``folder/sitecustomize.py`` and puts ``folder`` first on ``PYTHONPATH``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    settings = {"blocked": list(map(str, blocked)), "allowed": list(map(str, allowed)), "log": str(log_path)}
    path = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p)
    return {**env, ENV_VAR: json.dumps(settings), "PYTHONPATH": path}


def install_from_environment() -> bool:
    """Install the guard described by ``$FR_COURSE_GUARD`` (if set); True if a guard is active."""
    raw = os.environ.get(ENV_VAR)
    if raw and not _installed:
        settings = json.loads(raw)
        install_guard(settings["blocked"], settings["allowed"], settings["log"])
    return _installed


def installed() -> bool:
    """Whether this process runs under the guard."""
    return _installed


def install_guard(blocked: Iterable[str], allowed: Iterable[str], log_path: str) -> None:
    """Install the audit hook in this process (see the module docstring); a second call does nothing."""
    global _installed
    if _installed:
        return
    blocked_dirs = tuple(os.path.realpath(p) for p in blocked)
    allowed_dirs = tuple(os.path.realpath(p) for p in allowed)
    log_real = os.path.realpath(log_path)
    log_fd = os.open(log_real, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def under(path: str, folders: tuple[str, ...]) -> bool:
        return any(path == folder or path.startswith(folder + os.sep) for folder in folders)

    def refused(raw) -> bool:
        if raw is None or isinstance(raw, int):  # a file descriptor: its path was checked when opened
            return False
        try:
            path = os.path.realpath(os.fsdecode(raw))
        except (TypeError, ValueError):
            return False
        if path == log_real:
            return True
        return under(path, blocked_dirs) and not under(path, allowed_dirs)

    def record(event: str, what: str) -> None:
        os.write(log_fd, f"{event}\t{what}\n".encode("utf-8", "replace"))

    def hook(event: str, args: tuple) -> None:
        if event in _PATH_EVENTS:
            raw = args[0] if args else None
            if refused(raw):
                record(event, os.fsdecode(raw))
                raise PermissionError(f"the grader refuses access to {os.fsdecode(raw)}: the solutions and other "
                                      f"submissions are off limits")
        elif event.startswith(_PROCESS_EVENTS):
            command = " ".join(os.fsdecode(a) if isinstance(a, (str, bytes)) else repr(a) for a in _flatten(args))
            if any(folder in command for folder in blocked_dirs):
                record(event, command[:300])
                raise PermissionError("the grader refuses to start a process that names the solutions or other "
                                      "submissions")

    sys.addaudithook(hook)
    _installed = True


def _flatten(args) -> list:
    flat = []
    for arg in args:
        if isinstance(arg, dict):  # the environment of the new process: not its command line
            continue
        if isinstance(arg, (list, tuple)):
            flat.extend(_flatten(arg))
        else:
            flat.append(arg)
    return flat


def read_log(log_path: str) -> list[str]:
    """The refusals recorded by the guard (``event<TAB>path`` lines), for the grader."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()]
    except FileNotFoundError:
        return []
