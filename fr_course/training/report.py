"""What a finished run reports: ``results.json``, the environment it ran in, the summary line.

``results.json`` holds the config, the data summary, the final verification accuracies (fractions
in [0, 1], plus the usual ``"mean ± std"`` string in percent) with the protocol that produced
them, the versions of Python/torch/fr_course, the hardware, the git commit of the code when it is
a git checkout, and timings. It is written atomically by rank 0 at the end of ``fit``.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

RESULTS_NAME = "results.json"


def protocol_name(flip: bool) -> str:
    """How the accuracies were measured (data.md §4), e.g. for the summary line."""
    view = "flip-fused" if flip else "single-view"
    return f"{view}, squared-L2, LFW protocol"


PROTOCOL_DETAIL = ("10 contiguous folds; per fold the squared-L2 threshold in arange(0, 4, 0.01) "
                   "that maximises accuracy on the other 9 folds; mean and population std of the "
                   "10 held-out accuracies (insightface/LFW standard)")


def verification_entry(result: Any) -> dict[str, Any]:
    """A :class:`~fr_course.evaluation.VerificationResult` as numbers for the metrics log."""
    return {key: value if isinstance(value, str) else (int(value) if key == "pairs" else float(value))
            for key, value in result.summary().items()}


def format_accuracy(mean: float, std: float) -> str:
    """Fractions -> ``"93.45 ± 1.20"`` (percent, two decimals)."""
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def summary_lines(results: dict[str, Any]) -> list[str]:
    """``<loss> <profile>: <set> 10-fold accuracy 93.45 ± 1.20 % (...) — results in <path>``."""
    config = results["config"]
    where = results.get("files", {}).get("results", RESULTS_NAME)
    lines = []
    for name, entry in results.get("verification", {}).items():
        lines.append(f"{config['loss']} {config['profile']}: {name} 10-fold accuracy "
                     f"{entry['accuracy_pct']} % ({protocol_name(config['eval_flip'])}) — results in {where}")
    if not lines:
        lines.append(f"{config['loss']} {config['profile']}: no verification set — results in {where}")
    return lines


def environment(device: torch.device, world_size: int) -> dict[str, Any]:
    """Versions and hardware, for the record."""
    import numpy

    import fr_course

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "fr_course": fr_course.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # the vector instruction sets this process computes with (a CPU run's last bits depend on them)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "isa_override": {var: os.environ[var] for var in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
                         if os.environ.get(var)},
        "device": str(device),
        "world_size": world_size,
        "git_commit": git_commit(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def git_commit() -> str | None:
    """The commit of the fr_course source tree (with ``+dirty`` if modified), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
