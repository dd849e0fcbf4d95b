"""The HW3P1 problem table (course contract, 100 points): id, score name, points, checks, student regions.

Each row's checks are ``common.Check`` records (inputs / probe / judge). The
regions name the student-written code each problem grades (file -> owners),
for the kit's stub hints.
"""
from . import checks_ops as ops
from . import checks_recurrent as rec
from . import checks_sequences as seq

TENSOR, FUNCTIONAL = "mytorch/tensor.py", "mytorch/nn/functional.py"
UTIL, RNN, GRU = "mytorch/nn/util.py", "mytorch/nn/rnn.py", "mytorch/nn/gru.py"


class Problem:
    """One scored problem: ``id``, ``name`` (the score key), ``points``, ``checks``, ``regions``."""

    def __init__(self, id, name, points, checks, regions=None):
        self.id, self.name, self.points, self.checks = id, name, points, tuple(checks)
        self.regions = regions or {}


PROBLEMS = [
    Problem("1.1", "RNN unit forward", 10, rec.RNN_UNIT_FORWARD, {RNN: ("RNNUnit.forward",)}),
    Problem("1.2", "RNN unit backward", 5, rec.RNN_UNIT_BACKWARD),
    Problem("2.1", "cat forward", 3, ops.CAT_FORWARD, {TENSOR: ("cat",), FUNCTIONAL: ("Cat.forward",)}),
    Problem("2.2", "cat backward", 4, ops.CAT_BACKWARD, {FUNCTIONAL: ("Cat.backward",)}),
    Problem("2.3", "slicing forward", 2, ops.SLICE_FORWARD),
    Problem("2.4", "slicing backward", 3, ops.SLICE_BACKWARD),
    Problem("2.5", "unsqueeze", 3, ops.UNSQUEEZE, {TENSOR: ("Tensor.unsqueeze",),
                                                   FUNCTIONAL: ("Unsqueeze.forward", "Unsqueeze.backward")}),
    Problem("2.6", "pack_sequence forward", 10, seq.PACK_FORWARD, {UTIL: ("pack_sequence",)}),
    Problem("2.7", "pack_sequence backward", 5, seq.PACK_BACKWARD),
    Problem("2.8", "unpack_sequence forward", 10, seq.UNPACK_FORWARD, {UTIL: ("unpack_sequence",)}),
    Problem("2.9", "unpack_sequence backward", 5, seq.UNPACK_BACKWARD),
    Problem("3.1", "RNN over time forward", 10, rec.RNN_FORWARD, {RNN: ("TimeIterator.forward",)}),
    Problem("3.2", "RNN over time backward", 10, rec.RNN_BACKWARD),
    Problem("4.1", "GRU unit forward", 10, rec.GRU_UNIT_FORWARD, {GRU: ("GRUUnit.forward",)}),
    Problem("4.2", "GRU unit backward", 5, rec.GRU_UNIT_BACKWARD),
    Problem("4.3", "GRU over time forward", 5, rec.GRU_FORWARD),
]
BY_ID = {p.id: p for p in PROBLEMS}
TOTAL_POINTS = sum(p.points for p in PROBLEMS)  # 100
