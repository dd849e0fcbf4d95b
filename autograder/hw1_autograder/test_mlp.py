"""Checks for Part 2: Linear, ReLU, SGD, BatchNorm, cross entropy, momentum.

Every check is a function of a ``harness.Context`` (seeded ``rng``); its
docstring's first line is what the report calls it. Models are checked
against ``reference.MLP``, a NumPy twin built from the same weights: outputs,
gradients and parameters after every training step, then outputs in eval
mode. The problems that train use the sum of the outputs as their loss
(``out.backward()``) unless cross entropy is what they grade, so a mistake in
one problem costs as few others as possible. When a check here fails, the
harness adds the verdict of ``audit.py`` (which of the student's operations
is wrong, if any) to the report.

Not a pytest module, despite its name (the handout's): the autograder's
runner imports it and runs the checks that problems.py lists, one problem per
process.
"""
import numpy as np

import diagnose
import reference as ref
from harness import (CheckFailure, assert_flags, assert_grad, assert_parameter, assert_parents, assert_tensor,
                     assert_values, data_of, describe, fmt_array, node_kind, require, student, student_traceback)


# Where each student class is defined (the handout's files), looked up on first use.
_CLASS_MODULES = {
    "Linear": "mytorch.nn.linear",
    "Sequential": "mytorch.nn.sequential",
    "ReLU": "mytorch.nn.activations",
    "BatchNorm1d": "mytorch.nn.batchnorm",
    "CrossEntropyLoss": "mytorch.nn.loss",
    "SGD": "mytorch.optim.sgd",
}


class _Student:
    """The student's classes, imported on first use (an import error fails the check)."""

    def __init__(self):
        self.Tensor = student("mytorch.tensor").Tensor
        self.F = student("mytorch.nn.functional")

    def __getattr__(self, name):
        if name not in _CLASS_MODULES:
            raise AttributeError(name)
        return getattr(student(_CLASS_MODULES[name]), name)


def _sizes(rng, count, low=2, high=7):
    return [int(n) for n in rng.integers(low, high, size=count)]


