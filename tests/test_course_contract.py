"""What the course's later graders need of the whole library (../shared/course/CONTRACT.md, "Common to all three").

Module paths and star-imports, the initialisation contract (which draws,
in which order, and that nothing else draws), plain ndarrays in ``.data``,
no gradients kept on non-leaves, parameters read at call time, and the HW1
bonus's BatchNorm problems (Linear-BN-ReLU) against PyTorch.
"""
import importlib
import types

import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from nn_parity import assert_same_state, close, torch_twin

# Names a grader binds before star-importing our modules (torch's or its own).
GRADER_NAMES = ("nn", "torch", "os", "sys", "Variable", "F", "optim", "pdb", "traceback", "plt", "pytest")
STAR_IMPORTED = ("mytorch.nn.activations", "mytorch.nn.loss", "mytorch.nn.functional", "mytorch.autograd_engine")


# The engine's no_grad switch lives in mytorch/grad_mode.py (out of the file students edit) and is
# still part of the engine's public names.
REEXPORTED = {"mytorch.autograd_engine": {"no_grad", "is_grad_enabled"}}


def _star(module_name):
    namespace = {}
    exec(f"from {module_name} import *", namespace)
    namespace.pop("__builtins__")
    return namespace


@pytest.mark.parametrize("module_name", STAR_IMPORTED)
def test_star_import_shadows_no_grader_name(module_name):
    names = _star(module_name)
    assert not set(names) & set(GRADER_NAMES), f"{module_name} exports {set(names) & set(GRADER_NAMES)}"
    assert names.get("np", np) is np  # NumPy, if anything
    assert not [n for n, v in names.items() if isinstance(v, types.ModuleType) and v is not np]
    module = importlib.import_module(module_name)
    defined = {n for n, v in vars(module).items()
               if not n.startswith("_") and getattr(v, "__module__", None) == module_name}
    defined |= REEXPORTED.get(module_name, set())
    assert set(names) == defined  # every class and function the module defines, nothing else it imports


def test_star_imports_keep_the_public_api():
    assert {"ReLU", "Sigmoid", "Tanh"} <= set(_star("mytorch.nn.activations"))
    assert "CrossEntropyLoss" in _star("mytorch.nn.loss")
    functional = _star("mytorch.nn.functional")
    assert {"Add", "Sub", "Mul", "Div", "MatMul", "cross_entropy", "unbroadcast", "linear"} <= set(functional)
    engine = _star("mytorch.autograd_engine")
    assert {"Function", "ContextManager", "AccumulateGrad", "BackwardFunction", "backward", "no_grad"} <= set(engine)


@pytest.mark.parametrize("path, name", [
    ("mytorch.tensor", "Tensor"), ("mytorch.nn.activations", "ReLU"), ("mytorch.nn.linear", "Linear"),
    ("mytorch.nn.sequential", "Sequential"), ("mytorch.nn.loss", "CrossEntropyLoss"),
    ("mytorch.nn.batchnorm", "BatchNorm1d"), ("mytorch.nn.dropout", "Dropout"),
    ("mytorch.optim.sgd", "SGD"), ("mytorch.optim.adam", "Adam"),
])
def test_module_paths(path, name):
    assert isinstance(getattr(importlib.import_module(path), name), type)


# ------------------------------------------------------------ initialisation
def test_randn_is_one_np_random_randn_call():
    np.random.seed(0)
    t = Tensor.randn(3, 4)
    after = np.random.rand()
    np.random.seed(0)
    assert np.array_equal(t.data, np.random.randn(3, 4)) and np.random.rand() == after
    assert type(t.data) is np.ndarray and t.dtype == np.float64
    np.random.seed(0)
    assert np.array_equal(Tensor.randn((2, 5)).data, (np.random.seed(0), np.random.randn(2, 5))[1])
    scalar = Tensor.randn()
    assert type(scalar.data) is np.ndarray and scalar.shape == ()


def test_a_model_draws_its_linears_in_order_and_nothing_else():
    np.random.seed(42)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.3), nn.Sigmoid(),
                          nn.Tanh(), nn.Linear(4, 3))
    nn.CrossEntropyLoss()
    optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    optim.Adam(model.parameters())
    after = np.random.rand()
    np.random.seed(42)
    w1, b1 = (np.random.rand(4, 5) - 0.5) / 5, (np.random.rand(4) - 0.5) / 5
    w2, b2 = (np.random.rand(3, 4) - 0.5) / 4, (np.random.rand(3) - 0.5) / 4
    assert np.random.rand() == after
    for got, expected in zip(model.parameters()[:2] + model.parameters()[4:], (w1, b1, w2, b2)):
        assert np.array_equal(got.data, expected) and got.dtype == np.float64


