"""Every differentiable operation of MyTorch, one ``Function`` subclass each.

Each class computes its result with NumPy in ``forward`` and the gradients
w.r.t. its tensor inputs in ``backward``, right below. Elementwise operations
broadcast like NumPy; their backward sums each gradient back to the shape of
its input with ``unbroadcast``.

Part 2 builds on these: Linear, BatchNorm and cross-entropy are compositions
of elementary operations (handout §2: "you will need to implement your OWN
operations/functions if you need them"), so their gradients come from the
operations' own backwards.
"""
import numpy as np

from mytorch.autograd_engine import Function
from mytorch.tensor import Tensor
from mytorch.tensor_inplace import share_version as _share_version


def unbroadcast(grad, shape):
    """Sum ``grad`` (an ndarray) down to ``shape``, undoing NumPy broadcasting.

    Broadcasting may have prepended axes and stretched axes of length 1; the
    gradient of such an input is the sum over every copy it was stretched
    into (handout §2.1: a bias of shape (n,) added to (batch, n) gets (n,)).
    """
    if grad.shape == shape:
        return grad
    if shape.count(1) == len(shape):  # every axis 1, or none (no generator: runs per op)
        # A number broadcast to every element (x + 1.0, x * 2): it received
        # the sum of all of them. Given, so that Part 1 works with numbers;
        # the general case is yours to write in §2.1.
        # keepdims: an ndarray, not a NumPy scalar that Tensor() would convert again.
        return grad.sum(keepdims=True).reshape(shape)
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


def _matmul_error(a, b):
    """Why ``a @ b`` failed: the inner axes differ, or the stacks do not broadcast."""
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.data.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        which = "only" if b.data.ndim == 1 else "second-to-last"
        return ValueError(
            f"MatMul: shapes {a.shape} and {b.shape} do not match: the last axis of the first "
            f"({inner_a}) must equal the {which} axis of the second ({inner_b})")
    return ValueError(
        f"MatMul: shapes {a.shape} and {b.shape} do not match: their stacking (batch) axes "
        f"{a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast together")


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
        if p == 0:  # a ** 0 is constant; p * a**(p-1) would be 0 * inf = nan at a = 0
            return (Tensor(np.zeros_like(grad_output.data)),)
        base = a.data.astype(grad_output.data.dtype, copy=False)
        return (Tensor(grad_output.data * p * base ** (p - 1)),)
        # END SOLUTION


class PowOfNumber(Function):
    """``base ** a``, elementwise, with the exponents in ``a``; for ``number ** a`` (``Tensor.__rpow__``)
    ``base`` is the number as a constant 0-d Tensor.

    Given code. Computed with ``np.power``, so ``2 ** integer_tensor`` is
    exact (8, not exp(3 log 2) = 7.999...), as in PyTorch.
    """

    @staticmethod
    def forward(ctx, base, a):
        try:
            with np.errstate(invalid="ignore"):  # (-2.0) ** 0.5 is nan, as in PyTorch
                out = np.power(base.data, a.data)
        except ValueError as err:  # an integer to a negative integer power
            number = base.data.item() if base.data.size == 1 else "integer Tensor"
            raise ValueError(f"{number!r} ** Tensor: {err} (NumPy refuses it; PyTorch truncates to 0); "
                             "use a float base, e.g. 2.0 ** t") from None
        ctx.save_for_backward(base, a)
        return ctx.save_output(Tensor(out))

    @staticmethod
    def backward(ctx, grad_output):
        base, a = ctx.saved_tensors
        g = grad_output.data
        b, e = base.data.astype(g.dtype), a.data.astype(g.dtype)
        grad_base = grad_a = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:  # d(b ** a)/db = a * b ** (a - 1)
                grad_base = Tensor(unbroadcast(g * e * b ** (e - 1), base.shape))
            if ctx.needs_input_grad[1]:  # d(b ** a)/da = b ** a * log(b); 0 where b = 0 and a >= 0, as PyTorch
                grad = np.where((b == 0) & (e >= 0), 0, g * ctx.out * np.log(b))
                grad_a = Tensor(np.asarray(unbroadcast(grad, a.shape), dtype=g.dtype))
        return grad_base, grad_a


