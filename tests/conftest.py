"""Shared test settings.

The suite runs on 2-core machines that are often busy; torch's second intra-op thread then spins
against the other load and tiny models run many times slower. Unit tests use one thread; what
depends on the thread count (the notebooks) is checked by nbval with 1 and 2 threads.
"""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def synthetic_casia(tmp_path):
    """``make(size=32)``: a tiny CASIA-shaped RecordIO set with its .bin pair files, written by
    ``data_scripts/make_synthetic_casia.py`` exactly as a user would (scale 0.0005: 5 identities)."""
    sys.path.insert(0, str(ROOT / "data_scripts"))
    try:
        import make_synthetic_casia
    finally:
        sys.path.pop(0)

    def make(size: int = 32, name: str = "casia") -> Path:
        root = tmp_path / name
        status = make_synthetic_casia.main(["--out", str(root), "--scale", "0.0005", "--image-size", str(size),
                                            "--pairs-per-fold", "2"])
        assert status == 0
        return root

    return make
