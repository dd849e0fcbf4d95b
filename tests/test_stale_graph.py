"""Version counter: backward through a graph whose saved tensors were changed in place raises, as in PyTorch.

Decided (README, Differences from PyTorch): a second backward through the same
graph stays allowed (the handout's engine allows it; PyTorch frees the graph),
but once a saved tensor has been changed in place (an optimizer step, ``+=``
under no_grad, ``fill_``) backward raises, naming the operation. Changes made
by writing into ``t.data`` directly are not seen, as in PyTorch.
"""
import numpy as np
import pytest

from mytorch import Tensor, no_grad, nn, optim
from mytorch.nn import functional as F


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_saved_tensor_changed_in_place_makes_backward_raise_like_torch(torch):
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    with no_grad():
        w *= 2
    with pytest.raises(RuntimeError, match="Mul.backward: one of the variables needed for gradient "
                                           "computation has been modified by an inplace operation"):
        y.backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tw * tw).sum()
    with torch.no_grad():
        tw *= 2
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.backward()


def training(momentum):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    x, y = Tensor(np.random.randn(6, 4)), Tensor(np.array([0, 1, 0, 1, 1, 0]))
    return model, opt, nn.CrossEntropyLoss(), x, y


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_the_classic_total_plus_loss_bug_raises_after_step(momentum):
    model, opt, criterion, x, y = training(momentum)
    total = 0
    opt.zero_grad()
    loss = criterion(model(x), y)
    total = total + loss
    total.backward()          # the first step is fine
    opt.step()
    opt.zero_grad()
    total = total + criterion(model(x), y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*optimizer.step"):
        total.backward()      # would run through the first step's graph with updated weights


def test_a_second_backward_before_any_change_is_allowed(torch):
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [4.0, 8.0])  # 2 * (2 w), accumulated
    ty = (torch.tensor([1.0, 2.0], requires_grad=True) ** 2).sum()
    ty.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        ty.backward()  # a documented difference


def test_sgd_step_and_fill_bump_versions():
    p = Tensor(np.ones(2), requires_grad=True, is_parameter=True)
    p.grad = Tensor(np.ones(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    opt.step()
    opt.step()
    assert p._version == 2
    t = Tensor(np.ones(2))
    t.fill_(3)
    assert t._version == 1


def test_changes_through_data_are_not_seen_as_in_torch(torch):
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    w.data *= 2   # invisible, as PyTorch's w.data
    y.backward()  # no error; the gradient uses the new values, as PyTorch's does
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tw * tw).sum()
    tw.data *= 2
    ty.backward()
    np.testing.assert_array_equal(w.grad.data, tw.grad.numpy())


def test_batchnorm_gamma_is_checked_in_training_and_the_input_in_eval():
    bn = nn.BatchNorm1d(2)
    x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]]), requires_grad=True)
    out = bn(x).sum()
    with no_grad():
        bn.gamma *= 2
    with pytest.raises(RuntimeError, match="BatchNormFunction.backward: one of the variables"):
        out.backward()
    bn.eval()
    out = (bn(x) * Tensor(np.array([1.0, 2.0]))).sum()
    x.requires_grad = False
    x += 1        # allowed: x is outside every graph now; changes what BatchNorm saved
    with pytest.raises(RuntimeError, match="BatchNormFunction.backward"):
        out.backward()


def test_a_composed_linear_is_checked_through_the_transpose_view():
    # The handout's Linear, x @ W.T() + b: MatMul saves W.T(), which shares W's version.
    w = leaf(np.ones((2, 3)))
    x = Tensor(np.ones((4, 3)))
    out = (x @ w.T()).reshape(8).sum()
    with no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="MatMul.backward"):
        out.backward()


def test_detach_shares_the_version_counter():
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    d = w.detach()
    d += 1  # changes w's data too
    with pytest.raises(RuntimeError, match="Mul.backward"):
        y.backward()


def test_operations_saving_no_changed_tensor_still_run():
    w = leaf([1.0, 2.0])
    y = F.Add.apply(w, Tensor([1.0, 1.0])).sum()
    with no_grad():
        w += 1  # Add saved nothing: its gradient does not depend on w
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_a_reshaped_view_shares_the_version_and_a_reshaped_copy_does_not():
    w = leaf(np.ones((2, 3)))
    view = w.reshape(3, 2)
    assert view._vc is w._vc
    copy = w.T().reshape(6)  # not contiguous: NumPy copies
    assert copy._vc is None or copy._vc is not w._vc
