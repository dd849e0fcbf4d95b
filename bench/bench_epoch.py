"""Speed and memory of MyTorch against its floor (hand-written NumPy) and PyTorch.

One training epoch of the handout MLP (784-20-BatchNorm-ReLU-10, batch 100,
cross-entropy, SGD lr 0.1 momentum 0.9) on the same random data, in float64
and float32, in three contenders:

  numpy    forward and backward derived by hand: the floor for any NumPy engine
  mytorch  this library
  torch    PyTorch eager on the CPU (skipped when torch is not installed)

The machine is shared and noisy, so every library is pinned to one thread, the
contenders are interleaved round by round, and the minimum over the rounds is
what the ratios compare (the median is shown for the spread).

First, a fairness check: one epoch from the same weights on the same data
leaves MyTorch and PyTorch with equal weights, in the benchmark's dtype.

Also measured: per-operation overhead (forward + backward of one Add or Mul on
1-element tensors), backward through a 100,000-operation chain, and peak
memory of one epoch (tracemalloc) with growth across epochs.

Usage: python3 bench/bench_epoch.py [--rows 10000] [--rounds 7] [--quick]
"""
import argparse
import gc
import os
import sys
import time
import tracemalloc

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import mytorch  # noqa: E402
from mytorch import Tensor, nn, optim  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # the benchmark still runs; torch columns are left out
    torch = None

B, D, H, C = 100, 784, 20, 10
LR, MOMENTUM = 0.1, 0.9     # SGD
EPS, BN_MOMENTUM = 1e-5, 0.1  # BatchNorm1d defaults


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, D)), rng.integers(0, C, n)


