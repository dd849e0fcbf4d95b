"""Checks of Conv1d (forward, backward) and Flatten: mytorch/nn/conv.py.

Each check is an ``observe.Check``: ``inputs`` draws the case from the
parent's generator, ``probe`` builds the student's layers in the child and
observes what they return, ``judge`` compares that with ``reference.py``'s
NumPy formulas in the parent and names the mistake when it knows it.
Conv1d cases follow the course's: 1, 2 and 3 stacked layers, channels 5-14,
kernels 3-6, strides 3-4, widths 60-79, the single layer with samples at the
end that no window covers.
"""
import numpy as np

import reference as ref
from observe import Check, CheckFailure, Steps, array, assert_close, grad, item, judge, tensor

CONV_FILE = "mytorch/nn/conv.py"
FORWARD_FIX = (f"check Conv1d's forward ({CONV_FILE}): y[n,o,j] = b[o] + sum over c, k of W[o,c,k]*x[n,c,j*s+k] "
               "for j < W_out = (W - K) // s + 1, reading self.weight and self.bias when called")
BACKWARD_FIX = (f"check Conv1d's backward ({CONV_FILE}): with g the output's gradient, grad_b[o] = sum over n, j "
                "of g[n,o,j]; grad_W[o,c,k] = sum over n, j of g[n,o,j]*x[n,c,j*s+k]; sample j*s+k of x receives "
                "W[o,c,k]*g[n,o,j] from every window j and tap k that read it (zero for samples no window reads)")


def _name(spec):
    c_in, c_out, kernel, stride = spec
    return f"Conv1d({c_in}, {c_out}, {kernel}, {stride})"


def _where(i, layers):
    return f"layer {i + 1} of {len(layers)}, {_name(layers[i])}" if len(layers) > 1 else _name(layers[i])


# ---------------------------------------------------------------- inputs
def _widths(width, kernels, strides):
    """The width after each layer, or None when a layer's kernel is wider than its input."""
    widths = []
    for kernel, stride in zip(kernels, strides):
        if width < kernel:
            return None
        width = (width - kernel) // stride + 1
        widths.append(width)
    return widths


def stack_inputs(rng, depth, backward):
    """A stack of ``depth`` Conv1d layers with random sizes, weights and input; an integer seed for np.random."""
    while True:
        channels = [int(c) for c in rng.integers(5, 15, depth + 1)]
        kernels = [int(k) for k in rng.integers(3, 7, depth)]
        strides = [int(s) for s in rng.integers(3, 5, depth)]
        width = int(rng.integers(60, 80))
        # One layer alone: make sure its last samples fit in no window (their gradient is zero).
        if _widths(width, kernels, strides) and (depth > 1 or (width - kernels[0]) % strides[0]):
            break
    layers = [[channels[i], channels[i + 1], kernels[i], strides[i]] for i in range(depth)]
    fan_in = [c_in * k for c_in, _, k, _ in layers]
    return {
        "seed": int(rng.integers(2 ** 31)), "backward": backward, "layers": layers,
        "x": rng.normal(size=(int(rng.integers(2, 5)), channels[0], width)),
        "weights": [rng.normal(0, 1 / np.sqrt(f), (c_out, c_in, k)) for (c_in, c_out, k, _), f in zip(layers, fan_in)],
        "biases": [rng.normal(0, 0.5, c_out) for _, c_out, _, _ in layers],
    }


# ---------------------------------------------------------------- probe (child)
def probe_stack(inp, student):
    """Build the layers (np.random seeded), set their parameters, run forward (and ones-seeded backward)."""
    obs = {"params": [], "outputs": []}
    with Steps(obs) as step:
        step(f"importing Conv1d from {CONV_FILE}")
        Conv1d = student("mytorch.nn.conv").Conv1d
        Tensor = student("mytorch.tensor").Tensor
        np.random.seed(inp["seed"])
        layers = []
        for spec, weight, bias in zip(inp["layers"], inp["weights"], inp["biases"]):
            step(f"{_name(spec)} (the constructor)")
            layer = Conv1d(*spec)
            obs["params"].append([tensor(layer.weight), tensor(layer.bias)])
            step(f"setting {_name(spec)}.weight.data and .bias.data")
            layer.weight.data, layer.bias.data = weight.copy(), bias.copy()
            layers.append(layer)
        x = Tensor(inp["x"].copy(), requires_grad=inp["backward"])
        out = x
        for spec, layer in zip(inp["layers"], layers):
            step(f"{_name(spec)} forward")
            out = layer(out)
            obs["outputs"].append(tensor(out))
        if inp["backward"]:
            step("output.backward() through the Conv1d layers")
            out.backward()
            obs["x_grad"] = grad(x)
            obs["grads"] = [[grad(layer.weight), grad(layer.bias)] for layer in layers]
    return obs


