"""MyTorch: a small PyTorch-like deep learning library on NumPy (CMU 11-785 HW1P1)."""
import sys
import types

import numpy as np

from mytorch.tensor import Tensor  # noqa: F401  (first: the other modules need it)
from mytorch.autograd_engine import no_grad, is_grad_enabled  # noqa: F401
from mytorch import nn, optim  # noqa: F401
from mytorch.serialization import load, save  # noqa: F401

__version__ = "0.1.0"

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "nn", "optim", "save", "load",
           "tensor", "zeros", "ones", "randn", "manual_seed", "__version__"]
# The teaching tools (gradcheck, trace, viz) are the package `teaching` beside this one.


# ------------------------------------------------ PyTorch's top-level functions
def _flags(t, dtype, requires_grad):
    if dtype is not None:
        t = Tensor(t.data.astype(np.dtype(dtype)))
    t.requires_grad = requires_grad
    return t


def zeros(*size, dtype=None, requires_grad=False):
    """``torch.zeros``: a tensor of zeros (float64 unless ``dtype``)."""
    return _flags(Tensor.zeros(*size), dtype, requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """``torch.ones``: a tensor of ones (float64 unless ``dtype``)."""
    return _flags(Tensor.ones(*size), dtype, requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """``torch.randn``: standard normal samples from ``np.random`` (see ``manual_seed``)."""
    return _flags(Tensor.randn(*size), dtype, requires_grad)


def manual_seed(seed):
    """Seed the generator MyTorch draws from (``np.random``, as layers' initialisation does)."""
    np.random.seed(seed)


class _TensorModule(types.ModuleType):
    """``mytorch.tensor``: the module ``mytorch/tensor.py``, and callable like ``torch.tensor``."""

    def __call__(self, data, dtype=None, requires_grad=False):
        """``mytorch.tensor(data, dtype=None, requires_grad=False)``: a new Tensor holding a copy of ``data``."""
        if dtype is not None:
            data = np.array(data.data if isinstance(data, Tensor) else data, dtype=np.dtype(dtype))
        return Tensor(data, requires_grad=requires_grad)


# ``mytorch.tensor([1., 2.])`` as in PyTorch, while ``mytorch.tensor.Tensor`` and
# ``from mytorch import tensor`` keep reaching the module.
sys.modules["mytorch.tensor"].__class__ = _TensorModule
