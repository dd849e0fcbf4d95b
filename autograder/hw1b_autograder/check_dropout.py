"""Dropout's checks (HW1 bonus, 3 + 3 + 4 points): the contract's mask rule, replayed with NumPy.

The model is built right after ``np.random.seed(seed)`` with the course's
initialisation, so the expected weights and every mask come from one replay
of NumPy's legacy generator: Linear's draws first, then one
``binomial(1, 1 - p, size)`` per Dropout per training forward.
"""
import training
from checking import Check

HINTS = {"init": training.INIT_HINT, "out": training.DROPOUT_HINT, "grad": training.DROPOUT_HINT,
         "loss": training.LOSS_HINT, "param": training.ADAM_HINT}


def _seed(rng):
    return int(rng.integers(2**31))


def forward_inputs(rng):
    # Training, training, eval, training: a second draw per forward, or a draw in eval, moves
    # every later mask.
    p = float(rng.uniform(0.2, 0.6))
    calls = [[rng.normal(size=(6, 5)), mode] for mode in ("train", "train", "eval", "train")]
    return {"seed": _seed(rng), "spec": [["linear", 5, 7], ["relu"], ["dropout", p]], "calls": calls}


def backward_inputs(rng):
    p = float(rng.uniform(0.2, 0.6))
    calls = [[rng.normal(size=(6, 5)), "train"] for _ in range(2)]
    return {"seed": _seed(rng), "spec": [["linear", 5, 7], ["relu"], ["dropout", p]], "calls": calls,
            "backward": True}


def adam_inputs(rng):
    p1, p2 = float(rng.uniform(0.2, 0.5)), float(rng.uniform(0.2, 0.5))
    spec = [["linear", 6, 8], ["relu"], ["dropout", p1], ["linear", 8, 4], ["relu"], ["dropout", p2]]
    return {"seed": _seed(rng), "spec": spec,
            "optimizer": ["adam", float(rng.uniform(0.001, 0.01)), 0.9, 0.999, 1e-8],
            "train": training.batches(rng, [10], 6, 4), "eval": [rng.normal(size=(5, 6))]}


def judge(inp, obs):
    variants = training.DROPOUT_VARIANTS + (training.ADAM_VARIANTS if "optimizer" in inp else ())
    training.judge(inp, obs, HINTS, variants)


FORWARD = [Check("Linear-ReLU-Dropout forward: train, train, eval, train", forward_inputs, training.probe, judge)]
BACKWARD = [Check("Linear-ReLU-Dropout forward + backward, twice", backward_inputs, training.probe, judge)]
ADAM_STEP = [Check("Two Linear-ReLU-Dropout blocks + cross-entropy + one Adam step, then eval",
                   adam_inputs, training.probe, judge)]
