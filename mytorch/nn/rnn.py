"""Recurrent layers (HW3P1): the Elman RNN cell, and the loop that runs a cell over a packed batch.

``RNNUnit`` is one time step, as ``torch.nn.RNNCell``. ``TimeIterator`` runs
a unit over the time steps of a ``PackedSequence`` (``mytorch.nn.util``);
``RNN`` is a TimeIterator around an RNNUnit, and ``GRU`` (``mytorch.nn.gru``)
one around a GRUUnit.
"""
import numpy as np

from mytorch.nn import functional as F
from mytorch.nn.module import Module, check_size
from mytorch.nn.util import PackedSequence, check_packed
from mytorch.tensor import Tensor, cat

__all__ = ["RNNUnit", "TimeIterator", "RNN"]


def uniform_parameter(shape, hidden_size):
    """A float64 parameter uniform in [-1/sqrt(hidden_size), 1/sqrt(hidden_size)] (PyTorch's RNN init),
    drawn with one ``np.random.uniform`` call."""
    bound = 1 / np.sqrt(hidden_size)
    return Tensor(np.random.uniform(-bound, bound, shape), requires_grad=True, is_parameter=True)


def check_step_input(unit, x, h):
    """Refuse an input ``x`` (batch, input_size) or state ``h`` (batch, hidden_size) of the wrong shape."""
    F.check_tensor(repr(unit), "input", x)
    if x.data.ndim != 2 or x.shape[1] != unit.input_size:
        raise ValueError(f"{unit!r}: expected an input of shape (batch, {unit.input_size}), got {x.shape}")
    if h is not None:
        F.check_tensor(repr(unit), "hidden state h", h)
        if h.shape != (x.shape[0], unit.hidden_size):
            raise ValueError(f"{unit!r}: expected a hidden state of shape ({x.shape[0]}, {unit.hidden_size}) "
                             f"for an input of shape {x.shape}, got {h.shape}")


class RNNUnit(Module):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``, as ``torch.nn.RNNCell``.

    Args:
        input_size: features of each input row, I.
        hidden_size: features of the hidden state, H.
        nonlinearity: ``"tanh"`` (the default) or ``"relu"``.

    Parameters (float64; drawn from ``np.random`` in this order, each uniform
    in [-1/sqrt(H), 1/sqrt(H)] as in PyTorch): ``weight_ih`` (H, I),
    ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,). Read at call
    time, so a grader may overwrite their ``.data``.

    Shapes: ``unit(x, h=None)``: x (batch, I), h (batch, H), zeros when None;
    returns h' (batch, H).
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh"):
        super().__init__()
        check_size("RNNUnit", "input_size", input_size)
        check_size("RNNUnit", "hidden_size", hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNUnit: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.nonlinearity = nonlinearity
        H, n_in = self.hidden_size, self.input_size
        self.weight_ih = uniform_parameter((H, n_in), H)
        self.weight_hh = uniform_parameter((H, H), H)
        self.bias_ih = uniform_parameter(H, H)
        self.bias_hh = uniform_parameter(H, H)

    def forward(self, x, h=None):
        """x (batch, input_size), h (batch, hidden_size) or None (zeros) -> h' (batch, hidden_size)."""
        check_step_input(self, x, h)
        # BEGIN SOLUTION
        if h is None:  # zeros, multiplied in: weight_hh gets its (zero) gradient, as in PyTorch
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=self.weight_hh.data.dtype))
        pre = F.LinearFunction.apply(x, self.weight_ih, self.bias_ih) + F.LinearFunction.apply(
            h, self.weight_hh, self.bias_hh)
        return F.tanh(pre) if self.nonlinearity == "tanh" else F.relu(pre)
        # END SOLUTION

    def extra_repr(self):
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return f"{self.input_size}, {self.hidden_size}{extra}"


