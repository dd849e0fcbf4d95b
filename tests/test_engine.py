"""The autograd engine: graph building (Function.apply), nodes, and the backward pass.

Graph structure follows handout Appendix A and DESIGN.md; the backward pass
must be a topological sort: each node applied once, with the sum of what its
consumers sent it, in time linear in the graph and at any depth.
"""
import sys
from collections import Counter

import numpy as np
import pytest

from mytorch import autograd_engine
from mytorch.autograd_engine import (AccumulateGrad, BackwardFunction, ContextManager, Function,
                                     is_grad_enabled, no_grad, topological_sort)
from mytorch.nn.functional import Add, Mul, Sum
from mytorch.tensor import Tensor
from teaching import handout_graph


# -------------------------------------------------------- the handout example
def handout_tensors():
    """a, b, c, d, e of the handout's example graph (teaching/examples.py builds it)."""
    names = handout_graph()
    return tuple(names[k] for k in "abcde")


def test_handout_example_gradients():
    a, b, c, d, e = handout_tensors()
    assert d.data == 3.0 and e.data == 9.0
    e.backward()
    assert a.grad.data == 3.0
    assert b.grad is None
    assert c.grad.data == 1.0
    # Intermediate results store no gradient.
    assert d.grad is None and e.grad is None


def test_handout_example_graph():
    a, b, c, d, e = handout_tensors()
    # e = (d + c) + 3: an Add whose parents are the inner Add and the constant 3.
    assert isinstance(e.grad_fn, BackwardFunction) and e.grad_fn.function_name == "Add"
    inner, three = e.grad_fn.next_functions
    assert three is None
    assert isinstance(inner, BackwardFunction) and inner.function_name == "Add"
    # d + c: d is a non-leaf (its own node), c a leaf that requires grad.
    d_node, c_node = inner.next_functions
    assert d_node is d.grad_fn
    assert isinstance(c_node, AccumulateGrad) and c_node.variable is c
    # d = a * b + a
    mul_node, a_node = d_node.next_functions
    assert mul_node.function_name == "Mul"
    assert isinstance(a_node, AccumulateGrad) and a_node.variable is a
    a_node2, b_node = mul_node.next_functions
    assert isinstance(a_node2, AccumulateGrad) and a_node2.variable is a
    assert b_node is None


# ---------------------------------------------------------- graph structure
def test_parent_node_types_follow_appendix_a():
    leaf = Tensor([1., 2.], requires_grad=True)
    const = Tensor([3., 4.])
    mid = leaf * 2.0
    out = Add.apply(mid, Add.apply(const, leaf))
    assert isinstance(out.grad_fn, BackwardFunction)
    first, second = out.grad_fn.next_functions
    assert first is mid.grad_fn                            # non-leaf: its grad_fn
    const_node, leaf_node = second.next_functions
    assert const_node is None                              # constant: None
    assert isinstance(leaf_node, AccumulateGrad)           # leaf requiring grad
    assert leaf_node.variable is leaf
    assert leaf_node.next_functions == []


@pytest.mark.parametrize("a_grad, b_grad", [(True, True), (True, False), (False, True), (False, False)])
def test_output_requires_grad_iff_a_parent_does(a_grad, b_grad):
    a = Tensor([1., 2.], requires_grad=a_grad)
    b = Tensor([3., 4.], requires_grad=b_grad)
    out = a * b
    needs = a_grad or b_grad
    assert out.requires_grad is needs
    assert out.is_leaf is (not needs)
    # Constant results stay out of the graph entirely.
    assert (out.grad_fn is not None) is needs


def test_next_functions_follow_tensor_argument_order():
    x = Tensor(2., requires_grad=True)
    left = Tensor(5.) - x
    assert left.grad_fn.next_functions[0] is None
    assert left.grad_fn.next_functions[1].variable is x
    right = x - Tensor(5.)
    assert right.grad_fn.next_functions[0].variable is x
    assert right.grad_fn.next_functions[1] is None


def test_non_tensor_arguments_get_no_parent_entry():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert len(x.sum(axis=1, keepdims=True).grad_fn.next_functions) == 1
    assert len(x.reshape(3, 2).grad_fn.next_functions) == 1
    assert len((x ** 2).grad_fn.next_functions) == 1


