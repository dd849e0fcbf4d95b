"""BatchNorm's checks (HW1 bonus, 1 + 1 + 2 + 6 points): Linear-BN-ReLU blocks against NumPy.

Each check writes its own values into the parameters (gamma and beta away
from 1 and 0 too), so only BatchNorm1d, HW1P1's layers and SGD are graded.
"""
import training
from checking import Check

HINTS = {"out": training.BATCHNORM_HINT, "grad": training.BATCHNORM_HINT, "running": training.BATCHNORM_HINT,
         "loss": training.LOSS_HINT, "param": training.SGD_HINT}


def _params(rng, spec):
    params = []
    for layer in spec:
        if layer[0] == "linear":
            params += [rng.normal(0, 0.5, size=(layer[2], layer[1])), rng.normal(0, 0.5, size=layer[2])]
        elif layer[0] == "batchnorm":
            params += [rng.uniform(0.5, 1.5, size=layer[1]), rng.normal(0, 0.5, size=layer[1])]
    return params


def _inputs(rng, spec, **extra):
    return {"seed": int(rng.integers(2**31)), "spec": spec, "params": _params(rng, spec), **extra}


BLOCK = [["linear", 5, 6], ["batchnorm", 6], ["relu"]]
TWO_BLOCKS = BLOCK + [["linear", 6, 4], ["batchnorm", 4], ["relu"]]


def forward_inputs(rng):
    return _inputs(rng, BLOCK, calls=[[rng.normal(1.0, 2.0, size=(8, 5)), "train"]])


def backward_inputs(rng):
    return _inputs(rng, BLOCK, calls=[[rng.normal(1.0, 2.0, size=(8, 5)), "train"]], backward=True)


def steps_inputs(rng):
    return _inputs(rng, BLOCK, optimizer=["sgd", float(rng.uniform(0.05, 0.2)), 0.0],
                   train=training.batches(rng, [8] * 5, 5, 6, scale=2.0),
                   eval=[rng.normal(0.0, 2.0, size=(6, 5)) for _ in range(5)])


def two_blocks_inputs(rng):
    return _inputs(rng, TWO_BLOCKS, optimizer=["sgd", float(rng.uniform(0.05, 0.2)), 0.0],
                   train=training.batches(rng, [8] * 5, 5, 4, scale=2.0),
                   eval=[rng.normal(0.0, 2.0, size=(6, 5)) for _ in range(5)])


def judge(inp, obs):
    training.judge(inp, obs, HINTS, training.BATCHNORM_VARIANTS)


FORWARD = [Check("Linear-BatchNorm1d-ReLU forward, training mode", forward_inputs, training.probe, judge)]
BACKWARD = [Check("Linear-BatchNorm1d-ReLU backward, training mode", backward_inputs, training.probe, judge)]
STEPS = [Check("Linear-BatchNorm1d-ReLU + cross-entropy: 5 SGD train steps, 5 eval steps",
               steps_inputs, training.probe, judge)]
TWO_BLOCK_STEPS = [Check("Two Linear-BatchNorm1d-ReLU blocks + cross-entropy: 5 SGD train steps, 5 eval steps",
                         two_blocks_inputs, training.probe, judge)]
