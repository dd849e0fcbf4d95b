"""Checks for Part 1: the given Addition, 1.1 Sub/Mul/Div, and 1.2 the autograd engine.

Every check is a function of a ``harness.Context`` (its ``rng`` makes the
shapes and values random but seeded); its docstring's first line is what the
report calls it. Expected values come from NumPy, never from mytorch.

Not a pytest module, despite its name (the handout's): the autograder's
runner imports it and runs the checks that problems.py lists, one problem per
process. (The reference's own pytest suite is tests/, which the kit leaves out.)
"""
import numpy as np

import diagnose
from harness import (CheckFailure, assert_flags, assert_grad, assert_no_grad, assert_parents, assert_tensor,
                     central_difference, crash_report, data_of, describe, fmt_array, note, require, student)


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
            f"Add.backward: expected a tuple of 2 gradients (one per input), got {describe(grads)}")
    assert_tensor("Add.backward(ctx, ones)[0]", grads[0], np.ones(shape))
    assert_tensor("Add.backward(ctx, ones)[1]", grads[1], np.ones(shape))


# ------------------------------------------------- 1.1 basic operations
# Problems 1.1.x grade each operation on its own: its forward and backward
# called directly with a ContextManager, and the operator's value. Building
# the graph (flags, parents, gradients through backward()) is Function.apply's
# job and graded in 1.2 only, so 1.1 can pass before 1.2 is written and a
# mistake in the engine costs only 1.2. Elementwise results are exact up to a
# few rounding errors, hence rtol 1e-10: a divisor off by 1e-8 shows.
EXACT = dict(rtol=1e-10, atol=1e-12)


def _divisors(rng, shape):
    """Divisors near 1e-2 (random signs): ``a / (b + 1e-8)`` is then off by ~1e-6, far beyond rounding."""
    return rng.uniform(0.01, 0.03, shape) * rng.choice([-1.0, 1.0], shape)


def _unchanged(what, tensor, original):
    """An operation must not write into its inputs (e.g. ``a.data -= b.data`` in a forward)."""
    require(np.array_equal(getattr(tensor, "data", None), original),
            f"{what} changed its input: the input's .data was {fmt_array(original)}, now "
            f"{fmt_array(getattr(tensor, 'data', None))}; compute a new array (a.data - b.data) "
            "instead of writing into an input (-=, out=...)")


def _check_direct(ctx, op_name, forward, grads_of, shape=None):
    """Call ``op_name``'s forward and backward directly; compare with NumPy; inputs stay unchanged."""
    engine = student("mytorch.autograd_engine")
    F = student("mytorch.nn.functional")
    Tensor = _tensor_class()
    shape = _shape(ctx.rng) if shape is None else shape
    a = ctx.rng.uniform(-2, 2, shape)
    b = _divisors(ctx.rng, shape) if op_name == "Div" else _away_from_zero(ctx.rng, shape)
    g = ctx.rng.normal(size=shape)
    op = getattr(F, op_name)
    fctx = engine.ContextManager()
    ta, tb, tg = Tensor(a.copy()), Tensor(b.copy()), Tensor(g.copy())
    what = f"{op_name}.forward(ctx, a, b) with a, b of shape {shape}"
    out = op.forward(fctx, ta, tb)
    assert_tensor(what, out, forward(a, b), **EXACT)
    _unchanged(what + " (input a)", ta, a)
    _unchanged(what + " (input b)", tb, b)
    grads = op.backward(fctx, tg)
    require(isinstance(grads, (tuple, list)) and len(grads) == 2,
            f"{op_name}.backward: expected a tuple of 2 gradients (one per input), got {describe(grads)}")
    want_a, want_b = grads_of(a, b, g)
    _not_swapped(op_name, grads, (want_a, want_b))
    assert_tensor(f"{op_name}.backward(ctx, grad_output)[0] (gradient w.r.t. a, shape {shape})", grads[0],
                  want_a, **EXACT)
    assert_tensor(f"{op_name}.backward(ctx, grad_output)[1] (gradient w.r.t. b, shape {shape})", grads[1],
                  want_b, **EXACT)
    _unchanged(f"{op_name}.backward(ctx, grad_output) (grad_output)", tg, g)
    _unchanged(f"{op_name}.backward (input a saved by forward)", ta, a)
    _unchanged(f"{op_name}.backward (input b saved by forward)", tb, b)


