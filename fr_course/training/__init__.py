"""Training: a config dataclass, three profiles, a resumable DDP-capable trainer.

    from fr_course.training import Trainer, get_profile
    config = get_profile("quick", loss="cosface", epochs=3, out_dir="runs/cosface",
                         loss_kwargs={"m": 0.3})
    results = Trainer(config).fit()                   # also runs/cosface/results.json
    for name, entry in results["verification"].items():
        print(name, entry["accuracy_pct"])           # mean ± std over 10 folds, in %

Modules, one idea each: :mod:`.config` (TrainConfig, ``key=value`` overrides), :mod:`.profiles`
(quick / paper / modern), :mod:`.optim` (SGD groups, lr schedules), :mod:`.sampling` (seeded
sharded order), :mod:`.sources` (training set + pair sets), :mod:`.trainer` (the loop),
:mod:`.checkpoint` / :mod:`.atomic` / :mod:`.rng` (exact resume), :mod:`.distributed` (torchrun +
DDP), :mod:`.metrics` (``metrics.jsonl``), :mod:`.report` (``results.json``).
"""

from .checkpoint import CheckpointError, checkpoint_path
from .checkpoint import load as load_checkpoint
from .config import ConfigError, TrainConfig, parse_overrides
from .metrics import read_metrics, strip_timing
from .profiles import PROFILES, get_profile
from .trainer import NonFiniteLossError, Trainer, build_backbone, build_head

__all__ = [
    "TrainConfig", "ConfigError", "parse_overrides", "PROFILES", "get_profile",
    "Trainer", "NonFiniteLossError", "build_backbone", "build_head",
    "load_checkpoint", "checkpoint_path", "CheckpointError", "read_metrics", "strip_timing",
]
