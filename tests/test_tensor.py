"""The Tensor class: constructors, attributes, helpers and operators (DESIGN.md, handout Appendix A)."""
import numpy as np
import pytest

from mytorch.tensor import Tensor


# --------------------------------------------------------------- constructor
def test_defaults_follow_appendix_a():
    t = Tensor([1., 2.])
    assert isinstance(t.data, np.ndarray)
    assert t.requires_grad is False and t.is_leaf is True and t.is_parameter is False
    assert t.grad is None and t.grad_fn is None


@pytest.mark.parametrize("data, requires_grad, dtype", [
    (3, False, np.int64),
    (1., True, np.float64),
    (1, True, np.int64),
    (True, False, np.bool_),
    (np.float32(2.5), False, np.float32),
])
def test_zero_dimensional_forms(data, requires_grad, dtype):
    t = Tensor(data, requires_grad=requires_grad)
    assert t.shape == () and t.data.dtype == dtype
    assert t.data == data
    assert t.requires_grad is requires_grad


def test_ndarray_is_copied_like_torch_tensor():
    # Issue 20, habit 1: the user's array is never the tensor's memory (torch.tensor copies too).
    array = np.ones(3)
    t = Tensor(array)
    assert not np.shares_memory(t.data, array)
    t.data[0] = 5
    assert array[0] == 1


def test_tensor_of_a_tensor_copies_its_data():
    source = Tensor([1., 2.], requires_grad=True)
    t = Tensor(source)
    assert isinstance(t.data, np.ndarray)
    assert not np.shares_memory(t.data, source.data)
    np.testing.assert_array_equal(t.data, [1., 2.])


def test_parameter_flag():
    w = Tensor(np.ones(2), requires_grad=True, is_parameter=True)
    assert w.is_parameter and w.requires_grad and w.is_leaf


def test_shape_dtype_ndim_item_numpy():
    t = Tensor(np.zeros((2, 3, 4), dtype=np.float32))
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dtype == np.float32
    assert t.numpy() is t.data
    assert Tensor([[7.5]]).item() == 7.5


# ------------------------------------------------------ static constructors
@pytest.mark.parametrize("make, fill", [(Tensor.zeros, 0.0), (Tensor.ones, 1.0)])
def test_zeros_and_ones(make, fill):
    for t in (make(2, 3), make((2, 3))):
        assert isinstance(t, Tensor) and t.shape == (2, 3) and t.data.dtype == np.float64
        assert np.all(t.data == fill)
        assert t.requires_grad is False
    assert make().shape == ()


def test_arange():
    np.testing.assert_array_equal(Tensor.arange(4).data, [0, 1, 2, 3])
    np.testing.assert_array_equal(Tensor.arange(2, 5).data, [2, 3, 4])
    np.testing.assert_array_equal(Tensor.arange(0., 1., 0.25).data, [0., 0.25, 0.5, 0.75])


def test_randn_draws_from_numpy_global_generator():
    np.random.seed(3)
    t = Tensor.randn(2, 3)
    np.random.seed(3)
    expected = np.random.normal(0, 1, (2, 3))
    assert t.shape == (2, 3) and t.data.dtype == np.float64
    np.testing.assert_array_equal(t.data, expected)
    assert Tensor.randn((4,)).shape == (4,)


def test_empty():
    t = Tensor.empty(3, 2)
    assert t.shape == (3, 2) and t.data.dtype == np.float64


# ------------------------------------------------------------ fill_ and copy
def test_fill_is_in_place_and_returns_self():
    t = Tensor(np.zeros((2, 2)))
    array = t.data
    assert t.fill_(4.5) is t
    assert t.data is array
    np.testing.assert_array_equal(t.data, np.full((2, 2), 4.5))


def test_copy_is_an_independent_constant():
    x = Tensor([1., 2.], requires_grad=True, is_parameter=True)
    y = (x * 2.0).copy()
    assert y.requires_grad is False and y.is_leaf is True and y.grad_fn is None and not y.is_parameter
    c = x.copy()
    assert not np.shares_memory(c.data, x.data)
    c.data[0] = 100.
    assert x.data[0] == 1.


def test_detach_shares_data_but_leaves_the_graph():
    x = Tensor([1., 2.], requires_grad=True)
    d = (x * 2.0).detach()
    assert d.grad_fn is None and not d.requires_grad


# --------------------------------------------------------- shape operations
def test_transpose_method():
    t = Tensor(np.arange(6.).reshape(2, 3))
    np.testing.assert_array_equal(t.T().data, np.arange(6.).reshape(2, 3).T)
    assert Tensor(np.ones((2, 3, 4))).T().shape == (4, 3, 2)


@pytest.mark.parametrize("args, shape", [((3, 2), (3, 2)), (((3, 2),), (3, 2)), ((-1,), (6,)),
                                         ((1, -1, 3), (1, 2, 3)), (([6],), (6,))])
def test_reshape_forms(args, shape):
    t = Tensor(np.arange(6.).reshape(2, 3))
    out = t.reshape(*args)
    assert out.shape == shape
    np.testing.assert_array_equal(out.data.ravel(), np.arange(6.))


def test_log_and_exp_methods():
    t = Tensor([1., np.e])
    np.testing.assert_allclose(t.log().data, [0., 1.])
    np.testing.assert_allclose(Tensor([0., 1.]).exp().data, [1., np.e])


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), ()], ids=repr)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_matches_numpy(axis, keepdims):
    array = np.arange(12.).reshape(3, 4)
    out = Tensor(array).sum(axis=axis, keepdims=keepdims)
    expected = np.sum(array, axis=axis, keepdims=keepdims)
    assert isinstance(out.data, np.ndarray)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


