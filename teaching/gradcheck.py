"""Check an operation's backward against finite differences (like ``torch.autograd.gradcheck``).

Use it on every operation you write::

    from teaching import gradcheck
    x = Tensor(np.random.randn(3, 4), requires_grad=True)
    gradcheck(lambda t: (t * t).sum(axis=0), x)       # True, or a GradcheckError

What is compared is the full Jacobian of ``fn`` w.r.t. each input that
requires grad, entry by entry:

* analytically, row by row: one backward pass per output element, seeded
  with a one-hot gradient (1 at that element, 0 elsewhere), gives
  d(output[j]) / d(input) for every input at once;
* numerically, column by column: nudging one input element by +-eps and
  running the forward again gives d(output) / d(input[k]) by central
  differences, (f(x + eps) - f(x - eps)) / (2 eps), with error O(eps^2).

The full Jacobian (rather than the gradient of one scalar such as
``fn(...).sum()``) catches mistakes that a sum hides, such as a backward
that transposes or swaps elements. It costs one backward per output element
and two forwards per input element, so check small tensors (a few dozen
elements), as with PyTorch's gradcheck.

Everything runs on float64 copies of the inputs: the caller's tensors, their
``.data`` and their ``.grad`` are never touched.
"""
import numpy as np

from mytorch import autograd_engine
from teaching._format import number
from mytorch.tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytical and numerical gradients disagree.

    Attributes: ``input_index``, ``input_shape``, ``element`` (index into
    that input), ``output_element`` (index into the output), ``analytical``
    and ``numerical`` (the two values there) and the two full Jacobians
    ``analytical_jacobian`` and ``numerical_jacobian`` of that input, of
    shape (output size, input size).
    """


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the gradients of ``fn`` w.r.t. every input with ``requires_grad=True``.

    Args:
        fn: a function of the ``inputs`` that returns a Tensor of any shape.
        inputs: Tensors (those with ``requires_grad=True`` are checked; the
            others, such as integer labels, are passed along as constants)
            and any non-Tensor arguments ``fn`` needs (an axis, a shape).
        eps: the finite-difference step.
        atol, rtol: an entry passes when
            ``|analytical - numerical| <= atol + rtol * |numerical|``.
        raise_exception: if False, return False instead of raising.

    Returns:
        True if every entry of every checked Jacobian passes.

    Raises:
        GradcheckError: naming the input (index and shape), the element
            where the two gradients differ most, and both values.
    """
    _check_arguments(inputs, eps, atol, rtol)
    copies = [_float64_copy(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    output = _call(fn, copies)
    analytical = _analytical_jacobians(fn, copies, checked, output)
    numerical = _numerical_jacobians(fn, copies, checked, output.shape, eps)
    for i, a_jac, n_jac in zip(checked, analytical, numerical):
        error = _compare(fn, i, copies[i].shape, output, a_jac, n_jac, atol, rtol)
        if error is not None:
            if raise_exception:
                raise error
            return False
    return True


def _check_arguments(inputs, eps, atol, rtol):
    if not autograd_engine.is_grad_enabled():
        raise RuntimeError("gradcheck: called inside no_grad(), where no graph is built; call it outside")
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError(
            "gradcheck: no input has requires_grad=True, so there is nothing to check; "
            "create the inputs to check with Tensor(..., requires_grad=True)")
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad and x.data.size == 0:
            raise ValueError(f"gradcheck: input of shape {x.shape} has no elements to check")
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps}")
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"gradcheck: atol and rtol must be >= 0, got atol={atol}, rtol={rtol}")


def _float64_copy(x):
    """A fresh leaf holding a float64 copy of ``x``'s data (non-Tensors pass through).

    Integer and bool constants keep their dtype: they are labels or indices,
    not values to differentiate.
    """
    if not isinstance(x, Tensor):
        return x
    if x.requires_grad or x.data.dtype.kind == "f":
        data = np.array(x.data, dtype=np.float64)
    else:
        data = x.data.copy()
    return Tensor(data, requires_grad=x.requires_grad)


