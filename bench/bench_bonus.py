"""The HW1 bonus's cost: one MNIST-sized epoch with Adam, and with Dropout, against hand-written NumPy.

Three training setups of the handout MLP (784-20-BatchNorm-ReLU-10, cross-entropy)
on the same random rows from the same starting weights, float64:

    sgd      SGD lr 0.1 momentum 0.9 (the handout's; the baseline ratio)
    adam     Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8 instead of SGD
    dropout  Dropout(0.2) after the ReLU, SGD as above

each in two contenders: ``numpy`` (every gradient and update written by hand:
the floor) and ``mytorch``. Adam and Dropout "add no more than their NumPy
cost" when their rows' ratio to the floor is no higher than the sgd row's.
As in bench_epoch.py: one thread, contenders interleaved round by round,
minimum CPU time of this process (``--wall`` for wall-clock time).

Usage: python3 bench/bench_bonus.py [--rows 10000] [--rounds 7] [--batch 100 ...] [--quick] [--wall]
"""
import argparse
import gc
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mytorch import Tensor, nn, optim  # noqa: E402

D, H, C = 784, 20, 10
LR, MOMENTUM = 0.1, 0.9
ADAM_LR, BETAS, ADAM_EPS = 1e-3, (0.9, 0.999), 1e-8
P_DROP = 0.2
EPS, BN_MOMENTUM = 1e-5, 0.1
SETUPS = ("sgd", "adam", "dropout")
now = time.process_time


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, D)), rng.integers(0, C, n)


