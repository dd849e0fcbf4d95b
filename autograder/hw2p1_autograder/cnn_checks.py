"""Check of HW2P1's CNN (hw2/hw2.py, imported as ``hw2`` with hw2/ on the path): 5 SGD steps.

The student's CNN gets random weights (copied into its layers' ``.data``),
then trains 5 steps on random batches with cross-entropy and SGD, called
through ``cnn.layers(x)``; every output, loss, gradient and updated
parameter is compared with reference.CNN, a NumPy twin trained the same way.
"""
import numpy as np

import reference as ref
from observe import Check, CheckFailure, Steps, array, assert_close, grad, item, judge, shown, strings, tensor

CNN_FILE = "hw2/hw2.py"
LAYERS = [("Conv1d", (24, 56, 5, 1)), ("Tanh", None), ("Conv1d", (56, 28, 6, 2)), ("ReLU", None),
          ("Conv1d", (28, 14, 2, 2)), ("Sigmoid", None), ("Flatten", None), ("Linear", (182, 10))]
KINDS = [kind for kind, _ in LAYERS]
PARAMETER_LAYERS = [i for i, (_, sizes) in enumerate(LAYERS) if sizes]   # 0, 2, 4, 7
STEPS, BATCH, LR = 5, 4, 0.1
FIX = (f"check CNN in {CNN_FILE} (the layers, in order: " + ", ".join(
    f"{k}{s if s else '()'}" for k, s in LAYERS) + ") and the Conv1d and Flatten problems")


def _shapes(i):
    kind, sizes = LAYERS[i]
    if kind == "Conv1d":
        return (sizes[1], sizes[0], sizes[2]), (sizes[1],)
    return (sizes[1], sizes[0]), (sizes[1],)


def _name(i):
    kind, sizes = LAYERS[i]
    return f"layer {i} {kind}{sizes}"


def cnn_inputs(rng):
    params = []
    for i in PARAMETER_LAYERS:
        weight_shape, bias_shape = _shapes(i)
        fan_in = int(np.prod(weight_shape[1:]))
        params.append([rng.normal(0, 1 / np.sqrt(fan_in), weight_shape), rng.normal(0, 0.1, bias_shape)])
    return {"seed": int(rng.integers(2 ** 31)), "params": params, "lr": LR,
            "x": [rng.normal(size=(BATCH, 24, 60)) for _ in range(STEPS)],
            "labels": [rng.integers(0, 10, BATCH) for _ in range(STEPS)]}


def probe_cnn(inp, student):
    """Build CNN(), set its weights, train STEPS SGD steps through cnn.layers; observe everything."""
    obs = {"outputs": [], "losses": [], "grads": [], "params": []}
    with Steps(obs) as step:
        step(f"importing CNN from {CNN_FILE}")
        CNN = student("hw2").CNN
        Tensor = student("mytorch.tensor").Tensor
        SGD = student("mytorch.optim.sgd").SGD
        CrossEntropyLoss = student("mytorch.nn.loss").CrossEntropyLoss
        np.random.seed(inp["seed"])
        step("CNN() (the constructor)")
        cnn = CNN()
        step("cnn.layers.layers (a Sequential keeps its modules in .layers)")
        modules = list(cnn.layers.layers)
        obs["kinds"] = [type(m).__name__ for m in modules]
        if obs["kinds"] != KINDS:
            return obs
        layers = [modules[i] for i in PARAMETER_LAYERS]
        obs["initial"] = [[tensor(layer.weight), tensor(layer.bias)] for layer in layers]
        step("cnn.parameters()")
        slots = [p for layer in layers for p in (layer.weight, layer.bias)]
        obs["parameters"] = [next((k for k, s in enumerate(slots) if s is p), -1) for p in cnn.parameters()]
        step("setting the layers' weight.data and bias.data")
        for layer, (weight, bias) in zip(layers, inp["params"]):
            layer.weight.data, layer.bias.data = weight.copy(), bias.copy()
        step(f"SGD(cnn.parameters(), lr={inp['lr']}) and CrossEntropyLoss()")
        optimizer, criterion = SGD(cnn.parameters(), lr=inp["lr"]), CrossEntropyLoss()
        for t, (x, labels) in enumerate(zip(inp["x"], inp["labels"]), 1):
            step(f"step {t}: optimizer.zero_grad()")
            optimizer.zero_grad()
            step(f"step {t}: cnn.layers(x)")
            out = cnn.layers(Tensor(x.copy()))
            obs["outputs"].append(tensor(out))
            step(f"step {t}: CrossEntropyLoss()(output, labels)")
            loss = criterion(out, Tensor(labels.copy()))
            obs["losses"].append(tensor(loss))
            step(f"step {t}: loss.backward()")
            loss.backward()
            obs["grads"].append([[grad(layer.weight), grad(layer.bias)] for layer in layers])
            step(f"step {t}: optimizer.step()")
            optimizer.step()
            obs["params"].append([[tensor(layer.weight), tensor(layer.bias)] for layer in layers])
    return obs