class Transpose(Function):
    """``a.T()``: all axes reversed (for a matrix, rows become columns)."""

    @staticmethod
    def forward(ctx, a):
        out = Tensor(a.data.T)
        # A view of a's memory: an in-place change of a (an optimizer step)
        # must also make a saved transpose stale, as in PyTorch.
        _share_version(a, out)
        return out

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
        if out.base is not None and np.may_share_memory(out, a.data):
            out = Tensor(out)
            _share_version(a, out)  # a view of a's memory, as for Transpose
            return out
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
        return ctx.save_output(Tensor(out))  # backward reads exp(a) again, kept as ctx.out
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
    """``a @ b``, the matrix product: (n, k) @ (k, m) -> (n, m), what Linear needs (handout §2.1).

    ``np.matmul`` goes further (vectors, stacks of matrices); Linear needs only this.
    """

    @staticmethod
    def forward(ctx, a, b):
        # BEGIN SOLUTION
        if a.data.ndim == 0 or b.data.ndim == 0:
            raise ValueError(f"MatMul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        check_same_float_dtype("MatMul", a.data.dtype, b.data.dtype)
        try:
            out = a.data @ b.data
        except ValueError:
            raise _matmul_error(a, b) from None
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
        grad_a = G @ B.swapaxes(-1, -2)   # dL/dA = G B^T
        grad_b = A.swapaxes(-1, -2) @ G   # dL/dB = A^T G
        if a.data.ndim == 1:
            grad_a = grad_a[..., 0, :]
        if b.data.ndim == 1:
            grad_b = grad_b[..., 0]
        # Stacked (batched) operands broadcast over their leading axes.
        return Tensor(unbroadcast(grad_a, a.shape)), Tensor(unbroadcast(grad_b, b.shape))
        # END SOLUTION


# =============================================================================
# Neural-network operations (handout Part 2): the ReLU activation (§2.2),
# Sigmoid and Tanh (given complete: beyond the handout), and the loss (§2.5).
# Linear and BatchNorm1d (nn/linear.py, nn/batchnorm.py) and cross_entropy
# below are compositions of the elementary operations above.
# =============================================================================

class ReLU(Function):
    """``max(a, 0)`` elementwise, with ReLU'(0) = 0 (handout §2.2)."""

    @staticmethod
    def forward(ctx, a):
        # BEGIN SOLUTION
        out = np.maximum(a.data, 0)
        # out > 0 exactly where a > 0: backward recomputes the mask from it
        # rather than paying for one on every forward (evaluation needs none).
        return ctx.save_output(Tensor(out))  # kept as ctx.out
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        return (Tensor(np.where(ctx.out > 0, grad_output.data, 0)),)
        # END SOLUTION


class Sigmoid(Function):
    """``1 / (1 + exp(-a))`` elementwise, finite for any input."""

    @staticmethod
    def forward(ctx, a):
        x = a.data
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        # exp(-|x|) never overflows; for x < 0 use the equal form e^x / (1 + e^x).
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1, e) / (1 + e)
        return ctx.save_output(Tensor(out))

    @staticmethod
    def backward(ctx, grad_output):
        s = ctx.out
        return (Tensor(grad_output.data * s * (1 - s)),)


class Tanh(Function):
    """``tanh(a)`` elementwise."""

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a.data)
        return ctx.save_output(Tensor(out))

    @staticmethod
    def backward(ctx, grad_output):
        t = ctx.out
        return (Tensor(grad_output.data * (1 - t * t)),)


def relu(input):
    """``ReLU.apply(input)``, like ``torch.nn.functional.relu``."""
    return ReLU.apply(input)


def sigmoid(input):
    """``Sigmoid.apply(input)``, like ``torch.sigmoid``."""
    return Sigmoid.apply(input)


def tanh(input):
    """``Tanh.apply(input)``, like ``torch.tanh``."""
    return Tanh.apply(input)


# BEGIN REFERENCE ONLY
# The reference's fused layers. Linear, batch norm and cross-entropy could be
# composed from the elementary operations above (the student's route; the
# tests check both give the same values and gradients), but each is one
# Function here with a hand-derived backward: one graph node instead of ten
# saves the per-operation Python overhead that dominates small networks, and
# skips the intermediate arrays. A backward returns None for an input that
# needs no gradient (the data fed to the first layer), so no time is spent on it.

