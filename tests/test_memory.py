"""Memory: a training step's graph is freed by reference counting alone, and nothing grows.

The checks run with the cyclic garbage collector disabled: if any object of a
step (node, ctx, saved array, intermediate tensor) sat in a reference cycle,
it would outlive the step and these tests would fail.
"""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from mytorch.autograd_engine import BackwardFunction, topological_sort


@pytest.fixture
def no_cycle_collector():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def make_training(rng, dtype=np.float64):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = Tensor(rng.random((8, 6)).astype(dtype))
    y = Tensor(rng.integers(0, 3, 8))
    return model, opt, nn.CrossEntropyLoss(), x, y


def test_a_training_step_graph_dies_with_the_loss(rng, no_cycle_collector):
    model, opt, criterion, x, y = make_training(rng)
    opt.zero_grad()
    logits = model(x)
    loss = criterion(logits, y)
    nodes = topological_sort(loss.grad_fn)
    assert len(nodes) == 11  # 5 operations + 6 parameters
    contexts = [node.ctx for node in nodes if isinstance(node, BackwardFunction)]
    # Arrays the step made for backward (not the inputs' or parameters' own data).
    owned = [t.data for t in model.parameters() + [x, y]]
    saved = [value for ctx in contexts for value in vars(ctx).values()
             if isinstance(value, np.ndarray) and not any(value is data for data in owned)]
    assert saved, "expected the fused operations to keep arrays for backward"
    refs = [weakref.ref(obj) for obj in nodes + contexts + saved + [logits]]
    loss.backward()
    opt.step()
    del nodes, contexts, saved, logits, loss
    alive = [ref() for ref in refs if ref() is not None]
    assert alive == [], f"still alive after the step (a reference cycle?): {alive}"


def test_an_unused_graph_dies_too(rng, no_cycle_collector):
    # Forward only (evaluation without no_grad, or a loss that is never used).
    model, _, criterion, x, y = make_training(rng)
    loss = criterion(model(x), y)
    refs = [weakref.ref(node) for node in topological_sort(loss.grad_fn)]
    del loss
    assert all(ref() is None for ref in refs)


def test_elementary_operations_leave_no_cycles(no_cycle_collector):
    x = Tensor(np.array([0.5, 1.5, 2.0]), requires_grad=True)
    y = ((x * 2.0 + 1.0) / 3.0 + x.exp()).log().sum() ** 2 + (x @ x) + x.T().reshape(3, 1).sum()
    refs = [weakref.ref(node) for node in topological_sort(y.grad_fn)]
    y.backward()
    del y
    assert all(ref() is None for ref in refs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_memory_does_not_grow_across_steps(rng, no_cycle_collector, dtype):
    model, opt, criterion, x, y = make_training(rng, dtype)

    def step():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()

    tracemalloc.start()
    try:
        # The first steps create the gradients, the optimizer's state and
        # the interpreter's one-off caches for this code.
        for _ in range(5):
            step()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            step()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # NumPy's small caches of freed blocks may fill a little; anything a step
    # kept (a single Tensor with its array is over 150 bytes) would add up
    # to far more than this over 100 steps.
    assert after - before < 1000, f"memory grew by {after - before} bytes over 100 training steps"
