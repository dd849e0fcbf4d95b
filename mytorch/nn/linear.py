"""Linear: the fully connected layer ``x W^T + b`` (handout §2.1)."""
import numpy as np

from mytorch.nn import functional as F
from mytorch.nn.module import Module, check_size
from mytorch.tensor import Tensor


def _convert(dtype):
    """The Tensor and Module method call that converts to ``dtype``."""
    return {"float32": "float()", "float64": "double()"}.get(dtype.name, f"to(np.{dtype.name})")


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: False for a layer without bias (``y = x @ weight.T``); then
            the attribute ``bias`` is None and forward adds nothing.

    Attributes:
        weight: parameter of shape (out_features, in_features).
        bias: parameter of shape (out_features,), or None.

    Both start uniform in ``[-0.5/in_features, 0.5/in_features)``, the
    course's initialisation (its graders save expected outputs with a fixed
    seed, so the draws are part of the contract): one ``np.random.rand(out,
    in)`` call for the weight, then one ``np.random.rand(out)`` for the bias,
    each mapped to ``(u - 0.5) / in_features``. Nothing else draws, so
    ``np.random.seed`` makes a model reproducible. (PyTorch draws from
    ``[-1/sqrt(in), 1/sqrt(in)]`` with its own generator.)

    Shapes: input (batch, in_features) -> output (batch, out_features) (handout
    §2.1, what the autograder checks). With a MatMul that follows
    ``np.matmul`` for 1-D and stacked operands, a single
    sample (in_features,) also gives (out_features,), and leading axes
    (..., in_features) are kept, as in PyTorch.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        check_size("Linear", "in_features", in_features)
        check_size("Linear", "out_features", out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        weight = (np.random.rand(self.out_features, self.in_features) - 0.5) / self.in_features
        self.weight = Tensor(weight, requires_grad=True, is_parameter=True)
        self.bias = None
        if bias:
            self.bias = Tensor((np.random.rand(self.out_features) - 0.5) / self.in_features,
                               requires_grad=True, is_parameter=True)

    def forward(self, x):
        """``x`` (batch, in_features) -> (batch, out_features): ``x @ self.weight.T() + self.bias``.

        Compose it from tensor operations (handout §2.1): a matrix product
        (MatMul, which you write in nn/functional.py, behind ``Tensor.__matmul__``),
        the given Transpose, and Add with broadcasting (the bias (out_features,)
        is added to every row).
        """
        self._check_input(x)
        # BEGIN SOLUTION
        # The reference uses one fused operation; x @ self.weight.T() + self.bias
        # gives the same values and gradients (tests/test_nn_composed.py).
        return F.LinearFunction.apply(x, self.weight, self.bias)
        # END SOLUTION

    def _check_input(self, x):
        if not isinstance(x, Tensor):  # runs on every call: build the layer's repr only to raise
            F.check_tensor(repr(self), "input", x)
        if x.data.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a 0-d tensor" if x.data.ndim == 0 else f"{x.shape[-1]} (input shape {x.shape})"
            raise ValueError(f"{self!r}: expected {self.in_features} input features, an input of "
                             f"shape (batch, {self.in_features}); got {got}")
        if x.data.dtype != self.weight.data.dtype:  # the hint is built only when needed
            F.check_same_float_dtype(
                repr(self), x.data.dtype, self.weight.data.dtype,
                f": the model with model.{_convert(x.data.dtype)} or the input with "
                f"x.{_convert(self.weight.data.dtype)}", layer=True)

    def extra_repr(self):
        no_bias = ", bias=False" if self.bias is None else ""
        return f"in_features={self.in_features}, out_features={self.out_features}{no_bias}"

