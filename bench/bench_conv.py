"""HW2P1's speed: Conv1d and a training step of the HW2 CNN, against a NumPy floor and PyTorch, in one run.

1. Conv1d forward + backward: batch 64, 24 -> 56 channels, width 60, kernel 5,
   stride 1; the input requires grad, the output's gradient is ones.
2. One SGD step of the HW2 CNN (hw2/hw2.py: Conv1d(24, 56, 5, 1), Tanh,
   Conv1d(56, 28, 6, 2), ReLU, Conv1d(28, 14, 2, 2), Sigmoid, Flatten,
   Linear(182, 10)) on a batch of 64 inputs (64, 24, 60): zero_grad, forward,
   cross-entropy, backward, step (lr 0.1).

Three contenders, float64, from the same weights and data:

    numpy    forward and backward written by hand: the floor for any NumPy engine
    mytorch  this library
    torch    PyTorch eager on the CPU (left out when torch is not installed)

The floor computes the convolution the way the fastest of the layouts tried
for it did (bench/NOTES_speed.md): im2col, one matrix per sample (N, C_in*K,
W_out), a batched matrix product forward; backward the weight gradient as one
contraction, the columns' gradient as a batched product, scattered back one
kernel tap at a time. It needs no graph and no objects, so its time is what
the arithmetic costs; MyTorch's ratio to it is the engine's overhead.

First a fairness check: the three agree on the outputs and gradients. Every
library runs on one thread, the contenders alternate within each round, the
minimum over rounds is compared; times are this process's CPU time
(``--wall``: wall-clock). The goals (issue 23) are MyTorch <= 2x PyTorch and
<= 1.2x the floor: benchmark goals, not tests.

Usage: python3 bench/bench_conv.py [--rounds 9] [--number 20] [--quick] [--wall]
"""
import argparse
import gc
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "hw2"))  # hw2/ has no __init__.py: its modules are top-level
from mytorch import Tensor, nn, optim  # noqa: E402
import hw2  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # the benchmark still runs; torch columns are left out
    torch = None

BATCH, LR = 64, 0.1
CONV = (24, 56, 5, 1)          # in, out, kernel, stride
WIDTH = 60
CNN_CONVS = [(24, 56, 5, 1), (56, 28, 6, 2), (28, 14, 2, 2)]
TORCH_GOAL, FLOOR_GOAL = 2.0, 1.2
now = time.process_time


def conv_weights(rng, c_in, c_out, kernel):
    bound = 1 / np.sqrt(c_in * kernel)
    return rng.uniform(-bound, bound, (c_out, c_in, kernel)), rng.uniform(-bound, bound, c_out)


# ---------------------------------------------------------------------- the floor
def floor_conv_forward(x, weight, bias, stride):
    """(output (N, O, W_out), the im2col columns (N, C*K, W_out))."""
    n, c, _ = x.shape
    o, _, k = weight.shape
    columns = sliding_window_view(x, k, axis=2)[:, :, ::stride].transpose(0, 1, 3, 2).reshape(n, c * k, -1)
    out = weight.reshape(o, c * k) @ columns
    out += bias[:, None]
    return out, columns


def floor_conv_backward(g, columns, weight, width, stride, need_x=True):
    o, c, k = weight.shape
    grad_bias = g.sum(axis=(0, 2))
    grad_weight = np.tensordot(g, columns, axes=((0, 2), (0, 2))).reshape(o, c, k)
    if not need_x:
        return None, grad_weight, grad_bias
    n, _, positions = g.shape
    grad_columns = (weight.reshape(o, c * k).T @ g).reshape(n, c, k, positions)
    grad_x = np.zeros((n, c, width))
    last = stride * (positions - 1)
    for tap in range(k):
        grad_x[:, :, tap:tap + last + 1:stride] += grad_columns[:, :, tap]
    return grad_x, grad_weight, grad_bias


def floor_conv(x, weight, bias, stride):
    out, columns = floor_conv_forward(x, weight, bias, stride)
    return out, floor_conv_backward(np.ones_like(out), columns, weight, x.shape[2], stride)


