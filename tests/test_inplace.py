"""In-place operators (+=, -=, *=, /=, @=): update data in place where PyTorch does, refuse where it refuses."""
import numpy as np
import pytest

from mytorch import Tensor, no_grad, nn
from nn_parity import close


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_manual_sgd_under_no_grad_trains_like_torch(torch, rng, dtype):
    x = rng.standard_normal((8, 3)).astype(dtype)
    w0 = rng.standard_normal((3, 1)).astype(dtype)
    target = (x @ np.array([[1.0], [-2.0], [0.5]])).astype(dtype)
    w = Tensor(w0.copy(), requires_grad=True)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    losses = []
    for _ in range(20):
        w.grad = None
        tw.grad = None
        diff = Tensor(x) @ w - Tensor(target)
        loss = (diff * diff).mean()
        loss.backward()
        tdiff = torch.tensor(x) @ tw - torch.tensor(target)
        (tdiff * tdiff).mean().backward()
        with no_grad():
            w -= 0.1 * w.grad
        with torch.no_grad():
            tw -= 0.1 * tw.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 4  # it trains
    assert w.data.dtype == dtype and w.is_leaf and w.requires_grad
    close(w.data, tw.detach().numpy(), rtol=1e-7 if dtype == np.float64 else 1e-5)


def test_updating_a_layer_attribute_keeps_the_parameter_object():
    lin = nn.Linear(3, 2)
    weight, params = lin.weight, lin.parameters()
    before = weight.data.copy()
    with no_grad():
        lin.weight -= 0.5
        lin.bias += 1
    assert lin.weight is weight and lin.parameters()[0] is params[0]
    assert lin.weight.is_leaf and lin.weight.requires_grad and lin.weight.is_parameter
    np.testing.assert_array_equal(lin.weight.data, before - 0.5)


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/="])
def test_values_and_dtype_match_torch(torch, rng, symbol):
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal(3) + 3
    for dtype in (np.float64, np.float32):
        t = Tensor(a.astype(dtype))
        tt = torch.tensor(a.astype(dtype))
        ns = {"t": t, "tt": tt, "b": Tensor(b), "tb": torch.tensor(b), "s": 1.5}
        exec(f"t {symbol} b\ntt {symbol} tb\nt {symbol} s\ntt {symbol} s", ns)
        assert ns["t"] is t and ns["tt"] is tt  # the same objects, updated
        assert t.data.dtype == dtype and str(tt.dtype) == f"torch.{np.dtype(dtype).name}"
        close(t.data, tt.numpy(), rtol=1e-6)


def test_matmul_in_place_matches_torch(torch, rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    t, tt = Tensor(a.copy()), torch.tensor(a.copy())
    same = t
    t @= Tensor(b)
    tt @= torch.tensor(b)
    assert t is same
    close(t.data, tt.numpy())
    with pytest.raises(ValueError, match="cannot change the shape"):
        t @= Tensor(np.ones((2, 3)))


def test_in_place_bumps_the_version_like_torch(torch):
    t, tt = Tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    for _ in range(3):
        t += 1
        tt += 1
    t.fill_(0)
    tt.fill_(0)
    assert t._version == tt._version == 4


def test_leaf_that_requires_grad_is_refused_outside_no_grad(torch):
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad.*PyTorch refuses this too.*no_grad"):
        w += 1
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # untouched
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        tw += 1


def test_graph_results_and_graph_operands_are_refused():
    w = leaf([1.0, 2.0])
    y = w * 2
    with pytest.raises(RuntimeError, match=r"does not record in-place operations.*x = x \* y"):
        y *= 3
    total = Tensor(0.0)
    with pytest.raises(RuntimeError, match=r"loss.item\(\)"):
        total += (w * w).sum()  # would silently drop the graph: PyTorch records it


def test_under_no_grad_a_graph_result_is_updated():
    w = leaf([1.0, 2.0])
    y = w * 2
    with no_grad():
        y += 1
    np.testing.assert_array_equal(y.data, [3.0, 5.0])


def test_dtype_that_cannot_hold_the_result_is_refused_like_torch(torch):
    t = Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="result type float64 can't be cast to this tensor's dtype int64"):
        t += 1.5
    with pytest.raises(TypeError, match="can't be cast"):
        t /= 2
    with pytest.raises(RuntimeError, match="can't be cast"):
        tt = torch.tensor([1, 2])
        tt /= 2
    t += 3  # an integer is fine
    np.testing.assert_array_equal(t.data, [4, 5])


def test_broadcast_that_would_change_the_shape_is_refused(torch):
    t = Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"would not have this tensor's shape \(2,\).*cannot change the shape"):
        t += Tensor(np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        tt = torch.ones(2)
        tt += torch.ones(3, 2)
    np.testing.assert_array_equal(t.data, [1.0, 1.0])


def test_bad_operands_are_refused():
    t = Tensor(np.ones(2))
    with pytest.raises(TypeError, match="wrap arrays with Tensor"):
        t += np.ones(2)
    with pytest.raises(TypeError, match="expected a Tensor"):
        t @= 2.0
    ro = Tensor(np.ones(2))
    ro.data = np.broadcast_to(np.ones(2), (2,))  # Tensor() copies; .data may still be made read-only
    with pytest.raises(ValueError, match="read-only"):
        ro += 1
