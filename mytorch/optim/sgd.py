"""SGD: stochastic gradient descent with optional momentum (handout §2.3, §2.6)."""
import numbers

import numpy as np

from mytorch.optim.optimizer import Optimizer
from mytorch.tensor import grad_dtype


class SGD(Optimizer):
    """Stochastic gradient descent.

    Args:
        params: iterable of parameter Tensors.
        lr: learning rate (eta), >= 0.
        momentum: momentum factor (beta), >= 0; 0 means plain SGD.

    Attributes:
        params, lr, momentum: as given (params as a list).
        momentums: one ndarray per parameter holding its velocity ``v``
            (below), starting at zero. The handout's name: it holds
            velocities, not momentum factors (that is ``momentum``).

    ``step()`` applies, for every parameter W with a gradient (handout §2.6)::

        v = momentum * v - lr * grad
        W = W + v

    which with momentum 0 is ``W = W - lr * grad`` (§2.3). For a constant lr
    this equals PyTorch's ``b = momentum * b + grad; W = W - lr * b``, with
    ``v = -lr * b``. The update writes into ``W.data``: it builds no graph, and
    each parameter stays the same leaf Tensor.
    """

    def __init__(self, params, lr=0.001, momentum=0.0):
        super().__init__(params)
        for name, value in (("lr", lr), ("momentum", momentum)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ValueError(f"SGD: {name} must be a number >= 0, got {value!r}")
        self.lr = lr
        self.momentum = momentum
        self.momentums = [np.zeros(p.shape, dtype=grad_dtype(p.data)) for p in self.params]

    def step(self):
        """Update every parameter that has a gradient; those with ``grad`` None are skipped."""
        for param, velocity in zip(self.params, self.momentums):
            if param.grad is None:
                continue
            # Given code: the update below changes the parameter in place, so a graph
            # built before it must not be back-propagated any more (see _bump_version).
            # Counted before the update, so it holds whatever the update's code is.
            param._bump_version()
            # BEGIN SOLUTION
            grad = param.grad.data
            if self.momentum:
                velocity *= self.momentum
                velocity -= self.lr * grad
                param.data += velocity
            else:
                param.data -= self.lr * grad
            # END SOLUTION