def _not_swapped(op_name, grads, expected):
    """Fail with a named cause when backward returned the right gradients in the wrong order."""
    arrays = [getattr(grad, "data", None) for grad in grads]
    if all(isinstance(a, np.ndarray) for a in arrays):
        hint = diagnose.swapped_gradients(op_name, arrays, expected)
        if hint:
            raise CheckFailure(f"{op_name}.backward(ctx, grad_output): expected (gradient w.r.t. a, gradient "
                               f"w.r.t. b) = ({fmt_array(expected[0])}, {fmt_array(expected[1])}), got "
                               f"({fmt_array(arrays[0])}, {fmt_array(arrays[1])})\n{hint}")


def _check_operator(ctx, op_name, symbol, forward):
    """The operator's value: Tensor <op> Tensor (also 0-d) and number <op> Tensor; inputs unchanged.

    Only the value: before Problem 1.2 the given part of Function.apply
    returns the forward's result as a constant, which is all this needs.
    """
    Tensor = _tensor_class()
    for shape in (_shape(ctx.rng), ()):
        a = ctx.rng.uniform(-2, 2, shape)
        b = _divisors(ctx.rng, shape) if op_name == "Div" else _away_from_zero(ctx.rng, shape)
        ta, tb = Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
        what = f"a {symbol} b with a, b of shape {shape}"
        out = forward(ta, tb)
        assert_tensor(f"({what}).data", out, forward(a, b), **EXACT)
        _unchanged(what + " (a)", ta, a)
        _unchanged(what + " (b)", tb, b)
    k = float(_away_from_zero(ctx.rng, ()))
    shape = _shape(ctx.rng)
    b = _divisors(ctx.rng, shape) if op_name == "Div" else _away_from_zero(ctx.rng, shape)
    tb = Tensor(b.copy())
    what = f"{k:.4g} {symbol} b with b of shape {shape} (a number first: Tensor.__r*__ is given code)"
    assert_tensor(f"({what}).data", forward(k, tb), forward(k, b), **EXACT)
    _unchanged(what, tb, b)


def _check_number_operand(ctx, op_name, symbol, method, forward):
    """A 0-point note: ``a <op> 3`` (a Tensor, then a number), which PyTorch accepts.

    The handout asks for ``tensor_a <op> tensor_b`` only (§1.1.1), so this is
    never scored; but the student's own Part 2 code will likely write
    ``x / batch_size`` or ``x * 0.5``, and an operator that hands the number
    on as it is fails there, far from its cause.
    """
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    a = ctx.rng.uniform(-2, 2, shape)
    k = float(_away_from_zero(ctx.rng, ()))
    what = f"a {symbol} {k:.4g} with a of shape {shape} (a Tensor, then a number)"
    advice = (f"PyTorch accepts a number on either side; the handout asks only for two Tensors, so this costs "
              f"no points here. But your own Part 2 code may write x {symbol} number: in Tensor.{method} "
              f"(mytorch/tensor.py) wrap a number first, as the given __add__ does (_operand(other, self, "
              f"\"{symbol}\")), or Tensor(other) when it is not a Tensor.")
    try:
        out = forward(Tensor(a.copy()), k)
    except Exception as exc:  # noqa: B902 (student code: any error is the observation)
        message, _ = crash_report(exc)
        raise CheckFailure(f"{what} raised an error:\n{message}\n{advice}") from None
    try:
        assert_tensor(f"({what}).data", out, forward(a, k), **EXACT)
    except CheckFailure as failure:
        raise CheckFailure(f"{failure}\n{advice}") from None


def _elementwise_checks(op_name, symbol, method, forward, grads_of, divisors_note=""):
    """The checks of one Part 1.1 operation: direct calls, on 0-d tensors, the operator; a number operand (a note).

    ``forward(a, b)`` and ``grads_of(a, b, g)`` are the NumPy formulas (they
    also run on Tensors, for the operator check).
    """
    def direct(ctx):
        _check_direct(ctx, op_name, forward, grads_of)

    def direct_0d(ctx):
        _check_direct(ctx, op_name, forward, grads_of, shape=())

    def operator(ctx):
        _check_operator(ctx, op_name, symbol, forward)

    @note
    def number(ctx):
        _check_number_operand(ctx, op_name, symbol, method, forward)

    direct.__doc__ = f"{op_name}.forward and {op_name}.backward, called directly with a ContextManager{divisors_note}."
    direct_0d.__doc__ = f"{op_name}.forward and {op_name}.backward on 0-d tensors (single numbers)."
    operator.__doc__ = (f"a {symbol} b gives the right values (Tensor.{method} calls {op_name}), "
                        "and leaves a and b unchanged.")
    number.__doc__ = f"a {symbol} 3 (a Tensor, then a number) works as in PyTorch."
    return [direct, direct_0d, operator, number]


def _mul(a, b):
    return a * b


def _mul_grads(a, b, g):
    return g * b, g * a


