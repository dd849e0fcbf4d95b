"""A leaf's .grad never shares memory with anything else, whatever an operation's backward returns.

The engine keeps a gradient array uncopied as a leaf's .grad only when nothing
else references it (AccumulateGrad.apply decides from the reference count).
These tests run every operation's backward and check each leaf's gradient
against everything that could alias it: every array the graph's nodes keep
(saved tensors, ctx attributes), the seed passed as grad_output, the inputs,
and every other leaf's gradient. Operations written to return shared arrays on
purpose check that the engine copies those.
"""
import numpy as np
import pytest

from mytorch import Tensor
from mytorch.autograd_engine import AccumulateGrad, BackwardFunction, Function
from mytorch.nn import functional as F


def _leaf(shape, rng, positive=False):
    data = rng.uniform(0.5, 1.5, shape) if positive else rng.normal(size=shape)
    return Tensor(data, requires_grad=True)


def _arrays_of(value):
    """Every ndarray reachable from an attribute value of a ctx (arrays, Tensors, tuples of them)."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, Tensor):
        yield value.data
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _arrays_of(item)


def _graph_arrays(output):
    """Every array held by a node of ``output``'s graph (saved tensors and ctx attributes)."""
    arrays, seen, stack = [], set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or isinstance(node, AccumulateGrad):
            continue
        seen.add(id(node))
        assert isinstance(node, BackwardFunction)
        for name, value in vars(node).items():
            if name != "next_functions":
                arrays.extend(_arrays_of(value))
        stack.extend(node.next_functions)
    return arrays


def _assert_unshared(leaves, output, seed):
    others = _graph_arrays(output) + [seed.data] + [leaf.data for leaf in leaves]
    grads = [leaf.grad.data for leaf in leaves if leaf.grad is not None]
    assert grads, "no leaf got a gradient"
    for i, grad in enumerate(grads):
        for other in others:
            assert not np.shares_memory(grad, other), "a leaf's .grad shares memory with the graph"
        for j, grad2 in enumerate(grads):
            if i != j:
                assert not np.shares_memory(grad, grad2), "two leaves' .grad share memory"


def _run(make, shapes, positive=False):
    rng = np.random.default_rng(0)
    leaves = [_leaf(shape, rng, positive) for shape in shapes]
    out = make(*leaves)
    seed = Tensor(rng.normal(size=out.shape))
    out.backward(seed)
    _assert_unshared(leaves, out, seed)
    return leaves


