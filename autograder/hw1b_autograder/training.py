"""The two shapes the bonus checks share: calls (forward, maybe backward) and training runs.

``inputs`` of such a check is a dict::

    {"seed": int,                       # np.random.seed before building the model
     "spec": [["linear", 4, 3], ...],   # the layers (see formulas.py)
     "params": [arrays] (optional),     # written into the parameters' .data after building
     # calls:
     "calls": [[x, "train" or "eval"], ...], "backward": bool,
     # or a training run:
     "optimizer": ["adam", lr, beta1, beta2, eps] or ["sgd", lr, momentum],
     "train": [[x, labels], ...],       # forward, cross-entropy, backward, step
     "eval": [x, ...]}                  # then forward only, after model.eval()

``probe`` (child) does it with the student's library and observes every
output, gradient, parameter and running statistic. ``simulate`` (parent)
builds the same structure of expected arrays with ``formulas.Model``;
``judge`` walks it in the order things happened and fails at the first
difference, naming the mistake when a variant (``simulate`` with a mistake
flag) gives exactly what the student's code gave.
"""
import numpy as np

import formulas
from checking import CheckFailure, array_of, matches, mismatch, observe_grad, observe_tensor

LINEAR_HINT = ("Look at Linear and ReLU (mytorch/nn/linear.py, activations.py: HW1P1) and the operations "
               "they use: the bonus builds on HW1P1's layers.")
INIT_HINT = ("Linear (mytorch/nn/linear.py) must follow the course's initialisation: one "
             "np.random.rand(out_features, in_features) call for the weight, then one "
             "np.random.rand(out_features) call for the bias, each mapped to (u - 0.5) / in_features, and no "
             "other np.random call while building a model (Sequential, ReLU, Dropout, BatchNorm1d, the loss "
             "and the optimizers draw nothing).")
DROPOUT_HINT = ("Dropout (mytorch/nn/dropout.py): in training mode draw exactly one mask per forward with "
                "np.random.binomial(1, 1 - p, size=x.shape) and return x * mask / (1 - p); in backward "
                "multiply the gradient by the same mask / (1 - p) (keep it in ctx; draw nothing there); "
                "in eval mode return the input unchanged and draw nothing.")
BATCHNORM_HINT = ("BatchNorm1d (mytorch/nn/batchnorm.py): in training normalise with the batch mean and the "
                  "biased batch variance (divide by N), and update running_mean and running_var with the "
                  "batch mean and the unbiased variance (divide by N - 1), momentum weighting the new batch: "
                  "running = (1 - momentum) * running + momentum * batch; in eval normalise with running_mean "
                  "and running_var.")
ADAM_HINT = ("Adam.step (mytorch/optim/adam.py): for each parameter with a gradient g, with t its step count "
             "from 1: m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g**2; "
             "m_hat = m / (1 - beta1**t); v_hat = v / (1 - beta2**t); "
             "param = param - lr * m_hat / (sqrt(v_hat) + eps), in place on param.data.")
SGD_HINT = "SGD.step (mytorch/optim/sgd.py, HW1P1 §2.3/§2.6): v = momentum * v - lr * grad; param = param + v."
LOSS_HINT = "CrossEntropyLoss (HW1P1 §2.5): the mean over the batch of logsumexp(logits) - logits[label]."

# Mistakes a judge can name when a variant explains the first difference.
NO_BIAS_CORRECTION = ({"adam_no_bias_correction": True},
                      "Your Adam update matches Adam WITHOUT bias correction: divide m by (1 - beta1**t) and v "
                      "by (1 - beta2**t), t counting this parameter's steps from 1.")
EPS_INSIDE_SQRT = ({"adam_eps_inside": True},
                   "Your Adam update matches lr * m_hat / sqrt(v_hat + eps): add eps AFTER the square root, "
                   "sqrt(v_hat) + eps.")
DROPOUT_UNSCALED = ({"dropout_unscaled": True},
                    "Your Dropout output matches x * mask without the scale: divide by (1 - p) (inverted dropout), "
                    "in forward and in backward.")
