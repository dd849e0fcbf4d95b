"""A model student solution of HW3P1, written the handout's way (staff only; never in a kit).

``REGIONS`` maps ``"path::Owner"`` (as ``tools/make_handout.py --homework 3
--check`` names the regions) to the code a student writes there, unindented;
``fill.py --homework 3`` puts it, together with HW1P1's model solution
(students bring their own HW1P1 code), into a fresh HW3P1 kit.

A student's style, composed from the student's own operations: cat and
unsqueeze are Functions on NumPy arrays; pack and unpack gather rows with
indexing, unsqueeze and cat; the units are matrix products, additions and
the given sigmoid/tanh; the time loop slices each step's rows out of the
packed data and collects each sequence's last state with cat.
"""

REGIONS = {
    # ---------------------------------------------------------------- cat, unsqueeze
    "mytorch/tensor.py::cat": """
return F.Cat.apply(dim, *seq)
""",
    "mytorch/tensor.py::_unsqueeze": """
return F.Unsqueeze.apply(self, dim)
""",
    "mytorch/nn/functional.py::Cat.forward": """
ctx.sizes = [t.shape[dim] for t in tensors]
ctx.dim = dim
return Tensor(np.concatenate([t.data for t in tensors], axis=dim))
""",
    "mytorch/nn/functional.py::Cat.backward": """
cuts = np.cumsum(ctx.sizes)[:-1]
return tuple(Tensor(piece) for piece in np.split(grad_output.data, cuts, axis=ctx.dim))
""",
    "mytorch/nn/functional.py::Unsqueeze.forward": """
ctx.dim = dim if dim >= 0 else dim + a.data.ndim + 1
out = Tensor(np.expand_dims(a.data, ctx.dim))
""",
    "mytorch/nn/functional.py::Unsqueeze.backward": """
return (Tensor(np.squeeze(grad_output.data, axis=ctx.dim)),)
""",
    # ---------------------------------------------------------------- packed sequences
    "mytorch/nn/util.py::pack_sequence": """
lengths = [s.shape[0] for s in sequences]
# Longest first; sorted() is stable, so ties keep the caller's order.
sorted_indices = np.array(sorted(range(len(sequences)), key=lambda i: -lengths[i]))
batch_sizes = np.array([sum(1 for n in lengths if n > t) for t in range(max(lengths))])
rows = []
for t, running in enumerate(batch_sizes):
    for i in sorted_indices[:running]:
        rows.append(sequences[i][t].unsqueeze(0))
return PackedSequence(cat(rows, dim=0), sorted_indices, batch_sizes)
""",
    "mytorch/nn/util.py::unpack_sequence": """
batch_sizes = np.array(packed.batch_sizes)
starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])  # the first packed row of each step
sequences = [None] * int(batch_sizes[0])
for k, original in enumerate(packed.sorted_indices):
    length = int((batch_sizes > k).sum())
    rows = [packed.data[int(starts[t]) + k].unsqueeze(0) for t in range(length)]
    sequences[int(original)] = cat(rows, dim=0)
return sequences
""",
    # ---------------------------------------------------------------- recurrent layers
    "mytorch/nn/rnn.py::RNNUnit.forward": """
if h is None:
    h = Tensor(np.zeros((x.shape[0], self.hidden_size)))
pre = x @ self.weight_ih.T() + self.bias_ih + h @ self.weight_hh.T() + self.bias_hh
return F.tanh(pre) if self.nonlinearity == "tanh" else F.relu(pre)
""",
    "mytorch/nn/rnn.py::TimeIterator.forward": """
batch_sizes = [int(b) for b in packed.batch_sizes]
h = hidden
states = []
start = 0
for b in batch_sizes:
    x_t = packed.data[start:start + b]  # the rows of the b sequences still running
    start += b
    if h is not None:
        h = h[:b]
    h = self.unit(x_t, h)
    states.append(h)
# Sorted position k runs for as many steps as batch sizes exceed k; its last state is row k there.
lengths = [sum(1 for b in batch_sizes if b > k) for k in range(batch_sizes[0])]
h_final = cat([states[lengths[k] - 1][k].unsqueeze(0) for k in range(len(lengths))], dim=0)
packed_output = PackedSequence(cat(states, dim=0), packed.sorted_indices, packed.batch_sizes)
return packed_output, h_final
""",
    "mytorch/nn/gru.py::GRUUnit.forward": """
if h is None:
    h = Tensor(np.zeros((x.shape[0], self.hidden_size)))
r = F.sigmoid(x @ self.weight_ir.T() + self.bias_ir + h @ self.weight_hr.T() + self.bias_hr)
z = F.sigmoid(x @ self.weight_iz.T() + self.bias_iz + h @ self.weight_hz.T() + self.bias_hz)
n = F.tanh(x @ self.weight_in.T() + self.bias_in + r * (h @ self.weight_hn.T() + self.bias_hn))
return (1 - z) * n + z * h
""",
}
