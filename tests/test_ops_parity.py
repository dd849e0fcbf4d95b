"""Every elementary operation against PyTorch, in float64: values and gradients.

Each check builds the same expression in MyTorch and in PyTorch from the same
arrays, compares the outputs, then calls ``backward()`` on both (MyTorch seeds
ones, so PyTorch gets ``torch.ones_like(out)``) and compares the gradient of
every input. Inputs that do not require grad must get no gradient in either.
"""
import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from mytorch.tensor import Tensor

# Elementwise arithmetic is the same IEEE operation in NumPy and PyTorch, but a
# broadcast gradient is a sum whose order may differ: allow rounding there.
RTOL = 1e-12
# Matrix products and long sums: the BLAS kernels differ in summation order.
RTOL_REDUCE = 1e-10

HYPOTHESIS = settings(max_examples=50, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_close(got, expected, rtol):
    """``got`` equals ``expected`` up to ``rtol``, with an absolute floor at the array's own scale.

    A gradient that should be exactly 0 is a sum of terms that cancel; in
    floating point it may come out as a few ulps of those terms (-5.55e-17
    where PyTorch gives 0), so a pure relative test (atol=0) fails by chance.
    The floor is ``rtol`` times the largest magnitude in ``expected`` (at
    least 1): far below any real mistake, which is off by the terms themselves.
    """
    expected = np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


def check_parity(torch, my_fn, torch_fn, inputs, requires_grad=None, rtol=RTOL):
    """Compare ``my_fn(*tensors)`` with ``torch_fn(*torch_tensors)``, values and gradients.

    ``inputs`` are ndarrays; ``requires_grad`` says which of them need a
    gradient (default: all).
    """
    if requires_grad is None:
        requires_grad = [True] * len(inputs)
    mine = [Tensor(x.copy(), requires_grad=rg) for x, rg in zip(inputs, requires_grad)]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=rg) for x, rg in zip(inputs, requires_grad)]

    out = my_fn(*mine)
    ref = torch_fn(*theirs)
    assert isinstance(out, Tensor)
    assert out.shape == tuple(ref.shape)
    assert out.data.dtype == np.float64
    assert_close(out.data, ref.detach().numpy(), rtol)
    assert out.requires_grad == ref.requires_grad

    if not ref.requires_grad:
        return
    out.backward()
    ref.backward(torch.ones_like(ref))
    for m, t in zip(mine, theirs):
        if t.grad is None:
            assert m.grad is None
            continue
        assert isinstance(m.grad, Tensor)
        assert m.grad.shape == m.shape
        assert_close(m.grad.data, t.grad.numpy(), rtol)


def values(rng, shape, away_from_zero=False):
    """Random float64 data; bounded away from zero for denominators and logs."""
    if away_from_zero:
        return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return rng.standard_normal(shape)


BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 5), (5,)),
    ((5,), (2, 5)),
    ((2, 1, 3), (4, 1)),
    ((1,), (3,)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((), ()),
]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("requires_grad", [(True, True), (True, False), (False, True)], ids=str)
def test_binary_ops_broadcast(torch, rng, op, shapes, requires_grad):
    fn = BINARY[op]
    a = values(rng, shapes[0])
    b = values(rng, shapes[1], away_from_zero=(op == "div"))
    check_parity(torch, fn, fn, [a, b], requires_grad=list(requires_grad))


SCALARS = [2.5, -3, np.float64(0.75), np.float32(1.5), np.int64(4), True]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_ops_with_scalars(torch, rng, op, scalar, side):
    fn = BINARY[op]
    x = values(rng, (2, 3), away_from_zero=True)
    plain = scalar.item() if isinstance(scalar, np.generic) else scalar
    plain = int(plain) if isinstance(plain, bool) else plain  # torch refuses `True - t`
    if side == "left":
        check_parity(torch, lambda t: fn(scalar, t), lambda t: fn(plain, t), [x])
    else:
        check_parity(torch, lambda t: fn(t, scalar), lambda t: fn(t, plain), [x])


def test_numpy_scalar_on_the_left_gives_a_tensor():
    t = Tensor([1.0, 2.0], requires_grad=True)
    for result in (np.float64(2) * t, np.float64(2) + t, np.float64(2) - t, np.float64(2) / t,
                   np.int64(2) * t, np.float32(2) * t):
        assert isinstance(result, Tensor)
        assert result.grad_fn is not None


