"""Adam (HW1 bonus): PyTorch parity over many steps, bias correction, zero gradients, no graph, errors."""
import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from mytorch.optim.adam import Adam
from nn_parity import assert_same_state, close, torch_twin


def param(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True, is_parameter=True)


def test_defaults_attributes_and_module_path():
    params = [param([1.0, 2.0]), param([[3.0]])]
    opt = Adam(params)
    assert optim.Adam is Adam
    assert (opt.lr, opt.betas, opt.eps) == (1e-3, (0.9, 0.999), 1e-8)
    assert opt.params == params and isinstance(opt, optim.Optimizer)
    for p, m, v in zip(params, opt.m, opt.v):
        assert m.shape == v.shape == p.shape and not m.any() and not v.any()
    assert opt.steps == [0, 0]


def test_first_step_moves_each_weight_by_lr_against_the_gradient_sign():
    # With bias correction, m_hat = g and v_hat = g**2 at t = 1: the step is lr * g / (|g| + eps).
    p = param([1.0, -2.0, 3.0])
    opt = Adam([p], lr=0.1)
    p.grad = Tensor(np.array([2.0, -0.5, 1e-3]))
    opt.step()
    expected = np.array([1.0, -2.0, 3.0]) - 0.1 * np.array([2.0, -0.5, 1e-3]) / (np.abs([2.0, 0.5, 1e-3]) + 1e-8)
    close(p, expected, rtol=1e-15)


