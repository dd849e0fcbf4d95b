"""The problems the autograder scores, with the handout's points.

Each problem names the list of checks (in ``test_autograd.py`` or
``test_mlp.py``) that must all pass for its points. The table is plain data,
so the parent process can read it without importing any checks.
"""
import importlib


class Problem:
    """One scored problem: ``id`` ("2.4"), ``name`` (the score key), ``points``."""

    def __init__(self, id, name, points, module, checks_name):
        self.id = id
        self.name = name
        self.points = points
        self._module = module
        self._checks_name = checks_name

    def checks(self):
        """The check functions, each taking a ``harness.Context``."""
        return getattr(importlib.import_module(self._module), self._checks_name)


PROBLEMS = [
    # Given in the starter code: it passes before any work is done, so a
    # student can see the autograder itself runs. Worth nothing.
    Problem("0", "Addition", 0, "test_autograd", "ADDITION"),
    Problem("1.1.1", "1.1.1 Subtraction", 5, "test_autograd", "SUBTRACTION"),
    Problem("1.1.2", "1.1.2 Multiplication", 5, "test_autograd", "MULTIPLICATION"),
    Problem("1.1.3", "1.1.3 Division", 5, "test_autograd", "DIVISION"),
    Problem("1.2", "1.2 Autograd", 25, "test_autograd", "AUTOGRAD"),
    Problem("2.1", "2.1 Linear", 5, "test_mlp", "LINEAR"),
    Problem("2.2", "2.2 ReLU", 10, "test_mlp", "RELU"),
    Problem("2.3", "2.3 SGD", 10, "test_mlp", "SGD"),
    Problem("2.4", "2.4 BatchNorm", 10, "test_mlp", "BATCHNORM"),
    Problem("2.5", "2.5 Cross Entropy", 15, "test_mlp", "CROSS_ENTROPY"),
    Problem("2.6", "2.6 Momentum", 10, "test_mlp", "MOMENTUM"),
]
BY_ID = {p.id: p for p in PROBLEMS}

# Problem 3 (MNIST) is graded by hand from validation_accuracy.png.
MNIST_POINTS = 10
TOTAL_POINTS = sum(p.points for p in PROBLEMS) + MNIST_POINTS  # 110
