"""Checks for Part 1: the given Addition, 1.1 Sub/Mul/Div, and 1.2 the autograd engine.

Every check is a function of a ``harness.Context`` (its ``rng`` makes the
shapes and values random but seeded); its docstring's first line is what the
report calls it. Expected values come from NumPy, never from mytorch.
"""
import numpy as np

from harness import (assert_flags, assert_grad, assert_no_grad, assert_parents, assert_tensor,
                     central_difference, require, student)


def _tensor_class():
    return student("mytorch.tensor").Tensor


def _shape(rng):
    return tuple(int(n) for n in rng.integers(2, 6, size=2))


def _leaves(rng, shape, count, low=-2.0, high=2.0):
    """``count`` float64 arrays of ``shape``, and Tensors that require grad wrapping copies of them."""
    Tensor = _tensor_class()
    arrays = [rng.uniform(low, high, shape) for _ in range(count)]
    return arrays, [Tensor(a.copy(), requires_grad=True) for a in arrays]


def _away_from_zero(rng, shape):
    """Divisors: magnitudes in [0.5, 2], random signs."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# --------------------------------------------------------------- Addition
def check_add_direct(ctx):
    """Add.forward and Add.backward, called directly with a ContextManager (given code)."""
    engine = student("mytorch.autograd_engine")
    F = student("mytorch.nn.functional")
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    a, b = ctx.rng.normal(size=shape), ctx.rng.normal(size=shape)
    fctx = engine.ContextManager()
    out = F.Add.forward(fctx, Tensor(a.copy()), Tensor(b.copy()))
    assert_tensor("Add.forward(ctx, a, b)", out, a + b)
    grads = F.Add.backward(fctx, Tensor.ones(*shape))
    require(isinstance(grads, (tuple, list)) and len(grads) == 2,
            f"Add.backward: expected a tuple of 2 gradients (one per input), got {grads!r}")
    assert_tensor("Add.backward(ctx, ones)[0]", grads[0], np.ones(shape))
    assert_tensor("Add.backward(ctx, ones)[1]", grads[1], np.ones(shape))


# ------------------------------------------------- 1.1 basic operations
def _check_direct(ctx, op_name, forward, grads_of):
    """Call ``op_name``'s forward and backward directly; compare with NumPy."""
    engine = student("mytorch.autograd_engine")
    F = student("mytorch.nn.functional")
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    a = ctx.rng.uniform(-2, 2, shape)
    b = _away_from_zero(ctx.rng, shape)
    g = ctx.rng.normal(size=shape)
    op = getattr(F, op_name)
    fctx = engine.ContextManager()
    out = op.forward(fctx, Tensor(a.copy()), Tensor(b.copy()))
    assert_tensor(f"{op_name}.forward(ctx, a, b) with a, b of shape {shape}", out, forward(a, b))
    grads = op.backward(fctx, Tensor(g.copy()))
    require(isinstance(grads, (tuple, list)) and len(grads) == 2,
            f"{op_name}.backward: expected a tuple of 2 gradients (one per input), got {grads!r}")
    want_a, want_b = grads_of(a, b, g)
    assert_tensor(f"{op_name}.backward(ctx, grad_output)[0] (gradient w.r.t. a)", grads[0], want_a)
    assert_tensor(f"{op_name}.backward(ctx, grad_output)[1] (gradient w.r.t. b)", grads[1], want_b)


def _check_graph(ctx, symbol, forward, grads_of, shape=None):
    """``a <symbol> b`` for two leaves that require grad: value, graph node, gradients."""
    shape = _shape(ctx.rng) if shape is None else shape
    Tensor = _tensor_class()
    a = ctx.rng.uniform(-2, 2, shape)
    b = _away_from_zero(ctx.rng, shape)
    ta, tb = Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
    what = f"a {symbol} b with a, b of shape {shape}"
    out = forward(ta, tb)
    assert_tensor(what, out, forward(a, b))
    assert_flags(what, out, requires_grad=True, is_leaf=False)
    assert_parents(what, out, [("AccumulateGrad", ta), ("AccumulateGrad", tb)])
    out.backward()
    want_a, want_b = grads_of(a, b, np.ones(shape))
    assert_grad(f"a (after ({what}).backward())", ta, want_a)
    assert_grad(f"b (after ({what}).backward())", tb, want_b)


def _check_constant(ctx, symbol, forward, grads_of):
    """``a <symbol> k`` with a constant ``k``: no gradient and a None node for ``k``."""
    shape = _shape(ctx.rng)
    Tensor = _tensor_class()
    a = ctx.rng.uniform(-2, 2, shape)
    k = _away_from_zero(ctx.rng, shape)
    ta, tk = Tensor(a.copy(), requires_grad=True), Tensor(k.copy())
    what = f"a {symbol} k with k a constant (requires_grad=False), shape {shape}"
    out = forward(ta, tk)
    assert_tensor(what, out, forward(a, k))
    assert_flags(what, out, requires_grad=True, is_leaf=False)
    assert_parents(what, out, [("AccumulateGrad", ta), None])
    out.backward()
    assert_grad(f"a (after ({what}).backward())", ta, grads_of(a, k, np.ones(shape))[0])
    assert_no_grad("k", tk)
    both = forward(Tensor(a.copy()), tk)
    assert_flags(f"{symbol} of two constants", both, requires_grad=False, is_leaf=True)