class FloorCNN:
    """The HW2 CNN by hand: parameters [W1, b1, W2, b2, W3, b3, W4, b4], plain SGD."""

    def __init__(self, params):
        self.params = [p.copy() for p in params]

    def step(self, x, labels, lr=LR):
        W1, b1, W2, b2, W3, b3, W4, b4 = self.params
        z1, c1 = floor_conv_forward(x, W1, b1, 1)
        a1 = np.tanh(z1)
        z2, c2 = floor_conv_forward(a1, W2, b2, 2)
        a2 = np.maximum(z2, 0)
        z3, c3 = floor_conv_forward(a2, W3, b3, 2)
        a3 = 1 / (1 + np.exp(-z3))
        flat = a3.reshape(len(x), -1)
        logits = flat @ W4.T + b4
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        p = e / e.sum(axis=1, keepdims=True)
        n = len(x)
        loss = -np.log(p[np.arange(n), labels]).mean()
        p[np.arange(n), labels] -= 1
        p /= n
        gW4, gb4 = p.T @ flat, p.sum(axis=0)
        g = (p @ W4).reshape(a3.shape) * a3 * (1 - a3)
        g, gW3, gb3 = floor_conv_backward(g, c3, W3, a2.shape[2], 2)
        g *= z2 > 0
        g, gW2, gb2 = floor_conv_backward(g, c2, W2, a1.shape[2], 2)
        g *= 1 - a1 * a1
        _, gW1, gb1 = floor_conv_backward(g, c1, W1, x.shape[2], 1, need_x=False)
        for param, grad in zip(self.params, (gW1, gb1, gW2, gb2, gW3, gb3, gW4, gb4)):
            param -= lr * grad
        return loss, logits


def cnn_params(rng):
    params = []
    for c_in, c_out, kernel, _ in CNN_CONVS:
        params += conv_weights(rng, c_in, c_out, kernel)
    bound = 1 / np.sqrt(182)
    return params + [rng.uniform(-bound, bound, (10, 182)), rng.uniform(-bound, bound, 10)]


# ---------------------------------------------------------------------- mytorch and torch
def mytorch_conv(weight, bias):
    layer = nn.Conv1d(*CONV)
    layer.weight.data, layer.bias.data = weight.copy(), bias.copy()

    def run(x):
        xt = Tensor(x, requires_grad=True)
        out = layer(xt)
        out.backward()
        layer.weight.grad = layer.bias.grad = None
        return out, xt
    return run, layer


def torch_conv(weight, bias):
    layer = torch.nn.Conv1d(*CONV[:3], stride=CONV[3], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))

    def run(x):
        xt = torch.from_numpy(x).requires_grad_()
        out = layer(xt)
        out.backward(torch.ones_like(out))
        layer.weight.grad = layer.bias.grad = None
        return out, xt
    return run, layer


def mytorch_cnn(params):
    cnn = hw2.CNN()
    for layer, (weight, bias) in zip([cnn.layers[i] for i in (0, 2, 4, 7)], zip(params[::2], params[1::2])):
        layer.weight.data, layer.bias.data = weight.copy(), bias.copy()
    opt, crit = optim.SGD(cnn.parameters(), lr=LR), nn.CrossEntropyLoss()

    def step(x, labels):
        opt.zero_grad()
        out = cnn.layers(Tensor(x))
        loss = crit(out, Tensor(labels))
        loss.backward()
        opt.step()
        return loss, out
    return step, cnn


def torch_cnn(params):
    t = torch.nn
    model = t.Sequential(t.Conv1d(24, 56, 5, 1), t.Tanh(), t.Conv1d(56, 28, 6, 2), t.ReLU(), t.Conv1d(28, 14, 2, 2),
                         t.Sigmoid(), t.Flatten(), t.Linear(182, 10)).double()
    with torch.no_grad():
        for p, value in zip(model.parameters(), params):
            p.copy_(torch.from_numpy(value))
    opt, crit = torch.optim.SGD(model.parameters(), lr=LR), t.CrossEntropyLoss()

    def step(x, labels):
        opt.zero_grad()
        out = model(torch.from_numpy(x))
        loss = crit(out, torch.from_numpy(labels))
        loss.backward()
        opt.step()
        return loss, out
    return step, model


