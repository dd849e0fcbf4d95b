"""The HW3P1 problems and points (course/CONTRACT.md, "HW3P1", 100 points): the one table.

Each problem names the list of checks (``common.Check`` triples of inputs,
probe and judge, in the ``checks_*`` modules of this package) that must all
pass for its points, and the solution regions it grades ({file: {owner:
where the task is described}}). Plain data: the parent reads it without
importing any check.

Not wired into ``./grade.sh`` yet: the shared harness runs checks of this
shape once issue 19's rewrite lands (HW3P1's phase 2). Until then the test
suite drives them in-process (tests/test_grader_hw3p1.py). This folder is a
package (``hw3p1_autograder``), so its module names never meet another
grader's (``problems``, ``formulas``) on sys.path.
"""
import importlib


class Problem:
    """One scored problem: ``id`` ("2.6"), ``name`` (the score key), ``points``."""

    def __init__(self, id, name, points, module, checks_name, regions=None):
        self.id = id
        self.name = name
        self.points = points
        self._module = module
        self._checks_name = checks_name
        self.regions = regions or {}

    def checks(self):
        """The problem's ``common.Check`` list."""
        return getattr(importlib.import_module(f"{__package__}.{self._module}"), self._checks_name)


TENSOR, FUNCTIONAL = "mytorch/tensor.py", "mytorch/nn/functional.py"
UTIL, RNN, GRU = "mytorch/nn/util.py", "mytorch/nn/rnn.py", "mytorch/nn/gru.py"
OPS, SEQUENCES, RECURRENT = "checks_ops", "checks_sequences", "checks_recurrent"

PROBLEMS = [
    Problem("1.1", "1.1 RNN unit forward", 10, RECURRENT, "RNN_UNIT_FORWARD",
            {RNN: {"RNNUnit.forward": "RNN unit"}}),
    Problem("1.2", "1.2 RNN unit backward", 5, RECURRENT, "RNN_UNIT_BACKWARD"),
    # cat and unsqueeze are reference-only for now (the HW1P1 kit must not change); a
    # per-homework kit turns them into regions (phase 2).
    Problem("2.1", "2.1 cat forward", 3, OPS, "CAT_FORWARD", {TENSOR: {"cat": "cat"}, FUNCTIONAL: {"Cat": "cat"}}),
    Problem("2.2", "2.2 cat backward", 4, OPS, "CAT_BACKWARD"),
    Problem("2.3", "2.3 slicing forward", 2, OPS, "SLICE_FORWARD"),  # given code (GetItem): freebies
    Problem("2.4", "2.4 slicing backward", 3, OPS, "SLICE_BACKWARD"),
    Problem("2.5", "2.5 unsqueeze", 3, OPS, "UNSQUEEZE",
            {TENSOR: {"_unsqueeze": "unsqueeze"}, FUNCTIONAL: {"Unsqueeze": "unsqueeze"}}),
    Problem("2.6", "2.6 pack_sequence forward", 10, SEQUENCES, "PACK_FORWARD",
            {UTIL: {"pack_sequence": "pack_sequence"}}),
    Problem("2.7", "2.7 pack_sequence backward", 5, SEQUENCES, "PACK_BACKWARD"),
    Problem("2.8", "2.8 unpack_sequence forward", 10, SEQUENCES, "UNPACK_FORWARD",
            {UTIL: {"unpack_sequence": "unpack_sequence"}}),
    Problem("2.9", "2.9 unpack_sequence backward", 5, SEQUENCES, "UNPACK_BACKWARD"),
    Problem("3.1", "3.1 RNN over time forward", 10, RECURRENT, "RNN_FORWARD",
            {RNN: {"TimeIterator.forward": "RNN over time (TimeIterator)"}}),
    Problem("3.2", "3.2 RNN over time backward", 10, RECURRENT, "RNN_BACKWARD"),
    Problem("4.1", "4.1 GRU unit forward", 10, RECURRENT, "GRU_UNIT_FORWARD",
            {GRU: {"GRUUnit.forward": "GRU unit"}}),
    Problem("4.2", "4.2 GRU unit backward", 5, RECURRENT, "GRU_UNIT_BACKWARD"),
    Problem("4.3", "4.3 GRU over time forward", 5, RECURRENT, "GRU_FORWARD"),
]
BY_ID = {p.id: p for p in PROBLEMS}
TOTAL_POINTS = sum(p.points for p in PROBLEMS)  # 100
