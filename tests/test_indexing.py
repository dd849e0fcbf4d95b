"""Indexing, item assignment, len and iteration against PyTorch: values and gradients."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mytorch import Tensor, no_grad
from teaching.gradcheck import gradcheck
from nn_parity import close

HYPOTHESIS = settings(max_examples=60, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = [np.float64, np.float32]


def to_torch_key(torch, key):
    """The same index for a torch tensor: ndarrays and Tensors become torch tensors."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for part in parts:
        if isinstance(part, Tensor):
            part = part.data
        if isinstance(part, np.ndarray):
            part = torch.from_numpy(part)
        out.append(part)
    return tuple(out) if isinstance(key, tuple) else out[0]


def check_index(torch, array, key, rng):
    """``x[key]`` in MyTorch and torch: same values, same gradient for a random upstream gradient."""
    x = Tensor(array.copy(), requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    out = x[key]
    tout = tx[to_torch_key(torch, key)]
    assert out.dtype == array.dtype
    close(out, tout, rtol=0, atol=0)
    g = rng.normal(size=out.shape).astype(array.dtype)
    (out * Tensor(g)).sum().backward()
    tout.backward(torch.from_numpy(g))
    assert x.grad.dtype == array.dtype
    rtol = 1e-6 if array.dtype == np.float32 else 1e-12
    close(x.grad, tx.grad, rtol=rtol, atol=1e-6 if array.dtype == np.float32 else 1e-14)


KEYS = [
    0, -1, 1, (1, 2), (-1, -3), slice(None), slice(1, None), slice(None, None, 2),
    (slice(None), slice(1, None)), (slice(None), 0), (Ellipsis, 1), (0, Ellipsis),
    (None, 0), (slice(None), None, slice(1, 3)), Ellipsis, (0, slice(None), None),
    [0, 0, 2], np.array([[0, 1], [2, 2]]), ([0, 2], [1, 1]), (slice(None), [3, 0, 3]),
    ([0, 1], slice(None), [1, 0]), np.array([2, 0, 2, 2]), (np.array([-1, 0]), 1),
    ([0, 1], [0]), [], True, False, (1, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_index_matches_torch(torch, rng, key, dtype):
    check_index(torch, rng.normal(size=(3, 4, 2)).astype(dtype), key, rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bool_masks_match_torch(torch, rng, dtype):
    a = rng.normal(size=(4, 3)).astype(dtype)
    check_index(torch, a, a > 0, rng)                       # full mask
    check_index(torch, a, np.array([True, False, True, True]), rng)  # rows
    check_index(torch, a, (slice(None), np.array([False, True, True])), rng)
    x = Tensor(a)
    check_index(torch, a, x.data < 0.5, rng)


def test_tensor_indices_match_torch(torch, rng):
    a = rng.normal(size=(5, 3))
    check_index(torch, a, Tensor(np.array([4, 0, 4])), rng)
    check_index(torch, a, (Tensor(np.array([1, 2])), Tensor(np.array([0, 2]))), rng)
    check_index(torch, a, Tensor(np.array(3)), rng)           # a 0-d index drops the axis
    check_index(torch, a, Tensor(a[:, 0] > 0), rng)           # a bool Tensor is a mask


def test_zero_d_tensor(torch, rng):
    for key in (Ellipsis, None, True, False, (None, None)):
        check_index(torch, np.array(2.5), key, rng)
    with pytest.raises(IndexError, match="invalid for a tensor of shape"):
        Tensor(2.5)[0]


def test_repeated_indices_accumulate():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[[1, 1, 1, 3]].backward()
    np.testing.assert_array_equal(x.grad.data, [0, 3, 0, 1])


def test_negative_steps_match_numpy_and_finite_differences(rng):
    # PyTorch refuses negative slice steps ("step must be greater than zero"); MyTorch follows NumPy.
    a = rng.normal(size=(4, 5))
    x = Tensor(a, requires_grad=True)
    key = (slice(None, None, -1), slice(4, 0, -2))
    out = x[key]
    np.testing.assert_array_equal(out.data, a[key])
    g = rng.normal(size=out.shape)
    (out * Tensor(g)).sum().backward()
    expected = np.zeros_like(a)
    expected[key] = g
    np.testing.assert_array_equal(x.grad.data, expected)
    assert gradcheck(lambda t: t[::-2, 1:], Tensor(rng.normal(size=(5, 3)), requires_grad=True))


@given(data=st.data())
@HYPOTHESIS
def test_random_basic_and_array_indices_match_torch(torch, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    key = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if isinstance(key, tuple) and any(isinstance(k, slice) and k.step is not None and k.step < 0
                                      for k in key):
        return  # PyTorch has no negative steps (tested against NumPy above)
    if isinstance(key, slice) and key.step is not None and key.step < 0:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    check_index(torch, rng.normal(size=shape), key, rng)
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    check_index(torch, rng.normal(size=shape), index, rng)


@given(data=st.data())
@HYPOTHESIS
def test_random_masks_and_repeated_indices_match_torch(torch, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    lead = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:lead]))
    check_index(torch, rng.normal(size=shape), mask, rng)
    rows = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
    check_index(torch, rng.normal(size=shape), (np.array(rows),), rng)


def test_basic_index_is_a_view_array_index_a_copy():
    x = Tensor(np.zeros((2, 3)))
    row = x[0]
    row.data[1] = 7
    assert x.data[0, 1] == 7           # a view, as in PyTorch
    picked = x[[0]]
    picked.data[0, 0] = 5
    assert x.data[0, 0] == 0           # an index array copies, as in PyTorch
    assert type(Tensor(np.arange(3.0))[1].data) is np.ndarray  # 0-d array, not a NumPy scalar


@pytest.mark.parametrize("key, match", [
    (5, "index 5 is out of bounds for axis 0 with size 3"),
    ((0, 0, 0), "too many indices"),
    (1.0, "only integers"),
    ("a", "only integers"),
    (np.array([0.0]), "must hold integers or bools, got dtype float64"),
    (Tensor([1.0]), "must hold integers or bools, got dtype float64"),
    (np.array([True, False]), "boolean index did not match"),
])
def test_bad_indices_are_named(key, match):
    with pytest.raises(IndexError, match=match):
        Tensor(np.zeros((3, 2)))[key]


def test_ambiguous_nested_list_is_refused():
    x = Tensor(np.zeros((3, 3)))
    for key in ([[0, 1], [2, 2]], [0, slice(None)], [None, 0]):
        with pytest.raises(IndexError, match=r"ambiguous.*t\[tuple\(seq\)\].*t\[Tensor\(seq\)\]"):
            x[key]
    assert x[(np.array([0, 1]), np.array([2, 2]))].shape == (2,)
    assert x[Tensor(np.array([[0, 1], [2, 2]]))].shape == (2, 2, 3)


def test_index_error_shows_the_index_and_shape():
    with pytest.raises(IndexError, match=r"GetItem: index \[:, 7\] is invalid for a tensor of shape \(3, 2\)"):
        Tensor(np.zeros((3, 2)))[:, 7]


def test_index_of_constant_needs_no_grad():
    out = Tensor(np.arange(3.0))[1:]
    assert not out.requires_grad and out.grad_fn is None


# ------------------------------------------------------------------ assignment

def test_setitem_on_a_constant_matches_torch(torch, rng):
    a = rng.normal(size=(3, 4))
    x, tx = Tensor(a.copy()), torch.tensor(a)
    for key, value in [(0, 1.5), ((slice(None), 1), Tensor(np.arange(3.0))), ([0, 2], Tensor(np.ones(4))),
                       (Tensor(a > 0), -1.0), ((1, 2), 7), (Ellipsis, Tensor(np.array(0.5)))]:
        x[key] = value
        tvalue = torch.from_numpy(value.data) if isinstance(value, Tensor) else value
        tx[to_torch_key(torch, key)] = tvalue
        close(x, tx, rtol=0, atol=0)


def test_setitem_casts_to_the_tensor_dtype_as_torch(torch):
    x, tx = Tensor(np.array([1, 2, 3])), torch.tensor([1, 2, 3])
    x[0] = 1.7
    tx[0] = 1.7
    close(x, tx, rtol=0, atol=0)
    assert x.dtype == np.int64
    f = Tensor(np.zeros(2, np.float32))
    f[1] = Tensor(np.array(0.1))
    assert f.dtype == np.float32 and f.data[1] == np.float32(0.1)


def test_setitem_keeps_identity_and_counts_versions():
    x = Tensor(np.zeros(3))
    data, version = x.data, x._version
    x[1] = 2.0
    assert x.data is data and x._version == version + 1


def test_setitem_on_a_tensor_that_requires_grad_is_refused_outside_no_grad():
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"tensor\[0\] = value: this tensor of shape \(3,\) requires grad.*no_grad"):
        w[0] = 1.0
    y = w * 2
    with pytest.raises(RuntimeError, match="requires grad"):
        y[:] = 0.0
    np.testing.assert_array_equal(w.data, 0)
    with no_grad():
        w[0] = 1.0  # what a hand-written update does
    np.testing.assert_array_equal(w.data, [1, 0, 0])
    assert w.is_leaf and w.requires_grad


def test_setitem_with_a_value_that_requires_grad_is_refused():
    v = Tensor(np.array(2.0), requires_grad=True)
    x = Tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match="value.detach()"):
        x[0] = v
    x[0] = v.detach()
    assert x.data[0] == 2.0


@pytest.mark.parametrize("value, error, match", [
    (Tensor(np.ones(5)), ValueError, r"cannot assign a value of shape \(5,\) into a tensor of shape \(3, 2\)"),
    (np.ones(2), TypeError, "wrap it with Tensor"),
    ("x", TypeError, "must be a number or a Tensor, got str"),
])
def test_bad_assignments_are_named(value, error, match):
    with pytest.raises(error, match=match):
        Tensor(np.zeros((3, 2)))[0] = value


# ------------------------------------------------------------ len and iteration

def test_len_and_iteration_match_torch(torch, rng):
    a = rng.normal(size=(3, 2))
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert len(x) == len(tx) == 3
    assert len(Tensor(np.zeros((0, 4)))) == 0
    rows, trows = list(x), list(tx)
    assert len(rows) == 3
    for row, trow in zip(rows, trows):
        close(row, trow, rtol=0, atol=0)
    # the rows are in the graph
    total = rows[0] * rows[2] + rows[0]
    ttotal = trows[0] * trows[2] + trows[0]
    total.backward()
    ttotal.backward(torch.ones_like(ttotal))
    close(x.grad, tx.grad)


def test_zero_d_has_no_len_or_iteration(torch):
    for fn in (len, iter):
        with pytest.raises(TypeError) as mine:
            fn(Tensor(1.0))
        with pytest.raises(TypeError) as theirs:
            fn(torch.tensor(1.0))
        assert str(mine.value) == str(theirs.value)