# ---------------------------------------------------------------- models
class _Model:
    """A student Sequential and its NumPy twin, built from one spec with the same weights.

    ``spec`` lists ("linear", in, out), ("relu",) and ("batchnorm", features) or
    ("batchnorm", features, eps) (one eps per model).
    ``params`` maps (layer index, slot) -> the student's parameter Tensor, with
    slot 1 for weight/gamma and 2 for bias/beta, the twin's layout.
    """

    def __init__(self, mt, rng, spec):
        layers, twin, self.params, self.names, self.batchnorms = [], [], {}, {}, []
        self.owners = {}
        eps = 1e-5
        for i, item in enumerate(spec):
            kind = item[0]
            if kind == "linear":
                n_in, n_out = item[1], item[2]
                layer = mt.Linear(n_in, n_out)
                name = f"Linear({n_in}, {n_out})"
                assert_parameter(f"{name}.weight", layer.weight, (n_out, n_in))
                assert_parameter(f"{name}.bias", layer.bias, (n_out,))
                weight = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
                bias = rng.normal(0, 0.5, n_out)
                layer.weight.data, layer.bias.data = weight.copy(), bias.copy()
                twin.append(("linear", weight, bias))
                self._add(i, name, layer, "weight", "bias")
            elif kind == "relu":
                layer = mt.ReLU()
                twin.append(("relu",))
            else:
                features = item[1]
                if len(item) > 2:
                    eps = item[2]
                    layer = mt.BatchNorm1d(features, eps=eps)
                    name = f"BatchNorm1d({features}, eps={eps:g})"
                else:
                    layer = mt.BatchNorm1d(features)
                    name = f"BatchNorm1d({features})"
                _check_new_batchnorm(name, layer, features)
                gamma, beta = rng.uniform(0.5, 1.5, features), rng.normal(0, 0.5, features)
                layer.gamma.data, layer.beta.data = gamma.copy(), beta.copy()
                twin.append(("batchnorm", gamma, beta, np.zeros(features), np.ones(features)))
                self._add(i, name, layer, "gamma", "beta")
                self.batchnorms.append((i, name, layer))
            layers.append(layer)
        self.model = mt.Sequential(*layers)
        self.twin = ref.MLP(twin, eps=eps)
        self.description = "Sequential(" + ", ".join(
            {"linear": "Linear", "relu": "ReLU", "batchnorm": "BatchNorm1d"}[s[0]] for s in spec) + ")"
        stored = list(getattr(self.model, "layers", []) or [])
        require(len(stored) == len(layers) and all(a is b for a, b in zip(stored, layers)),
                f"{self.description}.layers: expected the {len(layers)} layers passed to Sequential, in order")

    def _add(self, i, name, layer, first_name, second_name):
        for slot, attr in ((1, first_name), (2, second_name)):
            self.params[i, slot] = getattr(layer, attr)
            self.names[i, slot] = f"layer {i} {name}.{attr}"
            self.owners[i, slot] = (layer, attr)

    def check_parameters(self):
        """``model.parameters()`` holds exactly this model's parameter tensors."""
        got = list(self.model.parameters())
        want = list(self.params.values())
        ids = {id(p) for p in got}
        require(len(got) == len(want) and ids == {id(p) for p in want},
                f"{self.description}.parameters(): expected the model's {len(want)} parameters "
                f"({', '.join(self.names.values())}), each once; got {len(got)} tensors, "
                f"{len(ids & {id(p) for p in want})} of them the model's parameters")

    def check_grads(self, grads, when):
        for key, tensor in self.params.items():
            assert_grad(f"{self.names[key]} ({when})", tensor, grads[key])

    def check_forward_backward(self, mt, x, flags=False):
        """The training-mode output for ``x``, then every parameter's gradient after output.backward()."""
        out = self.model(mt.Tensor(x.copy()))
        expected = self.twin.forward(x, train=True)
        assert_tensor(f"{self.description} output", out, expected)
        if flags:
            assert_flags(f"{self.description} output", out, requires_grad=True, is_leaf=False)
        out.backward()
        self.check_grads(self.twin.backward(np.ones_like(expected)), "after output.backward()")

    def snapshot(self):
        """The parameters' values now, to tell an update that did nothing from a wrong one."""
        return {key: (t.data.copy() if isinstance(getattr(t, "data", None), np.ndarray) else None)
                for key, t in self.params.items()}

    def check_params(self, when, before=None):
        for key, tensor in self.params.items():
            name = f"{self.names[key]} ({when})"
            layer, attr = self.owners[key]
            now = getattr(layer, attr, None)
            require(now is tensor,
                    f"{name}: the model's {attr} is no longer the parameter Tensor it started with (now "
                    f"{describe(now)}); update a parameter in place (param.data = ...) rather than "
                    "replacing it, or the optimizer and the model stop sharing it")
            check_updated(name, tensor, None if before is None else before[key],
                          self.twin.layers[key[0]][key[1]])
            require(getattr(tensor, "is_parameter", None) is True, f"{name}: expected is_parameter=True")
            assert_flags(name, tensor, requires_grad=True, is_leaf=True)
            assert_no_graph(name, tensor)

    def check_running(self, when):
        for i, name, layer in self.batchnorms:
            for slot, stat, rule in ((3, "running_mean", "the batch mean (handout eq 8)"),
                                     (4, "running_var", "the UNBIASED batch variance, sum of squares / (m - 1) "
                                                        "(handout eqs 7 and 9), while the output uses the biased one")):
                tensor = getattr(layer, stat, None)
                try:
                    assert_tensor(f"layer {i} {name}.{stat} ({when})", tensor, self.twin.layers[i][slot])
                except CheckFailure as failure:
                    raise CheckFailure(f"{failure}\nIn training mode, BatchNorm1d.forward (mytorch/nn/batchnorm.py) "
                                       f"updates {stat} with {rule}; eval mode leaves it alone"
                                       + self._running_hint(i, stat, tensor)) from None

    def _running_hint(self, i, stat, tensor):
        """A named cause for a wrong running statistic after a training step, as text to append, or ''."""
        stats = self.twin.batch_stats.get(i)
        got = getattr(tensor, "data", None)
        if stats is None or not isinstance(got, np.ndarray):
            return ""
        previous = stats["previous_mean"] if stat == "running_mean" else stats["previous_var"]
        hint = diagnose.running_statistic(stat, got, previous, stats["mean"], stats["var"], stats["unbiased"],
                                          self.twin.bn_momentum)
        return "\n" + hint if hint else ""


SGD_FILE = "mytorch/optim/sgd.py, SGD.step()"