DROPOUT_KEEP_P = ({"dropout_keep_p": True},
                  "Your Dropout matches a mask that KEEPS with probability p: p is the probability of zeroing, so "
                  "draw np.random.binomial(1, 1 - p, size=x.shape) and scale by 1 / (1 - p).")
DROPOUT_TWO_DRAWS = ({"dropout_draws": (2, 0)},
                     "Your Dropout matches two np.random draws per training forward (the first one used): draw "
                     "exactly one mask per forward, and reuse it in backward instead of drawing another.")
DROPOUT_SECOND_DRAW = ({"dropout_draws": (2, 1)},
                       "Your Dropout matches two np.random draws per training forward (the second one used): draw "
                       "exactly one mask per forward, np.random.binomial(1, 1 - p, size=x.shape), and nothing else.")
MOMENTUM_REVERSED = ({"momentum_reversed": True},
                     "Your running statistics match running = momentum * running + (1 - momentum) * batch: momentum "
                     "weights the NEW batch, running = (1 - momentum) * running + momentum * batch.")
BIASED_RUNNING_VAR = ({"unbiased_running": False},
                      "Your running_var matches an update with the biased batch variance: use the unbiased one "
                      "(divide by N - 1) for running_var, the biased one (divide by N) to normalise.")
DROPOUT_VARIANTS = (DROPOUT_UNSCALED, DROPOUT_KEEP_P, DROPOUT_TWO_DRAWS, DROPOUT_SECOND_DRAW)
BATCHNORM_VARIANTS = (MOMENTUM_REVERSED, BIASED_RUNNING_VAR)
ADAM_VARIANTS = (NO_BIAS_CORRECTION, EPS_INSIDE_SQRT)


# ------------------------------------------------------------------ child side
def build(student, spec):
    """The student's ``Sequential`` of the layers ``spec`` names."""
    makers = {
        "linear": lambda n_in, n_out: student("mytorch.nn.linear").Linear(n_in, n_out),
        "relu": lambda: student("mytorch.nn.activations").ReLU(),
        "dropout": lambda p: student("mytorch.nn.dropout").Dropout(p),
        "batchnorm": lambda n: student("mytorch.nn.batchnorm").BatchNorm1d(n),
    }
    return student("mytorch.nn.sequential").Sequential(*[makers[s[0]](*s[1:]) for s in spec])


def _optimizer(student, params, setting):
    if setting[0] == "adam":
        lr, beta1, beta2, eps = setting[1:]
        return student("mytorch.optim.adam").Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)
    lr, momentum = setting[1:]
    return student("mytorch.optim.sgd").SGD(params, lr=lr, momentum=momentum)


def _running(model):
    return [[observe_tensor(layer.running_mean), observe_tensor(layer.running_var)]
            for layer in model.layers if type(layer).__name__ == "BatchNorm1d"]


def _built(inp, student):
    """(model, its parameters, observations of the initial parameters), the check's values written in."""
    np.random.seed(inp["seed"])
    model = build(student, inp["spec"])
    params = list(model.parameters())
    init = [observe_tensor(p) for p in params]
    for p, value in zip(params, inp.get("params") or []):
        p.data = np.array(value, dtype=np.float64)  # as the course's graders do: rebind .data
    return model, params, init


def probe(inp, student):
    """Run ``inp`` (calls or a training run) on the student's library; observations only."""
    Tensor = student("mytorch.tensor").Tensor
    model, params, init = _built(inp, student)
    steps = []
    for x, mode in inp.get("calls", []):
        model.train(mode == "train")
        for p in params:
            p.grad = None
        x = Tensor(np.array(x), requires_grad=bool(inp.get("backward")))
        out = model(x)
        record = {"out": observe_tensor(out)}
        if inp.get("backward"):
            out.backward()  # ones-seeded (the handout's rule)
            record.update(input_grad=observe_grad(x), grads=[observe_grad(p) for p in params],
                          out_grad=observe_grad(out))
        record["running"] = _running(model)
        steps.append(record)
    if "optimizer" in inp:
        steps += _probe_training(inp, student, model, params, Tensor)
    return {"init": init, "steps": steps}


