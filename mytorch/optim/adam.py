"""Adam: adaptive moment estimation (HW1 bonus), as ``torch.optim.Adam``."""
import numbers

import numpy as np

from mytorch.optim.optimizer import Optimizer
from mytorch.tensor import grad_dtype


class Adam(Optimizer):
    """Adam without weight decay or AMSGrad, with PyTorch's semantics.

    Args:
        params: iterable of parameter Tensors.
        lr: learning rate, >= 0.
        betas: ``(beta1, beta2)``, each in [0, 1): the decay rates of the
            running averages of the gradient and of its square.
        eps: added to the denominator, >= 0, against division by zero.

    Attributes:
        params, lr, betas, eps: as given (params as a list, betas a tuple).
        m, v: one ndarray per parameter: the running averages of the
            gradient and of the squared gradient, starting at zero.
        steps: one int per parameter: how many updates it has had.

    ``step()`` applies, for every parameter W with a gradient g, counting that
    parameter's steps t from 1 (a parameter whose ``grad`` is None is skipped
    and its count stays, as in PyTorch)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)          (bias correction: m and v start at 0)
        v_hat = v / (1 - beta2**t)
        W = W - lr * m_hat / (sqrt(v_hat) + eps)

    A gradient of zeros from the start moves nothing (m stays 0). The update
    writes into ``W.data``, like SGD's: it builds no graph, and each parameter
    stays the same leaf Tensor.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        if not _is_real(lr) or not lr >= 0:
            raise ValueError(f"Adam: lr must be a number >= 0, got {lr!r}")
        if not _is_real(eps) or not eps >= 0:
            raise ValueError(f"Adam: eps must be a number >= 0, got {eps!r}")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}") from None
        for i, beta in enumerate((beta1, beta2)):
            if not _is_real(beta) or not 0 <= beta < 1:
                raise ValueError(f"Adam: betas[{i}] must be a number in [0, 1), got {beta!r}")
        self.lr = lr
        self.betas = (beta1, beta2)
        self.eps = eps
        self.m = [np.zeros(p.shape, dtype=grad_dtype(p.data)) for p in self.params]
        self.v = [np.zeros(p.shape, dtype=grad_dtype(p.data)) for p in self.params]
        self.steps = [0] * len(self.params)

    def step(self):
        """Update every parameter that has a gradient; those with ``grad`` None are skipped."""
        beta1, beta2 = self.betas
        for i, (param, m, v) in enumerate(zip(self.params, self.m, self.v)):
            if param.grad is None:
                continue
            # Given code: the update below changes the parameter in place, so a graph
            # built before it must not be back-propagated any more (see _bump_version).
            param._bump_version()
            self.steps[i] += 1
            t = self.steps[i]
            # BEGIN SOLUTION
            grad = param.grad.data
            # The running averages, in place (m and v are this optimizer's own arrays).
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * (grad * grad)
            m_hat = m / (1 - beta1 ** t)
            v_hat = v / (1 - beta2 ** t)
            param.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            # END SOLUTION


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
