"""Problem 3: train an MLP on MNIST with MyTorch (handout §3).

Run it through the MNIST autograder, which loads the data, seeds NumPy, calls
``mnist()`` and plots the accuracies it returns::

    ./grade.sh m        (or: python3 autograder/hw1_autograder/test_mnist.py)

Data, as the autograder passes it: ``train_x`` (N, 784) floats in [0, 1],
``train_y`` (N,) int64 digits 0-9; the same for ``val_x`` / ``val_y``.
"""
import numpy as np

from mytorch.autograd_engine import no_grad
from mytorch.nn.activations import ReLU
from mytorch.nn.batchnorm import BatchNorm1d
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.sequential import Sequential
from mytorch.optim.sgd import SGD
from mytorch.tensor import Tensor

# Preset by the handout; shouldn't need to change.
BATCH_SIZE = 100

# Validation only runs forward, and BatchNorm1d in eval mode treats each row
# on its own, so the batch size cannot change the accuracy: large batches
# just mean fewer Python-level steps. 1000 rows bounds the memory used.
VAL_BATCH_SIZE = 1000


def mnist(train_x, train_y, val_x, val_y, progress=None):
    """Problem 3.1: build the model, loss and optimizer, then train (handout §3.1).

    Args:
        train_x: (N, 784) floats in [0, 1]; train_y: (N,) int labels 0-9.
        val_x: (M, 784) floats in [0, 1]; val_y: (M,) int labels 0-9.
        progress: optional callback, passed on to ``train()``.

    Returns:
        The list of validation accuracies from ``train()``.

    Hint: ``SGD``'s defaults (lr=0.001, no momentum) learn slowly here: about
    0.77 validation accuracy after the 3 epochs. ``lr=0.1, momentum=0.9``
    reaches about 0.96, what the README shows for the finished library.
    """
    # BEGIN SOLUTION
    model = Sequential(Linear(784, 20), BatchNorm1d(20), ReLU(), Linear(20, 10))
    criterion = CrossEntropyLoss()
    # SGD's defaults (lr 0.001, no momentum) learn too slowly for 3 epochs;
    # lr 0.1 with momentum 0.9 ends near 96%.
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    return train(model, optimizer, criterion, train_x, train_y, val_x, val_y, progress=progress)
    # END SOLUTION


def train(model, optimizer, criterion, train_x, train_y, val_x, val_y, num_epochs=3, progress=None):
    """Problem 3.2: minibatch training, validating every 100 batches (handout §3.2).

    Each epoch shuffles the rows (with ``np.random``, so seeding NumPy makes
    runs repeatable) and takes them ``BATCH_SIZE`` at a time; the last batch
    may be smaller. After batch ``i`` of an epoch, when ``i % 100 == 0``
    (so after the first batch too), the model is validated.

    Args:
        model, optimizer, criterion: as built by ``mnist()``.
        train_x: (N, 784) floats; train_y: (N,) int labels.
        val_x: (M, 784) floats; val_y: (M,) int labels.
        num_epochs: passes over the training data.
        progress: optional callback for the autograder's progress display,
            called after every optimizer step as ``progress(epoch=e,
            num_epochs=E, batch=b, num_batches=B, loss=float)`` with
            1-based ``epoch`` and ``batch``. Training works without it.

    Returns:
        The list of validation accuracies, in order.
    """
    # BEGIN SOLUTION
    val_accuracies = []
    order = np.arange(len(train_x))
    num_batches = -(-len(order) // BATCH_SIZE)
    for epoch in range(num_epochs):
        # Shuffle indices, not the data: one small permutation per epoch
        # instead of copying the whole training set.
        np.random.shuffle(order)
        for i in range(num_batches):
            rows = order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
            # Inputs and labels are constants: requires_grad stays False.
            batch_data, batch_labels = Tensor(train_x[rows]), Tensor(train_y[rows])
            model.train()
            optimizer.zero_grad()
            loss = criterion(model(batch_data), batch_labels)
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress(epoch=epoch + 1, num_epochs=num_epochs, batch=i + 1,
                         num_batches=num_batches, loss=float(loss.data))
            if i % 100 == 0:
                val_accuracies.append(validate(model, val_x, val_y))
    return val_accuracies
    # END SOLUTION


def validate(model, val_x, val_y):
    """Problem 3.3: the fraction of ``val_x`` rows whose largest output is the label (handout §3.3).

    Puts the model in eval mode (BatchNorm1d then uses its running
    statistics) and builds no graph.

    Args:
        val_x: (M, 784) floats; val_y: (M,) int labels.

    Returns:
        The accuracy, a float in [0, 1].
    """
    # BEGIN SOLUTION
    model.eval()
    num_correct = 0
    with no_grad():
        for start in range(0, len(val_x), VAL_BATCH_SIZE):
            out = model(Tensor(val_x[start:start + VAL_BATCH_SIZE]))
            batch_preds = np.argmax(out.data, axis=1)
            num_correct += int(np.count_nonzero(batch_preds == val_y[start:start + VAL_BATCH_SIZE]))
    return num_correct / len(val_x)
    # END SOLUTION
