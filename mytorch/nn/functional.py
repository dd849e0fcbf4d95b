"""Every differentiable operation of MyTorch, one ``Function`` subclass each.

Each class computes its result with NumPy in ``forward`` and the gradients
w.r.t. its tensor inputs in ``backward``, right below. Elementwise operations
broadcast like NumPy; their backward sums each gradient back to the shape of
its input with ``unbroadcast``.
"""
import numpy as np

from mytorch.autograd_engine import Function
from mytorch.tensor import Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` (an ndarray) down to ``shape``, undoing NumPy broadcasting.

    Broadcasting may have prepended axes and stretched axes of length 1; the
    gradient of such an input is the sum over every copy it was stretched
    into (handout §2.1: a bias of shape (n,) added to (batch, n) gets (n,)).
    """
    if grad.shape == shape:
        return grad
    # BEGIN SOLUTION
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
    # END SOLUTION


def _broadcast_error(op, a, b):
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together; "
        "each axis (aligned from the right) must match or be 1")


class Add(Function):
    """``a + b``, elementwise with broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            out = a.data + b.data
        except ValueError:
            raise _broadcast_error("Add", a, b) from None
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output.data
        return Tensor(unbroadcast(g, ctx.a_shape)), Tensor(unbroadcast(g, ctx.b_shape))


class Sub(Function):
    """``a - b``, elementwise with broadcasting (handout §1.1.1)."""

    @staticmethod
    def forward(ctx, a, b):
        # BEGIN SOLUTION
        try:
            out = a.data - b.data
        except ValueError:
            raise _broadcast_error("Sub", a, b) from None
        ctx.a_shape, ctx.b_shape = a.shape, b.shape
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        g = grad_output.data
        return Tensor(unbroadcast(g, ctx.a_shape)), Tensor(unbroadcast(-g, ctx.b_shape))
        # END SOLUTION


class Mul(Function):
    """``a * b``, elementwise with broadcasting (handout §1.1.2)."""

    @staticmethod
    def forward(ctx, a, b):
        # BEGIN SOLUTION
        try:
            out = a.data * b.data
        except ValueError:
            raise _broadcast_error("Mul", a, b) from None
        ctx.save_for_backward(a, b)
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        a, b = ctx.saved_tensors
        g = grad_output.data
        # d(ab)/da = b and d(ab)/db = a
        return Tensor(unbroadcast(g * b.data, a.shape)), Tensor(unbroadcast(g * a.data, b.shape))
        # END SOLUTION


class Div(Function):
    """``a / b``, elementwise with broadcasting (handout §1.1.3)."""

    @staticmethod
    def forward(ctx, a, b):
        # BEGIN SOLUTION
        try:
            out = a.data / b.data
        except ValueError:
            raise _broadcast_error("Div", a, b) from None
        ctx.save_for_backward(a, b)
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        a, b = ctx.saved_tensors
        g = grad_output.data
        # d(a/b)/da = 1/b and d(a/b)/db = -a/b^2
        grad_a = g / b.data
        grad_b = -grad_a * a.data / b.data
        return Tensor(unbroadcast(grad_a, a.shape)), Tensor(unbroadcast(grad_b, b.shape))
        # END SOLUTION


class Neg(Function):
    """``-a``."""

    @staticmethod
    def forward(ctx, a):
        # BEGIN SOLUTION
        return Tensor(-a.data)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        return (Tensor(-grad_output.data),)
        # END SOLUTION


class Pow(Function):
    """``a ** exponent`` for a number ``exponent`` (not a Tensor)."""

    @staticmethod
    def forward(ctx, a, exponent):
        # BEGIN SOLUTION
        base = a.data
        if base.dtype.kind in "biu" and exponent < 0:
            base = base.astype(np.float64)  # NumPy refuses negative powers of integers
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return Tensor(base ** exponent)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        (a,) = ctx.saved_tensors
        p = ctx.exponent
        base = a.data.astype(grad_output.data.dtype, copy=False)
        return (Tensor(grad_output.data * p * base ** (p - 1)),)
        # END SOLUTION


class Transpose(Function):
    """``a.T()``: all axes reversed (for a matrix, rows become columns)."""

    @staticmethod
    def forward(ctx, a):
        return Tensor(a.data.T)

    @staticmethod
    def backward(ctx, grad_output):
        # Reversing the axes twice is the identity.
        return (Tensor(grad_output.data.T),)


class Reshape(Function):
    """``a.reshape(shape)``: the same elements in a new shape."""

    @staticmethod
    def forward(ctx, a, shape):
        try:
            out = a.data.reshape(shape)
        except ValueError:
            raise ValueError(
                f"Reshape: cannot reshape a tensor of shape {a.shape} ({a.data.size} elements) "
                f"into {tuple(shape)}") from None
        ctx.shape = a.shape
        return Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        return (Tensor(grad_output.data.reshape(ctx.shape)),)


class Log(Function):
    """Elementwise natural logarithm."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return Tensor(np.log(a.data))

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return (Tensor(grad_output.data / a.data),)


class Exp(Function):
    """Elementwise exponential."""

    @staticmethod
    def forward(ctx, a):
        # BEGIN SOLUTION
        out = np.exp(a.data)
        # Keep the array, not an output Tensor: a Tensor would point back at
        # this node through its grad_fn, a reference cycle.
        ctx.out = out
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        return (Tensor(grad_output.data * ctx.out),)
        # END SOLUTION


class Sum(Function):
    """``a.sum(axis, keepdims)``, as ``np.sum``; ``axis`` None, an int or a tuple of ints."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        # BEGIN SOLUTION
        try:
            out = np.sum(a.data, axis=axis, keepdims=keepdims)
        except (ValueError, TypeError) as err:  # AxisError is a ValueError
            raise ValueError(f"Sum: bad axis {axis!r} for a tensor of shape {a.shape} ({err})") from None
        ctx.shape = a.shape
        if axis is None or keepdims:
            ctx.kept_shape = None
        else:
            # Where the summed axes were, so backward can put them back as length 1.
            axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
            ctx.kept_shape = tuple(1 if i in {ax % a.data.ndim for ax in axes} else n
                                   for i, n in enumerate(a.shape))
        return Tensor(np.asarray(out))
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        g = grad_output.data
        if ctx.kept_shape is not None:
            g = g.reshape(ctx.kept_shape)
        # Every summed element receives the gradient of its sum.
        return (Tensor(np.broadcast_to(g, ctx.shape)),)
        # END SOLUTION


class MatMul(Function):
    """``a @ b``, as ``np.matmul``: matrices, vectors, and stacks of matrices."""

    @staticmethod
    def forward(ctx, a, b):
        # BEGIN SOLUTION
        if a.data.ndim == 0 or b.data.ndim == 0:
            raise ValueError(f"MatMul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        try:
            out = a.data @ b.data
        except ValueError:
            raise ValueError(
                f"MatMul: shapes {a.shape} and {b.shape} do not match: the last axis of the first "
                f"({a.shape[-1]}) must equal the {'only' if b.data.ndim == 1 else 'second-to-last'} "
                f"axis of the second ({b.shape[0] if b.data.ndim == 1 else b.shape[-2]})") from None
        ctx.save_for_backward(a, b)
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        a, b = ctx.saved_tensors
        A, B, G = a.data, b.data, grad_output.data
        # A vector operand acts as a matrix with one row (first operand) or
        # one column (second); give G the axis matmul dropped for it.
        if B.ndim == 1:
            B, G = B[:, None], G[..., None]
        if A.ndim == 1:
            A, G = A[None, :], G[..., None, :]
        grad_a = G @ np.swapaxes(B, -1, -2)   # dL/dA = G B^T
        grad_b = np.swapaxes(A, -1, -2) @ G   # dL/dB = A^T G
        if a.data.ndim == 1:
            grad_a = grad_a[..., 0, :]
        if b.data.ndim == 1:
            grad_b = grad_b[..., 0]
        # Stacked (batched) operands broadcast over their leading axes.
        return Tensor(unbroadcast(grad_a, a.shape)), Tensor(unbroadcast(grad_b, b.shape))
        # END SOLUTION
