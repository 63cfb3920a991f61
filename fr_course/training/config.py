"""The one description of a training run: :class:`TrainConfig`, and ``key=value`` overrides.

Everything that can change a result lives in this dataclass, so that a checkpoint can store the
config, a resumed run can check it is continuing the *same* experiment, and ``results.json``
records exactly what produced its numbers. Profiles (:mod:`fr_course.training.profiles`) are
just named ``TrainConfig`` instances.

Overrides from the command line (``--set key=value``) are coerced to the field's declared type:

* ``int``/``float``/``str``: ``epochs=3``, ``lr=0.05``, ``model=iresnet18``;
* ``bool``: ``true/false``, ``yes/no``, ``on/off``, ``1/0``;
* optional fields accept ``none``: ``grad_clip=none``, ``data_root=none``;
* tuples of ints: ``milestones=8,12,16`` (or ``[8, 12, 16]``; ``milestones=`` for none);
* a loss hyper-parameter: ``loss.s=30`` (stored in ``loss_kwargs``; nested dicts with more dots:
  ``loss.base_kwargs.m=0.5`` for the Hard-Mining wrapper's base loss). The value is coerced to the
  type of the hyper-parameter's default from :func:`fr_course.losses.describe`;
* a synthetic-data option: ``synthetic.difficulty=0.8`` (stored in ``synthetic_overrides`` and
  passed to :func:`fr_course.data.synthetic.make_faces`).

Unknown keys and unparsable values raise :class:`ConfigError` with one line naming the key and
listing the valid ones.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

DATA_SOURCES = ("synthetic", "casia", "folder")
SCHEDULES = ("multistep", "cosine", "poly")
AMP_MODES = ("off", "bf16")
#: Where training JPEGs are decoded (fr_course.data.device_decode): PIL in the DataLoader workers,
#: batched decode_jpeg on the training device, or "auto" = the device when on CUDA and faster.
DECODE_MODES = ("auto", "workers", "device")

#: Fields a resumed run may change: they affect speed, bookkeeping or which epochs are evaluated,
#: never the weights. (``epochs`` extends or shortens the run; see :func:`resume_differences`.)
RESUME_MUTABLE = frozenset({
    "epochs", "out_dir", "data_root", "device", "num_workers", "decode", "compile", "profile",
    "eval_every", "eval_batch_size", "eval_interim_pairs", "log_every", "progress", "verbose",
})


class ConfigError(ValueError):
    """A wrong name or value in a training config, an override or a data path (one line)."""


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults = the ``paper`` recipe's optimiser on CASIA.

    Batch size and learning rate are *global*: under DDP each of the K processes gets
    ``batch_size / K`` images per step, so one config means the same optimisation whatever the
    number of GPUs.

    What is trained
        ``loss``, ``loss_kwargs`` (hyper-parameters, see ``python -m fr_course losses``);
        ``model`` (``resnet18``/``iresnet18``), ``embedding_dim``, ``width`` (base channels),
        ``input_size`` (pixels, square), ``dropout`` (embedding head).
    Data
        ``data`` (``synthetic``/``casia``/``folder``), ``data_root`` (casia/folder);
        ``synthetic_preset``, ``synthetic_seed`` (the data's seed, fixed while the training
        ``seed`` varies), ``synthetic_overrides`` (options of ``make_faces``).
    Optimisation
        ``epochs``; ``batch_size``; ``max_steps_per_epoch`` (0 = a full pass; > 0 caps the steps
        of every epoch, for smoke tests and throughput runs); SGD ``lr``, ``momentum``,
        ``weight_decay`` (not on BN parameters, biases, scalars); ``schedule`` = ``multistep``
        (``milestones`` in epochs, ``gamma``), ``cosine`` or ``poly`` (``poly_power``), after
        ``warmup_epochs`` of linear warm-up (may be fractional); ``grad_clip``: max L2 norm of the
        backbone's gradient, or None.
    Speed
        ``amp`` (``off``/``bf16`` autocast), ``channels_last``, ``compile`` (``torch.compile`` of
        the backbone), ``num_workers`` (DataLoader), ``decode`` (``auto``/``workers``/``device``: where
        training JPEGs are decoded, see :mod:`fr_course.data.device_decode`), ``device``
        (``auto``/``cpu``/``cuda[:N]``),
        ``deterministic`` (deterministic algorithms during ``fit``; restored afterwards).
    Bookkeeping
        ``seed`` (weights, data order, flips, dropout); ``profile`` (its name, for reports);
        ``out_dir``; ``eval_every`` (epochs; 0 = only after the last, which is always
        evaluated); ``eval_batch_size``; ``eval_flip`` (flip-fused embeddings);
        ``eval_interim_pairs`` (None: every evaluation uses all pairs; k: the epochs before the
        last are evaluated on the first k matched and k mismatched pairs of each fold only — a
        cheaper learning curve; the final evaluation always uses every pair); ``log_every``
        (steps between ``metrics.jsonl`` step records, 0 = none); ``progress`` (tqdm bar on
        stderr); ``verbose`` (one line per epoch on stdout).
    """

    # -- what is trained
    loss: str = "arcface"
    loss_kwargs: dict = field(default_factory=dict)
    model: str = "resnet18"
    embedding_dim: int = 512
    width: int = 64
    input_size: int = 112
    dropout: float = 0.0

    # -- data
    data: str = "synthetic"
    data_root: str | None = None
    synthetic_preset: str = "small"
    synthetic_seed: int = 0
    synthetic_overrides: dict = field(default_factory=dict)

    # -- optimisation
    epochs: int = 20
    batch_size: int = 64
    max_steps_per_epoch: int = 0
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "multistep"
    milestones: tuple[int, ...] = (8, 12, 16)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    poly_power: float = 2.0
    grad_clip: float | None = 5.0

    # -- speed
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    num_workers: int = 0
    decode: str = "auto"
    device: str = "auto"
    deterministic: bool = False

    # -- bookkeeping
    seed: int = 0
    profile: str = "custom"
    out_dir: str = "runs/run"
    eval_every: int = 1
    eval_batch_size: int = 256
    eval_flip: bool = True
    eval_interim_pairs: int | None = None
    log_every: int = 0
    progress: bool = True
    verbose: bool = True

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first field with an impossible value."""
        _check_types(self)
        _choice("data", self.data, DATA_SOURCES)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("amp", self.amp, AMP_MODES)
        _choice("decode", self.decode, DECODE_MODES)
        for name in ("epochs", "embedding_dim", "width", "input_size", "eval_batch_size"):
            _at_least(name, getattr(self, name), 1)
        _at_least("batch_size", self.batch_size, 2)  # BatchNorm needs two images per step
        for name in ("max_steps_per_epoch", "num_workers", "eval_every", "log_every"):
            _at_least(name, getattr(self, name), 0)
        if self.eval_interim_pairs is not None:
            _at_least("eval_interim_pairs", self.eval_interim_pairs, 1)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma must lie in (0, 1], got {self.gamma!r}")
        if not (math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0):
            raise ConfigError(f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}")
        if self.poly_power <= 0:
            raise ConfigError(f"poly_power must be > 0, got {self.poly_power!r}")
        if any(m < 1 for m in self.milestones) or list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError(f"milestones must be strictly increasing epochs >= 1, got {list(self.milestones)}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0 or none, got {self.grad_clip!r}")
        if self.data != "synthetic" and not self.data_root:
            raise ConfigError(f"data={self.data!r} needs data_root (--data-root PATH)")
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; {valid_keys_hint()}")
        hints = _type_hints()
        return cls(**{k: _from_plain(v, hints[k]) for k, v in values.items()})

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied (validated); unknown keys raise :class:`ConfigError`."""
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; {valid_keys_hint()}")
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------- overrides