def test_forward_backward_and_steps_draw_nothing_without_dropout(rng):
    np.random.seed(8)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    opts = [optim.SGD(model.parameters(), lr=0.1, momentum=0.9), optim.Adam(model.parameters())]
    x, y = Tensor(rng.normal(size=(6, 5))), Tensor(rng.integers(0, 3, 6))
    state = np.random.get_state()
    for opt in opts:
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    model.eval()
    model(x)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state[1:2], after[1:2])) and state[2] == after[2]


# ------------------------------------------------------- values and gradients
def test_data_is_always_a_plain_ndarray_and_a_loss_is_0d(rng):
    np.random.seed(1)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.2), nn.Linear(4, 3))
    x = Tensor(rng.normal(size=(6, 5)), requires_grad=True)
    out = model(x)
    loss = nn.CrossEntropyLoss()(out, Tensor(rng.integers(0, 3, 6)))
    assert type(loss.data) is np.ndarray and loss.data.shape == () and loss.dtype == np.float64
    for t in (out, x * 2, x.sum(), (x * x).sum(), x.sum() / 3, (x * x).sum().log(), x.sum().exp()):
        assert type(t.data) is np.ndarray
    loss.backward()
    for p in model.parameters() + [x]:
        assert type(p.data) is np.ndarray and type(p.grad.data) is np.ndarray and p.dtype == np.float64


def test_non_leaf_tensors_keep_no_gradient(rng):
    np.random.seed(1)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.2), nn.Linear(4, 3))
    x = Tensor(rng.normal(size=(6, 5)), requires_grad=True)
    hidden = model[0](x)
    out = model[4](model[3](model[2](model[1](hidden))))
    loss = nn.CrossEntropyLoss()(out, Tensor(rng.integers(0, 3, 6)))
    loss.backward()
    assert hidden.grad is None and out.grad is None and loss.grad is None
    assert x.grad is not None
    leaf = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    y = leaf * 3
    y.backward()  # a non-scalar output seeds ones (the handout's rule)
    assert y.grad is None and np.array_equal(leaf.grad.data, np.full((2, 3), 3.0))


def test_layers_read_their_parameters_at_call_time(rng):
    # Graders write PyTorch's values into .data (or rebind .data) between calls.
    np.random.seed(2)
    lin, bn = nn.Linear(3, 2), nn.BatchNorm1d(2)
    x = rng.normal(size=(4, 3))
    w, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    gamma, beta = rng.normal(size=2), rng.normal(size=2)
    lin.weight.data = w.copy()
    lin.bias.data[...] = b
    bn.gamma.data = gamma.copy()
    bn.beta.data[...] = beta
    bn.running_mean.data = np.array([0.5, -0.5])
    bn.running_var.data[...] = [2.0, 3.0]
    z = x @ w.T + b
    close(lin(Tensor(x)), z, rtol=1e-13)
    bn.eval()
    close(bn(Tensor(z)), gamma * (z - [0.5, -0.5]) / np.sqrt(np.array([2.0, 3.0]) + 1e-5) + beta, rtol=1e-12)


# ------------------------------------------------------- the bonus's BatchNorm
def _steps(torch, model, twin, rng, train_steps, eval_steps, sizes):
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.5)
    criterion, tcriterion = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step in range(train_steps + eval_steps):
        training = step < train_steps
        model.train(training)
        twin.train(training)
        x, y = rng.normal(1.0, 2.0, size=(8, sizes[0])), rng.integers(0, sizes[-1], 8)
        out, tout = model(Tensor(x)), twin(torch.tensor(x))
        close(out, tout)
        if training:
            opt.zero_grad()
            topt.zero_grad()
            loss, tloss = criterion(out, Tensor(y)), tcriterion(tout, torch.tensor(y))
            close(loss, tloss)
            loss.backward()
            tloss.backward()
            opt.step()
            topt.step()
        assert_same_state(model, twin)


def test_bonus_batchnorm_block_forward_and_backward_in_training(torch, rng):
    np.random.seed(3)
    block = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU())
    twin = torch_twin(torch, block)
    x = rng.normal(size=(10, 6))
    xt, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = block(xt), twin(tx)
    close(out, tout)
    out.backward()  # ones-seeded
    tout.backward(torch.ones_like(tout))
    close(xt.grad, tx.grad)
    assert_same_state(block, twin)


@pytest.mark.parametrize("blocks", [1, 2])
def test_bonus_batchnorm_train_and_eval_steps(torch, rng, blocks):
    np.random.seed(4)
    sizes = [6, 5, 4][:blocks + 1]
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 3))
    _steps(torch, model, torch_twin(torch, model), rng, 5, 5, sizes + [3])
