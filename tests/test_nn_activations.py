"""ReLU, Sigmoid, Tanh (Functions, F.* wrappers and modules) against PyTorch."""
import warnings

import numpy as np
import pytest

from mytorch import Tensor, nn
from mytorch.nn import functional as F
from nn_parity import close

CASES = [
    (nn.ReLU, F.relu, "relu"),
    (nn.Sigmoid, F.sigmoid, "sigmoid"),
    (nn.Tanh, F.tanh, "tanh"),
]


@pytest.mark.parametrize("module,func,torch_name", CASES)
@pytest.mark.parametrize("shape", [(), (5,), (4, 3), (2, 3, 4)])
def test_forward_and_backward_match_torch(torch, rng, module, func, torch_name, shape):
    x_np = rng.normal(size=shape) * 3
    g_np = rng.normal(size=shape)
    t_func = getattr(torch, torch_name)
    tx = torch.tensor(x_np, requires_grad=True)
    tout = t_func(tx)
    (tout * torch.tensor(g_np)).sum().backward()
    for apply in (module(), func):
        x = Tensor(x_np, requires_grad=True)
        out = apply(x)
        assert out.shape == shape
        close(out, tout)
        (out * Tensor(g_np)).sum().backward()
        close(x.grad, tx.grad)


def test_relu_gradient_at_zero_is_zero(torch):
    x_np = np.array([-1.0, 0.0, 0.0, 2.0])
    x = Tensor(x_np, requires_grad=True)
    nn.ReLU()(x).sum().backward()
    assert np.array_equal(x.grad.data, [0.0, 0.0, 0.0, 1.0])
    tx = torch.tensor(x_np, requires_grad=True)
    torch.relu(tx).sum().backward()
    close(x.grad, tx.grad)


def test_relu_is_a_function_in_functional():
    x = Tensor(np.array([-2.0, 3.0]), requires_grad=True)
    out = F.ReLU.apply(x)
    assert out.grad_fn.function_name == "ReLU"
    assert np.array_equal(out.data, [0.0, 3.0])


@pytest.mark.parametrize("module,func,torch_name", CASES)
def test_extreme_inputs_are_finite_without_warnings(torch, module, func, torch_name):
    x_np = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    x = Tensor(x_np, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would warn
        out = module()(x)
        out.sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))
    tx = torch.tensor(x_np, requires_grad=True)
    tout = getattr(torch, torch_name)(tx)
    tout.sum().backward()
    close(out, tout)
    close(x.grad, tx.grad)


@pytest.mark.parametrize("module", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_float32_stays_float32(module, rng):
    x = Tensor(rng.normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    out = module()(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_activation_modules_have_no_parameters():
    for module in (nn.ReLU(), nn.Sigmoid(), nn.Tanh()):
        assert module.parameters() == []
