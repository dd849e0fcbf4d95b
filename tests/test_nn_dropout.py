"""Dropout (HW1 bonus): the contract's mask rule, inverted scaling, backward, eval identity, PyTorch parity."""
import numpy as np
import pytest

from mytorch import Tensor, nn
from mytorch.nn.dropout import Dropout, DropoutFunction
from nn_parity import close


def test_defaults_module_path_and_repr():
    layer = Dropout()
    assert nn.Dropout is Dropout
    assert layer.p == 0.5 and layer.is_train and layer.parameters() == []
    assert repr(layer) == "Dropout(p=0.5)"


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_forward_is_one_binomial_draw_scaled_by_one_over_keep(p):
    x = np.random.default_rng(1).normal(size=(6, 5))
    np.random.seed(3)
    out = Dropout(p)(Tensor(x))
    after = np.random.rand()
    np.random.seed(3)
    mask = np.random.binomial(1, 1 - p, size=x.shape)
    assert np.random.rand() == after  # exactly one draw of that size
    np.testing.assert_allclose(out.data, x * mask / (1 - p), rtol=1e-15)
    assert type(out.data) is np.ndarray and out.dtype == np.float64


def test_each_training_forward_draws_a_new_mask():
    x = Tensor(np.ones((50, 40)))
    layer = Dropout(0.5)
    np.random.seed(0)
    first, second = layer(x).data, layer(x).data
    np.random.seed(0)
    m1 = np.random.binomial(1, 0.5, size=(50, 40))
    m2 = np.random.binomial(1, 0.5, size=(50, 40))
    assert np.array_equal(first, 2.0 * m1) and np.array_equal(second, 2.0 * m2)
    assert not np.array_equal(first, second)


def test_backward_uses_the_same_mask_and_scale(rng):
    x = Tensor(rng.normal(size=(4, 7)), requires_grad=True)
    g = rng.normal(size=(4, 7))
    np.random.seed(11)
    out = Dropout(0.3)(x)
    out.backward(Tensor(g))
    np.random.seed(11)
    mask = np.random.binomial(1, 0.7, size=(4, 7))
    np.testing.assert_allclose(x.grad.data, g * mask / 0.7, rtol=1e-15)
    assert out.grad is None and not out.is_leaf  # a non-leaf keeps no gradient


def test_function_forward_and_backward_called_directly():
    from mytorch.autograd_engine import ContextManager
    ctx = ContextManager()
    x = Tensor(np.arange(1.0, 7.0).reshape(2, 3))
    np.random.seed(4)
    out = DropoutFunction.forward(ctx, x, 0.25)
    np.random.seed(4)
    mask = np.random.binomial(1, 0.75, size=(2, 3))
    np.testing.assert_allclose(out.data, x.data * mask / 0.75, rtol=1e-15)
    (grad,) = DropoutFunction.backward(ctx, Tensor(np.ones((2, 3))))
    np.testing.assert_allclose(grad.data, mask / 0.75, rtol=1e-15)


def test_p_one_drops_everything_without_nan():
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    out = Dropout(1.0)(x)
    out.backward()
    assert not out.data.any() and not x.grad.data.any()


def test_eval_is_the_identity_and_draws_nothing():
    x = Tensor(np.random.default_rng(2).normal(size=(3, 4)), requires_grad=True)
    layer = Dropout(0.5).eval()
    np.random.seed(9)
    expected_next = np.random.rand()
    np.random.seed(9)
    out = layer(x)
    assert out is x
    assert np.random.rand() == expected_next
    layer.train()
    assert not np.array_equal(layer(x).data, x.data)


def test_constructing_draws_nothing():
    np.random.seed(2)
    expected = np.random.rand()
    np.random.seed(2)
    Dropout(0.4)
    assert np.random.rand() == expected


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    out = Dropout(0.5)(x)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_mean_is_kept_in_expectation():
    np.random.seed(0)
    out = Dropout(0.3)(Tensor(np.ones((400, 500)))).data
    assert abs(out.mean() - 1.0) < 0.01
    assert set(np.unique(out)) == {0.0, 1 / 0.7}


def test_matches_torch_given_the_same_mask(torch, rng):
    # PyTorch draws its mask from its own generator: give it ours through a
    # multiplication, and compare a Linear-ReLU-Dropout block's values and gradients.
    np.random.seed(6)
    block = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), Dropout(0.4))
    x = rng.normal(size=(8, 5))
    xt = Tensor(x, requires_grad=True)
    np.random.seed(21)
    out = block(xt)
    loss = (out * out).sum()
    loss.backward()
    np.random.seed(21)
    mask = torch.tensor(np.random.binomial(1, 0.6, size=(8, 4)).astype(np.float64))
    lin = torch.nn.Linear(5, 4, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(block[0].weight.data))
        lin.bias.copy_(torch.from_numpy(block[0].bias.data))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.relu(lin(tx)) * mask / 0.6
    (tout * tout).sum().backward()
    close(out, tout)
    close(xt.grad, tx.grad)
    close(block[0].weight.grad, lin.weight.grad)
    close(block[0].bias.grad, lin.bias.grad)
    # and torch's own dropout keeps the same kind of mask: zeros or 1/(1-p) times the input
    tdrop = torch.nn.functional.dropout(torch.ones(1000, dtype=torch.float64), p=0.4, training=True)
    assert set(np.unique(tdrop.numpy()).round(12)) <= {0.0, round(1 / 0.6, 12)}


def test_eval_matches_torch_eval(torch, rng):
    x = rng.normal(size=(3, 4))
    tdrop = torch.nn.Dropout(0.5).eval()
    close(Dropout(0.5).eval()(Tensor(x)), tdrop(torch.tensor(x)))


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, None])
def test_bad_p_is_refused(p):
    with pytest.raises(ValueError, match=r"Dropout: p \(the probability of zeroing an element\) must be "
                                         r"a number in \[0, 1\], got"):
        Dropout(p)


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match=r"Dropout\(p=0.5\): input must be a Tensor, got ndarray"):
        Dropout()(np.ones(3))
    with pytest.raises(TypeError, match=r"Dropout\(p=0.5\): expected a floating-point input, got dtype int64"):
        Dropout()(Tensor(np.ones(3, dtype=np.int64)))