class LinearFunction(Function):
    """``x @ weight.T + bias`` in one node (handout §2.1).

    Shapes: x (..., in), weight (out, in), bias (out,) or None; output (..., out).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        out = x.data @ weight.data.T
        if bias is not None:
            out = _add_into(out, bias.data)
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        g = grad_output.data
        needs_grad = ctx.needs_input_grad  # e.g. none for the data fed to a first layer
        needs_x, needs_weight = needs_grad[0], needs_grad[1]
        needs_bias = ctx.has_bias and needs_grad[2]
        grad_x = grad_weight = grad_bias = None
        if needs_x:
            grad_x = Tensor(g @ weight.data)                # (..., out) @ (out, in)
        if needs_weight or needs_bias:
            # The gradient and the input as matrices of rows (batch, features): any leading axes
            # of a (..., features) input are one batch axis here.
            grad_rows = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
            if needs_weight:
                x_rows = x.data if x.data.ndim == 2 else x.data.reshape(-1, x.data.shape[-1])
                if grad_rows.dtype == np.float64 and grad_rows.shape[0] >= 500:
                    # The same product as (x^T g)^T: OpenBLAS runs it 25% faster in float64 (slower in
                    # float32), which outweighs, from about 500 rows, the cost of its column-major
                    # layout in the optimizer's elementwise updates (measured).
                    grad_weight = Tensor((x_rows.T @ grad_rows).T)
                else:
                    grad_weight = Tensor(grad_rows.T @ x_rows)  # (out, batch) @ (batch, in)
            if needs_bias:
                grad_bias = Tensor(_sum_rows(grad_rows))
        if ctx.has_bias:
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, like ``torch.nn.functional.linear``.

    Shapes: input (..., in) -- a single sample (in,) or a batch (batch, in) --,
    weight (out, in), bias (out,) or None; output (..., out).
    """
    check_tensor("linear", "input", input)
    check_tensor("linear", "weight", weight)
    if weight.data.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    out_features, in_features = weight.shape
    if input.data.ndim == 0 or input.shape[-1] != in_features:
        raise ValueError(
            f"linear: input of shape {input.shape} does not fit weight of shape {weight.shape}: "
            f"expected {in_features} features in the last axis of the input")
    check_same_float_dtype("linear", input.data.dtype, weight.data.dtype, layer=True)
    if bias is not None:
        check_tensor("linear", "bias", bias)
        if bias.shape != (out_features,):
            raise ValueError(f"linear: bias must have shape ({out_features},) to match weight "
                             f"{weight.shape}, got {bias.shape}")
    return LinearFunction.apply(input, weight, bias)