def assert_no_graph(name, tensor):
    """The update built no graph: the parameter's grad_fn is not an operation's node.

    A leaf may keep its own AccumulateGrad in grad_fn (handout Appendix A:
    Function.apply creates and stores these nodes), so only a BackwardFunction
    shows that the parameter was made by an operation.
    """
    require(node_kind(getattr(tensor, "grad_fn", None)) != "BackwardFunction",
            f"{name}: its grad_fn is an operation's node ({describe(tensor.grad_fn)}): the update built a "
            f"graph. In {SGD_FILE}, compute on arrays (param.data, param.grad.data), not on Tensors")


def check_updated(name, tensor, before, expected):
    """``tensor`` holds ``expected``; if it still holds ``before``, say that step() changed nothing."""
    try:
        data = data_of(name, tensor)
    except CheckFailure as failure:
        raise CheckFailure(f"{failure} (after optimizer.step(): see {SGD_FILE})") from None
    expected = np.asarray(expected)
    if (before is not None and data.shape == before.shape
            and np.array_equal(data, before) and not np.allclose(before, expected, rtol=1e-6, atol=1e-8)):
        raise CheckFailure(
            f"{name}: unchanged by optimizer.step() (expected {fmt_array(expected)}, still "
            f"{fmt_array(data)}). In {SGD_FILE}, update each parameter's array in place, e.g. "
            "param.data = param.data - lr * param.grad.data; rebinding a name (param = param - lr * "
            "param.grad) makes a new Tensor and leaves the model's parameter as it was")
    assert_values(name, data, expected)


def optimizer_step(optimizer):
    """``optimizer.step()``, with a hint when it mixed an ndarray and a Tensor."""
    try:
        optimizer.step()
    except TypeError as exc:
        text = str(exc)
        if "ndarray" in text and "Tensor" in text:
            raise CheckFailure(
                student_traceback(exc) + f"\nIn {SGD_FILE}: param.data is an np.ndarray but param.grad "
                "is a Tensor; use its array, param.grad.data (e.g. param.data = param.data - lr * "
                "param.grad.data)") from None
        raise


def _check_new_batchnorm(name, layer, features):
    assert_parameter(f"{name}.gamma", layer.gamma, (features,))
    assert_parameter(f"{name}.beta", layer.beta, (features,))
    assert_tensor(f"{name}.gamma (initial value)", layer.gamma, np.ones(features))
    assert_tensor(f"{name}.beta (initial value)", layer.beta, np.zeros(features))
    for stat, start in (("running_mean", 0.0), ("running_var", 1.0)):
        tensor = getattr(layer, stat, None)
        assert_tensor(f"{name}.{stat} (initial value)", tensor, np.full(features, start))
        require(getattr(tensor, "is_parameter", False) is False,
                f"{name}.{stat}: running statistics are not parameters (is_parameter must be False)")


def _train_and_eval(mt, rng, net, optimizer, lr, momentum=0.0, steps=5, loss="sum"):
    """``steps`` training steps, then ``steps`` eval steps, each checked against the twin.

    ``loss="sum"`` back-propagates from the output itself (upstream gradient
    of ones, handout §0.1.5); ``loss="cross_entropy"`` uses CrossEntropyLoss.
    """
    n_in = net.twin.layers[0][1].shape[1]
    n_out = [layer for layer in net.twin.layers if layer[0] == "linear"][-1][1].shape[0]
    criterion = mt.CrossEntropyLoss() if loss == "cross_entropy" else None
    what = net.description
    for step in range(1, steps + 1):
        batch = int(rng.integers(3, 9))
        x = rng.normal(size=(batch, n_in))
        net.model.train()
        optimizer.zero_grad()
        tx = mt.Tensor(x.copy())
        out = net.model(tx)
        expected = net.twin.forward(x, train=True)
        assert_tensor(f"{what} output, training step {step} (batch of {batch})", out, expected)
        require(np.array_equal(tx.data, x), f"{what} changed its input x in training step {step}: "
                                            "a layer or operation wrote into its input's .data")
        if criterion is None:
            out.backward()
            upstream = np.ones_like(expected)
        else:
            labels = rng.integers(0, n_out, batch)
            value = criterion(out, mt.Tensor(labels.copy()))
            _check_loss(f"CrossEntropyLoss of {what} output, training step {step}", value,
                        ref.cross_entropy(expected, labels), expected, labels)
            value.backward()
            upstream = ref.cross_entropy_grad(expected, labels)
        grads = net.twin.backward(upstream)
        net.check_grads(grads, f"gradient after backward in training step {step}")
        before = net.snapshot()
        optimizer_step(optimizer)
        net.twin.step(grads, lr, momentum)
        net.check_params(f"after optimizer.step() in training step {step}", before)
        net.check_running(f"after training step {step}")
    for step in range(1, steps + 1):
        batch = int(rng.integers(1, 9))
        x = rng.normal(size=(batch, n_in))
        net.model.eval()
        out = net.model(mt.Tensor(x.copy()))
        assert_tensor(f"{what} output in eval mode, eval step {step} (batch of {batch})",
                      out, net.twin.forward(x, train=False))
        net.check_params(f"eval step {step}: no update without a step()")
        net.check_running(f"eval step {step}: eval mode must not change the running statistics")