@pytest.mark.parametrize("expr, name", [
    (lambda x: x + 1, "Add"), (lambda x: x - 1, "Sub"), (lambda x: x * 2, "Mul"),
    (lambda x: x / 2, "Div"), (lambda x: -x, "Neg"), (lambda x: x ** 2, "Pow"),
    (lambda x: x.T(), "Transpose"), (lambda x: x.reshape(4), "Reshape"),
    (lambda x: x.log(), "Log"), (lambda x: x.exp(), "Exp"), (lambda x: x.sum(), "Sum"),
    (lambda x: x @ x, "MatMul"),
])
def test_function_names(expr, name):
    out = expr(Tensor(np.full((2, 2), 2.0), requires_grad=True))
    assert out.grad_fn.function_name == name
    assert name in repr(out)


def test_backward_function_node():
    node = BackwardFunction(Add)
    assert isinstance(node.ctx, ContextManager)
    assert node.next_functions == []
    assert node.function_name == "Add"
    a, b = Tensor([1., 2.]), Tensor([3., 4.])
    Add.forward(node.ctx, a, b)
    grads = node.apply(Tensor.ones(2))
    assert len(grads) == 2
    np.testing.assert_array_equal(grads[0].data, [1., 1.])


def test_ops_callable_directly_with_a_context_manager():
    ctx = ContextManager()
    a = Tensor([[1., 2.], [3., 4.]])
    b = Tensor([10., 20.])
    out = Add.forward(ctx, a, b)
    np.testing.assert_array_equal(out.data, [[11., 22.], [13., 24.]])
    grad_a, grad_b = Add.backward(ctx, Tensor.ones(2, 2))
    np.testing.assert_array_equal(grad_a.data, np.ones((2, 2)))
    np.testing.assert_array_equal(grad_b.data, [2., 2.])  # summed over the broadcast axis

    ctx = ContextManager()
    Mul.forward(ctx, a, b)
    grad_a, grad_b = Mul.backward(ctx, Tensor.ones(2, 2))
    np.testing.assert_array_equal(grad_a.data, [[10., 20.], [10., 20.]])
    np.testing.assert_array_equal(grad_b.data, [4., 6.])


def test_context_manager_saves_tensors_and_attributes():
    ctx = ContextManager()
    a, b = Tensor(1.), Tensor(2.)
    ctx.save_for_backward(a, b)
    ctx.shape = (2, 3)
    assert list(ctx.saved_tensors) == [a, b]
    assert ctx.shape == (2, 3)


def test_saved_tensors_is_a_tuple_in_order_over_several_saves():
    # The first two are kept in the ctx's own attributes, the rest in a tuple: every count and
    # every split over calls gives the same tuple, the tensors themselves, in order.
    tensors = [Tensor(float(i)) for i in range(5)]
    assert ContextManager().saved_tensors == ()
    for count in range(1, 6):
        for split in range(count + 1):
            ctx = ContextManager()
            ctx.save_for_backward(*tensors[:split])
            ctx.save_for_backward(*tensors[split:count])
            saved = ctx.saved_tensors
            assert type(saved) is tuple and len(saved) == count
            assert all(s is t for s, t in zip(saved, tensors))
            assert len(ctx.saved_versions) == count


def test_accumulate_grad_node():
    x = Tensor([1., 2., 3.], requires_grad=True)
    node = AccumulateGrad(x)
    assert node.variable is x
    assert node.next_functions == []
    node.apply(Tensor([1., 1., 1.]))
    node.apply(Tensor([0.5, 1., 2.]))
    np.testing.assert_array_equal(x.grad.data, [1.5, 2., 3.])


# ------------------------------------------------------------ backward basics
def test_backward_of_a_leaf_seeds_ones():
    x = Tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    x.backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def test_non_scalar_backward_seeds_ones_shaped_like_the_tensor():
    x = Tensor([1., 2., 3.], requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, [2., 4., 6.])