class BatchNormFunction(Function):
    """Batch normalisation of x (batch, features) with gamma, beta (features,) (handout §2.4).

    In training the batch statistics normalise x (biased variance, eqs 3-6)
    and the running estimates (ndarrays, updated in place) move towards the
    batch mean and unbiased variance (eqs 7-9). Otherwise the running
    estimates normalise x.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        ctx.training = training
        if training:
            ctx.save_for_backward(gamma)  # backward reads it: saved, so a later change of it is caught
            n = x.data.shape[0]
            mean = _sum_rows(x.data) / n
            xhat = x.data - mean
            var = _sum_rows(xhat * xhat) / n                # biased: normalises this batch
            inv_std = 1 / np.sqrt(var + eps)
            xhat *= inv_std
            if running_mean is not None:
                # In place, so the running Tensors stay the same objects, outside every graph.
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var  # unbiased: estimates the data's
            ctx.xhat, ctx.inv_std = xhat, inv_std
            out = _add_into(xhat * gamma.data, beta.data)
        else:
            mean = running_mean.copy()  # a later training step may update the running one in place
            inv_std = 1 / np.sqrt(running_var + eps)
            scale = gamma.data * inv_std
            # (x - mean) * inv_std * gamma + beta, folded into one multiply and one add
            out = _add_into(x.data * scale, beta.data - mean * scale)
            ctx.save_for_backward(x)  # backward reads it: saved, so a later change of it is caught
            ctx.mean, ctx.inv_std, ctx.scale = mean, inv_std, scale
        return Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output.data
        needs_x = ctx.needs_input_grad[0]  # not for the data fed to a first layer
        grad_beta = _sum_rows(g)
        if ctx.training:
            xhat, inv_std = ctx.xhat, ctx.inv_std
            grad_gamma = _sum_rows(g * xhat)
            grad_x = None
            if needs_x:
                # The mean and variance depend on every sample, hence the two
                # batch-mean corrections on top of gamma * inv_std * g:
                # grad_x = gamma * inv_std * (g - grad_beta / n - xhat * grad_gamma / n),
                # built in one array to spare the temporaries.
                n = g.shape[0]
                grad_x = xhat * (grad_gamma / -n)
                grad_x += g
                grad_x -= grad_beta / n
                grad_x *= ctx.saved_tensors[0].data * inv_std
                grad_x = Tensor(grad_x)
        else:
            grad_gamma = _sum_rows(g * (ctx.saved_tensors[0].data - ctx.mean)) * ctx.inv_std
            grad_x = Tensor(g * ctx.scale) if needs_x else None
        return grad_x, Tensor(grad_gamma), Tensor(grad_beta)


def batch_norm(input, running_mean, running_var, weight, bias, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation, like ``torch.nn.functional.batch_norm``.

    Shapes: input (batch, features); running_mean, running_var, weight
    (gamma) and bias (beta) (features,). ``training=True`` normalises with the
    batch statistics and, unless they are None, updates ``running_mean`` and
    ``running_var`` in place: ``running = (1 - momentum) * running +
    momentum * batch`` (unbiased batch variance). ``training=False`` uses the
    running statistics.
    """
    check_tensor("batch_norm", "input", input)
    if input.data.ndim != 2:
        raise ValueError(f"batch_norm: input must be 2-D (batch, features), got shape {input.shape}")
    features = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is None and name in ("weight", "bias"):
            raise ValueError(f"batch_norm: {name} is required (a Tensor of shape ({features},))")
        if t is not None:
            check_tensor("batch_norm", name, t)
            if t.shape != (features,):
                raise ValueError(f"batch_norm: {name} must have shape ({features},) for input of "
                                 f"shape {input.shape}, got {t.shape}")
    if training and input.shape[0] < 2:
        raise ValueError(
            f"batch_norm: cannot normalise a batch of {input.shape[0]} sample(s) in training mode "
            "(the variance of one sample is undefined); use a batch of 2 or more, or eval mode")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: eval mode (training=False) needs running_mean and running_var")
    running_mean = None if running_mean is None else running_mean.data
    running_var = None if running_var is None else running_var.data
    return BatchNormFunction.apply(input, weight, bias, running_mean, running_var, training, momentum, eps)


class CrossEntropyFunction(Function):
    """Mean cross-entropy of logits (batch, classes) against integer labels (batch,) (handout App. B).

    The labels come as an ndarray (not a Tensor): they take no gradient.
    """

    @staticmethod
    def forward(ctx, predicted, labels):
        x = predicted.data
        n = x.shape[0]
        # Each row's true class as a flat index (row * classes + label): a flat take and, in
        # backward, a flat subtraction cost a third of indexing with (rows, labels) pairs.
        picked = np.add(_row_starts(n, x.shape[1]), labels, dtype=np.intp)
        # LogSumExp trick: shift each row by its maximum, so exp() sees
        # values <= 0 and neither overflows nor loses the largest term.
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp @ _ones(exp.shape[1], exp.dtype)  # row sums; see _sum_rows for why a product
        # log softmax at the true class = shifted[label] - log(sum(exp))
        loss = (np.log(total) - shifted.take(picked)).sum() / n
        exp /= total[:, None]       # now the softmax
        ctx.softmax, ctx.picked = exp, picked
        return Tensor(np.asarray(loss, dtype=exp.dtype))

    @staticmethod
    def backward(ctx, grad_output):
        # d(loss)/d(logits) = (softmax - one_hot(labels)) / batch (handout App. B.2),
        # scaled by the incoming gradient; the softmax stays intact for another backward.
        scale = grad_output.data / ctx.softmax.shape[0]
        grad = ctx.softmax * scale
        grad.reshape(-1)[ctx.picked] -= scale  # grad is a fresh contiguous array: a view
        return (Tensor(grad),)


# END REFERENCE ONLY


