"""max, min, argmax and argmin against PyTorch 2.13: values, indices, gradients and tie rules."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mytorch import Tensor
from nn_parity import close

DTYPES = [np.float64, np.float32]
TIED = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [-1.0, -1.0, -1.0]])


def pair(torch, array):
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def backward_both(torch, out, tout, rng):
    g = rng.normal(size=out.shape).astype(out.dtype)
    (out * Tensor(g)).sum().backward()
    tout.backward(torch.from_numpy(g))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_full_reduction_shares_the_gradient_among_ties(torch, rng, name, dtype):
    for array in (TIED.astype(dtype), rng.normal(size=(4, 5)).astype(dtype), np.array(3.0, dtype)):
        x, tx = pair(torch, array)
        out, tout = getattr(x, name)(), getattr(tx, name)()
        assert out.shape == () and out.dtype == dtype
        close(out, tout, rtol=0, atol=0)
        backward_both(torch, out, tout, rng)
        close(x.grad, tx.grad, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_reduction_gives_values_and_first_indices(torch, rng, name, dim, keepdim, dtype):
    for array in (TIED.astype(dtype), rng.normal(size=(3, 4)).astype(dtype)):
        x, tx = pair(torch, array)
        result, tresult = getattr(x, name)(dim, keepdim=keepdim), getattr(tx, name)(dim, keepdim=keepdim)
        values, indices = result
        assert type(result).__name__ == name and result.values is values and result.indices is indices
        close(values, tresult.values, rtol=0, atol=0)
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(indices.data, tresult.indices.numpy())
        # the gradient goes to the element at the returned index only, as in PyTorch
        backward_both(torch, values, tresult.values, rng)
        close(x.grad, tx.grad, rtol=0, atol=0)


def test_dim_names_and_keepdims_alias_as_torch(torch, rng):
    a = rng.normal(size=(3, 4, 2))
    x, tx = Tensor(a), torch.tensor(a)
    for kwargs in ({"dim": 1}, {"axis": 1}, {"dim": 2, "keepdim": True}, {"axis": 0, "keepdims": True}):
        for name in ("max", "min", "argmax", "argmin"):
            mine, theirs = getattr(x, name)(**kwargs), getattr(tx, name)(**kwargs)
            if name in ("max", "min"):
                mine, theirs = mine.indices, theirs.indices
            np.testing.assert_array_equal(mine.data, theirs.numpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extremum_matches_torch(torch, rng, name):
    for array in (TIED, rng.normal(size=(2, 3, 4)), np.array(1.5), np.array([4, 9, 9, 1])):
        x, tx = Tensor(array, requires_grad=array.dtype.kind == "f"), torch.tensor(array)
        for kwargs in ({}, {"keepdim": True}, {"dim": 0}, {"dim": -1, "keepdim": True}):
            mine, theirs = getattr(x, name)(**kwargs), getattr(tx, name)(**kwargs)
            assert mine.dtype == np.int64 and not mine.requires_grad and mine.grad_fn is None
            assert mine.shape == tuple(theirs.shape)
            np.testing.assert_array_equal(mine.data, theirs.numpy())


def test_zero_d_tensor_accepts_dim_0_and_minus_1(torch):
    x, tx = pair(torch, np.array(5.0))
    for dim in (0, -1):
        values, indices = x.max(dim)
        tvalues, tindices = tx.max(dim)
        close(values, tvalues, rtol=0, atol=0)
        assert indices.shape == () and indices.data == tindices.item()
        values.backward()
    assert x.grad.data == 2.0


def test_nan_propagates_and_takes_the_gradient(torch):
    a = np.array([1.0, np.nan, 2.0])
    x, tx = pair(torch, a)
    out, tout = x.max(), tx.max()
    assert np.isnan(out.data)
    out.backward()
    tout.backward()
    close(x.grad, tx.grad)
    assert x.argmax().item() == tx.argmax().item() == 1
    np.testing.assert_array_equal(x.min(0).indices.data, tx.min(0).indices.numpy())


def test_integer_tensor_keeps_its_dtype(torch):
    a = np.array([[1, 5, 5], [7, 0, 2]])
    x, tx = Tensor(a), torch.tensor(a)
    assert x.max().dtype == np.int64 and x.max().item() == tx.max().item()
    np.testing.assert_array_equal(x.min(1).values.data, tx.min(1).values.numpy())


def test_empty_rows_along_another_axis_are_fine(torch):
    values, indices = Tensor(np.zeros((0, 3))).max(dim=1)
    assert values.shape == indices.shape == (0,)


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.max(dim=2), IndexError, r"dim 2 is out of range.*\[-2, 1\]"),
    (lambda t: t.min(dim=1.0), TypeError, "dim must be an int, got float"),
    (lambda t: t.max(dim=0, axis=0), TypeError, "not both"),
    (lambda t: t.max(keepdim=True), TypeError, "keepdim=True needs a dim"),
    (lambda t: t.max(Tensor(np.zeros(3))), TypeError, "elementwise maximum.*give max\\(\\) a dim"),
    (lambda t: t.argmin(dim=-3), IndexError, "out of range"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call(Tensor(np.zeros((2, 3))))


def test_empty_tensor_has_no_extreme(torch):
    with pytest.raises(RuntimeError, match=r"max\(\): the tensor of shape \(0,\) is empty.*max\(dim=...\)"):
        Tensor(np.zeros(0)).max()
    with pytest.raises(IndexError, match=r"argmin\(\): the tensor of shape \(0, 2\) is empty"):
        Tensor(np.zeros((0, 2))).argmin()
    with pytest.raises(IndexError, match="cannot reduce dim 0 of size 0"):
        Tensor(np.zeros((0, 2))).max(dim=0)
    with pytest.raises(IndexError):  # PyTorch raises IndexError here too
        torch.zeros(0, 2).max(dim=0)


def test_max_used_twice_accumulates(torch, rng):
    a = rng.normal(size=(3, 3))
    x, tx = pair(torch, a)
    out = x.max() * 2 + x.max(0).values.sum() + x.min(1, keepdim=True).values.sum()
    tout = tx.max() * 2 + tx.max(0).values.sum() + tx.min(1, keepdim=True).values.sum()
    close(out, tout)
    out.backward()
    tout.backward()
    close(x.grad, tx.grad)


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_tensors_with_many_ties_match_torch(torch, data):
    # Few distinct values, so most rows have ties: the tie rules must agree everywhere.
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    array = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 2.0])))
    name = data.draw(st.sampled_from(["max", "min"]))
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    keepdim = dim is not None and data.draw(st.booleans())
    x, tx = pair(torch, array)
    if dim is None:
        out, tout = getattr(x, name)(), getattr(tx, name)()
    else:
        (out, indices), (tout, tindices) = getattr(x, name)(dim, keepdim), getattr(tx, name)(dim, keepdim)
        np.testing.assert_array_equal(indices.data, tindices.numpy())
    close(out, tout, rtol=0, atol=0)
    g = np.arange(1.0, out.data.size + 1).reshape(out.shape)
    (out * Tensor(g)).sum().backward()
    tout.backward(torch.from_numpy(g))
    close(x.grad, tx.grad, rtol=1e-15)