def test_gradients_accumulate_across_backward_calls():
    a, b, c, d, e = handout_tensors()
    e.backward()
    e.backward()
    assert a.grad.data == 6.0 and c.grad.data == 2.0


def test_stored_gradient_is_a_plain_tensor():
    x = Tensor(np.ones((2, 3)), requires_grad=True, is_parameter=True)
    (x * 3.0).sum().backward()
    g = x.grad
    assert isinstance(g, Tensor)
    assert g.grad is None and g.grad_fn is None
    assert g.is_parameter is False and g.requires_grad is False and g.is_leaf is True
    assert g.shape == x.shape


def test_gradients_own_their_memory():
    # Add hands the same array to both inputs; each leaf must still get its own.
    x = Tensor(np.ones(3), requires_grad=True)
    y = Tensor(np.ones(3), requires_grad=True)
    z = x + y
    z.backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    for t in (x, y):
        assert not np.shares_memory(t.grad.data, x.data)
        assert not np.shares_memory(t.grad.data, y.data)
        assert not np.shares_memory(t.grad.data, z.data)
    y_grad_before = y.grad.data.copy()
    (x * 5.0).backward()  # accumulates into x.grad only
    np.testing.assert_array_equal(x.grad.data, [6., 6., 6.])
    np.testing.assert_array_equal(y.grad.data, y_grad_before)
    np.testing.assert_array_equal(x.data, np.ones(3))
    np.testing.assert_array_equal(y.data, np.ones(3))


def test_gradients_own_their_memory_through_reshape_and_sum():
    # Reshape and Sum return views of their incoming gradient.
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = Tensor(np.ones(6), requires_grad=True)
    z = x.reshape(6) + y
    z.sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert x.grad.data.flags.writeable and y.grad.data.flags.writeable
    (x.sum() * 2.0).backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 3.0))
    np.testing.assert_array_equal(y.grad.data, np.ones(6))


def test_leaf_used_twice_with_the_same_array_gets_the_sum():
    # z = x + x: both inputs of Add receive the very same array.
    x = Tensor([1., 2.], requires_grad=True)
    (x + x).backward()
    np.testing.assert_array_equal(x.grad.data, [2., 2.])


def test_integer_leaf_gets_a_float64_gradient():
    a = Tensor(1, requires_grad=True)
    b = Tensor(2)
    (a * b + a).backward()
    assert a.grad.data.dtype == np.float64
    assert a.grad.data == 3.0


def test_float32_stays_float32_through_ops_and_gradients():
    x = Tensor(np.array([1., 2.], dtype=np.float32), requires_grad=True)
    y = ((x * 2.0 + 1.0) / 3.0 - 0.5) ** 2
    assert y.data.dtype == np.float32
    y.backward()
    assert x.grad.data.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 2 * ((np.array([1., 2.]) * 2 + 1) / 3 - 0.5) * 2 / 3, rtol=1e-6)


def test_float32_leaf_gets_float32_gradient_even_from_float64_ops():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    (x * Tensor(np.array([2., 3.]))).backward()  # float64 result
    assert x.grad.data.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2., 3.])


# ------------------------------------------------------------------ no_grad
def test_no_grad_builds_no_graph():
    x = Tensor([1., 2.], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0 + x).sum()
    assert is_grad_enabled()
    assert y.requires_grad is False and y.is_leaf is True and y.grad_fn is None
    np.testing.assert_array_equal(y.data, 9.0)


def test_no_grad_restores_state_after_exception_and_when_nested():
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_as_decorator():
    @no_grad()
    def double(t):
        return t * 2.0

    out = double(Tensor(1., requires_grad=True))
    assert out.grad_fn is None and not out.requires_grad
    assert double.__name__ == "double"
    assert is_grad_enabled()


# ------------------------------------------------------ topological backward
def test_topological_sort_puts_consumers_before_producers():
    x = Tensor(2., requires_grad=True)
    a = x * 3.0
    b = a + x
    c = a * b
    order = topological_sort(c.grad_fn)
    assert len(order) == len(set(map(id, order)))
    position = {id(node): i for i, node in enumerate(order)}
    for node in order:
        for parent in node.next_functions:
            if parent is not None:
                assert position[id(node)] < position[id(parent)]
    assert order[0] is c.grad_fn
    assert {id(a.grad_fn), id(b.grad_fn)} <= set(position)