def _sub(a, b):
    return a - b


def _sub_grads(a, b, g):
    return g, -g


def check_sub_direct(ctx):
    """Sub.forward and Sub.backward, called directly with a ContextManager."""
    _check_direct(ctx, "Sub", _sub, _sub_grads)


def check_sub_graph(ctx):
    """a - b: value, graph node (AccumulateGrad parents), gradients 1 and -1."""
    _check_graph(ctx, "-", _sub, _sub_grads)


def check_sub_constant(ctx):
    """a - constant: the constant gets no gradient and a None node."""
    _check_constant(ctx, "-", _sub, _sub_grads)


def check_sub_0d(ctx):
    """a - b for 0-d tensors (single numbers, like Tensor(1., requires_grad=True))."""
    _check_graph(ctx, "-", _sub, _sub_grads, shape=())


def _mul(a, b):
    return a * b


def _mul_grads(a, b, g):
    return g * b, g * a


def check_mul_direct(ctx):
    """Mul.forward and Mul.backward, called directly with a ContextManager."""
    _check_direct(ctx, "Mul", _mul, _mul_grads)


def check_mul_graph(ctx):
    """a * b: value, graph node (AccumulateGrad parents), gradients b and a."""
    _check_graph(ctx, "*", _mul, _mul_grads)


def check_mul_constant(ctx):
    """a * constant: the constant gets no gradient and a None node."""
    _check_constant(ctx, "*", _mul, _mul_grads)


def check_mul_0d(ctx):
    """a * b for 0-d tensors."""
    _check_graph(ctx, "*", _mul, _mul_grads, shape=())


def _div(a, b):
    return a / b


def _div_grads(a, b, g):
    return g / b, -g * a / b ** 2


def check_div_direct(ctx):
    """Div.forward and Div.backward, called directly with a ContextManager."""
    _check_direct(ctx, "Div", _div, _div_grads)


def check_div_graph(ctx):
    """a / b: value, graph node (AccumulateGrad parents), gradients 1/b and -a/b^2."""
    _check_graph(ctx, "/", _div, _div_grads)


def check_div_constant(ctx):
    """a / constant: the constant gets no gradient and a None node."""
    _check_constant(ctx, "/", _div, _div_grads)


def check_div_0d(ctx):
    """a / b for 0-d tensors."""
    _check_graph(ctx, "/", _div, _div_grads, shape=())


# ------------------------------------------------------------- 1.2 autograd
def check_handout_example(ctx):
    """The handout's example (§0.1.4-0.1.7): d = a * b + a; e = (d + c) + 3 gives a.grad 3, c.grad 1."""
    Tensor = _tensor_class()
    a = Tensor(1., requires_grad=True)
    b = Tensor(2.)
    c = Tensor(3., requires_grad=True)
    ab = a * b
    d = ab + a
    dc = d + c
    e = dc + 3
    assert_tensor("e = ((a * b + a) + c) + 3", e, np.array(9.0))
    for name, t in (("a * b", ab), ("d = a * b + a", d), ("d + c", dc), ("e", e)):
        assert_flags(name, t, requires_grad=True, is_leaf=False)
    for name, t, leaf in (("a", a, True), ("b", b, False), ("c", c, True)):
        assert_flags(name, t, requires_grad=leaf, is_leaf=True)
    assert_parents("a * b", ab, [("AccumulateGrad", a), None])
    assert_parents("d = a * b + a", d, ["BackwardFunction", ("AccumulateGrad", a)])
    assert_parents("d + c", dc, ["BackwardFunction", ("AccumulateGrad", c)])
    assert_parents("e = (d + c) + 3", e, ["BackwardFunction", None])
    require(d.grad_fn.next_functions[0] is ab.grad_fn,
            "d.grad_fn.next_functions[0]: expected the node of a * b itself (its grad_fn), got another object")
    e.backward()
    assert_grad("a", a, np.array(3.0))
    assert_grad("c", c, np.array(1.0))
    assert_no_grad("b", b)
    for name, t in (("a * b", ab), ("d", d), ("e", e)):
        require(getattr(t, "grad", None) is None,
                f"{name}.grad: only leaves store gradients (AccumulateGrad); expected None for this "
                f"intermediate result, got {t.grad!r}")