def _probe_training(inp, student, model, params, Tensor):
    optimizer = _optimizer(student, params, inp["optimizer"])
    criterion = student("mytorch.nn.loss").CrossEntropyLoss()
    steps = []
    for x, labels in inp["train"]:
        model.train()
        optimizer.zero_grad()
        out = model(Tensor(np.array(x)))
        loss = criterion(out, Tensor(np.array(labels)))
        loss.backward()
        record = {"out": observe_tensor(out), "loss": observe_tensor(loss),
                  "grads": [observe_grad(p) for p in params], "out_grad": observe_grad(out)}
        optimizer.step()
        record.update(params=[observe_tensor(p) for p in params], running=_running(model))
        steps.append(record)
    for x in inp["eval"]:
        model.eval()
        steps.append({"out": observe_tensor(model(Tensor(np.array(x)))), "running": _running(model)})
    return steps


# ----------------------------------------------------------------- parent side
def simulate(inp, **mistakes):
    """The expected observations of ``probe``: the same structure, arrays (None where nothing is compared)."""
    rs = np.random.RandomState(inp["seed"])
    params = [np.array(p, dtype=np.float64) for p in inp["params"]] if inp.get("params") else None
    model = formulas.Model(inp["spec"], rs=rs, params=params, **mistakes)
    # Where the check wrote its own values into the parameters, the initial ones are not compared.
    expected = {"init": None if params is not None else [p.copy() for p in model.params], "steps": []}
    for x, mode in inp.get("calls", []):
        x = np.array(x, dtype=np.float64)
        out = model.forward(x, training=mode == "train")
        record = {"out": out}
        if inp.get("backward"):
            dx, grads = model.backward(np.ones_like(out))
            record.update(input_grad=dx, grads=grads)
        record["running"] = model.running_stats()
        expected["steps"].append(record)
    if "optimizer" in inp:
        expected["steps"] += _simulate_training(inp, model, mistakes)
    return expected


def _simulate_training(inp, model, mistakes):
    setting, steps = inp["optimizer"], []
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in model.params]
    for t, (x, labels) in enumerate(inp["train"], start=1):
        out = model.forward(np.array(x, dtype=np.float64), training=True)
        loss, dlogits = formulas.cross_entropy(out, np.array(labels))
        _, grads = model.backward(dlogits)
        record = {"out": out, "loss": np.array(loss), "grads": grads}
        for i, (p, g) in enumerate(zip(model.params, grads)):
            if setting[0] == "adam":
                model.params[i], state[i][0], state[i][1] = formulas.adam(
                    p, g, state[i][0], state[i][1], t, setting[1], tuple(setting[2:4]), setting[4],
                    bias_correction=not mistakes.get("adam_no_bias_correction"),
                    eps_inside=mistakes.get("adam_eps_inside", False))
            else:
                model.params[i], state[i][0] = formulas.sgd(p, g, state[i][0], setting[1], setting[2])
        record.update(params=[p.copy() for p in model.params], running=model.running_stats())
        steps.append(record)
    for x in inp["eval"]:
        out = model.forward(np.array(x, dtype=np.float64), training=False)
        steps.append({"out": out, "running": model.running_stats()})
    return steps


def _param_names(spec):
    """The parameters' names in parameters() order, e.g. 'layers[0] Linear(4, 3).weight'."""
    names = []
    for i, layer in enumerate(spec):
        if layer[0] == "linear":
            names += [f"layers[{i}] Linear({layer[1]}, {layer[2]}).{n}" for n in ("weight", "bias")]
        elif layer[0] == "batchnorm":
            names += [f"layers[{i}] BatchNorm1d({layer[1]}).{n}" for n in ("gamma", "beta")]
    return names


