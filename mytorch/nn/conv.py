"""Convolution layers (HW2P1): ``Conv1d`` and ``Flatten``.

``Conv1d`` slides ``out_channel`` filters of shape (in_channel, kernel_size)
along the width of an input (batch, in_channel, width), ``stride`` samples at
a time, with no padding and dilation 1. Like PyTorch's, it is a
cross-correlation (the kernel is not flipped)::

    y[n, o, j] = bias[o] + sum over c, k of weight[o, c, k] * x[n, c, j * stride + k]

for output positions ``j = 0 .. W_out - 1``, ``W_out = (width - kernel_size) // stride + 1``.
The last ``(width - kernel_size) % stride`` samples fit in no window: they
take no part in the output, and their gradient is zero.

``Flatten`` turns (batch, d1, ..., dk) into (batch, d1 * ... * dk) in C order
(for (batch, channels, width): channel 0's samples first, then channel 1's).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mytorch.autograd_engine import Function
from mytorch.nn import functional as F
from mytorch.nn.module import Module, check_size
from mytorch.tensor import Tensor

# Graders star-import this module: only the layers are public.
__all__ = ["Conv1d", "Flatten"]


def conv1d_output_size(width, kernel_size, stride):
    """The number of windows of ``kernel_size`` samples, ``stride`` apart, that fit in ``width`` samples."""
    # BEGIN SOLUTION
    return (width - kernel_size) // stride + 1
    # END SOLUTION


class Conv1dFunction(Function):
    """The 1-D convolution ``y = conv1d(x, weight, bias, stride)`` as one operation.

    Shapes: x (N, C_in, W), weight (C_out, C_in, K), bias (C_out,), stride an
    int; output (N, C_out, W_out) with ``W_out = conv1d_output_size(W, K, stride)``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride):
        # BEGIN SOLUTION
        n, channels, width = x.shape
        out_channels, _, kernel = weight.shape
        positions = conv1d_output_size(width, kernel, stride)
        # Every window at once (no loop over samples or positions): a view of x
        # of shape (N, C_in, W_out, K) whose [n, c, j, k] is x[n, c, j*stride + k].
        windows = sliding_window_view(x.data, kernel, axis=2)[:, :, ::stride]
        # As one matrix per sample, its rows (c, k) matching the flattened
        # filters and its columns the positions j ("im2col"): (N, C_in*K, W_out).
        # The copy makes it contiguous, so that the products below run in BLAS.
        columns = windows.transpose(0, 1, 3, 2).reshape(n, channels * kernel, positions)
        filters = weight.data.reshape(out_channels, channels * kernel)
        out = filters @ columns                    # (C_out, C_in*K) @ (N, C_in*K, W_out)
        out += bias.data[:, None]
        ctx.save_for_backward(weight)
        # The columns were computed here (a copy, not x's own array): kept for
        # the weight gradient rather than cut out of x again.
        ctx.columns, ctx.width, ctx.stride = columns, width, stride
        return Tensor(out)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        (weight,) = ctx.saved_tensors
        g = grad_output.data                                    # (N, C_out, W_out)
        out_channels, channels, kernel = weight.shape
        # bias[o] is added at every sample and position.
        grad_bias = g.sum(axis=(0, 2))
        # weight[o, c, k] met x[n, c, j*stride + k] at every n and j.
        grad_weight = np.tensordot(g, ctx.columns, axes=((0, 2), (0, 2))).reshape(weight.shape)
        grad_x = None
        if ctx.needs_input_grad[0]:  # not for the data fed to a first layer
            n, _, positions = g.shape
            # What each window's samples receive, as the columns were laid out: (N, C_in, K, W_out).
            grad_columns = (weight.data.reshape(out_channels, -1).T @ g).reshape(n, channels, kernel, positions)
            # Tap k of window j read sample j*stride + k: send each tap's share
            # back to its samples (one strided slice per tap; windows overlap
            # when stride < K, so the shares add up). Samples past the last
            # window keep their zero.
            grad_x = np.zeros((n, channels, ctx.width), dtype=g.dtype)
            last = ctx.stride * (positions - 1)
            for k in range(kernel):
                grad_x[:, :, k:k + last + 1:ctx.stride] += grad_columns[:, :, k]
            grad_x = Tensor(grad_x)
        return grad_x, Tensor(grad_weight), Tensor(grad_bias)
        # END SOLUTION


class Conv1d(Module):
    """1-D convolution over (batch, in_channel, width) inputs, as ``torch.nn.Conv1d`` without padding.

    Args:
        in_channel: channels of the input.
        out_channel: channels of the output (the number of filters).
        kernel_size: width of each filter, in samples.
        stride: how far each window is from the one before, in samples.

    Attributes:
        weight: parameter of shape (out_channel, in_channel, kernel_size), float64.
        bias: parameter of shape (out_channel,), float64.

    Both start uniform in ``[-1/sqrt(in_channel * kernel_size), +...]``,
    PyTorch's default, each drawn with one ``np.random.uniform`` call (weight
    first), so ``np.random.seed`` makes a model reproducible.

    Shapes: input (batch, in_channel, width) -> output (batch, out_channel, W_out),
    ``W_out = (width - kernel_size) // stride + 1``.
    """

    def __init__(self, in_channel, out_channel, kernel_size, stride=1):
        super().__init__()
        for name, value in (("in_channel", in_channel), ("out_channel", out_channel),
                            ("kernel_size", kernel_size), ("stride", stride)):
            check_size("Conv1d", name, value)
        self.in_channel, self.out_channel = int(in_channel), int(out_channel)
        self.kernel_size, self.stride = int(kernel_size), int(stride)
        bound = 1 / np.sqrt(self.in_channel * self.kernel_size)
        self.weight = Tensor(np.random.uniform(-bound, bound, (self.out_channel, self.in_channel, self.kernel_size)),
                             requires_grad=True, is_parameter=True)
        self.bias = Tensor(np.random.uniform(-bound, bound, self.out_channel), requires_grad=True, is_parameter=True)

    def forward(self, x):
        """``x`` (batch, in_channel, width) -> (batch, out_channel, W_out)."""
        self._check_input(x)
        return Conv1dFunction.apply(x, self.weight, self.bias, self.stride)

    def _check_input(self, x):
        if not isinstance(x, Tensor):
            F.check_tensor(repr(self), "input", x)
        if x.data.ndim != 3 or x.shape[1] != self.in_channel:
            raise ValueError(f"{self!r}: expected an input of shape (batch, {self.in_channel}, width); "
                             f"got shape {x.shape}")
        if x.shape[2] < self.kernel_size:
            raise ValueError(f"{self!r}: the input's width {x.shape[2]} (shape {x.shape}) is shorter than "
                             f"the kernel ({self.kernel_size}): no window fits")
        if x.data.dtype != self.weight.data.dtype:
            F.check_same_float_dtype(repr(self), x.data.dtype, self.weight.data.dtype, layer=True)

    def extra_repr(self):
        return f"{self.in_channel}, {self.out_channel}, kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """(batch, d1, ..., dk) -> (batch, d1 * ... * dk), in C order; the gradient is reshaped back."""

    def forward(self, x):
        if not isinstance(x, Tensor):
            F.check_tensor("Flatten", "input", x)
        if x.data.ndim < 2:
            raise ValueError(f"Flatten: expected an input (batch, ...) with at least 2 dimensions, "
                             f"got shape {x.shape}")
        # BEGIN SOLUTION
        return x.reshape(x.shape[0], -1)
        # END SOLUTION
