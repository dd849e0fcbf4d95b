"""BatchNorm1d: batch normalisation of (batch, features) activations (handout §2.4, Appendix C)."""
import numbers

import numpy as np

from mytorch.nn import functional as F
from mytorch.nn.module import Module, check_size
from mytorch.tensor import Tensor


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Args:
        num_features: the number of features (columns) of the input.
        eps: added to the variance before the square root, against division by zero.
        momentum: weight of the newest batch in the running statistics:
            ``running = (1 - momentum) * running + momentum * batch``
            (the handout's alpha is ``1 - momentum``).

    Attributes:
        gamma, beta: parameters of shape (num_features,), starting at 1 and 0.
        running_mean, running_var: Tensors of shape (num_features,), starting
            at 0 and 1; not parameters and never part of a graph.

    In training mode (``is_train``) the input is normalised with its batch
    mean and biased batch variance, and the running statistics are updated
    with the batch mean and unbiased batch variance. In eval mode the running
    statistics normalise the input.

    Shapes: input (batch, num_features) -> output (batch, num_features).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        check_size("BatchNorm1d", "num_features", num_features)
        if not _is_real(eps) or not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be a positive number, got {eps!r}")
        if not _is_real(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be a number in [0, 1], got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.gamma = Tensor(np.ones(self.num_features), requires_grad=True, is_parameter=True)
        self.beta = Tensor(np.zeros(self.num_features), requires_grad=True, is_parameter=True)
        # Buffers: saved and loaded by state_dict()/load_state_dict(), never trained.
        self.register_buffer("running_mean", Tensor(np.zeros(self.num_features)))
        self.register_buffer("running_var", Tensor(np.ones(self.num_features)))

    # PyTorch's names of gamma and beta (state_dict() keeps the handout's).
    @property
    def weight(self):
        """``gamma``, under PyTorch's name."""
        return self.gamma

    @weight.setter
    def weight(self, value):
        self.gamma = value

    @property
    def bias(self):
        """``beta``, under PyTorch's name."""
        return self.beta

    @bias.setter
    def bias(self, value):
        self.beta = value

    def forward(self, x):
        """``x`` (batch, num_features) -> normalised, scaled and shifted, same shape.

        Compose it from tensor operations (handout §2.4, eqs. 3-9): the batch
        mean and the biased variance from sums over axis 0 (a ``Sum``
        operation you may write, with ``Tensor.sum``), ``** 0.5`` or another
        operation for the square root, then ``gamma * x_hat + beta``. In
        training mode also update ``running_mean`` and ``running_var`` (with
        the unbiased variance, eq. 7); they are no part of any graph, so
        update their ``.data`` with NumPy. In eval mode normalise with them.
        """
        self._check_input(x)
        # BEGIN SOLUTION
        # The reference uses one fused operation with a hand-derived backward;
        # composed operations give the same values and gradients (tests/test_nn_composed.py).
        return F.BatchNormFunction.apply(x, self.gamma, self.beta, self.running_mean.data,
                                         self.running_var.data, self.is_train, self.momentum, self.eps)
        # END SOLUTION

    def _check_input(self, x):
        if not isinstance(x, Tensor):  # runs on every call: build the layer's repr only to raise
            F.check_tensor(repr(self), "input", x)
        if x.data.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input of shape (batch, {self.num_features}), "
                             f"got {x.shape}")
        if self.is_train and x.shape[0] < 2:
            raise ValueError(
                f"{self!r}: cannot normalise a batch of {x.shape[0]} sample(s) in training mode, since "
                "the variance of one sample is undefined; use a batch of 2 or more, or call .eval()")

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