def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def parse_overrides(items: Iterable[str], loss: str | None = None) -> dict[str, Any]:
    """``["lr=0.1", "loss.s=30", ...]`` -> ``{"lr": 0.1, "loss_kwargs": {"s": 30.0}, ...}``.

    ``loss`` names the loss whose hyper-parameter defaults type the ``loss.*`` values (the
    ``loss=`` item among ``items`` wins). Dotted items are gathered into ``loss_kwargs`` and
    ``synthetic_overrides`` dicts; an override that sets the whole dict (``loss_kwargs={...}``)
    is applied first, so dotted items refine it.
    """
    pairs = [_split(item) for item in items]
    hints = _type_hints()
    result: dict[str, Any] = {}
    dotted: list[tuple[str, str, str]] = []
    for key, text in pairs:
        head, _, rest = key.partition(".")
        if rest:
            if head not in ("loss", "synthetic"):
                raise ConfigError(f"unknown config key {key!r}: only loss.<name> and synthetic.<name> "
                                  f"take a dot; {valid_keys_hint()}")
            dotted.append((head, rest, text))
            continue
        if key not in hints:
            raise ConfigError(f"unknown config key {key!r}; {valid_keys_hint()}")
        result[key] = coerce(key, text, hints[key])
    loss_name = result.get("loss", loss)
    defaults = _loss_defaults(loss_name) if any(h == "loss" for h, _, _ in dotted) else {}
    for head, path, text in dotted:
        target = "loss_kwargs" if head == "loss" else "synthetic_overrides"
        container = result.setdefault(target, {})
        keys = path.split(".")
        for part in keys[:-1]:
            container = container.setdefault(part, {})
            if not isinstance(container, dict):
                raise ConfigError(f"{head}.{path}: {part!r} is not a dict")
        default = defaults.get(keys[0]) if head == "loss" and len(keys) == 1 else None
        if head == "loss" and loss_name is not None and keys[0] not in defaults:
            raise ConfigError(f"loss {loss_name!r} has no hyper-parameter {keys[0]!r}; "
                              f"valid: {', '.join(sorted(defaults)) or '(none)'}")
        container[keys[-1]] = _coerce_like(f"{head}.{path}", text, default)
    return result


