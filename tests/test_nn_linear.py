"""Linear layer and F.linear: parity with PyTorch, initialisation, dtypes, errors."""
import numpy as np
import pytest

from mytorch import Tensor, nn
from mytorch.nn import functional as F
from nn_parity import close, torch_twin


def run_both(torch, layer, x_np, g_np, x_grad=True):
    """Forward and backward (with upstream gradient g) in MyTorch and in torch."""
    twin = torch_twin(torch, layer)
    x = Tensor(x_np, requires_grad=x_grad)
    tx = torch.tensor(x_np, requires_grad=x_grad)
    out, tout = layer(x), twin(tx)
    (out * Tensor(g_np)).sum().backward()
    (tout * torch.from_numpy(g_np)).sum().backward()
    return x, tx, out, tout, twin


# 600: a float64 batch of 500 rows or more takes another form of the weight-gradient product.
@pytest.mark.parametrize("batch", [1, 2, 5, 7, 600])
@pytest.mark.parametrize("in_features,out_features", [(1, 1), (3, 4), (10, 2)])
def test_forward_and_backward_match_torch(torch, rng, batch, in_features, out_features):
    layer = nn.Linear(in_features, out_features)
    x_np = rng.normal(size=(batch, in_features))
    g_np = rng.normal(size=(batch, out_features))
    x, tx, out, tout, twin = run_both(torch, layer, x_np, g_np)
    close(out, tout)
    close(x.grad, tx.grad)
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)
    assert out.grad_fn.function_name == "LinearFunction"


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_single_sample_and_extra_leading_axes_match_torch(torch, rng, shape):
    layer = nn.Linear(4, 3)
    x_np = rng.normal(size=shape)
    g_np = rng.normal(size=shape[:-1] + (3,))
    x, tx, out, tout, twin = run_both(torch, layer, x_np, g_np)
    assert out.shape == shape[:-1] + (3,)
    close(out, tout)
    close(x.grad, tx.grad)
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)


def test_input_without_grad_gets_none_and_weights_still_learn(torch, rng):
    layer = nn.Linear(5, 3)
    x, tx, out, tout, twin = run_both(torch, layer, rng.normal(size=(4, 5)), rng.normal(size=(4, 3)),
                                      x_grad=False)
    assert x.grad is None
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)


def test_backward_returns_none_for_inputs_that_need_no_grad(rng):
    x = Tensor(rng.normal(size=(4, 5)))
    w = Tensor(rng.normal(size=(3, 5)), requires_grad=True)
    b = Tensor(rng.normal(size=3))
    out = F.linear(x, w, b)
    grads = out.grad_fn.apply(Tensor(np.ones((4, 3))))
    assert grads[0] is None and grads[2] is None
    close(grads[1], np.ones((4, 3)).T @ x.data)


def test_layer_used_twice_accumulates(torch, rng):
    layer = nn.Linear(3, 3)
    twin = torch_twin(torch, layer)
    x_np = rng.normal(size=(2, 3))
    layer(layer(Tensor(x_np))).sum().backward()
    twin(twin(torch.from_numpy(x_np))).sum().backward()
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)


def test_functional_linear_without_bias_matches_torch(torch, rng):
    x_np, w_np = rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    x, w = Tensor(x_np, requires_grad=True), Tensor(w_np, requires_grad=True)
    tx, tw = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    out, tout = F.linear(x, w), torch.nn.functional.linear(tx, tw)
    close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    close(x.grad, tx.grad)
    close(w.grad, tw.grad)


def test_attributes_and_parameter_flags():
    layer = nn.Linear(6, 4)
    assert (layer.in_features, layer.out_features) == (6, 4)
    assert layer.weight.shape == (4, 6) and layer.bias.shape == (4,)
    for p in (layer.weight, layer.bias):
        assert p.is_parameter and p.requires_grad and p.is_leaf and p.grad is None
        assert p.dtype == np.float64
    assert layer.parameters() == [layer.weight, layer.bias]


def test_init_follows_the_course_contract_draw_by_draw():
    # One np.random.rand(out, in) for the weight, then one np.random.rand(out)
    # for the bias, each mapped to (u - 0.5) / in; nothing else draws.
    np.random.seed(7)
    layer = nn.Linear(16, 500)
    after = np.random.rand()
    np.random.seed(7)
    w = (np.random.rand(500, 16) - 0.5) / 16
    b = (np.random.rand(500) - 0.5) / 16
    assert np.array_equal(layer.weight.data, w) and np.array_equal(layer.bias.data, b)
    assert np.random.rand() == after  # the layer drew exactly those two arrays
    for p in (layer.weight, layer.bias):
        assert type(p.data) is np.ndarray and p.dtype == np.float64
        assert np.all(np.abs(p.data) <= 0.5 / 16)
        assert p.data.max() > 0.45 / 16 and p.data.min() < -0.45 / 16  # fills the range
    np.random.seed(7)
    assert np.array_equal(nn.Linear(16, 500).weight.data, w)


def test_init_without_bias_draws_the_weight_only():
    np.random.seed(3)
    layer = nn.Linear(4, 3, bias=False)
    after = np.random.rand()
    np.random.seed(3)
    assert np.array_equal(layer.weight.data, (np.random.rand(3, 4) - 0.5) / 4)
    assert np.random.rand() == after


def test_float32_stays_float32(rng):
    layer = nn.Linear(3, 2)
    layer.weight.data = layer.weight.data.astype(np.float32)
    layer.bias.data = layer.bias.data.astype(np.float32)
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    out = layer(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32


def test_float32_input_with_float64_weights_follows_numpy_promotion(rng):
    layer = nn.Linear(3, 2)
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32))
    out = layer(x)
    assert out.dtype == np.result_type(np.float32, np.float64)
    close(out, x.data @ layer.weight.data.T + layer.bias.data, rtol=1e-6)


def test_wrong_feature_count_names_layer_and_both_sizes():
    with pytest.raises(ValueError) as err:
        nn.Linear(10, 20)(Tensor(np.zeros((4, 7))))
    message = str(err.value)
    assert "Linear(in_features=10, out_features=20)" in message
    assert "expected 10 input features" in message and "got 7" in message and "(4, 7)" in message
    assert "\n" not in message


def test_zero_dim_input_is_refused():
    with pytest.raises(ValueError, match="Linear.*expected 3 input features.*got a 0-d tensor"):
        nn.Linear(3, 2)(Tensor(1.0))


def test_ndarray_input_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"Linear.*input must be a Tensor, got ndarray; wrap it with Tensor"):
        nn.Linear(3, 2)(np.zeros((1, 3)))


@pytest.mark.parametrize("sizes", [(0, 3), (3, -1), (2.5, 3), (True, 3), ("3", 2)])
def test_bad_sizes_are_refused(sizes):
    with pytest.raises(ValueError, match="Linear: (in|out)_features must be a positive integer"):
        nn.Linear(*sizes)


def test_functional_linear_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) does not fit weight of shape \(4, 5\)"):
        F.linear(x, Tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\).*got \(3,\)"):
        F.linear(x, Tensor(np.zeros((4, 3))), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D"):
        F.linear(x, Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="linear: weight must be a Tensor"):
        F.linear(x, np.zeros((4, 3)))