def cross_entropy(predicted, target):
    """Mean cross-entropy loss of logits ``predicted`` (N, C) against class indices ``target`` (N,).

    ``loss = mean_n(logsumexp(predicted[n]) - predicted[n, target[n]])``:
    log-softmax then negative log-likelihood, averaged over the batch
    (handout §2.5, Appendix B). Returns a 0-d Tensor.

    Compose it from tensor operations, so that autograd derives its gradient:
    LogSumExp with the trick of Appendix B.1 (subtract each row's maximum,
    a constant, before exp; add it back after log), then pick each row's
    true-class term, e.g. by multiplying with a one-hot matrix of the labels
    (a constant Tensor) and summing. ``labels`` below is the validated
    ``target.data``, an ndarray of class indices.
    """
    labels = _check_cross_entropy_args(predicted, target)
    # BEGIN SOLUTION
    return CrossEntropyFunction.apply(predicted, labels)
    # END SOLUTION


# BEGIN REFERENCE ONLY
def _add_into(out, b):
    """``out + b``, written into ``out`` (a fresh array) when that keeps NumPy's result dtype."""
    if out.dtype == b.dtype or out.dtype == np.result_type(out, b):
        out += b  # saves allocating a second array of the output's size
        return out
    return out + b


def _sum_rows(a):
    """``a.sum(axis=0)`` for a 2-D float array (batch, features), as a fresh array (features,).

    Computed as ``ones @ a``: for the small matrices of a training step,
    NumPy's reduction along the first axis costs several times more than
    this matrix-vector product. Both add the same numbers, in another order,
    so the last bits may differ (well inside the parity tests' rtol 1e-7).
    """
    if a.dtype.kind != "f":
        return a.sum(axis=0)
    return _ones(a.shape[0], a.dtype) @ a


def _row_starts(n, width):
    """The flat index of each row's first element, ``arange(n) * width``, read-only and kept."""
    return _kept(_ROW_STARTS, _arange_times, n, width)


def _ones(n, dtype):
    """A read-only vector of ``n`` ones, kept: every training step needs the same few."""
    return _kept(_ONES, np.ones, n, dtype)


def _arange_times(n, width):
    return np.arange(n, dtype=np.intp) * width


_ONES, _ROW_STARTS = {}, {}


def _kept(table, make, *args):
    """``make(*args)``, made once per ``args`` and kept read-only in ``table``: every step needs the same few."""
    array = table.get(args)
    if array is None:
        if len(table) > 64:  # many shapes seen: start over rather than grow
            table.clear()
        array = table[args] = make(*args)
        array.flags.writeable = False
    return array
# END REFERENCE ONLY


# =============================================================================
# dtypes
# =============================================================================

class Cast(Function):
    """``a.to(dtype)``: the same values in another dtype; the gradient goes back in a's."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.data.dtype if a.data.dtype.kind == "f" else np.dtype(np.float64)
        return Tensor(a.data.astype(dtype))

    @staticmethod
    def backward(ctx, grad_output):
        return (Tensor(grad_output.data.astype(ctx.dtype)),)


def check_same_float_dtype(op, input_dtype, weight_dtype, hint="", layer=False):
    """Refuse two different float dtypes in a matrix product (PyTorch refuses them too).

    With ``layer=True`` (Linear, ``linear``) the weights' dtype sets the
    precision, and only an input of higher precision than the weights is
    refused: the handout's data path feeds float32 pixels to float64 layers
    (computed in float64, where PyTorch would refuse), while a float64 input
    to a model made float32 with ``model.float()`` must not silently turn
    its computation back into float64.
    """
    if input_dtype != weight_dtype and input_dtype.kind == "f" and weight_dtype.kind == "f":
        if layer and np.can_cast(input_dtype, weight_dtype, "safe"):
            return
        raise TypeError(
            f"{op}: the operands have different float dtypes, {input_dtype} and {weight_dtype}; "
            "PyTorch refuses this too. Convert one of them"
            + (hint or f", e.g. x.to(np.{weight_dtype}) or w.to(np.{input_dtype})"))


def check_tensor(op, name, value):
    """Refuse an argument ``name`` of ``op`` that is not a Tensor (a bare ndarray gets a hint)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}"
                        + ("; wrap it with Tensor(array)" if isinstance(value, np.ndarray) else ""))


# The unsigned integer dtype of each item size, to read labels as unsigned.
_UNSIGNED = {np.dtype(t).itemsize: np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64)}