def _call(fn, args):
    output = fn(*args)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    return output


def _analytical_jacobians(fn, copies, checked, output):
    """One (output size, input size) matrix per checked input, one backward per row."""
    jacobians = [np.zeros((output.data.size, copies[i].data.size)) for i in checked]
    if not output.requires_grad:  # no graph: every analytical gradient is zero
        return jacobians
    for row in range(output.data.size):
        # A new forward each time: a backward may legitimately consume what
        # its forward saved, so no graph is run backward twice.
        if row:
            output = _call(fn, copies)
        for i in checked:
            copies[i].grad = None
        seed = np.zeros(output.shape)
        seed.flat[row] = 1
        node = autograd_engine.AccumulateGrad(output) if output.is_leaf else output.grad_fn
        autograd_engine.backward(node, Tensor(seed))
        for jacobian, i in zip(jacobians, checked):
            if copies[i].grad is not None:  # None: no path from the output to this input
                jacobian[row] = copies[i].grad.data.reshape(-1)
    for i in checked:
        copies[i].grad = None
    return jacobians


def _numerical_jacobians(fn, copies, checked, output_shape, eps):
    """One (output size, input size) matrix per checked input, by central differences."""
    size = int(np.prod(output_shape))
    jacobians = []
    with autograd_engine.no_grad():
        for i in checked:
            data = copies[i].data
            jacobian = np.zeros((size, data.size))
            for k in range(data.size):
                original = data.flat[k]
                data.flat[k] = original + eps
                plus = np.array(_call(fn, copies).data, dtype=np.float64)
                data.flat[k] = original - eps
                minus = np.array(_call(fn, copies).data, dtype=np.float64)
                data.flat[k] = original
                if plus.shape != output_shape:
                    raise ValueError(
                        f"gradcheck: fn returned shape {plus.shape} after a small change of its "
                        f"input {i}, but {output_shape} before; fn must keep its output shape")
                jacobian[:, k] = ((plus - minus) / (2 * eps)).reshape(-1)
            jacobians.append(jacobian)
    return jacobians


def _compare(fn, i, input_shape, output, analytical, numerical, atol, rtol):
    """None if the two Jacobians agree, else the GradcheckError describing the worst entry."""
    difference = np.abs(analytical - numerical)
    tolerance = atol + rtol * np.abs(numerical)
    bad = ~(difference <= tolerance)  # NaN counts as a mismatch
    if not bad.any():
        return None
    excess = np.where(np.isnan(difference), np.inf, difference - tolerance)
    row, column = np.unravel_index(int(np.argmax(excess)), excess.shape)
    element = tuple(int(n) for n in np.unravel_index(column, input_shape))
    output_element = tuple(int(n) for n in np.unravel_index(row, output.shape))
    a, n = analytical[row, column], numerical[row, column]
    where = f"at element {element}"
    if output.data.size > 1:
        where += f" (derivative of output element {output_element})"
    hint = "" if output.requires_grad else " (fn's output does not require grad: no graph was built)"
    error = GradcheckError(
        f"gradcheck{_name(fn)}: wrong gradient for input {i} (shape {input_shape}) {where}: "
        f"analytical {number(a, 6)} vs numerical {number(n, 6)} "
        f"(|difference| {number(difference[row, column], 3)} > atol + rtol*|numerical| = "
        f"{number(tolerance[row, column], 3)}); {int(bad.sum())} of {bad.size} Jacobian entries differ"
        + hint)
    error.input_index, error.input_shape = i, input_shape
    error.element, error.output_element = element, output_element
    error.analytical, error.numerical = float(a), float(n)
    error.analytical_jacobian, error.numerical_jacobian = analytical, numerical
    return error


def _name(fn):
    """`` of Mul.apply``-style text for the message, or nothing for a lambda."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):  # a bound classmethod such as Mul.apply
        return f" of {owner.__name__}.{fn.__name__}"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not name or "<lambda>" in name:
        return ""
    return f" of {name}"
