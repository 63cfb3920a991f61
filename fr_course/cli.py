"""Command line: ``python -m fr_course {train, eval, losses}`` (also installed as ``fr-course``).

    python -m fr_course train --loss arcface [--profile quick|paper|modern|smoke]
        [--data synthetic|casia|folder] [--data-root PATH] [--epochs N] [--out DIR]
        [--resume | --overwrite] [--seed N] [--set key=value ...]
    python -m fr_course eval --checkpoint PATH [--pairs PATH_OR_NAME ...] [--no-flip]
    python -m fr_course losses

``--set`` takes any :class:`~fr_course.training.TrainConfig` field (``lr=0.05``,
``milestones=8,12,16``, ``amp=bf16``), a loss hyper-parameter as ``loss.<name>`` (``loss.s=30``,
``loss.base_kwargs.m=0.5``) or a synthetic-data option as ``synthetic.<name>``; these refine the
profile's own loss hyper-parameters and synthetic options. The explicit flags
(``--epochs``, ``--seed``...) win over ``--set``. Multi-GPU / multi-node:
``torchrun --nproc_per_node=K -m fr_course train ...``.

A wrong name or value (unknown loss, bad ``--set``, missing data, ``--resume`` without a
checkpoint) prints one ``error:`` message on stderr and exits with status 2; a run stopped by a
non-finite loss exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from .training.config import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exits with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m fr_course", description="Margins on the Hypersphere: train and "
                     "evaluate face-recognition losses.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,eval,losses}",
                                     parser_class=_Parser)

    train = commands.add_parser("train", help="train a backbone with a loss and report verification accuracy")
    train.add_argument("--loss", required=True, metavar="NAME", help="loss name (python -m fr_course losses)")
    train.add_argument("--profile", default="quick", choices=("quick", "paper", "modern", "smoke"),
                       help="recipe (default: quick = CPU, synthetic faces, a few minutes; "
                            "smoke = seconds, to check an installation)")
    train.add_argument("--data", choices=("synthetic", "casia", "folder"), help="training data (default: the profile's)")
    train.add_argument("--data-root", metavar="PATH", help="folder of the casia/folder data and its .bin pair sets")
    train.add_argument("--epochs", type=int, metavar="N", help="number of epochs")
    train.add_argument("--out", metavar="DIR", help="output folder (default runs/<loss>-<profile>-seed<seed>)")
    restart = train.add_mutually_exclusive_group()
    restart.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    restart.add_argument("--overwrite", action="store_true", help="start again even if --out holds a checkpoint")
    train.add_argument("--seed", type=int, metavar="N", help="training seed (weights, order, flips)")
    train.add_argument("--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides",
                       help="override config fields: lr=0.05 loss.s=30 synthetic.difficulty=0.8 ...")

    evaluate = commands.add_parser("eval", help="10-fold verification accuracy of a checkpoint")
    evaluate.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint.pt or a run folder")
    evaluate.add_argument("--pairs", nargs="+", metavar="PATH_OR_NAME",
                          help="pair sets: .bin files, folders of .bin files, or names of the run's sets "
                               "(default: the sets the run was evaluated on)")
    evaluate.add_argument("--no-flip", action="store_true", help="single view instead of flip-fused embeddings")
    evaluate.add_argument("--data-root", metavar="PATH", help="where the run's .bin sets are now")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    evaluate.add_argument("--batch-size", type=int, default=256, metavar="N")

    commands.add_parser("losses", help="list every loss with its hyper-parameters and defaults")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    prog = f"python -m fr_course {args.command}"
    from .training import CheckpointError, NonFiniteLossError

    try:
        if args.command == "losses":
            return _losses()
        if args.command == "eval":
            return _eval(args)
        return _train(args)
    except (ConfigError, CheckpointError) as exc:
        return _fail(prog, exc, 2)
    except NonFiniteLossError as exc:
        return _fail(prog, exc, 1)
    except KeyboardInterrupt:
        return _fail(prog, "interrupted (continue with --resume)", 130)
    finally:
        from .training import distributed

        distributed.shutdown()


def _fail(prog: str, message, status: int) -> int:
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every rank fails alike; say it once
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


# ---------------------------------------------------------------------- commands

def _losses() -> int:
    from . import losses

    print(losses.describe())
    print("\nSet a hyper-parameter with: python -m fr_course train --loss NAME --set loss.<name>=<value>")
    return 0


def _train(args: argparse.Namespace) -> int:
    from . import losses
    from .training import Trainer, get_profile, parse_overrides
    from .training.report import summary_lines

    if args.loss not in losses.LOSSES:
        raise ConfigError(f"unknown loss {args.loss!r}; valid: {', '.join(losses.LOSSES)}")
    overrides = parse_overrides(args.overrides, loss=args.loss)
    overrides["loss"] = args.loss
    flags = {"data": args.data, "data_root": args.data_root, "epochs": args.epochs, "seed": args.seed,
             "out_dir": args.out}
    overrides.update({key: value for key, value in flags.items() if value is not None})
    base = get_profile(args.profile, loss=args.loss)
    for key in ("loss_kwargs", "synthetic_overrides"):  # loss.* / synthetic.* refine the profile's
        if key in overrides:
            overrides[key] = {**getattr(base, key), **overrides[key]}
    if "out_dir" not in overrides:
        seed = overrides.get("seed", base.seed)
        overrides["out_dir"] = str(Path("runs") / f"{args.loss}-{args.profile}-seed{seed}")
    config = get_profile(args.profile, **overrides)
    trainer = Trainer(config, resume=args.resume, overwrite=args.overwrite)
    results = trainer.fit()
    if trainer.dist.is_main:
        for line in summary_lines(results):
            print(line, flush=True)
    return 0


def _eval(args: argparse.Namespace) -> int:
    import torch

    from .evaluation import verify
    from .training import TrainConfig, build_backbone, load_checkpoint
    from .training.distributed import DistInfo
    from .training.trainer import resolve_device

    state = load_checkpoint(args.checkpoint)
    config = TrainConfig.from_dict(state["config"])
    if args.data_root:
        config = config.replace(data_root=args.data_root)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = resolve_device(args.device, DistInfo())
    backbone = build_backbone(config)
    backbone.load_state_dict(state["model"])
    backbone.to(device)
    pair_sets = _pair_sets(args.pairs, config)
    with torch.no_grad():
        for name, pairs in pair_sets.items():
            result = verify(backbone, pairs, batch_size=args.batch_size, device=device, flip=not args.no_flip)
            print(f"{name}: {result.accuracy}", flush=True)
    return 0


def _pair_sets(requests: Sequence[str] | None, config) -> dict:
    """The pair sets ``--pairs`` asks for (see its help), by name."""
    from .data.verification import find_verification_sets, load_pairset
    from .training.sources import load_pair_sets

    if not requests:
        sets = load_pair_sets(config)
        if not sets:
            raise ConfigError(f"the run's data ({config.data_root}) holds no .bin pair set; give --pairs PATH")
        return sets
    chosen, known = {}, None
    for request in requests:
        path = Path(request)
        try:
            if path.is_dir():
                found = find_verification_sets(path, image_size=config.input_size)
                if not found:
                    raise ConfigError(f"--pairs {request}: no known .bin pair set in that folder")
                chosen.update(found)
                continue
            if path.is_file():
                pairs = load_pairset(path, image_size=config.input_size)
                chosen[pairs.name] = pairs
                continue
        except (ValueError, OSError) as exc:
            raise ConfigError(f"--pairs {request}: {exc}") from None
        if known is None:
            known = load_pair_sets(config)
        if request not in known:
            raise ConfigError(f"--pairs {request!r} is neither a file nor a folder nor one of the run's "
                              f"pair sets ({', '.join(known) or 'none'})")
        chosen[request] = known[request]
    return chosen
