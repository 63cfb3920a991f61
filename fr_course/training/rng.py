"""Random-number-generator states as tensors and plain lists (loadable with ``weights_only=True``).

``torch.load(..., weights_only=True)`` refuses arbitrary Python objects, which is what makes a
downloaded checkpoint safe to open. NumPy's state is a tuple holding an ndarray and Python's is a
tuple of ints, so both are converted to tensors / lists here and back on restore.
"""

from __future__ import annotations

import random
from typing import Mapping

import numpy as np
import torch


def capture(generators: Mapping[str, torch.Generator] | None = None) -> dict:
    """States of torch (CPU and every CUDA device), NumPy, ``random`` and the named ``generators``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "state": [int(v) for v in internal],
                   "gauss_next": gauss_next},
        "generators": {name: gen.get_state() for name, gen in (generators or {}).items()},
    }


def restore(state: Mapping, generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Inverse of :func:`capture` (CUDA states are restored only if the device count matches)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["state"]), py_state["gauss_next"]))
    for name, gen in (generators or {}).items():
        if name in state.get("generators", {}):
            gen.set_state(state["generators"][name])
