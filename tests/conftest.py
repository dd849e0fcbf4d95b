"""Shared test helpers.

Parity tests compare MyTorch with PyTorch. They use the ``torch`` fixture,
which skips the test when torch is not installed, unless the environment sets
MYTORCH_REQUIRE_TORCH=1 (CI does): then a missing torch fails the test, so
parity can never be skipped silently where it is supposed to run.
"""
import os

import numpy as np
import pytest


def _import_torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("MYTORCH_REQUIRE_TORCH") == "1":
            pytest.fail("MYTORCH_REQUIRE_TORCH=1 but torch is not installed: pip install torch==2.13.0")
        pytest.skip("torch is not installed (pip install torch==2.13.0 to run parity tests)")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def torch():
    """The torch module, for parity tests (see the module docstring)."""
    return _import_torch()


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(0)
