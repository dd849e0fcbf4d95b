"""A model student solution of HW2P1, written the handout's way (staff only; never in a kit).

``REGIONS`` maps ``"path::Owner"`` (as ``tools/make_handout.py --homework 2
--check`` names the regions) to the code a student writes there, unindented;
``fill.py --homework 2`` puts it, together with HW1P1's model solution
(students bring their own HW1P1 code), into a fresh HW2P1 kit.

A student's style, not the reference's im2col: Conv1d loops over the kernel's
taps only (never over the batch or the output positions), each tap one
matrix product of that tap's filter slice with the strided samples it reads;
the backward sends each tap's share back the same way. Flatten is the
student's own reshape; the scanning MLPs keep their layers in ``self.layers``
and lay each MLP matrix out as filters one time step at a time; the CNN is
the contract's eight layers.
"""

REGIONS = {
    "mytorch/nn/conv.py::conv1d_output_size": """
return (width - kernel_size) // stride + 1
""",
    "mytorch/nn/conv.py::Conv1dFunction.forward": """
batch, in_channel, width = x.shape
out_channel, _, kernel_size = weight.shape
output_size = conv1d_output_size(width, kernel_size, stride)
last = stride * (output_size - 1)  # where the last window starts
out = np.zeros((batch, out_channel, output_size))
for k in range(kernel_size):
    # Tap k of every window reads x[:, :, j * stride + k] for all j at once.
    samples = x.data[:, :, k:k + last + 1:stride]                        # (batch, in_channel, output_size)
    out += np.einsum("oc,ncj->noj", weight.data[:, :, k], samples)
out += bias.data.reshape(1, out_channel, 1)
ctx.save_for_backward(x, weight)
ctx.stride = stride
return Tensor(out)
""",
    "mytorch/nn/conv.py::Conv1dFunction.backward": """
x, weight = ctx.saved_tensors
stride = ctx.stride
g = grad_output.data                                                     # (batch, out_channel, output_size)
kernel_size = weight.shape[2]
last = stride * (g.shape[2] - 1)
grad_x = np.zeros(x.shape)
grad_weight = np.zeros(weight.shape)
for k in range(kernel_size):
    samples = x.data[:, :, k:k + last + 1:stride]
    grad_weight[:, :, k] = np.einsum("noj,ncj->oc", g, samples)
    # Overlapping windows read a sample more than once: the shares add up.
    grad_x[:, :, k:k + last + 1:stride] += np.einsum("oc,noj->ncj", weight.data[:, :, k], g)
grad_bias = g.sum(axis=(0, 2))
return Tensor(grad_x), Tensor(grad_weight), Tensor(grad_bias)
""",
    "mytorch/nn/conv.py::Flatten.forward": """
return x.reshape(x.shape[0], -1)
""",
    "hw2/mlp_scan.py::_window_filters": """
out_size = matrix.shape[0]
window = matrix.shape[1] // channels
filters = np.zeros((out_size, channels, window))
for t in range(window):
    # The MLP reads the window time-major: columns t * channels ... hold time step t.
    filters[:, :, t] = matrix[:, t * channels:(t + 1) * channels]
return filters
""",
    "hw2/mlp_scan.py::CNN_SimpleScanningMLP.__init__": """
self.layers = [Conv1d(24, 8, 8, 4), ReLU(), Conv1d(8, 16, 1, 1), ReLU(), Conv1d(16, 4, 1, 1), Flatten()]
""",
    "hw2/mlp_scan.py::CNN_SimpleScanningMLP.init_weights": """
convs = [layer for layer in self.layers if isinstance(layer, Conv1d)]
for conv, w in zip(convs, weights):
    conv.weight.data = _window_filters(np.array(w, dtype=np.float64), conv.in_channel)
    conv.bias.data = np.zeros(conv.out_channel)
""",
    "hw2/mlp_scan.py::CNN_DistributedScanningMLP.__init__": """
self.layers = [Conv1d(24, 2, 2, 2), ReLU(), Conv1d(2, 8, 2, 2), ReLU(), Conv1d(8, 4, 2, 1), Flatten()]
""",
    "hw2/mlp_scan.py::CNN_DistributedScanningMLP.init_weights": """
convs = [layer for layer in self.layers if isinstance(layer, Conv1d)]
for conv, w in zip(convs, weights):
    # The shared block is the top-left corner: out_channel rows, kernel_size steps of in_channel.
    block = np.array(w, dtype=np.float64)[:conv.out_channel, :conv.kernel_size * conv.in_channel]
    conv.weight.data = _window_filters(block, conv.in_channel)
    conv.bias.data = np.zeros(conv.out_channel)
""",
    "hw2/hw2.py::CNN.__init__": """
self.layers = Sequential(
    Conv1d(24, 56, 5, 1), Tanh(),
    Conv1d(56, 28, 6, 2), ReLU(),
    Conv1d(28, 14, 2, 2), Sigmoid(),
    Flatten(),
    Linear(14 * 13, 10),   # 14 channels at width 13 for a (batch, 24, 60) input
)
""",
}