# ---------------------------------------------------------------------- runs
def agreement(rng):
    """The contenders compute the same thing: outputs, gradients, weights after 3 steps."""
    weight, bias = conv_weights(rng, *CONV[:2], CONV[2])
    x = rng.normal(size=(BATCH, CONV[0], WIDTH))
    out, (gx, gw, gb) = floor_conv(x, weight, bias, CONV[3])
    run, layer = mytorch_conv(weight, bias)
    layer.weight.grad = None
    xt = Tensor(x, requires_grad=True)
    mine = layer(xt)
    mine.backward()
    diffs = [np.abs(mine.data - out).max(), np.abs(xt.grad.data - gx).max(), np.abs(layer.weight.grad.data - gw).max(),
             np.abs(layer.bias.grad.data - gb).max()]
    if torch is not None:
        trun, tlayer = torch_conv(weight, bias)
        tx = torch.from_numpy(x).requires_grad_()
        tout = tlayer(tx)
        tout.backward(torch.ones_like(tout))
        diffs += [np.abs(tout.detach().numpy() - out).max(), np.abs(tx.grad.numpy() - gx).max(),
                  np.abs(tlayer.weight.grad.numpy() - gw).max()]
    print(f"Conv1d: max |difference| to the floor over outputs and gradients: {max(diffs):.1e}")
    params = cnn_params(rng)
    floor, (mstep, cnn) = FloorCNN(params), mytorch_cnn(params)
    contenders = [floor.params, cnn.parameters()]
    tstep = None
    if torch is not None:
        tstep, model = torch_cnn(params)
        contenders.append(list(model.parameters()))
    for _ in range(3):
        x, labels = rng.normal(size=(BATCH, 24, WIDTH)), rng.integers(0, 10, BATCH)
        floor.step(x, labels)
        mstep(x, labels)
        if tstep:
            tstep(x, labels)
    values = [[np.asarray(getattr(p, "data", p)) if not hasattr(p, "detach") else p.detach().numpy() for p in ps]
              for ps in contenders]
    diff = max(np.abs(a - b).max() for other in values[1:] for a, b in zip(values[0], other))
    print(f"CNN: max |difference| to the floor over the weights after 3 SGD steps: {diff:.1e}")


def timed(rounds, number, contenders):
    """{name: minimum seconds per call} over ``rounds`` interleaved rounds of ``number`` calls each."""
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            gc.collect()
            start = now()
            for _ in range(number):
                call()
            best[name] = min(best[name], (now() - start) / number)
    return best


def report(title, best):
    floor = best["numpy"]
    line = f"  {title:48s} numpy floor {floor * 1e3:6.2f} ms | mytorch {best['mytorch'] * 1e3:6.2f} ms " \
           f"{best['mytorch'] / floor:5.2f}x floor"
    if "torch" in best:
        line += (f" | torch {best['torch'] * 1e3:6.2f} ms; mytorch / torch {best['mytorch'] / best['torch']:4.2f}x "
                 f"(goal <= {TORCH_GOAL}x)")
    print(line + f" (goal <= {FLOOR_GOAL}x floor)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=20, help="calls per round")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 2 calls")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock, not CPU time")
    args = parser.parse_args()
    global now
    if args.wall:
        now = time.perf_counter
    if args.quick:
        args.rounds, args.number = 2, 2
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"torch {torch.__version__ if torch else 'absent'}; 1 thread; float64; "
          f"{'wall-clock' if args.wall else 'CPU'} time; minimum of {args.rounds} interleaved rounds of "
          f"{args.number} calls")
    rng = np.random.default_rng(0)
    agreement(rng)

    weight, bias = conv_weights(rng, *CONV[:2], CONV[2])
    x = rng.normal(size=(BATCH, CONV[0], WIDTH))
    mytorch_run = mytorch_conv(weight, bias)[0]
    calls = {"numpy": lambda: floor_conv(x, weight, bias, CONV[3]), "mytorch": lambda: mytorch_run(x)}
    if torch is not None:
        torch_run = torch_conv(weight, bias)[0]
        calls["torch"] = lambda: torch_run(x)
    report(f"Conv1d{CONV} fwd+bwd, batch {BATCH}, width {WIDTH}", timed(args.rounds, args.number, calls))

    params = cnn_params(rng)
    xs, labels = rng.normal(size=(BATCH, 24, WIDTH)), rng.integers(0, 10, BATCH)
    floor, mstep = FloorCNN(params), mytorch_cnn(params)[0]
    calls = {"numpy": lambda: floor.step(xs, labels), "mytorch": lambda: mstep(xs, labels)}
    if torch is not None:
        tstep = torch_cnn(params)[0]
        calls["torch"] = lambda: tstep(xs, labels)
    report(f"HW2 CNN, one SGD step, batch {BATCH}", timed(args.rounds, args.number, calls))


if __name__ == "__main__":
    main()
