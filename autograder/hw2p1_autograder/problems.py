"""HW2P1's problems and points (course/CONTRACT.md): the one table.

Each problem names its list of checks in a module of this folder. A check is
an ``observe.Check``: ``inputs(rng)`` and ``judge(inp, obs)`` run in the
grader's parent process, which never imports student code; ``probe(inp,
student)`` runs in the child, where ``student(name)`` imports a student
module: ``mytorch.*``, and ``mlp_scan`` and ``hw2`` from hw2/ (which has no
__init__.py: the child puts hw2/ on its path). Expected values come from
``reference.py``'s NumPy formulas, never from mytorch or torch.

Plain data, so that a parent can read the table without importing any checks.
"""
import importlib


class Problem:
    """One scored problem: ``id`` ("conv1d_forward"), ``name`` (the score key), ``points``."""

    def __init__(self, id, name, points, module, checks_name):
        self.id = id
        self.name = name
        self.points = points
        self.module = module            # a module of this folder
        self.checks_name = checks_name  # the name of its list of checks

    def checks(self):
        """The problem's ``observe.Check`` list (this folder must be on the path)."""
        return getattr(importlib.import_module(self.module), self.checks_name)


PROBLEMS = [
    Problem("conv1d_forward", "Conv1d forward", 20, "conv_checks", "CONV1D_FORWARD"),
    Problem("conv1d_backward", "Conv1d backward", 30, "conv_checks", "CONV1D_BACKWARD"),
    Problem("flatten", "Flatten", 10, "conv_checks", "FLATTEN"),
    Problem("simple_scanning", "CNN as a simple scanning MLP", 10, "scan_checks", "SIMPLE_SCANNING"),
    Problem("distributed_scanning", "CNN as a distributed scanning MLP", 10, "scan_checks", "DISTRIBUTED_SCANNING"),
    Problem("cnn", "CNN", 15, "cnn_checks", "CNN"),
]
BY_ID = {p.id: p for p in PROBLEMS}
TOTAL_POINTS = sum(p.points for p in PROBLEMS)  # 95