@pytest.mark.parametrize("expr", [
    lambda x: x * x,
    lambda x: x + x,
    lambda x: x - x,
    lambda x: x / x,
    lambda x: x * x * x,
    lambda x: (x + x) * x,
    lambda x: x * (x + 1.0) / (x * x + 2.0),
    lambda x: -x * x - x,
], ids=["x*x", "x+x", "x-x", "x/x", "x*x*x", "(x+x)*x", "rational", "-x*x-x"])
def test_repeated_use_of_one_tensor(torch, rng, expr):
    check_parity(torch, expr, expr, [values(rng, (3, 2), away_from_zero=True)])


def test_repeated_use_across_broadcast(torch, rng):
    # One tensor broadcast against a derived tensor of a different shape.
    def expr(x, y):
        return (x * y + x) / (y * y + 1.0) - x

    check_parity(torch, expr, expr, [values(rng, (4,)), values(rng, (3, 4))])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
def test_neg(torch, rng, shape):
    check_parity(torch, operator.neg, operator.neg, [values(rng, shape)])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
def test_exp(torch, rng, shape):
    check_parity(torch, lambda t: t.exp(), lambda t: t.exp(), [values(rng, shape)])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
def test_log(torch, rng, shape):
    x = rng.uniform(0.1, 5.0, size=shape)
    check_parity(torch, lambda t: t.log(), lambda t: t.log(), [x])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
def test_transpose_reverses_all_axes(torch, rng, shape):
    reverse = tuple(reversed(range(len(shape))))
    check_parity(torch, lambda t: t.T() * 1.0, lambda t: t.permute(reverse) * 1.0, [values(rng, shape)])


@pytest.mark.parametrize("new_shape", [(3, 2), (6,), (-1,), (1, 6, 1), (2, -1), (3, 1, 2)], ids=str)
def test_reshape(torch, rng, new_shape):
    # Multiply by a weight afterwards so each element gets a distinct gradient.
    w = values(rng, np.empty((2, 3)).reshape(new_shape).shape)
    check_parity(torch,
                 lambda t: t.reshape(*new_shape) * Tensor(w),
                 lambda t: t.reshape(*new_shape) * torch.tensor(w),
                 [values(rng, (2, 3))])


def test_reshape_to_and_from_zero_dimensional(torch, rng):
    check_parity(torch, lambda t: t.reshape(()) * 3.0, lambda t: t.reshape(()) * 3.0, [values(rng, (1, 1))])
    check_parity(torch, lambda t: t.reshape(1, 1) * 3.0, lambda t: t.reshape(1, 1) * 3.0, [values(rng, ())])


@pytest.mark.parametrize("exponent", [2, 3, 1, 0, -1, -2.5, 0.5, 1.5, np.float64(2.0)], ids=repr)
def test_pow(torch, rng, exponent):
    x = rng.uniform(0.2, 3.0, size=(2, 3))
    plain = float(exponent)
    check_parity(torch, lambda t: t ** exponent, lambda t: t ** plain, [x])


@pytest.mark.parametrize("exponent", [0, 1, 2, 3])
def test_pow_at_zero_matches_torch(torch, exponent):
    # x ** 0 is the constant 1, so its gradient at 0 is 0, not 0 * 0**-1 (nan).
    x = np.array([0.0, -1.5, 2.0])
    check_parity(torch, lambda t: t ** exponent, lambda t: t ** exponent, [x])


def test_pow_of_negative_base_with_integer_exponent(torch, rng):
    x = -rng.uniform(0.5, 2.0, size=(4,))
    check_parity(torch, lambda t: t ** 3, lambda t: t ** 3, [x])


@pytest.mark.parametrize("base", [2.0, np.e, 0.5, 3])
def test_number_to_the_power_of_a_tensor(torch, rng, base):
    check_parity(torch, lambda t: base ** t, lambda t: base ** t, [values(rng, (3,))], rtol=1e-10)


SUM_AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("axis", SUM_AXES, ids=repr)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum(torch, rng, axis, keepdims):
    x = values(rng, (2, 3, 4))
    # A weight after the sum gives each output element its own gradient.
    out_shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    w = values(rng, out_shape)

    def torch_sum(t):
        total = t.sum() if axis is None and not keepdims else t.sum(dim=axis, keepdim=keepdims)
        return total * torch.tensor(w)

    check_parity(torch, lambda t: t.sum(axis, keepdims) * Tensor(w), torch_sum, [x], rtol=RTOL_REDUCE)


def test_sum_keyword_arguments_and_zero_dimensional_input(torch, rng):
    x = values(rng, (3, 4))
    check_parity(torch, lambda t: t.sum(axis=1, keepdims=True), lambda t: t.sum(dim=1, keepdim=True), [x])
    check_parity(torch, lambda t: t.sum(), lambda t: t.sum(), [values(rng, ())])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 6)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("requires_grad", [(True, True), (True, False), (False, True)], ids=str)
