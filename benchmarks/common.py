"""Shared helpers of the benchmark scripts: machine description, interleaved timing, result files.

Every figure is a ratio against a baseline timed in the same run, round-robin (A, B, C, A, B, C, ...)
so that a slow phase of a noisy machine hits every contender alike; we report medians.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def git_commit() -> str | None:
    """The short commit, with ``-dirty`` if tracked files differ from it.

    Changes under ``benchmarks/results/`` do not count: ``make bench`` runs the scripts one after
    another, and the files an earlier script has just rewritten do not change what a later one measures.
    """
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=here, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                 ":(exclude,top)benchmarks/results"], capture_output=True, text=True,
                                cwd=here).stdout.strip()
        return out.stdout.strip() + ("-dirty" if status else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def interleaved_times(fns: dict[str, Callable[[], None]], rounds: int, warmup: int = 2,
                      sync: Callable[[], None] = lambda: None, progress: bool = True) -> dict[str, list[float]]:
    """Seconds per call of each function, measured round-robin ``rounds`` times after ``warmup`` rounds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
        if progress:
            print(f"\rround {r + 1}/{warmup + rounds}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return times


def median_ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over rounds of the per-round ratio name/baseline (pairs measured seconds apart)."""
    return statistics.median(a / b for a, b in zip(times[name], times[baseline]))


def write_results(stem: str, payload: dict, table_md: str, command: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "commit": git_commit(), "machine": machine(), **payload}
    json_path = RESULTS / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    m = payload["machine"]
    header = (f"# {stem}\n\nCommand: `{command}`  \nDate: {payload['date']}  \nCommit: {payload['commit']}  \n"
              f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, torch {m['torch']} "
              f"({m['torch_threads']} threads){', GPU ' + m['gpu'] if 'gpu' in m else ''}\n\n")
    (RESULTS / f"{stem}.md").write_text(header + table_md + "\n")
    return json_path