def _require_unchanged(what, name, tensor, original):
    """A layer or loss must not write into its input (e.g. ``x.data -= mean`` in place)."""
    require(np.array_equal(getattr(tensor, "data", None), original),
            f"{what} changed its input {name} (now {fmt_array(getattr(tensor, 'data', None))}, was "
            f"{fmt_array(original)}): compute new arrays instead of writing into {name}.data")


def _check_loss(what, value, expected, logits=None, labels=None):
    """A loss: one number equal to ``expected``; with ``logits`` and ``labels``, a named cross-entropy mistake."""
    data = data_of(what, value)
    require(data.size == 1, f"{what}: expected a single number (a 0-d Tensor), got shape {data.shape}")
    try:
        assert_values(what, data.reshape(()), expected)
    except CheckFailure as failure:
        hint = None if logits is None else diagnose.cross_entropy_divisor(data, logits, labels)
        raise CheckFailure(f"{failure}\n{hint}" if hint else str(failure)) from None


def _check_logits_grad(what, tensor, logits, labels, scale=1.0):
    """The gradient w.r.t. the logits of cross entropy (times ``scale``), with a named divisor mistake."""
    try:
        assert_grad(what, tensor, ref.cross_entropy_grad(logits, labels) * scale)
    except CheckFailure as failure:
        got = getattr(getattr(tensor, "grad", None), "data", None)
        hint = None
        if isinstance(got, np.ndarray):
            hint = diagnose.cross_entropy_grad_divisor(got / scale, logits, labels)
        raise CheckFailure(f"{failure}\n{hint}" if hint else str(failure)) from None


# --------------------------------------------------------------- 2.1 Linear
def check_add_broadcast(ctx):
    """Add broadcasts (handout §2.1): (batch, n) + (n,), + (1, n) and + a 0-d tensor; gradients summed back."""
    mt = _Student()
    batch, n = _sizes(ctx.rng, 2)
    x, b, s = ctx.rng.normal(size=(batch, n)), ctx.rng.normal(size=n), ctx.rng.normal(size=())
    for order in ("x + b", "b + x"):
        tx, tb = mt.Tensor(x.copy(), requires_grad=True), mt.Tensor(b.copy(), requires_grad=True)
        out = tx + tb if order == "x + b" else tb + tx
        what = f"{order} with x {x.shape}, b {b.shape}"
        assert_tensor(what, out, x + b)
        assert_flags(what, out, requires_grad=True, is_leaf=False)
        out.backward()
        assert_grad(f"x (after ({what}).backward())", tx, np.ones((batch, n)))
        assert_grad(f"b (after ({what}).backward(): summed over the batch)", tb, np.full(n, float(batch)))
    row = ctx.rng.normal(size=(1, n))
    for order in ("x + r", "r + x"):
        tx, tr = mt.Tensor(x.copy(), requires_grad=True), mt.Tensor(row.copy(), requires_grad=True)
        out = tx + tr if order == "x + r" else tr + tx
        what = f"{order} with x {x.shape}, r {row.shape} (a size-1 axis stretched)"
        assert_tensor(what, out, x + row)
        out.backward()
        assert_grad(f"r (after ({what}).backward(): summed over the stretched axis, keeping it)", tr,
                    np.full((1, n), float(batch)))
        assert_grad(f"x (after ({what}).backward())", tx, np.ones((batch, n)))
    tx, ts = mt.Tensor(x.copy(), requires_grad=True), mt.Tensor(s.copy(), requires_grad=True)
    out = tx + ts
    assert_tensor(f"x + s with x {x.shape}, s a 0-d tensor", out, x + s)
    out.backward()
    assert_grad("s (0-d, after (x + s).backward())", ts, np.array(float(batch * n)))
    assert_grad("x (after (x + s).backward())", tx, np.ones((batch, n)))


