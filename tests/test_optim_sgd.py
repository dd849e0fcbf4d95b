"""Optimizer and SGD: the handout's update rules, PyTorch parity, no graph, errors."""
import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from nn_parity import close


def param(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True, is_parameter=True)


def set_grad(p, values):
    p.grad = Tensor(np.array(values, dtype=np.float64))


def test_defaults_and_attributes():
    params = [param([1.0, 2.0]), param([[3.0]])]
    opt = optim.SGD(params)
    assert opt.lr == 0.001 and opt.momentum == 0.0
    assert opt.params == params and opt.params is not params
    assert len(opt.momentums) == 2
    for p, v in zip(params, opt.momentums):
        assert isinstance(v, np.ndarray) and v.shape == p.shape and not v.any()
    assert isinstance(opt, optim.Optimizer)


def test_plain_step_is_w_minus_lr_grad():
    p = param([1.0, -2.0, 3.0])
    opt = optim.SGD([p], lr=0.5)
    set_grad(p, [2.0, 4.0, -1.0])
    opt.step()
    close(p, [0.0, -4.0, 3.5])


def test_momentum_step_follows_handout_formula():
    p = param([1.0, 1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    w, v = np.array([1.0, 1.0]), np.zeros(2)
    for grad in ([1.0, -1.0], [0.5, 2.0], [-3.0, 0.0]):
        set_grad(p, grad)
        opt.step()
        v = 0.9 * v - 0.1 * np.array(grad)
        w = w + v
        close(p, w, rtol=1e-15)
        close(opt.momentums[0], v, rtol=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_matches_torch_sgd_over_many_steps(torch, rng, momentum):
    shapes = [(3, 4), (4,)]
    init = [rng.normal(size=s) for s in shapes]
    ours = [Tensor(a.copy(), requires_grad=True, is_parameter=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = optim.SGD(ours, lr=0.05, momentum=momentum)
    topt = torch.optim.SGD(theirs, lr=0.05, momentum=momentum)
    for _ in range(30):
        grads = [rng.normal(size=s) for s in shapes]
        for p, tp, g in zip(ours, theirs, grads):
            p.grad = Tensor(g.copy())
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        close(p, tp, rtol=1e-12)


def test_step_builds_no_graph_and_keeps_parameter_identity(rng):
    model = nn.Linear(3, 2)
    weight, weight_data = model.weight, model.weight.data
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        model(Tensor(rng.normal(size=(4, 3)))).sum().backward()
        opt.step()
    assert model.weight is weight and model.weight.data is weight_data
    for p in model.parameters():
        assert p.is_leaf and p.requires_grad and p.is_parameter and p.grad_fn is None
        assert p.grad.grad_fn is None


def test_params_without_grad_are_skipped():
    a, b = param([1.0]), param([2.0])
    opt = optim.SGD([a, b], lr=1.0, momentum=0.5)
    set_grad(a, [1.0])
    opt.step()
    close(a, [0.0])
    close(b, [2.0])
    assert not opt.momentums[1].any()


def test_zero_grad_sets_every_grad_to_none():
    a, b = param([1.0]), param([2.0])
    set_grad(a, [1.0])
    opt = optim.SGD([a, b])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_gradients_accumulate_without_zero_grad(rng):
    model = nn.Linear(2, 1)
    x = Tensor(rng.normal(size=(3, 2)))
    model(x).sum().backward()
    once = model.weight.grad.data.copy()
    model(x).sum().backward()
    close(model.weight.grad, 2 * once)
    optim.SGD(model.parameters()).zero_grad()
    assert model.weight.grad is None


def test_accepts_a_generator_of_parameters():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    opt = optim.SGD(p for p in model.parameters())
    assert opt.params == model.parameters()


def test_float32_parameters_stay_float32():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True, is_parameter=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert p.dtype == np.float32 and opt.momentums[0].dtype == np.float32


def test_no_parameters_is_refused():
    with pytest.raises(ValueError, match="SGD: got no parameters to optimize"):
        optim.SGD([])
    with pytest.raises(ValueError, match="SGD: got no parameters to optimize"):
        optim.SGD(nn.ReLU().parameters())


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"momentum": -0.5}, {"lr": "0.1"}, {"lr": float("nan")}])
def test_bad_hyperparameters_are_refused(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"SGD: {name} must be a number >= 0"):
        optim.SGD([param([1.0])], **kwargs)


def test_bad_params_are_refused():
    p = param([1.0])
    with pytest.raises(TypeError, match="SGD: params must be an iterable of Tensors .* got a single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match=r"SGD: params\[1\] is a ndarray, expected a Tensor"):
        optim.SGD([p, np.ones(2)])
    with pytest.raises(ValueError, match=r"SGD: params\[0\] .* must be a leaf Tensor with requires_grad=True"):
        optim.SGD([Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="SGD: a parameter appears more than once"):
        optim.SGD([p, p])
    with pytest.raises(TypeError, match="SGD: params must be an iterable of Tensors .* got int"):
        optim.SGD(3)


def test_optimizer_base_step_must_be_defined():
    with pytest.raises(NotImplementedError, match="Optimizer must define step"):
        optim.Optimizer([param([1.0])]).step()