def _check_cross_entropy_args(predicted, target):
    """Validate the arguments of ``cross_entropy``; return the labels as an ndarray."""
    check_tensor("cross_entropy", "predicted (the logits)", predicted)
    check_tensor("cross_entropy", "target (the labels)", target)
    if predicted.data.ndim != 2:
        raise ValueError(f"cross_entropy: predicted must be 2-D logits (batch, classes), "
                         f"got shape {predicted.shape}")
    n, classes = predicted.shape
    labels = target.data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"cross_entropy: target must have shape (batch,) = ({n},), one class index "
                         f"per row of predicted, got shape {labels.shape}")
    if labels.shape[0] != n:
        raise ValueError(f"cross_entropy: batch sizes differ: predicted has {n} rows "
                         f"(shape {predicted.shape}), target has {labels.shape[0]} labels")
    if n == 0:
        raise ValueError("cross_entropy: the batch is empty (0 rows); the mean loss is undefined")
    # One reduction per step, not two: read as unsigned, a negative label is larger than any class.
    if int(np.maximum.reduce(labels.view(_UNSIGNED[labels.itemsize]))) >= classes:
        low, high = labels.min(), labels.max()
        bad = low if low < 0 else high
        raise ValueError(f"cross_entropy: label {bad} is out of range for {classes} classes "
                         f"(expected 0 <= label <= {classes - 1})")
    return labels


# =============================================================================
# Indexing and max/min: given code in the student kit, not
# a task. Tensor.__getitem__, max(), min(), argmax() and argmin() call these.
# =============================================================================

def _is_basic_key(key):
    """True when ``key`` (a tuple) has no array index: NumPy then returns a view, and no element repeats."""
    for part in key:
        if type(part) is bool:  # a bool scalar acts as a 0-d mask: advanced indexing
            return False
        if not (part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer))):
            return False
    return True


class GetItem(Function):
    """``a[key]``, as NumPy indexes ``a.data``; ``key`` is a tuple of ints, slices, None,
    Ellipsis, bools and integer or bool ndarrays (``Tensor.__getitem__`` builds it).

    Basic indexing (ints, slices, None, Ellipsis) gives a view of ``a``'s data,
    as in PyTorch; array indices give a copy. Backward sends each element of
    the gradient back to where it was read from, summing over elements read
    more than once (``a[[0, 0]]``).
    """

    @staticmethod
    def forward(ctx, a, key):
        try:
            out = a.data[key]
        except IndexError as err:
            raise IndexError(f"GetItem: index {format_index(key)} is invalid for a tensor of shape {a.shape}: "
                             f"{err}") from None
        ctx.shape, ctx.key, ctx.basic = a.shape, key, _is_basic_key(key)
        result = Tensor(out)
        if ctx.basic:
            _share_version(a, result)  # a view of a's memory: an in-place change of one is one of the other
        return result

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output.data
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        if ctx.basic:
            grad[ctx.key] = g  # a view reads each element at most once
        else:
            np.add.at(grad, ctx.key, g)  # repeated indices add up
        return (Tensor(grad),)


def format_index(key):
    """``key`` as the user wrote it, without the Ellipsis that ``Tensor.__getitem__`` appends."""
    parts = key[:-1] if key and key[-1] is Ellipsis else key
    shown = ", ".join("..." if p is Ellipsis else ":" if isinstance(p, slice) and p == slice(None)
                      else repr(p) for p in parts)
    return f"[{shown}]"


class TakeAlongAxis(Function):
    """``a``'s elements at ``indices`` along ``axis``: the values of ``max(dim)``/``min(dim)``.

    ``indices`` (int ndarray) has ``a``'s shape with length 1 along ``axis``
    (``np.take_along_axis``); the output drops that axis unless ``keepdim``.
    Backward puts each gradient at the element it came from, zero elsewhere.
    """

    @staticmethod
    def forward(ctx, a, indices, axis, keepdim):
        out = np.take_along_axis(a.data, indices, axis)
        if not keepdim:
            out = np.squeeze(out, axis)
        ctx.shape, ctx.indices, ctx.axis, ctx.keepdim = a.shape, indices, axis, keepdim
        return Tensor(out)

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output.data
        if not ctx.keepdim:
            g = np.expand_dims(g, ctx.axis)
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(grad, ctx.indices, g, ctx.axis)
        return (Tensor(grad),)


