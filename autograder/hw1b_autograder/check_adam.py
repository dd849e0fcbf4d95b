"""Adam's checks (HW1 bonus, 1 + 4 points): training runs against NumPy's Adam.

Each check writes its own initial values into the parameters (as the course's
graders do), so Linear's initialisation does not matter here; a first input
feature that is always 0 gives its weights a zero gradient at every step,
which must move nothing.
"""

import training
from checking import Check

HINTS = {"out": training.LINEAR_HINT, "grad": training.LINEAR_HINT, "loss": training.LOSS_HINT,
         "param": training.ADAM_HINT}


def _with_zero_feature(batches):
    for x, _ in batches:
        x[:, 0] = 0.0
    return batches


def _params(rng, spec):
    params = []
    for layer in spec:
        if layer[0] == "linear":
            params += [rng.normal(0, 0.5, size=(layer[2], layer[1])), rng.normal(0, 0.5, size=layer[2])]
    return params


def linear_inputs(rng):
    spec = [["linear", 6, 4]]
    return {"seed": int(rng.integers(2**31)), "spec": spec, "params": _params(rng, spec),
            # a larger eps than the default, so that where it is added shows
            "optimizer": ["adam", float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.8, 0.95)),
                          float(rng.uniform(0.95, 0.999)), float(10 ** rng.uniform(-4, -3))],
            "train": _with_zero_feature(training.batches(rng, [8] * 5, 6, 4)),
            "eval": [rng.normal(size=(5, 6)) for _ in range(2)]}


def mlp_inputs(rng):
    spec = [["linear", 7, 6], ["relu"], ["linear", 6, 5], ["relu"]]
    return {"seed": int(rng.integers(2**31)), "spec": spec, "params": _params(rng, spec),
            "optimizer": ["adam", float(rng.uniform(0.005, 0.05)), 0.9, 0.999, 1e-8],
            "train": _with_zero_feature(training.batches(rng, [10] * 5, 7, 5)),
            "eval": [rng.normal(size=(6, 7)) for _ in range(5)]}


def judge(inp, obs):
    training.judge(inp, obs, HINTS, training.ADAM_VARIANTS)


LINEAR = [Check("Adam on Linear + cross-entropy: 5 train steps, 2 eval steps, a zero-gradient column",
                linear_inputs, training.probe, judge)]
MLP = [Check("Adam on Linear-ReLU-Linear-ReLU + cross-entropy: 5 train steps, 5 eval steps",
             mlp_inputs, training.probe, judge)]