# ---------------------------------------------------------------- judges (parent)
def _check_parameter(what, observed, shape, role):
    data = array(what, observed, tensor_needed=True)
    if data.shape != shape:
        raise CheckFailure(f"{what}: expected shape {shape} {role}, got {data.shape}")
    if observed["data"].dtype != np.float64:
        raise CheckFailure(f"{what}: expected float64 values (graders copy parameters into PyTorch without a "
                           f"cast), got {observed['data'].dtype}")
    if observed.get("is_parameter") is not True or observed.get("requires_grad") is not True:
        raise CheckFailure(f"{what}: expected a parameter (Tensor(..., requires_grad=True, is_parameter=True)), "
                           f"got requires_grad={observed.get('requires_grad')}, "
                           f"is_parameter={observed.get('is_parameter')}")


def _forward_mistakes(x, weight, bias, stride):
    kernel = weight.shape[2]
    width = x.shape[2]
    ceil_positions = -(-(width - kernel) // stride) + 1
    mistakes = [
        (ref.conv1d(x, weight[:, :, ::-1], bias, stride),
         "your output is a convolution with the kernel flipped (W[o,c,K-1-k]); Conv1d, as PyTorch's, is a "
         "cross-correlation: tap k of the filter multiplies x[n,c,j*s+k]"),
        (ref.conv1d(x, weight, np.zeros_like(bias), stride),
         "your output lacks the bias: add bias[o] to every position of output channel o"),
        (ref.conv1d(x, weight, bias, 1),
         "your output has a window at every sample: the stride is ignored; window j starts at sample j*s"),
    ]
    shapes = [((x.shape[0], weight.shape[0], ceil_positions),
               "W_out rounds (W - K) / s up; it rounds down: W_out = (W - K) // s + 1 (a window must fit whole)")]
    return mistakes, shapes


@judge(FORWARD_FIX)
def judge_forward(inp, obs):
    layers, x = inp["layers"], inp["x"]
    for i, (spec, weight, bias) in enumerate(zip(layers, inp["weights"], inp["biases"])):
        c_in, c_out, kernel, stride = spec
        params = item(item(obs, "params", "the parameters"), i, f"{_name(spec)}'s parameters")
        _check_parameter(f"{_name(spec)}.weight", item(params, 0, "weight"), (c_out, c_in, kernel),
                         "(out_channel, in_channel, kernel_size)")
        _check_parameter(f"{_name(spec)}.bias", item(params, 1, "bias"), (c_out,), "(out_channel,)")
        expected = ref.conv1d(x, weight, bias, stride)
        what = f"{_where(i, layers)}, forward on an input of shape {x.shape}"
        got = array(what, item(item(obs, "outputs", "the outputs"), i, what))
        mistakes, shapes = _forward_mistakes(x, weight, bias, stride)
        assert_close(what, got, expected, FORWARD_FIX, mistakes, shapes)
        x = expected


def _input_grad(g, weight, width, step):
    """x's gradient if tap k of window j had read sample j*step + k (step = stride: right; 1: a mistake)."""
    out = np.zeros((g.shape[0], weight.shape[1], width))
    index = step * np.arange(g.shape[2])[:, None] + np.arange(weight.shape[2])[None, :]
    np.add.at(out, (slice(None), slice(None), index), np.einsum("noj,ock->ncjk", g, weight))
    return out


def _backward_variants(inp, x_grad_of):
    """The input gradient of the whole stack when each layer's x gradient is ``x_grad_of(g, weight, width, stride)``."""
    outputs, _, _ = ref.conv_stack(inp["x"], list(zip(inp["weights"], inp["biases"], [s[3] for s in inp["layers"]])))
    inputs = [inp["x"]] + outputs[:-1]
    g = np.ones_like(outputs[-1])
    for spec, weight, x in zip(reversed(inp["layers"]), reversed(inp["weights"]), reversed(inputs)):
        g = x_grad_of(g, weight, x.shape[2], spec[3])
    return g


def _x_grad_mistakes(inp):
    return [
        (_backward_variants(inp, lambda g, w, width, s: _input_grad(g, w, width, 1)),
         "Conv1d's backward ignores the stride: tap k of window j read sample j*s + k (not j + k), so its "
         f"gradient goes back there ({CONV_FILE})"),
        (_backward_variants(inp, lambda g, w, width, s: _input_grad(g, w[:, :, ::-1], width, s)),
         "Conv1d's backward flips the kernel: sample j*s + k receives W[o,c,k]*g[n,o,j], tap k of the same "
         f"filter, not W[o,c,K-1-k] ({CONV_FILE})"),
    ]


@judge(BACKWARD_FIX)
def judge_backward(inp, obs):
    layers = inp["layers"]
    stack = list(zip(inp["weights"], inp["biases"], [s[3] for s in layers]))
    outputs, x_grad, grads = ref.conv_stack(inp["x"], stack)
    for i, expected in enumerate(outputs):
        what = f"{_where(i, layers)}, forward"
        got = array(what, item(item(obs, "outputs", "the outputs"), i, what))
        assert_close(what, got, expected, "the forward is wrong, so is every gradient: see the Conv1d forward "
                                          "problem first; " + FORWARD_FIX)
    inputs = [inp["x"]] + outputs[:-1]
    observed = item(obs, "grads", "the parameters' gradients")
    for i in reversed(range(len(layers))):
        grad_weight, grad_bias = grads[i]
        kernel, stride = layers[i][2], layers[i][3]
        where = f"{_where(i, layers)}, after output.backward()"
        got_bias = array(f"{where}: bias.grad", item(item(observed, i, where), 1, "bias.grad"))
        assert_close(f"{where}: bias.grad", got_bias, grad_bias, BACKWARD_FIX,
                     shapes=[(grads[i][1].shape + (1,), "sum over the batch and every position")])
        got_weight = array(f"{where}: weight.grad", item(item(observed, i, where), 0, "weight.grad"))
        x, upstream = inputs[i], _upstream(inp, outputs, i)
        strideless = np.einsum("noj,ncjk->ock", upstream,
                               x[:, :, np.arange(upstream.shape[2])[:, None] + np.arange(kernel)[None, :]])
        mistakes = [(strideless, f"Conv1d's backward ignores the stride ({CONV_FILE}): W[o,c,k] met "
                                 "x[n,c,j*s+k], not x[n,c,j+k]")] if stride > 1 else []
        assert_close(f"{where}: weight.grad", got_weight, grad_weight, BACKWARD_FIX, mistakes)
    what = "x.grad (the input's gradient) after output.backward()"
    if item(obs, "x_grad", what) is None:
        raise CheckFailure(f"{what}: None; Conv1d's backward must return the input's gradient first "
                           "(grad_x, grad_weight, grad_bias), and the input requires grad")
    got = array(what, obs["x_grad"], x_grad.shape)
    uncovered = inp["x"].shape[2] - (outputs[0].shape[2] - 1) * layers[0][3] - layers[0][2]
    if uncovered and np.any(got[:, :, -uncovered:] != 0) and np.allclose(got[:, :, :-uncovered],
                                                                       x_grad[:, :, :-uncovered]):
        raise CheckFailure(f"{what}: the last {uncovered} sample(s) fit in no window and must get a zero "
                           f"gradient; got {got[0, 0, -uncovered:]} (start from zeros, add only what windows read)")
    assert_close(what, got, x_grad, BACKWARD_FIX, _x_grad_mistakes(inp))


def _upstream(inp, outputs, i):
    """The gradient reaching layer i's output when the stack's output is seeded with ones."""
    g = np.ones_like(outputs[-1])
    inputs = [inp["x"]] + outputs[:-1]
    for j in reversed(range(i + 1, len(outputs))):
        g = ref.conv1d_backward(inputs[j], inp["weights"][j], inp["layers"][j][3], g)[0]
    return g


# ---------------------------------------------------------------- Flatten
FLATTEN_FIX = (f"check Flatten's forward ({CONV_FILE}): (N, d1, ..., dk) -> (N, d1*...*dk) in C order, "
               "built with a tensor operation (x.reshape(N, -1)) so that the gradient is reshaped back")


def flatten_inputs(rng):
    n = int(rng.integers(2, 5))
    shapes = {"3-D": (n,) + tuple(int(d) for d in rng.integers(2, 7, 2)),
              "4-D": (n,) + tuple(int(d) for d in rng.integers(2, 5, 3))}
    return {"x": {k: rng.normal(size=s) for k, s in shapes.items()},
            "g": {k: rng.normal(size=(s[0], int(np.prod(s[1:])))) for k, s in shapes.items()}}


def probe_flatten(inp, student):
    """One Flatten() instance on a 3-D then a 4-D input; backward of (output * g), ones-seeded."""
    obs = {}
    with Steps(obs) as step:
        step(f"importing Flatten from {CONV_FILE}")
        Flatten = student("mytorch.nn.conv").Flatten
        Tensor = student("mytorch.tensor").Tensor
        step("Flatten() (the constructor)")
        flatten = Flatten()
        for key in ("3-D", "4-D"):
            x = Tensor(inp["x"][key].copy(), requires_grad=True)
            step(f"Flatten forward on a {key} input of shape {x.shape}")
            y = flatten(x)
            obs[key] = {"out": tensor(y)}
            step(f"(output * g).backward() after Flatten on a {key} input")
            (y * Tensor(inp["g"][key].copy())).backward()
            obs[key]["x_grad"] = grad(x)
    return obs


@judge(FLATTEN_FIX)
def judge_flatten(inp, obs):
    for key in ("3-D", "4-D"):
        x, g = inp["x"][key], inp["g"][key]
        n = x.shape[0]
        per_sample_reversed = x.transpose((0,) + tuple(range(x.ndim - 1, 0, -1))).reshape(n, -1)
        what = f"Flatten forward on a {key} input of shape {x.shape}"
        seen = item(item(obs, key, what), "out", what)
        got = array(what, seen)
        assert_close(what, got, x.reshape(n, -1), FLATTEN_FIX, mistakes=[
            (per_sample_reversed, "each sample is read with its last axis slowest (Fortran order, position-major); "
                                  "Flatten keeps C order, channel-major: x.reshape(N, -1), no transpose"),
            (x.reshape(n, -1, order="F"), "the values are in Fortran order; Flatten keeps C order: "
                                          "x.reshape(N, -1)")])
        if seen.get("requires_grad") is not True:
            raise CheckFailure(f"{what}: the output does not require grad, so no gradient can reach the input; "
                               "build it from the input with a tensor operation (x.reshape), not a new Tensor")
        what = f"the input's gradient after Flatten on a {key} input and (output * g).backward()"
        observed = item(obs[key], "x_grad", what)
        if observed is None:
            raise CheckFailure(f"{what}: None; the output must stay in the graph (x.reshape(N, -1))")
        got = array(what, observed)
        assert_close(what, got, g.reshape(x.shape), FLATTEN_FIX, mistakes=[
            (g.reshape(x.shape, order="F"), "the gradient is reshaped back in Fortran order; reshape it to the "
                                             "input's shape in C order")])


CONV1D_FORWARD = [Check(f"Conv1d forward, {depth} stacked layer{'s' if depth > 1 else ''}",
                        lambda rng, depth=depth: stack_inputs(rng, depth, backward=False), probe_stack, judge_forward)
                  for depth in (1, 2, 3)]
CONV1D_BACKWARD = [Check(f"Conv1d backward (input, weight and bias gradients), {depth} stacked "
                         f"layer{'s' if depth > 1 else ''}",
                         lambda rng, depth=depth: stack_inputs(rng, depth, backward=True), probe_stack, judge_backward)
                   for depth in (1, 2, 3)]
FLATTEN = [Check("Flatten forward and backward on 3-D and 4-D inputs, one instance", flatten_inputs, probe_flatten,
                 judge_flatten)]
