"""The HW1 bonus's problems and points (course/CONTRACT.md, "HW1 bonus"): the one table.

Each problem names the list of checks (``Check`` triples of inputs, probe and
judge, in the ``check_*`` modules of this folder) that must all pass for its
points, and the solution regions it grades. Plain data: the parent reads it
without importing any check.

Not wired into ``./grade.sh`` yet: the shared harness runs checks of this
shape once issue 19's rewrite lands (the bonus's phase 2). Until then the
test suite drives them in-process (tests/test_grader_bonus.py).
"""
import importlib


class Problem:
    """One scored problem: ``id`` ("A.1"), ``name`` (the score key), ``points``."""

    def __init__(self, id, name, points, module, checks_name, regions=None):
        self.id = id
        self.name = name
        self.points = points
        self._module = module
        self._checks_name = checks_name
        # {file: {"Class.method", "Class" or "*" (whole file): where the task is described}}
        self.regions = regions or {}

    def checks(self):
        """The problem's ``checking.Check`` list."""
        return getattr(importlib.import_module(self._module), self._checks_name)


ADAM, DROPOUT, BATCHNORM = "mytorch/optim/adam.py", "mytorch/nn/dropout.py", "mytorch/nn/batchnorm.py"

PROBLEMS = [
    Problem("A.1", "A.1 Adam: Linear", 1, "check_adam", "LINEAR", {ADAM: {"Adam.step": "Adam"}}),
    Problem("A.2", "A.2 Adam: Linear-ReLU-Linear-ReLU", 4, "check_adam", "MLP"),
    Problem("D.1", "D.1 Dropout forward", 3, "check_dropout", "FORWARD",
            {DROPOUT: {"DropoutFunction.forward": "Dropout (forward)"}}),
    Problem("D.2", "D.2 Dropout forward + backward", 3, "check_dropout", "BACKWARD",
            {DROPOUT: {"DropoutFunction.backward": "Dropout (backward)"}}),
    Problem("D.3", "D.3 Dropout blocks + Adam step", 4, "check_dropout", "ADAM_STEP"),
    # BatchNorm1d is HW1P1's (§2.4): its region stays that homework's.
    Problem("B.1", "B.1 BatchNorm forward (train)", 1, "check_batchnorm", "FORWARD"),
    Problem("B.2", "B.2 BatchNorm backward (train)", 1, "check_batchnorm", "BACKWARD"),
    Problem("B.3", "B.3 BatchNorm train/eval steps", 2, "check_batchnorm", "STEPS"),
    Problem("B.4", "B.4 BatchNorm two blocks train/eval", 6, "check_batchnorm", "TWO_BLOCK_STEPS"),
]
BY_ID = {p.id: p for p in PROBLEMS}
TOTAL_POINTS = sum(p.points for p in PROBLEMS)  # 25