def initial_weights(dtype, seed=0):
    """The same starting point for every contender: W1, b1, gamma, beta, W2, b2."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((H, D)) * 0.03).astype(dtype), np.zeros(H, dtype),
            np.ones(H, dtype), np.zeros(H, dtype),
            (rng.standard_normal((C, H)) * 0.2).astype(dtype), np.zeros(C, dtype)]


def numpy_epoch(X, Y, dtype):
    """The floor: every gradient derived by hand, no graph, no objects."""
    W1, b1, g, be, W2, b2 = params = initial_weights(dtype)
    mom = [np.zeros_like(p) for p in params]
    rm, rv = np.zeros(H, dtype), np.ones(H, dtype)
    start = time.perf_counter()
    for s in range(0, len(X), B):
        x, y = X[s:s + B], Y[s:s + B]
        m = len(x)
        z1 = x @ W1.T + b1
        mu = z1.mean(0)
        var = z1.var(0)
        inv = 1 / np.sqrt(var + EPS)
        xh = (z1 - mu) * inv
        bn = g * xh + be
        rm = (1 - BN_MOMENTUM) * rm + BN_MOMENTUM * mu
        rv = (1 - BN_MOMENTUM) * rv + BN_MOMENTUM * var * m / (m - 1)
        a = np.maximum(bn, 0)
        z2 = a @ W2.T + b2
        e = np.exp(z2 - z2.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        _loss = -np.log(p[np.arange(m), y]).mean()
        dz2 = p
        dz2[np.arange(m), y] -= 1
        dz2 /= m
        dW2, db2, da = dz2.T @ a, dz2.sum(0), dz2 @ W2
        dbn = da * (bn > 0)
        dg, dbe = (dbn * xh).sum(0), dbn.sum(0)
        dxh = dbn * g
        dz1 = inv / m * (m * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))
        dW1, db1 = dz1.T @ x, dz1.sum(0)
        for p_, d_, v_ in zip(params, (dW1, db1, dg, dbe, dW2, db2), mom):
            v_ *= MOMENTUM
            v_ -= LR * d_
            p_ += v_
    return time.perf_counter() - start



def mytorch_model(dtype):
    model = nn.Sequential(nn.Linear(D, H), nn.BatchNorm1d(H), nn.ReLU(), nn.Linear(H, C))
    lin1, bn, _, lin2 = model.layers
    W1, b1, g, be, W2, b2 = initial_weights(dtype)
    lin1.weight.data, lin1.bias.data = W1, b1
    bn.gamma.data, bn.beta.data = g, be
    bn.running_mean.data = np.zeros(H, dtype)
    bn.running_var.data = np.ones(H, dtype)
    lin2.weight.data, lin2.bias.data = W2, b2
    return model


def mytorch_epoch(X, Y, dtype, model=None):
    model = model or mytorch_model(dtype)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    crit = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for s in range(0, len(X), B):
        opt.zero_grad()
        loss = crit(model(Tensor(X[s:s + B])), Tensor(Y[s:s + B]))
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def torch_model(dtype):
    dt = torch.float64 if dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.BatchNorm1d(H), torch.nn.ReLU(),
                                torch.nn.Linear(H, C)).to(dt)
    with torch.no_grad():
        for p, w in zip(model.parameters(), initial_weights(dtype)):
            p.copy_(torch.from_numpy(w))
    return model


def torch_epoch(X, Y, dtype, model=None):
    model = model or torch_model(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    crit = torch.nn.CrossEntropyLoss()
    xa, ya = torch.from_numpy(X), torch.from_numpy(Y)
    start = time.perf_counter()
    for s in range(0, len(X), B):
        opt.zero_grad()
        loss = crit(model(xa[s:s + B]), ya[s:s + B])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def agreement(n_rows=1000):
    """Fairness check: from the same weights on the same data, MyTorch and PyTorch end equal."""
    if torch is None:
        return
    X, Y = make_data(n_rows)
    for dtype in (np.float64, np.float32):
        mine, theirs = mytorch_model(dtype), torch_model(dtype)
        mytorch_epoch(X.astype(dtype), Y, dtype, mine)
        torch_epoch(X.astype(dtype), Y, dtype, theirs)
        diff = max(np.abs(p.data - q.detach().numpy()).max()
                   for p, q in zip(mine.parameters(), theirs.parameters()))
        dtypes = sorted({p.data.dtype.name for p in mine.parameters()} | {p.grad.data.dtype.name for p in mine.parameters()})
        print(f"{np.dtype(dtype).name}: after one {n_rows}-row epoch, max |mytorch - torch| over the "
              f"weights = {diff:.1e}; mytorch weights and gradients are {', '.join(dtypes)}")


def epoch_table(n_rows, rounds):
    X64, Y = make_data(n_rows)
    rows = []
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        contenders = {"numpy": numpy_epoch, "mytorch": mytorch_epoch}
        if torch is not None:
            contenders["torch"] = torch_epoch
        times = {name: [] for name in contenders}
        for _ in range(rounds):  # interleaved: every contender sees the same machine weather
            for name, run in contenders.items():
                gc.collect()
                times[name].append(run(X, Y, dtype))
        floor = min(times["numpy"])
        for name, ts in times.items():
            ts = sorted(ts)
            rows.append((np.dtype(dtype).name, name, ts[0] * 1e3, ts[len(ts) // 2] * 1e3, ts[0] / floor))
    print(f"\nOne epoch, {n_rows} rows, batch {B}, {rounds} interleaved rounds, 1 thread")
    print(f"{'dtype':8s} {'contender':8s} {'min ms':>9s} {'median ms':>10s} {'min/numpy':>10s}")
    for dt, name, tmin, tmed, ratio in rows:
        print(f"{dt:8s} {name:8s} {tmin:9.1f} {tmed:10.1f} {ratio:10.2f}")
    return rows


def _best_of(fn, repeat, number):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def op_overhead(repeat=7, number=2000):
    """Microseconds for forward + backward of one binary op on 1-element tensors."""
    print("\nPer-op overhead: forward + backward of one op on 1-element float64 tensors (best of "
          f"{repeat} x {number})")
    a, b = Tensor(np.ones(1), requires_grad=True), Tensor(np.ones(1), requires_grad=True)
    results = {}
    for op in ("add", "mul"):
        def mine(op=op):
            (a + b if op == "add" else a * b).backward()
        results[("mytorch", op)] = _best_of(mine, repeat, number) * 1e6
        if torch is not None:
            ta = torch.ones(1, dtype=torch.float64, requires_grad=True)
            tb = torch.ones(1, dtype=torch.float64, requires_grad=True)
            seed = torch.ones(1, dtype=torch.float64)

            def theirs(op=op):
                (ta + tb if op == "add" else ta * tb).backward(seed)
            results[("torch", op)] = _best_of(theirs, repeat, number) * 1e6
    for op in ("add", "mul"):
        line = f"  {op}: mytorch {results[('mytorch', op)]:6.1f} us"
        if torch is not None:
            line += (f"   torch {results[('torch', op)]:6.1f} us"
                     f"   ratio {results[('mytorch', op)] / results[('torch', op)]:.2f}")
        print(line)
    return results


def deep_chain(n=100_000):
    """Backward through n chained multiplications (depth n, no recursion limit)."""
    x = Tensor(np.ones(1), requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(n):
        y = y * 1.0
    built = time.perf_counter() - start
    start = time.perf_counter()
    y.backward()
    back = time.perf_counter() - start
    line = f"\n{n:,}-op chain: forward {built * 1e3:.0f} ms, backward {back * 1e3:.0f} ms"
    if torch is not None:
        tx = torch.ones(1, dtype=torch.float64, requires_grad=True)
        ty = tx
        for _ in range(n):
            ty = ty * 1.0
        start = time.perf_counter()
        ty.backward(torch.ones(1, dtype=torch.float64))
        line += f" (torch backward {(time.perf_counter() - start) * 1e3:.0f} ms)"
    print(line)
    del y
    return back


def memory(n_rows, epochs=3):
    """Peak traced memory of one epoch, and what stays allocated after each epoch."""
    X, Y = make_data(n_rows)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    numpy_epoch(X, Y, np.float64)
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    model = mytorch_model(np.float64)
    gc.collect()
    tracemalloc.start()
    after = []
    peak = 0
    for _ in range(epochs):
        tracemalloc.reset_peak()
        mytorch_epoch(X, Y, np.float64, model)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        after.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    print(f"\nMemory, one epoch float64: numpy peak {numpy_peak / 1e6:.2f} MB, mytorch peak "
          f"{peak / 1e6:.2f} MB; mytorch held after each of {epochs} epochs: "
          + ", ".join(f"{a / 1e6:.3f} MB" for a in after))
    return numpy_peak, peak, after


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1,000 rows, 3 rounds: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.rounds = 1000, 3
    print(f"numpy {np.__version__}, mytorch {mytorch.__name__}, torch {torch.__version__ if torch else 'absent'}")
    agreement()
    epoch_table(args.rows, args.rounds)
    op_overhead(number=200 if args.quick else 2000)
    deep_chain(10_000 if args.quick else 100_000)
    memory(args.rows, epochs=2 if args.quick else 3)


if __name__ == "__main__":
    main()