def check_linear_layer(ctx):
    """Linear(in, out): forward x W^T + b, and gradients of weight, bias and input x."""
    mt = _Student()
    batch, n_in, n_out = _sizes(ctx.rng, 3, 1, 7)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_out)])
    layer = net.model.layers[0]
    weight, bias = net.twin.layers[0][1], net.twin.layers[0][2]
    x = ctx.rng.normal(size=(batch, n_in))
    tx = mt.Tensor(x.copy(), requires_grad=True)
    out = layer(tx)
    what = f"Linear({n_in}, {n_out}) of x {x.shape}"
    assert_tensor(what, out, ref.linear(x, weight, bias))
    _require_unchanged(what, "x", tx, x)
    assert_flags(what, out, requires_grad=True, is_leaf=False)
    out.backward()
    dx, dw, db = ref.linear_backward(x, weight, np.ones((batch, n_out)))
    assert_grad(f"Linear({n_in}, {n_out}).weight", layer.weight, dw)
    assert_grad(f"Linear({n_in}, {n_out}).bias", layer.bias, db)
    assert_grad("x (input that requires grad)", tx, dx)


def check_linear_sequential(ctx):
    """Sequential(Linear, Linear): forward, and gradients of all four parameters."""
    mt = _Student()
    batch, n_in, n_hidden, n_out = _sizes(ctx.rng, 4)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("linear", n_hidden, n_out)])
    net.check_forward_backward(mt, ctx.rng.normal(size=(batch, n_in)), flags=True)
    net.check_parameters()


# ----------------------------------------------------------------- 2.2 ReLU
def _relu_input(rng, shape):
    z = rng.normal(size=shape)
    z.flat[::3] = 0.0  # ReLU'(0) = 0 (handout §2.2)
    return z


def check_relu_function(ctx):
    """functional ReLU: max(z, 0), gradient 1 where z > 0 and 0 where z <= 0 (also at exactly 0)."""
    mt = _Student()
    require(hasattr(mt.F, "ReLU"), "nn/functional.py: expected a class ReLU(Function) (handout §2.2)")
    z = _relu_input(ctx.rng, tuple(_sizes(ctx.rng, 2)))
    tz = mt.Tensor(z.copy(), requires_grad=True)
    out = mt.F.ReLU.apply(tz)
    what = f"functional.ReLU.apply(z) with z {z.shape}"
    assert_tensor(what, out, ref.relu(z))
    require(np.array_equal(tz.data, z), f"{what} changed its input z (now {fmt_array(tz.data)}, was "
                                        f"{fmt_array(z)}): compute a new array instead of writing into z.data")
    assert_flags(what, out, requires_grad=True, is_leaf=False)
    assert_parents(what, out, [("AccumulateGrad", tz)])
    out.backward()
    assert_grad("z", tz, ref.relu_grad(z))
    constant = mt.F.ReLU.apply(mt.Tensor(z.copy()))
    assert_flags("functional.ReLU.apply(constant)", constant, requires_grad=False, is_leaf=True)


def check_relu_layer(ctx):
    """The ReLU layer (nn/activations.py) on a matrix and on a 0-d tensor."""
    mt = _Student()
    for shape in (tuple(_sizes(ctx.rng, 2)), ()):
        z = _relu_input(ctx.rng, shape) if shape else np.array(ctx.rng.choice([-1.5, 0.0, 2.5]))
        tz = mt.Tensor(z.copy(), requires_grad=True)
        out = mt.ReLU()(tz)
        what = f"ReLU()(z) with z of shape {shape}"
        assert_tensor(what, out, ref.relu(z))
        require(np.array_equal(tz.data, z), f"{what} changed its input z (now {fmt_array(tz.data)}): "
                                            "compute a new array instead of writing into z.data")
        assert_flags(what, out, requires_grad=True, is_leaf=False)
        out.backward()
        assert_grad(f"z of shape {shape}", tz, ref.relu_grad(z))


def check_relu_mlp(ctx):
    """Sequential(Linear, ReLU, Linear): forward and gradients of every parameter."""
    mt = _Student()
    batch, n_in, n_hidden, n_out = _sizes(ctx.rng, 4, 3, 9)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("relu",), ("linear", n_hidden, n_out)])
    net.check_forward_backward(mt, ctx.rng.normal(size=(batch, n_in)))


