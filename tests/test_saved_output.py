"""Operations whose backward reads their own result (ctx.save_output) refuse a result changed in place.

PyTorch refuses these too: exp, relu, sigmoid and tanh save their result.
"""
import numpy as np
import pytest

from mytorch import Tensor, no_grad
from mytorch.nn import functional as F

OPS = {
    "exp": (lambda x: x.exp(), "exp"),
    "relu": (F.ReLU.apply, "relu"),
    "sigmoid": (F.Sigmoid.apply, "sigmoid"),
    "tanh": (F.Tanh.apply, "tanh"),
    "max": (lambda x: x.max(), None),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_result_changed_in_place_is_refused(name, torch):
    op, torch_name = OPS[name]
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = op(x)
    total = y.sum()
    with no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        total.backward()
    assert x.grad is None
    if torch_name is not None:  # PyTorch refuses the same program
        tx = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
        ty = getattr(torch, torch_name)(tx)
        ttotal = ty.sum()
        with torch.no_grad():
            ty += 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            ttotal.backward()


@pytest.mark.parametrize("name", sorted(OPS))
def test_unchanged_result_still_backpropagates(name):
    op, _ = OPS[name]
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = op(x)
    other = Tensor(np.ones(2))
    with no_grad():
        other += 1  # an in-place change elsewhere does not stop this graph
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (3,)


def test_a_view_of_the_result_changed_in_place_is_refused():
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()
    total = y.sum()
    with no_grad():
        view = y.detach()
        view += 1
    with pytest.raises(RuntimeError, match="result of Exp"):
        total.backward()