def test_sum_over_no_axes_passes_the_gradient_through():
    x = Tensor(np.arange(4.).reshape(2, 2), requires_grad=True)
    (x.sum(axis=()) * Tensor([[1., 2.], [3., 4.]])).backward()
    np.testing.assert_array_equal(x.grad.data, [[1., 2.], [3., 4.]])


def test_mean():
    x = Tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    np.testing.assert_allclose(x.mean().data, 2.5)
    np.testing.assert_allclose(x.mean(axis=0).data, [1.5, 2.5, 3.5])
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3), 1 / 6))


# ---------------------------------------------------------------- operators
def test_operators_with_numbers_on_either_side():
    t = Tensor([2., 4.])
    cases = {
        "t+1": (t + 1, [3., 5.]), "1+t": (1 + t, [3., 5.]),
        "t-1": (t - 1, [1., 3.]), "1-t": (1 - t, [-1., -3.]),
        "t*3": (t * 3, [6., 12.]), "3*t": (3 * t, [6., 12.]),
        "t/2": (t / 2, [1., 2.]), "8/t": (8 / t, [4., 2.]),
        "-t": (-t, [-2., -4.]), "t**2": (t ** 2, [4., 16.]), "2**t": (2 ** t, [4., 16.]),
    }
    for name, (result, expected) in cases.items():
        assert isinstance(result, Tensor), name
        np.testing.assert_allclose(result.data, expected, rtol=1e-15, err_msg=name)


def test_numpy_scalar_on_the_left_gives_a_tensor():
    t = Tensor([2., 4.])
    for result in (np.float64(2) * t, np.int32(2) + t, np.float32(1) - t, np.float64(8) / t):
        assert isinstance(result, Tensor)


def test_number_operands_become_shared_read_only_constants():
    # One constant per (type, value, dtype), not one per op: a deep chain keeps one alive.
    x = Tensor([1., 2.], requires_grad=True)
    y = x * 1.5
    z = y * 1.5
    c1, c2 = y.grad_fn.ctx.saved_tensors[1], z.grad_fn.ctx.saved_tensors[1]
    assert c1 is c2 and not c1.requires_grad and c1.data.shape == ()
    assert not c1.data.flags.writeable  # no op can change it under the others
    z.backward()
    np.testing.assert_allclose(x.grad.data, [2.25, 2.25])
    # The same value under another type or dtype is another constant.
    assert (x * 1).grad_fn.ctx.saved_tensors[1] is not c1
    assert (Tensor(np.float32([1.]), requires_grad=True) * 1.5).grad_fn.ctx.saved_tensors[1].data.dtype == np.float32
    # Many different numbers: correct results, and the cache does not grow without bound.
    for k in range(1000):
        assert (x * float(k)).data[1] == 2. * k
    from mytorch import tensor_data
    assert len(tensor_data.CONSTANTS) <= 256


def test_int_tensors_follow_numpy_types():
    i = Tensor([1, 2])
    assert (i + 1).data.dtype == np.int64
    assert (i * 2.5).data.dtype == np.float64
    assert (i / 2).data.dtype == np.float64
    assert (i ** -1).data.dtype == np.float64  # NumPy refuses negative powers of ints
    np.testing.assert_array_equal((i ** -1).data, [1., 0.5])


@pytest.mark.parametrize("expr", [
    lambda t: t * 2.0, lambda t: 2.0 * t, lambda t: t + 1, lambda t: t / 3, lambda t: 1 - t,
    lambda t: t ** 2, lambda t: t ** 0.5, lambda t: -t, lambda t: t.exp(), lambda t: t.log(),
    lambda t: t.sum(), lambda t: t @ t, lambda t: t.T(), lambda t: t.reshape(4),
    lambda t: t * Tensor(np.float32(3)),
], ids=["t*2.0", "2.0*t", "t+1", "t/3", "1-t", "t**2", "t**0.5", "-t", "exp", "log",
        "sum", "matmul", "T", "reshape", "t*f32"])
def test_float32_stays_float32(expr):
    t = Tensor(np.full((2, 2), 1.5, dtype=np.float32), requires_grad=True)
    out = expr(t)
    assert out.data.dtype == np.float32
    out.backward()
    assert t.grad.data.dtype == np.float32


# --------------------------------------------------------------------- repr
def test_repr_is_readable():
    assert repr(Tensor(3.)) == "Tensor(3.)"
    assert repr(Tensor([1., 2.], requires_grad=True)) == "Tensor([1., 2.], requires_grad=True)"
    assert repr(Tensor([1., 2.], requires_grad=True) * 2.0) == "Tensor([2., 4.], grad_fn=<Mul>)"
    assert repr(Tensor(3)) == "Tensor(3, dtype=int64)"
    w = Tensor(np.ones(2, dtype=np.float32), requires_grad=True, is_parameter=True)
    assert repr(w) == "Tensor([1., 1.], requires_grad=True, is_parameter=True, dtype=float32)"
    assert str(Tensor(3.)) == repr(Tensor(3.))


def test_repr_of_a_matrix_aligns_rows():
    assert repr(Tensor([[1., 2.], [3., 4.]])) == "Tensor([[1., 2.],\n        [3., 4.]])"