def initial_weights(seed=0):
    """W1, b1, gamma, beta, W2, b2: the same start for both contenders."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((H, D)) * 0.03, np.zeros(H), np.ones(H), np.zeros(H),
            rng.standard_normal((C, H)) * 0.2, np.zeros(C)]


# ------------------------------------------------------------------ the floor
def _updater(setup, params):
    """The hand-written optimizer step for ``setup``: a function of the gradients."""
    if setup == "adam":
        ms, vs = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
        t = [0]
        b1, b2 = BETAS

        def step(grads):
            t[0] += 1
            c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
            for p, g, m, v in zip(params, grads, ms, vs):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * (g * g)
                p -= ADAM_LR * (m / c1) / (np.sqrt(v / c2) + ADAM_EPS)
        return step
    velocities = [np.zeros_like(p) for p in params]

    def step(grads):
        for p, g, v in zip(params, grads, velocities):
            v *= MOMENTUM
            v -= LR * g
            p += v
    return step


def numpy_epoch(X, Y, setup, batch, params=None):
    """One epoch, every gradient derived by hand; ``params`` (updated in place) default to initial_weights()."""
    W1, b1, g, be, W2, b2 = params = initial_weights() if params is None else params
    step = _updater(setup, params)
    rm, rv = np.zeros(H), np.ones(H)
    np.random.seed(0)
    start = now()
    for s in range(0, len(X), batch):
        x, y = X[s:s + batch], Y[s:s + batch]
        m = len(x)
        z1 = x @ W1.T + b1
        mu, var = z1.mean(0), z1.var(0)
        inv = 1 / np.sqrt(var + EPS)
        xh = (z1 - mu) * inv
        bn = g * xh + be
        rm = (1 - BN_MOMENTUM) * rm + BN_MOMENTUM * mu
        rv = (1 - BN_MOMENTUM) * rv + BN_MOMENTUM * var * m / (m - 1)
        a = np.maximum(bn, 0)
        if setup == "dropout":
            keep = np.random.binomial(1, 1 - P_DROP, size=a.shape) * (1 / (1 - P_DROP))
            a = a * keep
        z2 = a @ W2.T + b2
        e = np.exp(z2 - z2.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        dz2 = p
        dz2[np.arange(m), y] -= 1
        dz2 /= m
        dW2, db2, da = dz2.T @ a, dz2.sum(0), dz2 @ W2
        if setup == "dropout":
            da = da * keep
        dbn = da * (bn > 0)
        dg, dbe = (dbn * xh).sum(0), dbn.sum(0)
        dxh = dbn * g
        dz1 = inv / m * (m * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))
        step((dz1.T @ x, dz1.sum(0), dg, dbe, dW2, db2))
    return now() - start


# ---------------------------------------------------------------------- mytorch
def mytorch_model(setup):
    layers = [nn.Linear(D, H), nn.BatchNorm1d(H), nn.ReLU()]
    layers += [nn.Dropout(P_DROP)] if setup == "dropout" else []
    model = nn.Sequential(*layers, nn.Linear(H, C))
    for p, w in zip(model.parameters(), initial_weights()):
        p.data = w
    return model


def mytorch_epoch(X, Y, setup, batch, model=None):
    model = model or mytorch_model(setup)
    if setup == "adam":
        opt = optim.Adam(model.parameters(), lr=ADAM_LR, betas=BETAS, eps=ADAM_EPS)
    else:
        opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    crit = nn.CrossEntropyLoss()
    model.train()
    np.random.seed(0)
    start = now()
    for s in range(0, len(X), batch):
        opt.zero_grad()
        loss = crit(model(Tensor(X[s:s + batch])), Tensor(Y[s:s + batch]))
        loss.backward()
        opt.step()
    return now() - start


def agreement(n_rows=1000, batch=100):
    """Fairness check: both contenders end with the same weights (same masks: the same seed)."""
    X, Y = make_data(n_rows)
    for setup in SETUPS:
        model = mytorch_model(setup)
        mytorch_epoch(X, Y, setup, batch, model)
        mine = [p.data for p in model.parameters()]
        theirs = initial_weights()
        numpy_epoch(X, Y, setup, batch, theirs)
        diff = max(np.abs(a - b).max() for a, b in zip(mine, theirs))
        print(f"{setup}: after one {n_rows}-row epoch, max |mytorch - numpy| over the weights = {diff:.1e}")


def table(n_rows, rounds, batches):
    X, Y = make_data(n_rows)
    configs = [(setup, batch) for batch in batches for setup in SETUPS]
    times = {(c, name): [] for c in configs for name in ("numpy", "mytorch")}
    for _ in range(rounds):
        for setup, batch in configs:
            for name, run in (("numpy", numpy_epoch), ("mytorch", mytorch_epoch)):
                gc.collect()
                times[(setup, batch), name].append(run(X, Y, setup, batch))
    print(f"\nOne float64 epoch of {n_rows:,} rows; minimum (median) ms over {rounds} interleaved rounds; "
          "ratio to the numpy floor")
    print(f"{'setup':8s} {'batch':>5s} | {'numpy floor':>17s} | {'mytorch':>24s}")
    ratios = {}
    for setup, batch in configs:
        floor = sorted(times[(setup, batch), "numpy"])
        mine = sorted(times[(setup, batch), "mytorch"])
        ratios[setup, batch] = mine[0] / floor[0]
        print(f"{setup:8s} {batch:5d} | {floor[0] * 1e3:7.1f} ({floor[len(floor) // 2] * 1e3:7.1f}) | "
              f"{mine[0] * 1e3:7.1f} ({mine[len(mine) // 2] * 1e3:7.1f}) {ratios[setup, batch]:5.2f}x")
    for batch in batches:
        base = ratios["sgd", batch]
        print(f"batch {batch}: adam {ratios['adam', batch] - base:+.2f}, dropout "
              f"{ratios['dropout', batch] - base:+.2f} against the sgd row's ratio {base:.2f}x")
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 rows, 2 rounds")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock, not CPU time")
    args = parser.parse_args()
    global now
    if args.wall:
        now = time.perf_counter
    if args.quick:
        args.rows, args.rounds = 1000, 2
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}; 1 thread; "
          f"{'wall-clock' if args.wall else 'CPU'} time")
    agreement()
    table(args.rows, args.rounds, args.batch)


if __name__ == "__main__":
    main()
