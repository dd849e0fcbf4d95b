"""MyTorch: a small PyTorch-like deep learning library on NumPy (CMU 11-785 HW1P1)."""
from mytorch.tensor import Tensor  # noqa: F401  (first: the other modules need it)
from mytorch.autograd_engine import no_grad, is_grad_enabled  # noqa: F401
from mytorch import nn, optim  # noqa: F401
from mytorch.serialization import load, save  # noqa: F401

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "nn", "optim", "save", "load"]
# The teaching tools (gradcheck, trace, viz) are the package `teaching` beside this one.
