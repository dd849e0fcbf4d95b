"""PyTorch habits: backward(gradient), requires_grad after forward, no_grad as decorator,
SGD on integer tensors, copy/pickle of deep results, ``w.T`` without parentheses."""
import copy
import pickle

import numpy as np
import pytest

from mytorch import Tensor, autograd_engine, is_grad_enabled, no_grad, nn, optim
from nn_parity import close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("as_tensor", [True, False])
def test_backward_with_a_gradient_matches_torch(torch, rng, dtype, as_tensor):
    a, g = rng.standard_normal((2, 3)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = (x * x).exp(), (tx * tx).exp()
    y.backward(Tensor(g) if as_tensor else g)
    ty.backward(torch.tensor(g))
    assert x.grad.data.dtype == dtype
    close(x.grad.data, tx.grad.numpy(), rtol=1e-6)


def test_backward_gradient_of_the_wrong_shape_is_refused_like_torch(torch):
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) does not match the tensor's shape \(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (torch.ones(2, requires_grad=True) * 2).backward(torch.ones(3))


def test_backward_without_gradient_seeds_ones_on_a_non_scalar(torch):
    # Documented difference: handout §0.1.5 Step 1; PyTorch requires a scalar here.
    x, tx = Tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward()
    (tx * tx).sum().backward()
    close(x.grad.data, tx.grad.numpy())
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (tx * tx).backward()


def test_a_leaf_whose_grad_fn_holds_its_accumulate_grad_is_still_a_leaf():
    # A handout-faithful Function.apply may store a leaf's AccumulateGrad in its grad_fn.
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad_fn = autograd_engine.AccumulateGrad(x)
    x.backward(np.array([3.0, 4.0]))
    x.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 5.0])


def test_requires_grad_false_after_forward_like_torch(torch):
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    x.requires_grad = False
    y.backward()
    assert x.grad is None
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tx * 3).sum()
    tx.requires_grad = False
    ty.backward()
    assert tx.grad is None
    z = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables.*detach"):
        z.requires_grad = False
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        (torch.ones(1, requires_grad=True) * 2).requires_grad = False


def test_other_leaves_still_get_gradients_after_one_is_turned_off():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    y = (a * b).sum()
    b.requires_grad = False
    y.backward()
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])
    assert b.grad is None


def test_no_grad_decorator_with_and_without_parentheses():
    w = Tensor([1.0], requires_grad=True)

    @no_grad
    def plain():
        return w * 2

    @no_grad()
    def called():
        """Doc."""
        return w * 2

    assert not plain().requires_grad and not called().requires_grad
    assert called.__name__ == "called" and called.__doc__ == "Doc."
    assert (w * 2).requires_grad and is_grad_enabled()
    with pytest.raises(TypeError, match="no_grad"):
        no_grad(3)


def test_no_grad_generator_keeps_every_step_under_no_grad(torch):
    w = Tensor([1.0], requires_grad=True)
    seen = []

    @no_grad()
    def gen():
        for _ in range(3):
            received = yield (w * 2).requires_grad
            seen.append((received, is_grad_enabled()))
        return "done"

    g = gen()
    assert next(g) is False
    assert is_grad_enabled()  # the caller's code between steps is not under no_grad
    assert g.send("a") is False
    assert next(g) is False
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert seen == [("a", False), (None, False), (None, False)]
    assert is_grad_enabled()

    @torch.no_grad()
    def tgen():
        yield torch.is_grad_enabled()
    assert list(tgen()) == [False]


def test_no_grad_generator_close_and_throw():
    @no_grad()
    def gen():
        try:
            yield 1
        except KeyError:
            yield is_grad_enabled()

    g = gen()
    next(g)
    assert g.throw(KeyError()) is False
    g.close()
    assert is_grad_enabled()


def test_sgd_refuses_integer_parameters_at_construction(torch):
    p = Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match=r"params\[0\].*dtype int64.*only floating-point tensors can be trained"):
        optim.SGD([p], lr=0.1)
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        torch.tensor([1, 2]).requires_grad_(True)


