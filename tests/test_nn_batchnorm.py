"""BatchNorm1d and F.batch_norm: parity with PyTorch in training and eval, running stats, errors."""
import numpy as np
import pytest

from mytorch import Tensor, nn, no_grad
from mytorch.nn import functional as F
from nn_parity import close, torch_twin


def random_bn(rng, features, **kwargs):
    bn = nn.BatchNorm1d(features, **kwargs)
    bn.gamma.data = rng.normal(size=features)
    bn.beta.data = rng.normal(size=features)
    return bn


def step_both(torch, bn, twin, x_np, g_np, x_grad=True):
    x = Tensor(x_np, requires_grad=x_grad)
    tx = torch.tensor(x_np, requires_grad=x_grad)
    out, tout = bn(x), twin(tx)
    close(out, tout)
    (out * Tensor(g_np)).sum().backward()
    (tout * torch.from_numpy(g_np)).sum().backward()
    return x, tx


@pytest.mark.parametrize("batch", [2, 3, 4, 5, 6, 7, 50])
@pytest.mark.parametrize("features", [1, 3, 8])
def test_training_forward_backward_and_running_stats_match_torch(torch, rng, batch, features):
    bn = random_bn(rng, features)
    twin = torch_twin(torch, bn)
    x_np = rng.normal(loc=2.0, scale=3.0, size=(batch, features))
    g_np = rng.normal(size=(batch, features))
    x, tx = step_both(torch, bn, twin, x_np, g_np)
    close(x.grad, tx.grad)
    close(bn.gamma.grad, twin.weight.grad)
    close(bn.beta.grad, twin.bias.grad)
    close(bn.running_mean, twin.running_mean)
    close(bn.running_var, twin.running_var)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_eval_forward_and_backward_match_torch(torch, rng, batch):
    bn = random_bn(rng, 4)
    bn.running_mean.data = rng.normal(size=4)
    bn.running_var.data = rng.uniform(0.5, 2.0, size=4)
    twin = torch_twin(torch, bn)
    bn.eval()
    twin.eval()
    before = bn.running_mean.data.copy(), bn.running_var.data.copy()
    x, tx = step_both(torch, bn, twin, rng.normal(size=(batch, 4)), rng.normal(size=(batch, 4)))
    close(x.grad, tx.grad)
    close(bn.gamma.grad, twin.weight.grad)
    close(bn.beta.grad, twin.bias.grad)
    assert np.array_equal(bn.running_mean.data, before[0])
    assert np.array_equal(bn.running_var.data, before[1])


def test_several_training_steps_then_eval_match_torch(torch, rng):
    bn = random_bn(rng, 5, eps=1e-3, momentum=0.3)
    twin = torch_twin(torch, bn)
    for _ in range(4):
        step_both(torch, bn, twin, rng.normal(size=(6, 5)) * 4 + 1, rng.normal(size=(6, 5)))
    close(bn.running_mean, twin.running_mean)
    close(bn.running_var, twin.running_var)
    close(bn.gamma.grad, twin.weight.grad)  # accumulated over the 4 steps
    bn.eval()
    twin.eval()
    x_np = rng.normal(size=(3, 5))
    close(bn(Tensor(x_np)), twin(torch.from_numpy(x_np)))


def test_running_stats_use_unbiased_variance_and_momentum():
    bn = nn.BatchNorm1d(2, momentum=0.25)
    x = np.array([[1.0, 10.0], [3.0, 10.0], [8.0, 16.0]])
    bn(Tensor(x))
    close(bn.running_mean, 0.75 * 0 + 0.25 * x.mean(axis=0))
    close(bn.running_var, 0.75 * 1 + 0.25 * x.var(axis=0, ddof=1))


def test_training_normalises_with_biased_variance():
    x = np.array([[1.0, -2.0], [2.0, 0.0], [6.0, 5.0], [7.0, 1.0]])
    out = nn.BatchNorm1d(2, eps=0.0001)(Tensor(x))
    close(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 0.0001))


def test_running_stats_are_plain_tensors_outside_every_graph(rng):
    bn = nn.BatchNorm1d(3)
    mean, var = bn.running_mean, bn.running_var
    mean_data, var_data = mean.data, var.data
    assert np.array_equal(mean.data, np.zeros(3)) and np.array_equal(var.data, np.ones(3))
    assert np.array_equal(bn.gamma.data, np.ones(3)) and np.array_equal(bn.beta.data, np.zeros(3))
    bn(Tensor(rng.normal(size=(4, 3)), requires_grad=True)).sum().backward()
    for t in (mean, var):
        assert not t.requires_grad and not t.is_parameter and t.is_leaf
        assert t.grad is None and t.grad_fn is None
    # updated in place: the same Tensors holding the same arrays
    assert bn.running_mean is mean and bn.running_var is var
    assert mean.data is mean_data and var.data is var_data
    assert not np.array_equal(mean.data, np.zeros(3))