# ------------------------------------------------------------------ 2.3 SGD
def _hand_set_steps(ctx, momentum):
    """SGD on one parameter whose gradient is set by hand: the optimizer alone, no layers."""
    mt = _Student()
    shape = tuple(_sizes(ctx.rng, 2))
    lr = float(ctx.rng.uniform(0.01, 0.5))
    start = ctx.rng.normal(size=shape)
    param = mt.Tensor(start.copy(), requires_grad=True, is_parameter=True)
    optimizer = mt.SGD([param], lr=lr, momentum=momentum) if momentum else mt.SGD([param], lr=lr)
    expected, velocity = start, None
    for step in range(1, 4):
        grad = ctx.rng.normal(size=shape)
        optimizer.zero_grad()
        param.grad = mt.Tensor(grad.copy())
        before = np.array(data_of("parameter before step()", param))
        optimizer_step(optimizer)
        expected, velocity = ref.sgd_step(expected, grad, lr, momentum, velocity)
        what = f"parameter after step {step} of SGD(lr={lr:.4g}, momentum={momentum:.4g})"
        try:
            check_updated(what, param, before, expected)
        except CheckFailure as failure:
            if momentum and step > 1:  # step 1 was right: what carries over between steps is not
                raise CheckFailure(
                    f"{failure}\nStep 1 was right, so the velocity is not carried over between steps: "
                    f"{SGD_FILE} must keep each parameter's velocity in self.momentums (update that array "
                    "in place, or store the new one back into self.momentums[i]; rebinding a local name "
                    f"loses it){_plain_sgd_hint(param, what, before, grad, lr)}") from None
            raise
        assert_flags(what, param, requires_grad=True, is_leaf=True)
        assert_no_graph(what, param)


def _plain_sgd_hint(param, what, before, grad, lr):
    """A sentence when the step equals plain SGD, W - lr * grad: no momentum term at all, or a lost velocity."""
    try:
        plain = np.allclose(np.asarray(data_of(what, param), dtype=float), before - lr * grad,
                            rtol=1e-9, atol=1e-12)
    except Exception:  # noqa: B902 (an odd .data: the message above already says what it is)
        return ""
    return ("\nIn fact this step equals plain SGD, W - lr * grad: with no momentum term, or a velocity that "
            "starts again from zero, nothing carries over. Handout §2.6: v = momentum * v - lr * grad, then "
            "W = W + v, with v kept per parameter across steps") if plain else ""


def check_sgd_by_hand(ctx):
    """SGD.step() on a parameter with a hand-set gradient: W = W - lr * grad (handout §2.3)."""
    _hand_set_steps(ctx, momentum=0.0)


def check_sgd_zero_grad(ctx):
    """zero_grad() clears the gradients, so the next backward starts afresh."""
    mt = _Student()
    n_in, n_out, batch = _sizes(ctx.rng, 3)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_out)])
    optimizer = mt.SGD(net.model.parameters(), lr=0.1)
    x = ctx.rng.normal(size=(batch, n_in))
    net.model(mt.Tensor(x.copy())).backward()
    optimizer.zero_grad()
    for key, tensor in net.params.items():
        grad = getattr(tensor, "grad", None)
        require(grad is None or not np.any(data_of(f"{net.names[key]}.grad", grad)),
                f"{net.names[key]}.grad after zero_grad(): expected None or zeros, got {describe(grad)}")
    expected = net.twin.forward(x, train=True)
    net.model(mt.Tensor(x.copy())).backward()
    net.check_grads(net.twin.backward(np.ones_like(expected)), "backward after zero_grad()")


def check_sgd_training(ctx):
    """5 SGD training steps of Sequential(Linear, ReLU, Linear), then 5 eval steps."""
    mt = _Student()
    n_in, n_hidden, n_out = _sizes(ctx.rng, 3, 3, 8)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("relu",), ("linear", n_hidden, n_out)])
    net.check_parameters()
    lr = float(ctx.rng.uniform(0.01, 0.2))
    _train_and_eval(mt, ctx.rng, net, mt.SGD(net.model.parameters(), lr=lr), lr)


# ------------------------------------------------------------ 2.4 BatchNorm
def check_batchnorm_init(ctx):
    """BatchNorm1d(n): gamma = 1 and beta = 0 (parameters), running_mean = 0 and running_var = 1."""
    mt = _Student()
    features = _sizes(ctx.rng, 1)[0]
    _check_new_batchnorm(f"BatchNorm1d({features})", mt.BatchNorm1d(features), features)


def _spread(rng, features):
    """Per-feature scales alternating around 1e-2 and 1e1: batch variances near 1e-4 and 1e2.

    Where the variance is as small as eps, where eps goes (inside the square
    root or not, self.eps or a hard-coded number) changes the output by
    percents, not by the 1e-6 a variance near 1 would show.
    """
    small = np.arange(features) % 2 == 0
    return np.where(small, 1e-2, 1e1) * rng.uniform(0.7, 1.4, features)


