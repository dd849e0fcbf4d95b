"""Module, Sequential and the nn package: parameter discovery, modes, errors, imports."""
import subprocess
import sys

import numpy as np
import pytest

import mytorch
from mytorch import Tensor, nn
from nn_parity import close, torch_twin


def param(*shape):
    return Tensor(np.zeros(shape), requires_grad=True, is_parameter=True)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.scale = param(4)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.first(x) * self.scale)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = [Block(), Block()]
        self.extras = (param(2), param(3))
        self.head = nn.Sequential(nn.Linear(4, 2), nn.ReLU())
        self.constant = Tensor(np.ones(3))                           # not a parameter
        self.not_trained = Tensor(np.ones(3), requires_grad=True)    # not a parameter either


def test_parameters_finds_nested_modules_lists_and_tuples_in_definition_order():
    net = Net()
    b0, b1 = net.blocks
    expected = [b0.first.weight, b0.first.bias, b0.scale, b0.norm.gamma, b0.norm.beta,
                b1.first.weight, b1.first.bias, b1.scale, b1.norm.gamma, b1.norm.beta,
                net.extras[0], net.extras[1],
                net.head.layers[0].weight, net.head.layers[0].bias]
    found = net.parameters()
    assert len(found) == len(expected)
    assert all(a is b for a, b in zip(found, expected))


def test_parameters_lists_a_shared_layer_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    found = model.parameters()
    assert len(found) == 2
    assert found[0] is shared.weight and found[1] is shared.bias


def test_parameters_skips_running_statistics_and_plain_tensors():
    bn = nn.BatchNorm1d(3)
    found = bn.parameters()
    assert found == [bn.gamma, bn.beta]
    assert not any(p is bn.running_mean or p is bn.running_var for p in found)


def test_parameters_of_a_module_without_any_is_empty():
    assert nn.ReLU().parameters() == []
    assert nn.Sequential().parameters() == []


def test_train_and_eval_recurse_into_submodules():
    net = Net()
    modules = net.modules()
    assert all(m.is_train for m in modules)
    assert len(modules) == 10
    assert net.eval() is net
    assert all(not m.is_train for m in modules)
    assert net.train() is net
    assert all(m.is_train for m in modules)
    net.train(False)
    assert all(not m.is_train for m in modules)


def test_modules_lists_each_module_once():
    net = Net()
    b0, b1 = net.blocks
    seq = net.head
    expected = [net, b0, b0.first, b0.norm, b1, b1.first, b1.norm, seq, seq.layers[0], seq.layers[1]]
    found = net.modules()
    assert len(found) == len(expected)
    assert all(a is b for a, b in zip(found, expected))
    shared = nn.ReLU()
    assert len(nn.Sequential(shared, shared).modules()) == 2


def test_call_runs_forward():
    class Double(nn.Module):
        def forward(self, x, factor=2):
            return x * factor

    out = Double()(Tensor([1.0, 2.0]), factor=3)
    assert np.array_equal(out.data, [3.0, 6.0])


def test_forward_not_defined_says_so():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty()(Tensor(1.0))


class Forgetful(nn.Module):
    def __init__(self):
        self.layer = nn.Linear(2, 2)  # no super().__init__()

    def forward(self, x):
        return self.layer(x) if self.is_train else x


@pytest.mark.parametrize("action", [
    lambda m: m(Tensor(np.ones((1, 2)))),
    lambda m: m.parameters(),
    lambda m: m.eval(),
    lambda m: m.forward(Tensor(np.ones((1, 2)))),
])
def test_forgetting_super_init_gives_a_clear_error(action):
    with pytest.raises((RuntimeError, AttributeError), match=r"Forgetful.__init__ must call super\(\).__init__\(\)"):
        action(Forgetful())


def test_missing_attribute_error_is_the_usual_one():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 2).wieght


def test_sequential_keeps_layers_and_applies_them_in_order():
    a, b, c = nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)
    model = nn.Sequential(a, b, c)
    assert model.layers == (a, b, c)
    assert len(model) == 3 and model[0] is a and list(model) == [a, b, c]
    x = Tensor(np.random.default_rng(1).normal(size=(4, 3)))
    assert np.array_equal(model(x).data, c(b(a(x))).data)


def test_empty_sequential_is_the_identity():
    x = Tensor(np.arange(3.0))
    assert nn.Sequential()(x) is x


def test_sequential_refuses_a_list_with_a_hint():
    with pytest.raises(TypeError, match=r"Sequential: layer 0 is a list, expected a Module; .*Sequential\(\*layers\)"):
        nn.Sequential([nn.ReLU()])
    with pytest.raises(TypeError, match="Sequential: layer 1 is a function, expected a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_sequential_stack_matches_torch(torch, rng):
    np.random.seed(3)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.Sigmoid(),
                          nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    twin = torch_twin(torch, model)
    x_np = rng.normal(size=(6, 5))
    x, tx = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    g = rng.normal(size=(6, 3))
    out, tout = model(x), twin(tx)
    close(out, tout)
    (out * Tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    close(x.grad, tx.grad)
    for p, tp in zip(model.parameters(), twin.parameters()):
        close(p.grad, tp.grad)


def test_repr_shows_structure():
    model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))
    text = repr(model)
    assert "(0): Linear(in_features=784, out_features=20)" in text
    assert "(1): BatchNorm1d(20, eps=1e-05, momentum=0.1)" in text
    assert "(2): ReLU()" in text
    assert repr(Block()).startswith("Block(\n  (first): Linear(")
    assert "(blocks[1]): Block(" in repr(Net())


def test_nn_package_exports():
    for name in ["Module", "Sequential", "Linear", "ReLU", "Sigmoid", "Tanh", "BatchNorm1d",
                 "CrossEntropyLoss", "functional"]:
        assert hasattr(nn, name), name
    assert mytorch.optim.SGD is not None and mytorch.optim.Optimizer is not None


@pytest.mark.parametrize("module", [
    "mytorch.nn.module", "mytorch.nn.sequential", "mytorch.nn.linear", "mytorch.nn.activations",
    "mytorch.nn.batchnorm", "mytorch.nn.loss", "mytorch.nn.functional", "mytorch.nn",
    "mytorch.optim", "mytorch.optim.optimizer", "mytorch.optim.sgd",
])
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    code = f"import {module}; import sys; assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