CASES = {
    "add": (lambda a, b: a + b, [(3, 4), (3, 4)]),
    "add broadcast": (lambda a, b: a + b, [(3, 4), (4,)]),
    "add same leaf": (lambda a: a + a, [(3, 4)]),
    "sub": (lambda a, b: a - b, [(3, 4), (3, 4)]),
    "mul": (lambda a, b: a * b, [(3, 4), (3, 4)]),
    "mul same leaf": (lambda a: a * a, [(3,)]),
    "mul constant": (lambda a: a * 2.0, [(3,)]),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)]),
    "neg": (lambda a: -a, [(3, 4)]),
    "pow": (lambda a: a ** 3, [(3, 4)]),
    "transpose": (lambda a: a.T(), [(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3), [(3, 4)]),
    "log": (lambda a: a.log(), [(3, 4)]),
    "exp": (lambda a: a.exp(), [(3, 4)]),
    "sum": (lambda a: a.sum(), [(3, 4)]),
    "sum axis": (lambda a: a.sum(axis=0), [(3, 4)]),
    "mean": (lambda a: a.mean(axis=1), [(3, 4)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "relu": (lambda a: F.ReLU.apply(a), [(3, 4)]),
    "sigmoid": (lambda a: F.Sigmoid.apply(a), [(3, 4)]),
    "tanh": (lambda a: F.Tanh.apply(a), [(3, 4)]),
    "getitem": (lambda a: a[1:, ::2], [(3, 4)]),
    "getitem repeated": (lambda a: a[[0, 0, 2]], [(3, 4)]),
    "max": (lambda a: a.max(), [(3, 4)]),
    "max dim": (lambda a: a.max(1).values, [(3, 4)]),
    "cast": (lambda a: a.to(np.float32), [(3, 4)]),
    "linear": (lambda x, w, b: F.LinearFunction.apply(x, w, b), [(5, 4), (3, 4), (3,)]),
    "linear 600 rows": (lambda x, w, b: F.LinearFunction.apply(x, w, b), [(600, 4), (3, 4), (3,)]),
    "linear 3-d input": (lambda x, w, b: F.LinearFunction.apply(x, w, b), [(2, 5, 4), (3, 4), (3,)]),
    "batchnorm train": (lambda x, g, b: F.BatchNormFunction.apply(
        x, g, b, np.zeros(4), np.ones(4), True, 0.1, 1e-5), [(6, 4), (4,), (4,)]),
    "batchnorm eval": (lambda x, g, b: F.BatchNormFunction.apply(
        x, g, b, np.zeros(4), np.ones(4), False, 0.1, 1e-5), [(6, 4), (4,), (4,)]),
    "cross entropy": (lambda x: F.CrossEntropyFunction.apply(x, np.array([0, 2, 1])), [(3, 4)]),
    "two paths": (lambda a, b: (a * b) + (a - b), [(3,), (3,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_operation_leaves_unshared_gradients(name):
    make, shapes = CASES[name]
    _run(make, shapes, positive=name in ("log", "div", "pow"))


class _Leaky(Function):
    """An operation whose backward returns arrays shared in every way an operation could share them."""

    @staticmethod
    def forward(ctx, a, b, c, d):
        ctx.save_for_backward(a)
        ctx.kept = np.ones(a.shape)
        return Tensor(a.data * 1.0)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        twice = Tensor(np.full(a.shape, 2.0))
        return (Tensor(grad_output.data),   # grad_output's own array
                Tensor(ctx.kept),           # an array the ctx keeps
                twice, twice)               # one Tensor for two inputs


class _LeakyView(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.kept = np.ones((2,) + a.shape)
        return Tensor(a.data + b.data)

    @staticmethod
    def backward(ctx, grad_output):
        fresh = np.full(grad_output.shape, 3.0)
        return Tensor(ctx.kept[0]), Tensor(fresh)  # a view of a kept array; a fresh array


def test_shared_gradient_arrays_are_copied():
    rng = np.random.default_rng(1)
    leaves = [_leaf((3,), rng) for _ in range(4)]
    out = _Leaky.apply(*leaves)
    seed = Tensor(np.full(3, 5.0))
    out.backward(seed)
    _assert_unshared(leaves, out, seed)
    assert [leaf.grad.data.tolist() for leaf in leaves] == [[5.0] * 3, [1.0] * 3, [2.0] * 3, [2.0] * 3]
    leaves[2].grad.data += 1  # in place into one gradient: the other stays
    assert leaves[3].grad.data.tolist() == [2.0] * 3

    views = [_leaf((3,), rng) for _ in range(2)]
    out = _LeakyView.apply(*views)
    out.backward(Tensor(np.ones(3)))
    _assert_unshared(views, out, Tensor(np.ones(3)))
    assert views[0].grad.data.tolist() == [1.0] * 3 and views[1].grad.data.tolist() == [3.0] * 3


class _LeakyTensors(Function):
    """Returns, as gradients, Tensors held elsewhere: one its ctx keeps, and a saved input itself."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a)
        ctx.kept = Tensor(np.full(a.shape, 7.0))
        return Tensor(a.data + b.data + c.data)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return Tensor(grad_output.data * 1.0), ctx.kept, a


def test_gradient_tensors_held_elsewhere_are_copied():
    rng = np.random.default_rng(2)
    leaves = [_leaf((3,), rng) for _ in range(3)]
    a_values = leaves[0].data.copy()
    out = _LeakyTensors.apply(*leaves)
    out.backward(Tensor(np.ones(3)))
    _assert_unshared(leaves, out, Tensor(np.ones(3)))
    assert leaves[1].grad is not out.grad_fn.kept and leaves[2].grad is not leaves[0]
    leaves[1].grad.data += 1
    leaves[2].grad.data += 1
    assert (out.grad_fn.kept.data == 7.0).all() and (leaves[0].data == a_values).all()


class _RecordsItsGradient(Function):
    pointers = []

    @staticmethod
    def forward(ctx, a):
        return Tensor(a.data * 2.0)

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output.data * 2.0
        if grad.ndim == 2 and grad.shape[0] == grad.shape[1]:
            grad = np.ascontiguousarray(grad.T).T  # a view of an array nothing else holds
        _RecordsItsGradient.pointers.append(grad.__array_interface__["data"][0])
        return (Tensor(grad),)


def test_an_unshared_gradient_is_kept_without_a_copy():
    # The point of the mechanism: a weight's gradient is not copied once more.
    x = Tensor(np.ones((20, 30)), requires_grad=True)
    _RecordsItsGradient.pointers.clear()
    _RecordsItsGradient.apply(x).backward()
    assert x.grad.data.__array_interface__["data"][0] == _RecordsItsGradient.pointers[0]
    assert x.grad.data.tolist() == np.full((20, 30), 2.0).tolist()
    # A second backward adds into the kept array.
    _RecordsItsGradient.apply(x).backward()
    assert (x.grad.data == 4.0).all()
    # A view of an array nothing else holds (a transposed product) is kept too.
    square = Tensor(np.ones((5, 5)), requires_grad=True)
    _RecordsItsGradient.pointers.clear()
    _RecordsItsGradient.apply(square).backward()
    assert square.grad.data.__array_interface__["data"][0] == _RecordsItsGradient.pointers[0]


def test_needs_input_grad():
    # Within a graph: one bool per tensor argument of forward (a constant's is False).
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, axis, b):
            return Tensor(a.data + b.data)

        @staticmethod
        def backward(ctx, grad_output):
            seen.append(ctx.needs_input_grad)
            return Tensor(grad_output.data), None

    x = Tensor(np.ones(2), requires_grad=True)
    Probe.apply(x, 0, Tensor(np.ones(2))).backward()
    assert seen == [(True, False)]
    assert x.grad.data.tolist() == [1.0, 1.0]
    # Outside a graph (forward and backward called directly), every gradient is wanted.
    from mytorch.autograd_engine import ContextManager
    ctx = ContextManager()
    assert ctx.needs_input_grad[0] and ctx.needs_input_grad[5]
    a, b = Tensor(np.array([2.0])), Tensor(np.array([3.0]))
    F.Mul.forward(ctx, a, b)
    grads = F.Mul.backward(ctx, Tensor(np.ones(1)))
    assert grads[0].data.tolist() == [3.0] and grads[1].data.tolist() == [2.0]
