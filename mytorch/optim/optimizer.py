"""Optimizer: the base class of the optimizers (handout §2.3)."""
import numpy as np

from mytorch.tensor import Tensor


class Optimizer:
    """Holds the parameters to train; subclasses define ``step()``.

    Args:
        params: an iterable of parameter Tensors (a list, or ``model.parameters()``).

    Attributes:
        params: the parameters, as a list.
    """

    def __init__(self, params):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. model.parameters()), "
                            "got a single Tensor; wrap it in a list")
        try:
            self.params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. model.parameters()), "
                            f"got {type(params).__name__}") from None
        if not self.params:
            raise ValueError(f"{name}: got no parameters to optimize (an empty list); "
                             "pass model.parameters() of a model that has some")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params[{i}] is a {type(p).__name__}, expected a Tensor")
            if not (p.requires_grad and p.is_leaf):
                raise ValueError(f"{name}: params[{i}] (shape {p.shape}) must be a leaf Tensor with "
                                 "requires_grad=True, such as a layer's weight")
            _check_data(name, i, p)
            if p.data.dtype.kind != "f":
                raise TypeError(
                    f"{name}: params[{i}] (shape {p.shape}) has dtype {p.data.dtype}; only floating-point "
                    "tensors can be trained (PyTorch refuses requires_grad on them: \"only Tensors of "
                    "floating point dtype can require gradients\"); create it from float data, e.g. "
                    "Tensor(np.array(values, dtype=np.float64), requires_grad=True)")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears more than once in params")

    def zero_grad(self):
        """Forget every parameter's gradient (set ``grad`` to None, as PyTorch 2.x does).

        Call it before each backward pass: gradients otherwise add up across passes.
        """
        for i, p in enumerate(self.params):
            if type(p.data) is not np.ndarray:  # p.data = <Tensor> since the last step
                _check_data(type(self).__name__, i, p)
            p.grad = None

    def __repr__(self):
        # As PyTorch's, in one line: the settings a subclass stores (lr, momentum, ...).
        settings = ", ".join(f"{name}={value!r}" for name, value in vars(self).items()
                             if name != "params" and not isinstance(value, (list, dict)))
        return f"{type(self).__name__}({settings}; {len(self.params)} parameter tensors)"

    def step(self):
        """Update the parameters from their gradients."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")


def _check_data(name, i, p):
    """Refuse a parameter whose ``.data`` is not an ndarray (``p.data = tensor`` is not checked when assigned)."""
    if type(p.data) is not np.ndarray:
        raise TypeError(
            f"{name}: params[{i}] (a Tensor) has .data holding a {type(p.data).__name__}, not an np.ndarray; "
            "was a Tensor assigned to it (p.data = other)? .data holds the array: assign p.data = other.data")