@pytest.fixture
def apply_counts(monkeypatch):
    """Count calls of every node's apply, keyed by node, and the gradients each got."""
    counts = Counter()
    received = {}
    original_bf, original_ag = BackwardFunction.apply, AccumulateGrad.apply

    def spy_bf(self, *args):
        counts[self] += 1
        received[self] = args[0].data.copy()
        return original_bf(self, *args)

    def spy_ag(self, arg):
        counts[self] += 1
        return original_ag(self, arg)

    monkeypatch.setattr(BackwardFunction, "apply", spy_bf)
    monkeypatch.setattr(AccumulateGrad, "apply", spy_ag)
    return counts, received


def test_diamond_node_applied_once_with_summed_gradient(apply_counts):
    counts, received = apply_counts
    x = Tensor(1.5, requires_grad=True)
    a = x * 2.0
    b = a * 3.0
    c = a * 4.0
    d = b + c
    d.backward()
    assert counts[a.grad_fn] == 1
    assert received[a.grad_fn] == 7.0  # 3 from b's path + 4 from c's path
    assert all(n == 1 for n in counts.values())
    assert x.grad.data == 14.0


def test_ladder_is_linear_not_exponential(apply_counts):
    # Each level uses the previous result twice: a naive per-path recursion
    # would make 2**40 calls; a topological sort makes one per node.
    counts, _ = apply_counts
    x = Tensor(1., requires_grad=True)
    y = x
    nodes = []
    for _ in range(40):
        y = y * 1.5 + y * 0.5
        nodes.append(y.grad_fn)
    y.backward()
    assert all(counts[node] == 1 for node in nodes)
    assert all(n == 1 for n in counts.values())
    assert sum(isinstance(node, BackwardFunction) for node in counts) == 3 * 40
    assert x.grad.data == 2.0 ** 40


def test_repeated_doubling_sixty_times():
    x = Tensor(1., requires_grad=True)
    y = x
    for _ in range(60):
        y = y + y
    y.backward()
    assert y.data == 2.0 ** 60
    assert x.grad.data == 2.0 ** 60


def test_long_chain_under_default_recursion_limit():
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default
    try:
        x = Tensor(2.0, requires_grad=True)
        y = x
        for _ in range(100_000):
            y = -y
        y.backward()
        assert y.data == 2.0
        assert x.grad.data == 1.0
        del y  # freeing the chain must not recurse either
    finally:
        sys.setrecursionlimit(previous)


def test_backward_stops_at_constants(apply_counts):
    counts, _ = apply_counts
    x = Tensor(2., requires_grad=True)
    const = Tensor(3.) * Tensor(4.)  # no graph at all
    y = x * const
    y.backward()
    assert const.grad_fn is None and const.grad is None
    assert x.grad.data == 12.0
    assert len(counts) == 2  # the Mul and x's AccumulateGrad


def test_backward_through_a_function_returning_none_for_an_input():
    class FirstOnly(Function):
        @staticmethod
        def forward(ctx, a, b):
            return Tensor(a.data + b.data)

        @staticmethod
        def backward(ctx, grad_output):
            return Tensor(grad_output.data.copy()), None

    a = Tensor(1., requires_grad=True)
    b = Tensor(2., requires_grad=True)
    FirstOnly.apply(a, b).backward()
    assert a.grad.data == 1.0
    assert b.grad is None


def test_engine_backward_called_directly():
    x = Tensor([1., 2.], requires_grad=True)
    y = x * x
    autograd_engine.backward(y.grad_fn, Tensor([1., 10.]))
    np.testing.assert_array_equal(x.grad.data, [2., 40.])


def test_sum_backward_gradient_is_broadcast_back():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    ctx = ContextManager()
    Sum.forward(ctx, x, 1, False)
    (grad,) = Sum.backward(ctx, Tensor([2., 5.]))
    np.testing.assert_array_equal(grad.data, [[2., 2., 2.], [5., 5., 5.]])
