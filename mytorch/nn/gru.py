"""The GRU (HW3P1): one gated recurrent step, and the same step run over a packed batch."""
import numpy as np

from mytorch.nn import functional as F
from mytorch.nn.module import Module, check_size
from mytorch.nn.rnn import TimeIterator, check_step_input, uniform_parameter
from mytorch.tensor import Tensor

__all__ = ["GRUUnit", "GRU"]

# Parameter names of a GRUUnit, in the order they are drawn (gates r, z, n).
_WEIGHTS_IH = ("weight_ir", "weight_iz", "weight_in")
_WEIGHTS_HH = ("weight_hr", "weight_hz", "weight_hn")
_BIASES = ("bias_ir", "bias_iz", "bias_in", "bias_hr", "bias_hz", "bias_hn")


class GRUUnit(Module):
    """One GRU step, PyTorch's ``GRUCell`` equations (sigma the sigmoid, * elementwise)::

        r  = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr)       reset gate
        z  = sigma(x W_iz^T + b_iz + h W_hz^T + b_hz)       update gate
        n  = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))  candidate: r scales the whole
                                                            hidden projection, b_hn included
        h' = (1 - z) * n + z * h

    Parameters (float64, each uniform in [-1/sqrt(H), 1/sqrt(H)] from
    ``np.random``, drawn in this order): ``weight_ir``, ``weight_iz``,
    ``weight_in`` (H, I); ``weight_hr``, ``weight_hz``, ``weight_hn`` (H, H);
    ``bias_ir``, ``bias_iz``, ``bias_in``, ``bias_hr``, ``bias_hz``,
    ``bias_hn`` (H,). Read at call time.

    Shapes: ``unit(x, h=None)``: x (batch, I), h (batch, H), zeros when None;
    returns h' (batch, H).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        check_size("GRUUnit", "input_size", input_size)
        check_size("GRUUnit", "hidden_size", hidden_size)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        H, n_in = self.hidden_size, self.input_size
        for name in _WEIGHTS_IH:
            setattr(self, name, uniform_parameter((H, n_in), H))
        for name in _WEIGHTS_HH:
            setattr(self, name, uniform_parameter((H, H), H))
        for name in _BIASES:
            setattr(self, name, uniform_parameter(H, H))

    def forward(self, x, h=None):
        """x (batch, input_size), h (batch, hidden_size) or None (zeros) -> h' (batch, hidden_size)."""
        check_step_input(self, x, h)
        # BEGIN SOLUTION
        def linear(v, weight, bias):
            return F.LinearFunction.apply(v, weight, bias)

        if h is None:  # zeros, multiplied in: the h-side weights get their (zero) gradients, as in PyTorch
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=self.weight_hr.data.dtype))
        r = F.sigmoid(linear(x, self.weight_ir, self.bias_ir) + linear(h, self.weight_hr, self.bias_hr))
        z = F.sigmoid(linear(x, self.weight_iz, self.bias_iz) + linear(h, self.weight_hz, self.bias_hz))
        n = F.tanh(linear(x, self.weight_in, self.bias_in) + r * linear(h, self.weight_hn, self.bias_hn))
        return n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer
        # END SOLUTION

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class GRU(TimeIterator):
    """A GRU over a packed batch: a TimeIterator around a ``GRUUnit`` (at ``.unit``).

    ``gru(packed, hidden=None)`` -> ``(packed_output, h_final)``, h_final in
    sorted order; see ``mytorch.nn.rnn.TimeIterator``.
    """

    def __init__(self, input_size, hidden_size):
        super().__init__(GRUUnit, input_size, hidden_size)