def test_update_follows_the_formula_over_steps():
    p = param([0.5, -1.0])
    b1, b2, lr, eps = 0.8, 0.95, 0.05, 1e-6
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    w, m, v = np.array([0.5, -1.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate(([1.0, -2.0], [0.3, 0.0], [-1.5, 4.0]), start=1):
        g = np.array(g)
        p.grad = Tensor(g.copy())
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        close(p, w, rtol=1e-14)
        close(opt.m[0], m, rtol=1e-15)
        close(opt.v[0], v, rtol=1e-15)


def test_zero_gradient_moves_nothing():
    p = param([[1.0, 2.0], [3.0, 4.0]])
    opt = Adam([p], lr=0.5)
    for _ in range(3):
        p.grad = Tensor(np.zeros((2, 2)))
        opt.step()
    close(p, [[1.0, 2.0], [3.0, 4.0]], rtol=0, atol=0)
    assert not np.isnan(p.data).any()


def test_parameter_without_gradient_is_skipped_and_keeps_its_step_count():
    a, b = param([1.0]), param([2.0])
    opt = Adam([a, b], lr=0.1)
    a.grad = Tensor(np.array([1.0]))
    opt.step()
    assert b.data[0] == 2.0 and opt.steps == [1, 0]
    b.grad = Tensor(np.array([1.0]))
    opt.step()
    # b's first step is bias-corrected as t = 1: it moves by lr exactly (up to eps).
    assert opt.steps == [2, 1]
    assert b.data[0] == pytest.approx(2.0 - 0.1, rel=1e-7)


@pytest.mark.parametrize("lr, betas, eps", [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-4),
                                           (0.2, (0.0, 0.0), 1e-8)])
def test_matches_torch_adam_over_many_steps(torch, rng, lr, betas, eps):
    shapes = [(3, 4), (4,), ()]
    init = [np.asarray(rng.normal(size=s), dtype=np.float64) for s in shapes]
    ours = [Tensor(a.copy(), requires_grad=True, is_parameter=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = Adam(ours, lr=lr, betas=betas, eps=eps)
    topt = torch.optim.Adam(theirs, lr=lr, betas=betas, eps=eps)
    for step in range(40):
        # every 7th step: all gradients zero
        grads = [np.asarray(rng.normal(size=s) * (step % 7 != 3), dtype=np.float64) for s in shapes]
        for p, tp, g in zip(ours, theirs, grads):
            p.grad = Tensor(g.copy())
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            close(p, tp, rtol=1e-11, atol=1e-14)


def _mlp(dropout=False, batchnorm=False):
    layers = [nn.Linear(6, 8)]
    layers += [nn.BatchNorm1d(8)] if batchnorm else []
    layers += [nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_training_an_mlp_with_adam_matches_torch_in_train_and_eval(torch, rng, batchnorm):
    np.random.seed(5)
    model = _mlp(batchnorm=batchnorm)
    twin = torch_twin(torch, model)
    opt = Adam(model.parameters(), lr=0.01, betas=(0.85, 0.99))
    topt = torch.optim.Adam(twin.parameters(), lr=0.01, betas=(0.85, 0.99))
    criterion, tcriterion = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(5):  # train steps
        x, y = rng.normal(size=(7, 6)), rng.integers(0, 3, 7)
        model.train()
        twin.train()
        opt.zero_grad()
        topt.zero_grad()
        loss = criterion(model(Tensor(x)), Tensor(y))
        tloss = tcriterion(twin(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        tloss.backward()
        close(loss, tloss)
        assert_same_state(model, twin)
        opt.step()
        topt.step()
        assert_same_state(model, twin)
    model.eval()
    twin.eval()
    for _ in range(5):  # eval steps: forward only, nothing moves
        x = rng.normal(size=(4, 6))
        close(model(Tensor(x)), twin(torch.tensor(x)))
    assert_same_state(model, twin)


def test_step_builds_no_graph_and_keeps_parameter_identity(rng):
    model = nn.Linear(3, 2)
    weight, weight_data = model.weight, model.weight.data
    opt = Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(Tensor(rng.normal(size=(4, 3)))).sum().backward()
        opt.step()
    assert model.weight is weight and model.weight.data is weight_data
    for p in model.parameters():
        assert p.is_leaf and p.requires_grad and p.is_parameter and p.grad_fn is None
        assert type(p.data) is np.ndarray and p.dtype == np.float64


def test_zero_grad_clears_every_gradient(rng):
    model = nn.Linear(3, 2)
    opt = Adam(model.parameters())
    model(Tensor(rng.normal(size=(4, 3)))).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_step_invalidates_a_graph_built_before_it(rng):
    model = nn.Linear(3, 2)
    opt = Adam(model.parameters(), lr=0.1)
    out = (model(Tensor(rng.normal(size=(4, 3)))) * 2).sum()
    out.backward()
    opt.step()
    with pytest.raises(RuntimeError):
        out.backward()


def test_float32_parameters_stay_float32(rng):
    p = Tensor(rng.normal(size=3).astype(np.float32), requires_grad=True, is_parameter=True)
    opt = Adam([p], lr=0.1)
    p.grad = Tensor(rng.normal(size=3).astype(np.float32))
    opt.step()
    assert p.dtype == np.float32 and opt.m[0].dtype == np.float32


def test_construction_and_steps_draw_nothing_from_np_random():
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    p = param([1.0])
    opt = Adam([p])
    p.grad = Tensor(np.array([1.0]))
    opt.step()
    opt.zero_grad()
    assert np.random.rand() == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1}, r"Adam: lr must be a number >= 0, got -1"),
    ({"lr": True}, r"Adam: lr must be a number >= 0, got True"),
    ({"eps": -1e-8}, r"Adam: eps must be a number >= 0"),
    ({"betas": 0.9}, r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    ({"betas": (0.9, 0.999, 0.1)}, r"Adam: betas must be a pair"),
    ({"betas": (1.0, 0.999)}, r"Adam: betas\[0\] must be a number in \[0, 1\), got 1.0"),
    ({"betas": (0.9, -0.1)}, r"Adam: betas\[1\] must be a number in \[0, 1\), got -0.1"),
])
def test_bad_hyperparameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Adam([param([1.0])], **kwargs)


def test_bad_params_are_refused_with_the_optimizers_name():
    with pytest.raises(TypeError, match=r"Adam: params must be an iterable of Tensors"):
        Adam(param([1.0]))
    with pytest.raises(ValueError, match=r"Adam: got no parameters"):
        Adam([])
