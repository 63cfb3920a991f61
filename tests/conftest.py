"""Shared test settings.

The suite runs on 2-core machines that are often busy; torch's second intra-op thread then spins
against the other load and tiny models run many times slower. Unit tests use one thread; what
depends on the thread count (the notebooks) is checked by nbval with 1 and 2 threads.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