SUBTRACTION = _elementwise_checks("Sub", "-", "__sub__", lambda a, b: a - b, lambda a, b, g: (g, -g))
MULTIPLICATION = _elementwise_checks("Mul", "*", "__mul__", _mul, _mul_grads)
DIVISION = _elementwise_checks("Div", "/", "__truediv__", lambda a, b: a / b,
                               lambda a, b, g: (g / b, -g * a / b ** 2), divisors_note=" (divisors near 0.01)")


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
                f"intermediate result, got {describe(t.grad)}")


def _add(a, b):
    return a + b


def _add_grads(a, b, g):
    return g, g


def check_graph_of_operations(ctx):
    """a + b and a * b of two leaves: requires_grad, is_leaf, AccumulateGrad parents, gradients."""
    Tensor = _tensor_class()
    for symbol, forward, grads_of in (("+", _add, _add_grads), ("*", _mul, _mul_grads)):
        for shape in (_shape(ctx.rng), ()):
            a, b = ctx.rng.uniform(-2, 2, shape), _away_from_zero(ctx.rng, shape)
            ta, tb = Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
            what = f"a {symbol} b with a, b leaves of shape {shape} that require grad"
            out = forward(ta, tb)
            assert_tensor(what, out, forward(a, b))
            _unchanged(what + " (a)", ta, a)
            _unchanged(what + " (b)", tb, b)
            assert_flags(what, out, requires_grad=True, is_leaf=False)
            assert_parents(what, out, [("AccumulateGrad", ta), ("AccumulateGrad", tb)])
            out.backward()
            want_a, want_b = grads_of(a, b, np.ones(shape))
            assert_grad(f"a (after ({what}).backward())", ta, want_a)
            assert_grad(f"b (after ({what}).backward())", tb, want_b)