class TimeIterator(Module):
    """Runs a one-step unit over every time step of a packed batch.

    Args:
        basic_unit: the unit class (RNNUnit, GRUUnit), built as
            ``basic_unit(input_size, hidden_size, **unit_kwargs)`` and kept at ``.unit``.

    ``forward(packed, hidden=None)``: ``packed`` a PackedSequence with data
    (sum of lengths, input_size); ``hidden`` the initial state (B, hidden_size)
    in sorted order (longest first), zeros when None. At step t the unit sees
    the rows of the first ``batch_sizes[t]`` sequences and their states.
    Returns ``(packed_output, h_final)``: a PackedSequence of the states, in
    the input's layout (same ``sorted_indices`` and ``batch_sizes``), and
    h_final (B, hidden_size), in **sorted** order, each sequence's state after
    its own last step. (PyTorch's ``h_n`` is (layers, B, H) in original order:
    ``h_final[argsort(sorted_indices)]`` gives that.)
    """

    def __init__(self, basic_unit, input_size, hidden_size, **unit_kwargs):
        super().__init__()
        self.unit = basic_unit(input_size, hidden_size, **unit_kwargs)
        self.input_size, self.hidden_size = self.unit.input_size, self.unit.hidden_size

    def forward(self, packed, hidden=None):
        check_packed(repr(self), packed)
        batch = int(packed.batch_sizes[0])
        if hidden is not None and (not isinstance(hidden, Tensor) or hidden.shape != (batch, self.hidden_size)):
            raise ValueError(f"{self!r}: hidden must be a Tensor of shape ({batch}, {self.hidden_size}) "
                             f"(sorted order), got {getattr(hidden, 'shape', type(hidden).__name__)}")
        # BEGIN SOLUTION
        batch_sizes = [int(b) for b in packed.batch_sizes]
        h = hidden
        states, finals = [], []
        for t, x_t in enumerate(step_rows(packed.data, batch_sizes)):
            b = batch_sizes[t]
            if h is not None and h.shape[0] != b:
                h = h[:b]  # the sequences that ended at t - 1 leave the batch
            h = self.unit(x_t, h)
            states.append(h)
            ending = batch_sizes[t + 1] if t + 1 < len(batch_sizes) else 0
            if ending < b:  # sorted positions ending..b-1 end at step t
                finals.append(h[ending:] if ending else h)
        packed_output = PackedSequence(cat(states, dim=0), packed.sorted_indices, packed.batch_sizes)
        # finals: latest step first, which holds the longest (lowest sorted positions)
        h_final = cat(finals[::-1], dim=0) if len(finals) > 1 else finals[0]
        return packed_output, h_final
        # END SOLUTION

    def extra_repr(self):
        return f"unit={self.unit!r}"


def step_rows(data, batch_sizes):
    """The rows of each time step of packed ``data``, one Tensor per step, in the graph.

    Cut by halving (rows of steps [t0, t1) split at the middle step, then
    each half again) rather than one slice of the whole per step: a slice's
    backward hands back a gradient as large as what it was cut from, so T
    slices of the whole would cost T times the data in backward (quadratic
    in the number of steps); halving costs about log2(T) times.
    """
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    pieces = []

    def split(t0, t1, rows):  # rows: data of steps t0 .. t1 - 1
        if t1 - t0 == 1:
            pieces.append(rows)
            return
        mid = (t0 + t1) // 2
        cut = int(offsets[mid] - offsets[t0])
        split(t0, mid, rows[:cut])
        split(mid, t1, rows[cut:])

    split(0, len(batch_sizes), data)
    return pieces


class RNN(TimeIterator):
    """An Elman RNN over a packed batch: a TimeIterator around an ``RNNUnit`` (at ``.unit``).

    ``rnn(packed, hidden=None)`` -> ``(packed_output, h_final)``; see TimeIterator.
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh"):
        super().__init__(RNNUnit, input_size, hidden_size, nonlinearity=nonlinearity)