def test_input_without_grad_gets_none_and_gamma_beta_still_learn(torch, rng):
    bn = random_bn(rng, 3)
    twin = torch_twin(torch, bn)
    x, tx = step_both(torch, bn, twin, rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), x_grad=False)
    assert x.grad is None
    close(bn.gamma.grad, twin.weight.grad)
    close(bn.beta.grad, twin.bias.grad)


def test_no_grad_still_updates_running_stats_in_training_mode(rng):
    bn = nn.BatchNorm1d(2)
    with no_grad():
        out = bn(Tensor(rng.normal(size=(4, 2))))
    assert not out.requires_grad
    assert not np.array_equal(bn.running_mean.data, np.zeros(2))


def test_float32_stays_float32(rng):
    bn = nn.BatchNorm1d(3)
    for t in (bn.gamma, bn.beta, bn.running_mean, bn.running_var):
        t.data = t.data.astype(np.float32)
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    out = bn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == bn.gamma.grad.dtype == bn.beta.grad.dtype == np.float32
    bn.eval()
    assert bn(x).dtype == np.float32


def test_functional_batch_norm_without_running_stats_matches_torch(torch, rng):
    x_np, w_np, b_np = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=3)
    out = F.batch_norm(Tensor(x_np), None, None, Tensor(w_np), Tensor(b_np), training=True)
    tout = torch.nn.functional.batch_norm(torch.from_numpy(x_np), None, None, torch.from_numpy(w_np),
                                          torch.from_numpy(b_np), training=True)
    close(out, tout)


def test_batch_of_one_in_training_says_why():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError) as err:
        bn(Tensor(np.ones((1, 4))))
    message = str(err.value)
    assert "BatchNorm1d(4" in message and "batch of 1 sample" in message
    assert "variance of one sample" in message and ".eval()" in message
    bn.eval()
    assert bn(Tensor(np.ones((1, 4)))).shape == (1, 4)  # eval mode is fine


@pytest.mark.parametrize("shape", [(5, 3), (5,), (2, 4, 3)])
def test_wrong_input_shape_names_the_expected_shape(shape):
    got = repr(shape).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4.*expected input of shape \(batch, 4\), got " + got):
        nn.BatchNorm1d(4)(Tensor(np.ones(shape)))


def test_ndarray_input_is_refused():
    with pytest.raises(TypeError, match="BatchNorm1d.*input must be a Tensor, got ndarray"):
        nn.BatchNorm1d(2)(np.ones((3, 2)))


@pytest.mark.parametrize("kwargs,match", [
    ({"num_features": 0}, "num_features must be a positive integer"),
    ({"num_features": 2.0}, "num_features must be a positive integer"),
    ({"num_features": 2, "eps": 0}, "eps must be a positive number"),
    ({"num_features": 2, "momentum": 1.5}, r"momentum must be a number in \[0, 1\]"),
    ({"num_features": 2, "momentum": None}, r"momentum must be a number in \[0, 1\]"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match="BatchNorm1d: " + match):
        nn.BatchNorm1d(**kwargs)


def test_functional_batch_norm_errors():
    x, p = Tensor(np.ones((3, 2))), Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(2,\)"):
        F.batch_norm(x, p, p, Tensor(np.ones(3)), p, training=True)
    with pytest.raises(ValueError, match="batch_norm: eval mode .* needs running_mean and running_var"):
        F.batch_norm(x, None, None, p, p, training=False)
    with pytest.raises(ValueError, match="batch_norm: give both running_mean and running_var"):
        F.batch_norm(x, p, None, p, p, training=True)
    with pytest.raises(ValueError, match="batch_norm: cannot normalise a batch of 1"):
        F.batch_norm(Tensor(np.ones((1, 2))), p, p, p, p, training=True)
    with pytest.raises(ValueError, match="batch_norm: input must be 2-D"):
        F.batch_norm(Tensor(np.ones(2)), p, p, p, p)


def test_eval_backward_uses_the_statistics_of_its_forward(torch, rng):
    """A training step between an eval forward and its backward must not change that backward."""
    bn = random_bn(rng, 3)
    bn.running_mean.data = rng.normal(size=3)
    twin = torch_twin(torch, bn)
    bn.eval()
    x_np = rng.normal(size=(4, 3))
    out = bn(Tensor(x_np))
    bn.train()
    bn(Tensor(rng.normal(size=(5, 3)) + 10))  # moves the running statistics
    out.sum().backward()
    twin.eval()
    twin(torch.from_numpy(x_np)).sum().backward()
    close(bn.gamma.grad, twin.weight.grad)