def _one_batchnorm(mt, rng, eps):
    """(features, the _Model, its BatchNorm1d, the layer's name) of a lone BatchNorm1d; eps None: the default."""
    features = _sizes(rng, 1, 2, 7)[0]
    net = _Model(mt, rng, [("batchnorm", features) if eps is None else ("batchnorm", features, eps)])
    return features, net, net.batchnorms[0][2], net.batchnorms[0][1]


def check_batchnorm_train_forward(ctx):
    """Training mode: batch mean and biased variance normalise (eqs 3-6); running stats use unbiased (7-9)."""
    mt = _Student()
    for eps in (None, 1e-3):
        features, net, layer, name = _one_batchnorm(mt, ctx.rng, eps)
        scale = _spread(ctx.rng, features)
        for step in range(1, 4):
            batch = int(ctx.rng.integers(2, 9))
            x = ctx.rng.normal(2.0, 3.0, size=(batch, features)) * scale
            tx = mt.Tensor(x.copy())
            out = layer(tx)
            what = f"{name} output in training mode, step {step} (batch of {batch}; feature variances from " \
                   "~1e-4 to ~1e2)"
            assert_tensor(what, out, net.twin.forward(x, train=True))
            _require_unchanged(what, "x", tx, x)
            net.check_running(f"after training step {step}")


def check_batchnorm_eval_forward(ctx):
    """Eval mode normalises with the running statistics (eps inside the square root) and does not change them."""
    mt = _Student()
    for eps in (None, 1e-3):
        features, net, layer, name = _one_batchnorm(mt, ctx.rng, eps)
        for _ in range(3):
            x = ctx.rng.normal(-1.0, 2.0, size=(int(ctx.rng.integers(2, 9)), features))
            layer(mt.Tensor(x.copy()))
            net.twin.forward(x, train=True)
        net.check_running("after 3 training steps")
        # Running statistics as after long training on features of very different variance.
        scale = _spread(ctx.rng, features)
        mean, var = ctx.rng.normal(size=features) * scale, scale ** 2
        layer.running_mean.data, layer.running_var.data = mean.copy(), var.copy()
        net.twin.layers[0][3], net.twin.layers[0][4] = mean, var
        layer.eval()
        for batch in (int(ctx.rng.integers(2, 9)), 1):
            x = ctx.rng.normal(size=(batch, features)) * scale + mean
            out = layer(mt.Tensor(x.copy()))
            assert_tensor(f"{name} output in eval mode (batch of {batch}; running_var set to "
                          f"{fmt_array(var)})", out, net.twin.forward(x, train=False))
            net.check_running("eval mode must not change the running statistics")


def check_batchnorm_gradients(ctx):
    """Gradients through BatchNorm1d in Sequential(Linear, BatchNorm1d, ReLU, Linear)."""
    mt = _Student()
    batch, n_in, n_hidden, n_out = _sizes(ctx.rng, 4, 3, 8)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("batchnorm", n_hidden), ("relu",),
                               ("linear", n_hidden, n_out)])
    net.check_forward_backward(mt, ctx.rng.normal(size=(batch, n_in)))


def check_batchnorm_training(ctx):
    """5 SGD training steps of Sequential(Linear, BatchNorm1d, ReLU, Linear), then 5 eval steps."""
    mt = _Student()
    n_in, n_hidden, n_out = _sizes(ctx.rng, 3, 3, 8)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("batchnorm", n_hidden), ("relu",),
                               ("linear", n_hidden, n_out)])
    net.check_parameters()
    lr = float(ctx.rng.uniform(0.01, 0.2))
    _train_and_eval(mt, ctx.rng, net, mt.SGD(net.model.parameters(), lr=lr), lr)


# -------------------------------------------------------- 2.5 Cross entropy
def _logits_and_labels(rng, shift=0.0):
    """Logits (batch, classes) and labels; batch != classes, so that dividing by the wrong one shows."""
    batch, classes = _sizes(rng, 2, 2, 9)
    if batch == classes:
        classes = batch + 1
    logits = rng.normal(0, 2, size=(batch, classes)) + shift
    labels = rng.integers(0, classes, batch)
    return logits, labels