def check_constants(ctx):
    """Operations on constants only give constants: requires_grad False, is_leaf True, no grad_fn."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    x, y = Tensor(ctx.rng.normal(size=shape)), Tensor(ctx.rng.normal(size=shape))
    for what, out in (("x + y", x + y), ("x * y", x * y), ("x.log() of x > 0", (x * x).log())):
        assert_flags(f"{what} for constants x, y", out, requires_grad=False, is_leaf=True)


# Problem 1.2 grades the engine, so its graphs use only the given operations
# (Add, Log, Reshape, Transpose) and Mul, which the handout's own example
# needs: a mistake in Sub or Div costs only its own problem. Operands always
# have equal shapes, since broadcasting comes in Problem 2.1.
def _composite(x, w, one, log=np.log):
    return x * w + x * x + log(w * w + one)


def check_reused_leaf(ctx):
    """A leaf used several times gets the sum of the gradients along every path (§0.1.6)."""
    shape = _shape(ctx.rng)
    (x, w), (tx, tw) = _leaves(ctx.rng, shape, 2)
    Tensor = _tensor_class()
    one = np.ones(shape)
    out = _composite(tx, tw, Tensor(one.copy()), log=lambda t: t.log())
    assert_tensor("x * w + x * x + log(w * w + 1)", out, _composite(x, w, one))
    out.backward()
    assert_grad("x", tx, central_difference(lambda v: _composite(v, w, one), x), rtol=1e-5, atol=1e-6)
    assert_grad("w", tw, central_difference(lambda v: _composite(x, v, one), w), rtol=1e-5, atol=1e-6)


def _shared(x, w, transpose=np.transpose, reshape=np.reshape):
    h = x * w
    g = h * h + h
    # Through Transpose and Reshape and back: the same values, a longer graph.
    return reshape(transpose(g), (-1,)) * reshape(transpose(h + g), (-1,))


def check_shared_intermediate(ctx):
    """An intermediate result used by several operations passes on the sum of its gradients."""
    shape = _shape(ctx.rng)
    (x, w), (tx, tw) = _leaves(ctx.rng, shape, 2)
    out = _shared(tx, tw, transpose=lambda t: t.T(), reshape=lambda t, shape: t.reshape(*shape))
    assert_tensor("h = x * w; g = h * h + h; g.T().reshape(-1) * (h + g).T().reshape(-1)", out, _shared(x, w))
    out.backward()
    assert_grad("x", tx, central_difference(lambda v: _shared(v, w), x), rtol=1e-5, atol=1e-6)
    assert_grad("w", tw, central_difference(lambda v: _shared(x, v), w), rtol=1e-5, atol=1e-6)


def check_same_tensor_twice(ctx):
    """x + x and x * x: one tensor as both inputs of an operation gets both gradients."""
    shape = _shape(ctx.rng)
    (x,), (tx,) = _leaves(ctx.rng, shape, 1)
    (tx + tx).backward()
    assert_grad("x (after (x + x).backward())", tx, np.full(shape, 2.0))
    (x2,), (tx2,) = _leaves(ctx.rng, shape, 1)
    (tx2 * tx2).backward()
    assert_grad("x (after (x * x).backward())", tx2, 2 * x2)


def check_chains(ctx):
    """A chain of 50 additions, and y = y + y repeated 10 times."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    x = Tensor(ctx.rng.normal(size=shape), requires_grad=True)
    y = x
    for _ in range(50):
        y = y + x
    y.backward()
    assert_grad("x (after y = x; 50 times y = y + x; y.backward())", x, np.full(shape, 51.0))
    z = Tensor(ctx.rng.normal(size=shape), requires_grad=True)
    y = z
    for _ in range(10):
        y = y + y
    y.backward()
    assert_grad("z (after y = z; 10 times y = y + y; y.backward())", z, np.full(shape, 1024.0))


def check_accumulation(ctx):
    """Gradients add up (+=) over backward calls, and each leaf's .grad owns its own memory."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    (x, y), (tx, ty) = _leaves(ctx.rng, shape, 2)
    (tx + ty).backward()
    assert_grad("x (after (x + y).backward())", tx, np.ones(shape))
    assert_grad("y (after (x + y).backward())", ty, np.ones(shape))
    k = ctx.rng.normal(size=shape)
    (tx * Tensor(k.copy())).backward()
    assert_grad("x (after (x + y).backward() then (x * k).backward())", tx, 1 + k)
    # Add hands one gradient array to both inputs; storing it in both leaves
    # would make the second backward above change y.grad too.
    assert_grad("y (unchanged by (x * k).backward(): x.grad and y.grad must not share memory)",
                ty, np.ones(shape))


ADDITION = [check_add_direct]
SUBTRACTION = [check_sub_direct, check_sub_graph, check_sub_constant, check_sub_0d]
MULTIPLICATION = [check_mul_direct, check_mul_graph, check_mul_constant, check_mul_0d]
DIVISION = [check_div_direct, check_div_graph, check_div_constant, check_div_0d]
AUTOGRAD = [check_handout_example, check_constants, check_reused_leaf, check_shared_intermediate,
            check_same_tensor_twice, check_chains, check_accumulation]