def _walk(expected, inp):
    """(path, what, field, expected array) of every compared value, in the order they happened."""
    names = _param_names(inp["spec"])
    bn = [i for i, s in enumerate(inp["spec"]) if s[0] == "batchnorm"]
    if expected["init"] is not None:
        for j, value in enumerate(expected["init"]):
            yield ("init", j), f"{names[j]} right after building the model", "init", value
    calls = [mode for _, mode in inp.get("calls", [])]
    n_train = len(inp.get("train", []))
    for k, step in enumerate(expected["steps"]):
        if k < len(calls):
            when = f"call {k + 1} ({'training' if calls[k] == 'train' else 'eval'} mode)"
        elif k - len(calls) < n_train:
            when = f"train step {k - len(calls) + 1}"
        else:
            when = f"eval step {k - len(calls) - n_train + 1} (after model.eval())"
        yield ("steps", k, "out"), f"{when}: the model's output", "out", step["out"]
        if "loss" in step:
            yield ("steps", k, "loss"), f"{when}: the loss", "loss", step["loss"]
        if "input_grad" in step:
            yield ("steps", k, "input_grad"), f"{when}: the input's .grad after out.backward()", "grad", \
                step["input_grad"]
        after = "loss.backward()" if "loss" in step else "out.backward()"
        for j, value in enumerate(step.get("grads", [])):
            yield ("steps", k, "grads", j), f"{when}: {names[j]}.grad after {after}", "grad", value
        for j, value in enumerate(step.get("params", [])):
            yield ("steps", k, "params", j), f"{when}: {names[j]} after optimizer.step()", "param", value
        for j, (mean, var) in enumerate(step["running"]):
            yield ("steps", k, "running", j, 0), f"{when}: layers[{bn[j]}] BatchNorm1d.running_mean", \
                "running", mean
            yield ("steps", k, "running", j, 1), f"{when}: layers[{bn[j]}] BatchNorm1d.running_var", \
                "running", var


def _lookup(observed, path, what):
    node = observed
    for key in path:
        ok = (isinstance(node, dict) and key in node) or \
             (isinstance(node, list) and isinstance(key, int) and key < len(node))
        if not ok:
            raise CheckFailure(f"{what}: not observed (your code returned or stored something else)")
        node = node[key]
    return node


def _at(structure, path):
    try:
        for key in path:
            structure = structure[key]
        return structure
    except (KeyError, IndexError, TypeError):
        return None


def judge(inp, observed, hints, variants=()):
    """Compare ``observed`` (from ``probe``) with ``simulate(inp)``; raise CheckFailure at the first difference.

    ``hints``: {field: the component to look at and what it must do}, for the
    fields "init", "out", "loss", "grad", "param", "running".
    ``variants``: (mistake flags, the sentence naming that mistake); the first
    whose simulation gives the observed value where the reference differs is named.
    """
    if not isinstance(observed, dict):
        raise CheckFailure("no observations came back from your code")
    expected = simulate(inp)
    simulated = [(simulate(inp, **flags), sentence) for flags, sentence in variants]
    for path, what, field, want in _walk(expected, inp):
        got = array_of(what, _lookup(observed, path, what), np.shape(want))
        message = mismatch(what, got, want)
        if message is None:
            continue
        named = next((sentence for sim, sentence in simulated
                      if _at(sim, path) is not None and np.shape(_at(sim, path)) == got.shape
                      and matches(got, _at(sim, path))), None)
        raise CheckFailure("\n".join(m for m in (message, named, hints.get(field, "")) if m))
    for k, step in enumerate(observed.get("steps") or []):
        if isinstance(step, dict) and step.get("out_grad") is not None:
            raise CheckFailure(f"step {k + 1}: the model's output, a non-leaf tensor, has a .grad after backward; "
                               "only leaves keep gradients (the course's graders check that .grad is None)")


def batches(rng, sizes, n_features, n_classes, scale=1.0):
    """Training batches [[x, labels], ...] of the given sizes."""
    return [[rng.normal(0.0, scale, size=(n, n_features)), rng.integers(0, n_classes, n)] for n in sizes]
