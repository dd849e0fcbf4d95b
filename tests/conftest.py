"""Shared test helpers.

Parity tests compare MyTorch with PyTorch. They use the ``torch`` fixture,
which skips the test when torch is not installed, unless the environment sets
MYTORCH_REQUIRE_TORCH=1 (CI does): then a missing torch fails the test, so
parity can never be skipped silently where it is supposed to run.

Hypothesis runs under one of two profiles (``HYPOTHESIS_PROFILE``; CI's
``.ci/run`` and any environment with ``CI`` set choose ``ci``):

- ``dev`` (the default): new random examples every run, to find new bugs. A
  failure prints the falsifying example in full (the properties draw their
  arrays from a printed ``seed``), so it can be rerun by hand.
- ``ci``: derandomized: every run tries the same examples, so CI cannot go
  red by chance, and a red run is reproduced by running it again.

Neither keeps Hypothesis's example database: it would be written into the
source tree (``.hypothesis/``) and replay an old failure on every later run.
What else Hypothesis stores (a cache of Unicode tables) goes to
``~/.cache/mytorch/hypothesis``, never into the project folder.
"""
import os

import numpy as np
import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "mytorch", "hypothesis"))

settings.register_profile("dev", database=None, print_blob=True)
settings.register_profile("ci", database=None, print_blob=True, derandomize=True)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_report_header(config):
    return f"hypothesis profile: {HYPOTHESIS_PROFILE} (HYPOTHESIS_PROFILE=dev|ci)"


# The CPU build (README, Set up); torch 2.13 exists for Python 3.10-3.14.
INSTALL_TORCH = "python3 -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def _import_torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("MYTORCH_REQUIRE_TORCH") == "1":
            pytest.fail(f"MYTORCH_REQUIRE_TORCH=1 but torch is not installed: {INSTALL_TORCH}")
        pytest.skip(f"torch is not installed ({INSTALL_TORCH} to run parity tests)")
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


# ------------------------------------------------------------ test groups
# Each test file belongs to one area, a pytest marker registered in
# pyproject.toml, so that one area runs alone: ``python3 -m pytest -m nn``.
# The areas follow the handout's parts; a new test file must be listed here
# (collection fails otherwise, so no test ends up in no group).
AREAS = {
    "ops": ("test_ops_parity", "test_tensor", "test_compare_numpy", "test_dtypes", "test_indexing",
            "test_max_min", "test_errors", "test_habits_misc", "test_imports",
            "test_cat_unsqueeze", "test_torch_habits"),                                # Part 1.1, operations
    "engine": ("test_engine", "test_stale_graph", "test_inplace", "test_memory", "test_grad_storage",
               "test_saved_output"),                                                   # Part 1.2, autograd
    "nn": ("test_nn_activations", "test_nn_batchnorm", "test_nn_composed", "test_nn_linear", "test_nn_loss",
           "test_nn_module", "test_module_state", "test_training_parity",
           "test_nn_dropout", "test_course_contract",                                 # Part 2.1-2.5, layers; HW1 bonus
           "test_nn_conv", "test_hw2_models", "test_nn_rnn"),                         # HW2P1, HW3P1 layers and models
    "optim": ("test_optim_sgd", "test_optim_adam"),                                   # 2.3/2.6 SGD; HW1 bonus Adam
    "mnist": ("test_mnist", "test_data_prepare"),                                     # Part 3, MNIST
    "teaching": ("test_gradcheck", "test_trace", "test_viz", "test_core_sandbox"),    # teaching/, sandbox
    "grader": ("test_grader", "test_grader_audit", "test_grader_mistakes", "test_grader_reference", "test_grader_bonus",
               "test_submission", "test_make_autograder", "test_tarball", "test_never_shipped", "test_jail",
               "test_attacks", "test_grader_verdict",
               "test_hw2p1_checks", "test_grader_hw3p1"),                                 # + HW2P1's, HW3P1's checks
    "kit": ("test_kit", "test_make_handout", "test_kit_homeworks"),                  # the student kits
    "project": ("test_cli", "test_docs"),               # set-up, command-line scripts, README snippets
}
_AREA_OF = {module: area for area, modules in AREAS.items() for module in modules}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.stem
        if module not in _AREA_OF:
            raise pytest.UsageError(f"tests/{module}.py is in no test group: add it to AREAS in tests/conftest.py")
        item.add_marker(_AREA_OF[module])
