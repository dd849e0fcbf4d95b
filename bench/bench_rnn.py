"""Speed of MyTorch's GRU and RNN over a packed batch against PyTorch's, in one run (HW3P1, issue 24).

The workload: 32 sequences of random lengths 20-50 (fixed seed), input size
40, hidden size 64, float64. One round packs the sequences, runs the layer
and back-propagates ``packed_output.data.sum() + h_final.sum()`` to the
sequences and every parameter: MyTorch's ``pack_sequence`` + ``GRU`` /
``RNN`` against ``torch.nn.utils.rnn.pack_sequence(..., enforce_sorted=False)``
+ ``torch.nn.GRU`` / ``torch.nn.RNN``. The goal is MyTorch <= 3x PyTorch.

Second part, the shape of backward: MyTorch's GRU over B = 32 sequences all of
length T, for T = 25 ... 400: backward time per step must stay flat (linear
in T), and does because ``rnn.step_rows`` cuts the packed data by halving;
the same with one slice of the whole data per step shows what halving avoids.

As bench_epoch.py: one thread, contenders alternate round by round, the
minimum over rounds, CPU time of this process (``--wall`` for wall clock).

Usage: python3 bench/bench_rnn.py [--rounds 7] [--quick] [--wall]
"""
import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mytorch import Tensor  # noqa: E402
from mytorch.nn import rnn as mt_rnn  # noqa: E402
from mytorch.nn.gru import GRU  # noqa: E402
from mytorch.nn.util import pack_sequence  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # the benchmark still runs; the ratio is left out
    torch = None

BATCH, MIN_LEN, MAX_LEN, INPUT, HIDDEN = 32, 20, 50, 40, 64
GOAL = 3.0
now = time.process_time


def make_sequences(seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=BATCH)
    return [rng.normal(size=(n, INPUT)) for n in lengths]


def mytorch_round(layer, arrays):
    seqs = [Tensor(a, requires_grad=True) for a in arrays]
    start = now()
    out, h_final = layer(pack_sequence(seqs))
    (out.data.sum() + h_final.sum()).backward()
    return now() - start


def torch_round(layer, arrays):
    seqs = [torch.tensor(a, requires_grad=True) for a in arrays]
    start = now()
    out, h_n = layer(torch.nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False))
    (out.data.sum() + h_n.sum()).backward()
    return now() - start


def compare(rounds):
    arrays = make_sequences()
    print(f"Packed batch: {BATCH} sequences, lengths {MIN_LEN}-{MAX_LEN} ({sum(len(a) for a in arrays)} rows), "
          f"input {INPUT}, hidden {HIDDEN}, float64; forward + backward, ms, minimum (median) of {rounds} rounds")
    layers = {"GRU": (GRU(INPUT, HIDDEN), torch and torch.nn.GRU(INPUT, HIDDEN, dtype=torch.float64)),
              "RNN": (mt_rnn.RNN(INPUT, HIDDEN), torch and torch.nn.RNN(INPUT, HIDDEN, dtype=torch.float64))}
    for name, (ours, theirs) in layers.items():
        times = {"mytorch": [], "torch": []}
        for _ in range(rounds):
            times["mytorch"].append(mytorch_round(ours, arrays))
            if theirs is not None:
                times["torch"].append(torch_round(theirs, arrays))
        line = f"  {name}  mytorch {_fmt(times['mytorch'])}"
        if times["torch"]:
            ratio = min(times["mytorch"]) / min(times["torch"])
            line += f"   torch {_fmt(times['torch'])}   mytorch/torch {ratio:.2f}x (goal <= {GOAL:.0f}x)"
        print(line)


def _fmt(values):
    values = sorted(values)
    return f"{values[0] * 1e3:6.1f} ({values[len(values) // 2] * 1e3:6.1f})"


def _one_slice_per_step(data, batch_sizes):
    pieces, start = [], 0
    for b in batch_sizes:
        pieces.append(data[start:start + b])
        start += b
    return pieces


def backward_shape(steps, rounds):
    print("GRU backward per time step, 32 sequences of length T, us per step (minimum of rounds):")
    halving = mt_rnn.step_rows
    rng = np.random.default_rng(1)
    for T in steps:
        arrays = [rng.normal(size=(T, INPUT)) for _ in range(BATCH)]
        layer = GRU(INPUT, HIDDEN)
        cells = []
        for cut in (halving, _one_slice_per_step):
            mt_rnn.step_rows = cut
            best = float("inf")
            for _ in range(rounds):
                seqs = [Tensor(a, requires_grad=True) for a in arrays]
                out, h_final = layer(pack_sequence(seqs))
                loss = out.data.sum() + h_final.sum()
                start = now()
                loss.backward()
                best = min(best, now() - start)
            cells.append(best / T * 1e6)
        mt_rnn.step_rows = halving
        print(f"  T = {T:4d}   halving (the reference) {cells[0]:7.1f}   one slice per step {cells[1]:7.1f}")


def main():
    global now
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, short sequences only")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock, not CPU time")
    args = parser.parse_args()
    if args.wall:
        now = time.perf_counter
    rounds = 2 if args.quick else args.rounds
    compare(rounds)
    backward_shape((25, 50) if args.quick else (25, 50, 100, 200, 400), 1 if args.quick else 3)


if __name__ == "__main__":
    main()