def test_matmul(torch, rng, shapes, requires_grad):
    a, b = values(rng, shapes[0]), values(rng, shapes[1])
    check_parity(torch, operator.matmul, operator.matmul, [a, b], requires_grad=list(requires_grad),
                 rtol=RTOL_REDUCE)


def test_composite_expression(torch, rng):
    # A linear layer, a log-sum-exp and a mean: every op feeding into the next.
    def expr(x, w, b):
        z = x @ w.T() + b
        return ((z - 1.0).exp().sum(axis=1, keepdims=True).log() * 0.5 - z / 3.0).sum() / 4.0

    def torch_expr(x, w, b):
        z = x @ w.T + b
        return ((z - 1.0).exp().sum(dim=1, keepdim=True).log() * 0.5 - z / 3.0).sum() / 4.0

    check_parity(torch, expr, torch_expr, [values(rng, (4, 3)), values(rng, (5, 3)), values(rng, (5,))],
                 rtol=RTOL_REDUCE)


def test_non_scalar_backward_equals_torch_sum_backward(torch, rng):
    x = values(rng, (3, 4))
    mine = Tensor(x.copy(), requires_grad=True)
    (mine * mine * 2.0).backward()
    theirs = torch.tensor(x, requires_grad=True)
    (theirs * theirs * 2.0).sum().backward()
    assert_close(mine.grad.data, theirs.grad.numpy(), RTOL)


def test_gradients_accumulate_like_torch(torch, rng):
    x = values(rng, (2, 3))
    mine = Tensor(x.copy(), requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (mine * 3.0).backward()
    (mine * mine).backward()
    (theirs * 3.0).sum().backward()
    (theirs * theirs).sum().backward()
    assert_close(mine.grad.data, theirs.grad.numpy(), RTOL)


def test_gradient_arrays_shared_between_nodes_are_not_modified_in_place(torch, rng):
    # Add hands one array to both inputs, and each may be a node that gathers
    # more gradient later: summing into that array in place would leak into
    # the other node. (Found by test_random_graph_property.)
    def expr(x, y):
        zero = (-y + y) * 0.5
        diff = (y - x) * 0.5
        same = (x + x) * 0.5
        mixed = (-zero + same) * 0.5
        return same + (diff * mixed) * 0.5 + mixed

    check_parity(torch, expr, expr, [values(rng, (2, 3)), values(rng, (3,))])


# ------------------------------------------------------------ property tests
@HYPOTHESIS
@given(op=st.sampled_from(sorted(BINARY)),
       shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_binary_ops_broadcast_property(torch, op, shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = values(rng, a_shape)
    b = values(rng, b_shape, away_from_zero=(op == "div"))
    check_parity(torch, BINARY[op], BINARY[op], [a, b])


@HYPOTHESIS
@given(shapes=mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=4, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_matmul_property(torch, shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    check_parity(torch, operator.matmul, operator.matmul, [values(rng, a_shape), values(rng, b_shape)],
                 rtol=RTOL_REDUCE)


@HYPOTHESIS
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple),
       data=st.data(), keepdims=st.booleans())
def test_sum_property(torch, shape, data, keepdims):
    ndim = len(shape)
    axes = data.draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                              unique_by=lambda ax: ax % ndim).map(tuple))
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    check_parity(torch, lambda t: t.sum(axes, keepdims) * 2.0,
                 lambda t: t.sum(dim=axes, keepdim=keepdims) * 2.0, [x], rtol=RTOL_REDUCE)


@HYPOTHESIS
@given(seed=st.integers(0, 2**32 - 1), n_ops=st.integers(1, 12))
def test_random_graph_property(torch, seed, n_ops):
    """Random DAGs that reuse earlier results: fan-out, diamonds, shared gradient arrays."""
    rng = np.random.default_rng(seed)
    ops = [operator.add, operator.sub, operator.mul, lambda a, b: -a + b]
    plan = [(int(rng.integers(len(ops))), int(rng.integers(0, 3 + i)), int(rng.integers(0, 3 + i)))
            for i in range(n_ops)]
    outputs = rng.choice(np.arange(3, 3 + n_ops), size=min(3, n_ops), replace=False)

    def build(x, y, const_like):
        pool = [x, y, const_like]
        for op, i, j in plan:
            pool.append(ops[op](pool[i], pool[j]) * 0.5)
        total = pool[outputs[0]]
        for k in outputs[1:]:
            total = total + pool[k]
        return total

    x, y = values(rng, (2, 3)), values(rng, (3,))
    c = values(rng, (2, 1))
    check_parity(torch, lambda a, b: build(a, b, Tensor(c)), lambda a, b: build(a, b, torch.tensor(c)),
                 [x, y], rtol=RTOL_REDUCE)