class Extremum(Function):
    """``a.max()`` (``largest=True``) or ``a.min()``: the extreme element of all of ``a``, a 0-d tensor.

    As in PyTorch, the gradient is shared evenly among the elements equal to
    the extreme (ties), and goes to the NaNs if the result is NaN.
    """

    @staticmethod
    def forward(ctx, a, largest):
        name = "max" if largest else "min"
        if a.data.size == 0:
            raise RuntimeError(f"{name}(): the tensor of shape {a.shape} is empty and has no {name}; "
                               f"give a dim to reduce over: {name}(dim=...)")
        out = np.asarray(a.data.max() if largest else a.data.min())
        ctx.save_for_backward(a)
        return ctx.save_output(Tensor(out))

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        if a.data.dtype.kind == "f" and np.isnan(ctx.out):
            hit = np.isnan(a.data)
        else:
            hit = a.data == ctx.out
        g = grad_output.data
        grad = hit.astype(g.dtype)
        grad *= g / np.count_nonzero(hit)
        return (Tensor(grad),)
# BEGIN HOMEWORK 3


# =============================================================================
# HW3P1 (course contract): cat and unsqueeze. Students write these in HW3P1:
# HW3P1's kit ships this block with its regions stubbed, the other kits leave it out.
# =============================================================================

class Cat(Function):
    """``cat(tensors, dim)``: the tensors joined along axis ``dim`` (``Cat.apply(dim, *tensors)``).

    Shapes: every tensor has the same shape except along ``dim`` (n_i there);
    output has sum(n_i) along ``dim``. Backward splits the gradient back along
    ``dim``: tensor i gets the slab it filled.
    """

    @staticmethod
    def forward(ctx, dim, *tensors):
        arrays = [t.data for t in tensors]
        ndim = arrays[0].ndim
        if ndim == 0:
            raise ValueError("Cat: zero-dimensional tensors cannot be concatenated; unsqueeze them first")
        if not -ndim <= dim < ndim:
            raise IndexError(f"Cat: dim {dim} is out of range for tensors of {ndim} dimension(s) "
                             f"(expected to be in range of [{-ndim}, {ndim - 1}])")
        dim %= ndim
        for i, a in enumerate(arrays):
            if a.ndim != ndim or a.shape[:dim] + a.shape[dim + 1:] != arrays[0].shape[:dim] + arrays[0].shape[dim + 1:]:
                raise ValueError(
                    f"Cat: tensor {i} has shape {a.shape}, tensor 0 has {arrays[0].shape}; along dim {dim} "
                    "the sizes may differ, every other axis must match")
        # BEGIN SOLUTION
        ctx.dim = dim
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return Tensor(np.concatenate(arrays, axis=dim))
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        # Views of the one gradient: the engine copies what a leaf keeps, and no
        # piece of the split is ever written to.
        pieces = np.split(grad_output.data, ctx.bounds, axis=ctx.dim)
        return tuple(Tensor(p) for p in pieces)
        # END SOLUTION


class Unsqueeze(Function):
    """``a.unsqueeze(dim)``: ``a`` with a new axis of length 1 at position ``dim``.

    Shapes: a (d0, ..., dk-1) -> k + 1 axes; ``dim`` in [-(k + 1), k], a
    negative one counting from the end of the result, as in PyTorch.
    """

    @staticmethod
    def forward(ctx, a, dim):
        top = a.data.ndim + 1
        if not -top <= dim < top:
            raise IndexError(f"Unsqueeze: dim {dim} is out of range for a tensor of {a.data.ndim} "
                             f"dimension(s) (expected to be in range of [{-top}, {top - 1}])")
        # BEGIN SOLUTION
        ctx.dim = dim % top
        out = Tensor(np.expand_dims(a.data, ctx.dim))
        # END SOLUTION
        _share_version(a, out)  # given: out is a view of a's memory (in-place checks), as for Reshape
        return out

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        return (Tensor(np.squeeze(grad_output.data, ctx.dim)),)
        # END SOLUTION
# END HOMEWORK 3


# What `from <this module> import *` gives (the course's graders star-import
# it after binding names of their own, such as nn and F): the classes and
# functions defined here, never the modules or names this file imports.
__all__ = [_name for _name, _value in list(globals().items())
           if not _name.startswith("_") and getattr(_value, "__module__", None) == __name__]