def coerce(key: str, text: str, annotation: Any) -> Any:
    """Convert the string ``text`` to the type ``annotation`` of field ``key`` (ConfigError if not)."""
    optional, base = _unwrap_optional(annotation)
    stripped = text.strip()
    if optional and stripped.lower() in ("none", "null", ""):
        return None
    try:
        if base is bool:
            return _parse_bool(stripped)
        if base is int:
            return int(stripped)
        if base is float:
            return float(stripped)
        if base is str:
            return stripped
        if typing.get_origin(base) is tuple:
            return _parse_int_tuple(stripped)
        if base is dict or typing.get_origin(base) is dict:
            value = ast.literal_eval(stripped) if stripped else {}
            if not isinstance(value, dict):
                raise ValueError("not a dict")
            return value
    except (ValueError, SyntaxError) as exc:
        raise ConfigError(f"bad value for {key}: {text!r} is not {_type_name(annotation)} ({exc})") from None
    raise ConfigError(f"cannot set {key} from the command line")  # pragma: no cover - all types handled


def resume_differences(saved: Mapping[str, Any], current: "TrainConfig") -> list[str]:
    """Fields (outside :data:`RESUME_MUTABLE`) whose values differ: ``"lr: 0.1 -> 0.05"``."""
    now = current.to_dict()
    diffs = []
    for key in field_names():
        if key in RESUME_MUTABLE:
            continue
        before = saved.get(key, "<missing>")
        if before != now[key]:
            diffs.append(f"{key}: {before!r} -> {now[key]!r}")
    return diffs


# ---------------------------------------------------------------------- helpers

def _type_hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def valid_keys_hint() -> str:
    return ("valid keys: " + ", ".join(field_names())
            + ", loss.<hyper-parameter>, synthetic.<option>")


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {item!r}: expected key=value")
    return key.strip(), value


def _unwrap_optional(annotation: Any) -> tuple[bool, Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return True, args[0]
    return False, annotation


def _type_name(annotation: Any) -> str:
    optional, base = _unwrap_optional(annotation)
    if typing.get_origin(base) is tuple:
        name = "a comma-separated list of integers"
    elif base is dict or typing.get_origin(base) is dict:
        name = "a dict literal"
    else:
        name = {bool: "a boolean (true/false)", int: "an integer", float: "a number"}.get(base, str(base))
    return name + (" or none" if optional else "")


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true/false")


def _parse_int_tuple(text: str) -> tuple[int, ...]:
    text = text.strip("[]() ")
    if not text:
        return ()
    return tuple(int(part) for part in text.split(","))


def _coerce_like(key: str, text: str, default: Any) -> Any:
    """Coerce to the type of a known default; otherwise read a Python literal, else keep the string."""
    if isinstance(default, bool):
        return coerce(key, text, bool)
    if isinstance(default, int):
        return coerce(key, text, int)
    if isinstance(default, float):
        return coerce(key, text, float)
    if isinstance(default, str):
        return text
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if stripped.lower() in ("none", "null"):
        return None
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        return text


def _loss_defaults(loss: str | None) -> dict[str, Any]:
    """The hyper-parameters of ``loss`` and their defaults (``{}`` if unknown here)."""
    if loss is None:
        return {}
    from .. import losses

    if loss not in losses.LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; valid: {', '.join(losses.LOSSES)}")
    return loss_hparam_defaults(loss)


def loss_hparam_defaults(loss: str) -> dict[str, Any]:
    """``{name: default}`` of a loss's hyper-parameters (``None`` where one is required)."""
    from .. import losses

    return {name: (None if default is losses.REQUIRED else default)
            for name, default in losses.hyperparameters(losses.LOSSES[loss]).items()}


def _check_types(config: TrainConfig) -> None:
    for key, annotation in _type_hints().items():
        value = getattr(config, key)
        optional, base = _unwrap_optional(annotation)
        if value is None:
            if optional:
                continue
            raise ConfigError(f"{key} must not be none")
        if typing.get_origin(base) is tuple:
            if isinstance(value, list):
                value = tuple(value)
                setattr(config, key, value)
            ok = isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        elif base is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok:
                setattr(config, key, float(value))
        elif base is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif base is dict or typing.get_origin(base) is dict:
            ok = isinstance(value, dict)
        else:
            ok = isinstance(value, base)
        if not ok:
            raise ConfigError(f"{key} must be {_type_name(annotation)}, got {value!r}")


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key} must be >= {low}, got {value!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _from_plain(value: Any, annotation: Any) -> Any:
    _, base = _unwrap_optional(annotation)
    if typing.get_origin(base) is tuple and isinstance(value, list):
        return tuple(value)
    return value