def _check_cross_entropy(mt, loss_fn, name, logits, labels):
    tl = mt.Tensor(logits.copy(), requires_grad=True)
    loss = loss_fn(tl, mt.Tensor(labels.copy()))
    what = f"{name} with logits {logits.shape}"
    _check_loss(what, loss, ref.cross_entropy(logits, labels), logits, labels)
    _require_unchanged(what, "logits", tl, logits)
    assert_flags(what, loss, requires_grad=True, is_leaf=False)
    loss.backward()
    _check_logits_grad("logits (gradient: (softmax - one_hot(labels)) / batch)", tl, logits, labels)
    # Scaled from above: the loss's backward must use the gradient it receives.
    # log(loss) passes down 1 / loss, through Log alone (given code), so that
    # a mistake in Mul costs only 1.1.2 and 1.2.
    tl = mt.Tensor(logits.copy(), requires_grad=True)
    loss_fn(tl, mt.Tensor(labels.copy())).log().backward()
    value = ref.cross_entropy(logits, labels)
    _check_logits_grad(f"logits after ({name}).log().backward() (the gradient above times 1 / loss = "
                       f"{1 / value:.6g}: the loss's backward must multiply by its grad_output)", tl, logits, labels,
                       1 / value)


def check_cross_entropy_function(ctx):
    """functional.cross_entropy: mean over the batch of -log softmax at the label, and its gradient."""
    mt = _Student()
    logits, labels = _logits_and_labels(ctx.rng)
    _check_cross_entropy(mt, mt.F.cross_entropy, "functional.cross_entropy(logits, labels)", logits, labels)


def check_cross_entropy_loss(ctx):
    """nn.loss.CrossEntropyLoss()(logits, labels) gives the same loss and gradient."""
    mt = _Student()
    logits, labels = _logits_and_labels(ctx.rng)
    _check_cross_entropy(mt, mt.CrossEntropyLoss(), "CrossEntropyLoss()(logits, labels)", logits, labels)


def check_cross_entropy_stable(ctx):
    """Logits near +1000 and -1000 neither overflow nor underflow (LogSumExp trick, Appendix B.1)."""
    mt = _Student()
    for shift in (1000.0, -1000.0):
        logits, labels = _logits_and_labels(ctx.rng, shift)
        _check_cross_entropy(mt, mt.F.cross_entropy, f"cross_entropy of logits around {shift:+.0f}",
                             logits, labels)


def check_cross_entropy_training(ctx):
    """5 SGD training steps of Sequential(Linear, ReLU, Linear) with CrossEntropyLoss, then 5 eval steps."""
    mt = _Student()
    n_in, n_hidden, n_out = _sizes(ctx.rng, 3, 3, 8)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("relu",), ("linear", n_hidden, n_out)])
    lr = float(ctx.rng.uniform(0.05, 0.5))
    _train_and_eval(mt, ctx.rng, net, mt.SGD(net.model.parameters(), lr=lr), lr, loss="cross_entropy")


# ------------------------------------------------------------- 2.6 Momentum
def check_momentum_by_hand(ctx):
    """Momentum on a parameter with hand-set gradients: v = beta v - lr grad; W = W + v (handout §2.6)."""
    _hand_set_steps(ctx, momentum=float(ctx.rng.uniform(0.5, 0.95)))


def check_momentum_training(ctx):
    """5 training steps of Sequential(Linear, ReLU, Linear) with SGD and momentum, then 5 eval steps."""
    mt = _Student()
    n_in, n_hidden, n_out = _sizes(ctx.rng, 3, 3, 8)
    net = _Model(mt, ctx.rng, [("linear", n_in, n_hidden), ("relu",), ("linear", n_hidden, n_out)])
    lr, momentum = float(ctx.rng.uniform(0.01, 0.2)), float(ctx.rng.uniform(0.5, 0.95))
    optimizer = mt.SGD(net.model.parameters(), lr=lr, momentum=momentum)
    _train_and_eval(mt, ctx.rng, net, optimizer, lr, momentum)


LINEAR = [check_add_broadcast, check_linear_layer, check_linear_sequential]
RELU = [check_relu_function, check_relu_layer, check_relu_mlp]
SGD = [check_sgd_by_hand, check_sgd_zero_grad, check_sgd_training]
BATCHNORM = [check_batchnorm_init, check_batchnorm_train_forward, check_batchnorm_eval_forward,
             check_batchnorm_gradients, check_batchnorm_training]
CROSS_ENTROPY = [check_cross_entropy_function, check_cross_entropy_loss, check_cross_entropy_stable,
                 check_cross_entropy_training]
MOMENTUM = [check_momentum_by_hand, check_momentum_training]
