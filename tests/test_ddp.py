"""Two CPU processes under torchrun (gloo): the CLI's DDP training keeps every rank's weights
bit-identical, and only rank 0 writes into the output folder.

The test launches ``torchrun --standalone --nproc_per_node=2 tests/test_ddp.py OUT DUMP``; run as a
script, this file is the worker: it records every file-system write under OUT with an audit hook,
runs ``fr_course.cli.main(["train", ...])``, then saves its rank's final state and recorded writes
under DUMP (outside OUT) for the test to compare.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TRAIN_ARGS = ["train", "--loss", "arcface", "--profile", "smoke", "--set", "log_every=2"]


def _record_writes_under(root: Path) -> list[str]:
    """Install an audit hook listing every write-like file-system event under ``root``."""
    writes: list[str] = []
    prefix = os.path.abspath(root) + os.sep
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path) -> bool:
        if path is None or isinstance(path, int):  # a file descriptor: its open was recorded
            return False
        return (os.path.abspath(os.fsdecode(path)) + os.sep).startswith(prefix)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags)
            if writing and inside(path):
                writes.append(f"open {path}")
        elif event == "os.rename" and (inside(args[0]) or inside(args[1])):
            writes.append(f"rename {args[0]} -> {args[1]}")
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.chmod") and inside(args[0]):
            writes.append(f"{event} {args[0]}")

    sys.addaudithook(hook)
    return writes


def _worker(out: str, dump: str) -> None:
    from fr_course import cli
    from fr_course.training import Trainer

    writes = _record_writes_under(Path(out))
    trainers = []
    original_fit = Trainer.fit

    def fit(self, *args, **kwargs):
        trainers.append(self)
        return original_fit(self, *args, **kwargs)

    Trainer.fit = fit
    status = cli.main(TRAIN_ARGS + ["--out", out])
    trainer, = trainers
    state = {"status": status, "rank": trainer.dist.rank, "world_size": trainer.dist.world_size,
             "model": trainer.backbone.state_dict(), "head": trainer.head.state_dict(),
             "global_step": trainer.global_step, "writes": list(writes)}
    torch.save(state, Path(dump) / f"rank{trainer.dist.rank}.pt")


@pytest.mark.slow
def test_two_ranks_stay_identical_and_only_rank_0_writes(tmp_path):
    from fr_course.data.synthetic import make_faces
    from fr_course.training import get_profile, load_checkpoint

    config = get_profile("smoke")
    make_faces(config.synthetic_preset, seed=config.synthetic_seed)  # render the cache once, not per rank
    out, dump = tmp_path / "run", tmp_path / "dump"
    dump.mkdir()
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(Path(__file__).resolve()), str(out), str(dump)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    ranks = [torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [s["rank"] for s in ranks] == [0, 1] and all(s["world_size"] == 2 for s in ranks)
    assert all(s["status"] == 0 for s in ranks)
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == config.epochs * config.max_steps_per_epoch
    saved = load_checkpoint(out)
    for part in ("model", "head"):
        assert list(ranks[0][part]) == list(ranks[1][part])
        for key, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][key]), f"{part}.{key} differs between ranks"
            assert torch.equal(value, saved[part][key]), f"{part}.{key} differs from the checkpoint"

    assert ranks[1]["writes"] == []
    assert any("checkpoint.pt" in w for w in ranks[0]["writes"])  # the hook does see rank 0's writes
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.jsonl", "results.json"]
    assert done.stdout.count("10-fold accuracy") == 1  # one summary line, from rank 0


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