def _check_structure(obs):
    kinds = item(obs, "kinds", "the CNN's layers")
    if strings(kinds) != KINDS:
        raise CheckFailure(f"cnn.layers: expected a Sequential of these 8 modules in order, {KINDS}; got "
                           f"{shown(kinds)}; {FIX}")
    for k, i in enumerate(PARAMETER_LAYERS):
        for slot, shape, attr in zip((0, 1), _shapes(i), ("weight", "bias")):
            what = f"cnn.layers[{i}] ({_name(i)}).{attr}"
            got = array(what, item(item(item(obs, "initial", what), k, what), slot, what))
            if got.shape != shape:
                raise CheckFailure(f"{what}: expected shape {shape}, got {got.shape}; {FIX}")
    order = item(obs, "parameters", "cnn.parameters()")
    if not isinstance(order, list) or not all(type(k) is int for k in order):
        raise CheckFailure(f"cnn.parameters(): the observation is not readable ({shown(order)})")
    if sorted(order) != list(range(2 * len(PARAMETER_LAYERS))):
        raise CheckFailure("cnn.parameters(): expected the 8 parameters of the CNN's layers, each once (weight "
                           f"and bias of the three Conv1d layers and of the Linear layer), got {len(order)} tensors, "
                           f"{len([k for k in order if k >= 0])} of them the layers' parameters")


@judge(FIX)
def judge_cnn(inp, obs):
    _check_structure(obs)
    twin_layers = []
    params = iter(inp["params"])
    for kind, sizes in LAYERS:
        if kind == "Conv1d":
            weight, bias = next(params)
            twin_layers.append(("conv", weight, bias, sizes[3]))
        elif kind == "Linear":
            weight, bias = next(params)
            twin_layers.append(("linear", weight, bias))
        else:
            twin_layers.append((kind.lower(),))
    twin = ref.CNN(twin_layers)
    for t, (x, labels) in enumerate(zip(inp["x"], inp["labels"])):
        when = f"step {t + 1} of {STEPS}"
        expected = twin.forward(x)
        what = f"{when}: cnn.layers(x) for x of shape {x.shape}"
        got = array(what, item(item(obs, "outputs", what), t, what))
        assert_close(what, got, expected, FIX + ("" if t == 0 else "; the steps before changed the weights"))
        loss, grad_logits = ref.cross_entropy(expected, labels)
        what = f"{when}: the cross-entropy loss"
        assert_close(what, array(what, item(item(obs, "losses", what), t, what)), np.asarray(loss),
                     "check CrossEntropyLoss (HW1P1)")
        grads = twin.backward(grad_logits)
        for k, i in enumerate(PARAMETER_LAYERS):
            for slot, attr in ((1, "weight"), (2, "bias")):
                what = f"{when}: {_name(i)}.{attr}.grad after loss.backward()"
                observed = item(item(item(item(obs, "grads", what), t, what), k, what), slot - 1, what)
                assert_close(what, array(what, observed), grads[i, slot],
                             f"check the backward of {LAYERS[i][0]} and of the layers after it (Tanh, ReLU, "
                             "Sigmoid, Flatten)")
        twin.sgd_step(grads, inp["lr"])
        for k, i in enumerate(PARAMETER_LAYERS):
            for slot, attr in ((1, "weight"), (2, "bias")):
                what = f"{when}: {_name(i)}.{attr} after optimizer.step()"
                observed = item(item(item(item(obs, "params", what), t, what), k, what), slot - 1, what)
                assert_close(what, array(what, observed), twin.layers[i][slot],
                             "the gradient was right: check SGD.step (HW1P1)")


CNN = [Check(f"CNN: {STEPS} SGD steps through cnn.layers", cnn_inputs, probe_cnn, judge_cnn)]