def check_constant_operands(ctx):
    """A constant on either side: k * c, c * k, Tensor(3.) * c; the output requires grad if ANY input does."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    for first_constant in (True, False):
        c, k = ctx.rng.uniform(-2, 2, shape), _away_from_zero(ctx.rng, shape)
        tc, tk = Tensor(c.copy(), requires_grad=True), Tensor(k.copy())
        for symbol, forward, grads_of in (("+", _add, _add_grads), ("*", _mul, _mul_grads)):
            tc.grad = None
            if first_constant:
                what = f"k {symbol} c with k a constant (requires_grad=False) FIRST, c a leaf, shape {shape}"
                out = forward(tk, tc)
                parents = [None, ("AccumulateGrad", tc)]
                want = grads_of(k, c, np.ones(shape))[1]
            else:
                what = f"c {symbol} k with c a leaf, k a constant (requires_grad=False), shape {shape}"
                out = forward(tc, tk)
                parents = [("AccumulateGrad", tc), None]
                want = grads_of(c, k, np.ones(shape))[0]
            assert_tensor(what, out, forward(k, c) if first_constant else forward(c, k))
            assert_flags(what, out, requires_grad=True, is_leaf=False)
            assert_parents(what, out, parents)
            out.backward()
            assert_grad(f"c (after ({what}).backward())", tc, want)
            assert_no_grad("k", tk)
    c = float(ctx.rng.uniform(-2, 2))
    tc = Tensor(c, requires_grad=True)
    out = Tensor(3.) * tc
    what = "Tensor(3.) * c with c = Tensor(x, requires_grad=True), both 0-d"
    assert_tensor(what, out, np.array(3. * c))
    assert_flags(what, out, requires_grad=True, is_leaf=False)
    out.backward()
    assert_grad(f"c (after ({what}).backward())", tc, np.array(3.0))


@note
def check_backward_on_leaf(ctx):
    """x.backward() on a leaf no operation has used stores ones in x.grad, as in PyTorch."""
    # Not scored: the handout's Tensor.backward hands self.grad_fn to the DFS
    # (§0.1.5 Step 1, §1.2), and a leaf no operation has used has grad_fn None,
    # on which the DFS returns; the handout never calls backward() on one.
    Tensor = _tensor_class()
    advice = ("\nPyTorch stores the gradient of x w.r.t. itself (ones) in x.grad here. The handout never calls "
              "backward() on a tensor that no operation has used (its grad_fn is None, so the DFS of §0.1.5 "
              "does nothing), so this costs no points. To match PyTorch, Tensor.backward (mytorch/tensor.py) "
              "can hand such a leaf's own AccumulateGrad(self) to autograd_engine.backward.")
    for shape in (_shape(ctx.rng), ()):
        x = ctx.rng.normal(size=shape)
        tx = Tensor(x.copy(), requires_grad=True)
        try:
            tx.backward()
            assert_grad(f"x (a leaf of shape {shape} no operation has used, after x.backward())", tx,
                        np.ones(shape))
            tx.backward()
            assert_grad("x (after x.backward() twice: gradients add up)", tx, np.full(shape, 2.0))
        except CheckFailure as failure:
            raise CheckFailure(f"{failure}{advice}") from None
        except Exception as exc:  # noqa: B902 (student code: any error is the observation)
            raise CheckFailure(f"x.backward() on a leaf no operation has used raised an error:\n"
                               f"{crash_report(exc)[0]}{advice}") from None
        require(np.array_equal(data_of("x", tx), x), "x.backward() changed x.data")


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


ACCUMULATE = ("\nA leaf's gradient is the SUM over every path and every backward call: backward() "
              "(mytorch/autograd_engine.py) must follow every path from the output and hand what reaches a "
              "leaf to its node, grad_fn.apply(grad), whose AccumulateGrad.apply adds into an existing "
              ".grad (+=) rather than replacing it")


def _summed_grad(what, tensor, expected, **tolerance):
    """assert_grad, with a hint about accumulation when it fails."""
    try:
        assert_grad(what, tensor, expected, **tolerance)
    except CheckFailure as failure:
        raise CheckFailure(str(failure) + ACCUMULATE) from None


def check_reused_leaf(ctx):
    """A leaf used several times gets the sum of the gradients along every path (§0.1.6)."""
    shape = _shape(ctx.rng)
    (x, w), (tx, tw) = _leaves(ctx.rng, shape, 2)
    Tensor = _tensor_class()
    one = np.ones(shape)
    out = _composite(tx, tw, Tensor(one.copy()), log=lambda t: t.log())
    assert_tensor("x * w + x * x + log(w * w + 1)", out, _composite(x, w, one))
    out.backward()
    _summed_grad("x", tx, central_difference(lambda v: _composite(v, w, one), x), rtol=1e-5, atol=1e-6)
    _summed_grad("w", tw, central_difference(lambda v: _composite(x, v, one), w), rtol=1e-5, atol=1e-6)


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
    _summed_grad("x", tx, central_difference(lambda v: _shared(v, w), x), rtol=1e-5, atol=1e-6)
    _summed_grad("w", tw, central_difference(lambda v: _shared(x, v), w), rtol=1e-5, atol=1e-6)


def check_same_tensor_twice(ctx):
    """x + x and x * x: one tensor as both inputs of an operation gets both gradients."""
    shape = _shape(ctx.rng)
    (x,), (tx,) = _leaves(ctx.rng, shape, 1)
    (tx + tx).backward()
    _summed_grad("x (after (x + x).backward())", tx, np.full(shape, 2.0))
    (x2,), (tx2,) = _leaves(ctx.rng, shape, 1)
    (tx2 * tx2).backward()
    _summed_grad("x (after (x * x).backward())", tx2, 2 * x2)


def check_chains(ctx):
    """A chain of 50 additions, and y = y + y repeated 10 times."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    x = Tensor(ctx.rng.normal(size=shape), requires_grad=True)
    y = x
    for _ in range(50):
        y = y + x
    y.backward()
    _summed_grad("x (after y = x; 50 times y = y + x; y.backward())", x, np.full(shape, 51.0))
    z = Tensor(ctx.rng.normal(size=shape), requires_grad=True)
    y = z
    for _ in range(10):
        y = y + y
    y.backward()
    _summed_grad("z (after y = z; 10 times y = y + y; y.backward())", z, np.full(shape, 1024.0))


def check_accumulation(ctx):
    """Gradients add up (+=) over backward calls, and each leaf's .grad owns its own memory."""
    Tensor = _tensor_class()
    shape = _shape(ctx.rng)
    (x, y), (tx, ty) = _leaves(ctx.rng, shape, 2)
    (tx + ty).backward()
    _summed_grad("x (after (x + y).backward())", tx, np.ones(shape))
    _summed_grad("y (after (x + y).backward())", ty, np.ones(shape))
    k = ctx.rng.normal(size=shape)
    (tx * Tensor(k.copy())).backward()
    _summed_grad("x (after (x + y).backward() then (x * k).backward())", tx, 1 + k)
    # Add hands one gradient array to both inputs; storing it in both leaves
    # would make the second backward above change y.grad too.
    _summed_grad("y (unchanged by (x * k).backward(): x.grad and y.grad must not share memory)",
                ty, np.ones(shape))


ADDITION = [check_add_direct]
AUTOGRAD = [check_handout_example, check_graph_of_operations, check_constant_operands, check_constants,
            check_backward_on_leaf, check_reused_leaf, check_shared_intermediate, check_same_tensor_twice,
            check_chains, check_accumulation]
