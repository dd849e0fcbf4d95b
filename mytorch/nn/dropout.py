"""Dropout: zero random activations while training (HW1 bonus).

In training mode each element of the input is kept with probability
``1 - p`` and scaled by ``1 / (1 - p)`` (inverted dropout), so the expected
output equals the input and evaluation needs no rescaling. In eval mode the
layer is the identity.

The mask comes from NumPy's global generator, one draw per training forward::

    mask = np.random.binomial(1, 1 - p, size=x.shape)

the course's contract, so that a seeded ``np.random`` reproduces the mask.
"""
import numbers

import numpy as np

from mytorch.autograd_engine import Function
from mytorch.nn import functional as F
from mytorch.nn.module import Module
from mytorch.tensor import Tensor

__all__ = ["Dropout", "DropoutFunction"]


class DropoutFunction(Function):
    """``x * mask / (1 - p)`` with a fresh Bernoulli(1 - p) mask; backward uses the same mask.

    ``DropoutFunction.apply(x, p)`` with ``x`` a float Tensor of any shape and
    ``p`` the drop probability in [0, 1]. Returns a Tensor of ``x``'s shape
    and float dtype.
    """

    @staticmethod
    def forward(ctx, x, p):
        # BEGIN SOLUTION
        # The one draw of the contract: kept where the mask is 1.
        mask = np.random.binomial(1, 1 - p, size=x.shape)
        dtype = x.data.dtype
        # Scaling the mask first, then one product, as PyTorch does; p == 1
        # drops everything (the mask is all zeros and no scale is needed).
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0
        ctx.scaled_mask = np.multiply(mask, scale, dtype=dtype)
        return Tensor(x.data * ctx.scaled_mask)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        # BEGIN SOLUTION
        # y = x * m / (1 - p) elementwise, so dy/dx is the scaled mask itself.
        return (Tensor(grad_output.data * ctx.scaled_mask),)
        # END SOLUTION


class Dropout(Module):
    """Randomly zero elements of the input in training mode, as ``torch.nn.Dropout``.

    Args:
        p: the probability that an element is zeroed, in [0, 1] (default 0.5).

    Attributes:
        p: as given.

    Training mode (the default): ``DropoutFunction`` with a new mask on every
    call. Eval mode (after ``eval()``): returns the input itself, and draws
    nothing. Constructing the layer draws nothing either.

    Shapes: any input shape -> the same shape.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p (the probability of zeroing an element) must be a number "
                             f"in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        """``x`` (any shape) -> same shape: dropped and scaled in training, unchanged in eval."""
        if not isinstance(x, Tensor):
            F.check_tensor(repr(self), "input", x)
        if not self.is_train:
            return x
        if x.data.dtype.kind != "f":
            raise TypeError(f"{self!r}: expected a floating-point input, got dtype {x.data.dtype}; "
                            "convert it with x.double()")
        return DropoutFunction.apply(x, self.p)

    def extra_repr(self):
        return f"p={self.p}"
