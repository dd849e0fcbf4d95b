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

    def __init__(self, id, name, points, module, checks_name, regions=None):
        self.id = id
        self.name = name
        self.points = points
        self.module = module            # a module of this folder
        self.checks_name = checks_name  # the name of its list of checks
        # The solution regions it grades, {file: {"Class.method", "Class" or "function": task}}:
        # tools/make_handout.py --homework 2 names the task in each stub.
        self.regions = regions or {}

    def checks(self):
        """The problem's ``observe.Check`` list (this folder must be on the path)."""
        return getattr(importlib.import_module(self.module), self.checks_name)


CONV, SCAN, MODEL = "mytorch/nn/conv.py", "hw2/mlp_scan.py", "hw2/hw2.py"

PROBLEMS = [
    Problem("conv1d_forward", "Conv1d forward", 20, "conv_checks", "CONV1D_FORWARD",
            {CONV: {"conv1d_output_size": "Conv1d forward", "Conv1dFunction.forward": "Conv1d forward"}}),
    Problem("conv1d_backward", "Conv1d backward", 30, "conv_checks", "CONV1D_BACKWARD",
            {CONV: {"Conv1dFunction.backward": "Conv1d backward"}}),
    Problem("flatten", "Flatten", 10, "conv_checks", "FLATTEN", {CONV: {"Flatten": "Flatten"}}),
    Problem("simple_scanning", "CNN as a simple scanning MLP", 10, "scan_checks", "SIMPLE_SCANNING",
            {SCAN: {"_window_filters": "CNN as a simple scanning MLP",
                    "CNN_SimpleScanningMLP": "CNN as a simple scanning MLP"}}),
    Problem("distributed_scanning", "CNN as a distributed scanning MLP", 10, "scan_checks", "DISTRIBUTED_SCANNING",
            {SCAN: {"CNN_DistributedScanningMLP": "CNN as a distributed scanning MLP"}}),
    Problem("cnn", "CNN", 15, "cnn_checks", "CNN", {MODEL: {"CNN": "CNN"}}),
]
BY_ID = {p.id: p for p in PROBLEMS}
TOTAL_POINTS = sum(p.points for p in PROBLEMS)  # 95