def deep_result(depth=20000):
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(depth):
        y = y + 1.0
    return x, y


def test_pickle_of_a_deep_result_keeps_data_not_graph(torch):
    x, y = deep_result()
    z = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(z.data, [20001.0, 20002.0])
    assert z.requires_grad and z.is_leaf and z.grad_fn is None and z.grad is None
    ty = torch.tensor([1.0, 2.0], requires_grad=True) + 1.0
    tz = pickle.loads(pickle.dumps(ty))
    assert tz.requires_grad and tz.is_leaf and tz.grad_fn is None


def test_deepcopy_of_a_result_is_refused_like_torch_and_of_a_leaf_copies(torch):
    x, y = deep_result()
    with pytest.raises(RuntimeError, match="only leaf tensors .* can be deep-copied, as in PyTorch.*detach"):
        copy.deepcopy(y)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(torch.ones(1, requires_grad=True) * 2)
    d = copy.deepcopy(y.detach())
    np.testing.assert_array_equal(d.data, y.data)
    x.grad = Tensor([5.0, 6.0])
    c = copy.deepcopy(x)
    assert c is not x and c.requires_grad and c.is_leaf and c.data is not x.data
    np.testing.assert_array_equal(c.grad.data, [5.0, 6.0])
    assert c.grad is not x.grad


def test_deepcopy_and_pickle_of_a_model():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    clone = copy.deepcopy(model)
    assert clone.layers[0].weight is not model.layers[0].weight
    assert clone.layers[0].weight.is_parameter and len(clone.parameters()) == 2
    np.testing.assert_array_equal(clone.layers[0].weight.data, model.layers[0].weight.data)
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.layers[0].bias.data, model.layers[0].bias.data)


@pytest.mark.parametrize("expression", ["x @ w.T", "w.T @ x", "x + w.T", "x * w.T"])
def test_a_method_object_as_operand_says_call_it(expression):
    names = {"x": Tensor(np.ones((2, 3))), "w": Tensor(np.ones((4, 3)))}
    with pytest.raises(TypeError, match=r"write w.T\(\) with parentheses"):
        eval(expression, None, names)


# ---- lines of the README's "Differences from PyTorch" table not covered elsewhere

def test_momentum_formula_differs_from_torch_only_after_lr_changes(torch):
    p, tp = Tensor(np.array([1.0]), requires_grad=True), torch.tensor([1.0], requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    for lr in (0.1, 0.1, 0.5):
        opt.lr = lr
        for group in topt.param_groups:
            group["lr"] = lr
        p.grad, tp.grad = Tensor([1.0]), torch.tensor([1.0])
        opt.step()
        topt.step()
        if lr == 0.1:
            close(p.data, tp.detach().numpy())
    # After the change: MyTorch keeps v = -0.1 * b from before, PyTorch scales all of b by the new lr.
    v = 0.9 * (-0.1 * 1.9) - 0.5 * 1.0
    b = 0.9 * 1.9 + 1.0
    close(p.data, [1.0 - 0.1 - 0.1 * 1.9 + v])
    close(tp.detach().numpy(), [1.0 - 0.1 - 0.1 * 1.9 - 0.5 * b])
    assert abs(p.data[0] - tp.item()) > 0.1


def test_default_float_dtype_is_float64_and_integer_tensors_may_require_grad():
    assert Tensor.ones(2).data.dtype == np.float64 and Tensor.randn(2).data.dtype == np.float64
    assert nn.Linear(2, 3).weight.data.dtype == np.float64
    x = Tensor(3, requires_grad=True)
    (x * x).backward()
    assert x.grad.data.dtype == np.float64 and x.grad.item() == 6.0


def test_batchnorm_parameter_names():
    bn = nn.BatchNorm1d(3, momentum=0.1)
    assert bn.parameters() == [bn.gamma, bn.beta] and bn.bias is bn.beta  # PyTorch's name, an alias
