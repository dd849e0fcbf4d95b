"""CNNs that are scanning MLPs (HW2P1): one MLP slid along time, written as 1-D convolutions.

The MLP (no biases, ReLU after its first two layers) reads a window of time
steps of a (1, 24, 128) input (24 channels, 128 time steps) as one vector,
time-major: input index ``t * 24 + c`` holds channel c at time step t of the
window. ``init_weights`` takes its three weight matrices, each (out, in) as in
a Linear layer, and puts them into the convolutions, so that the CNN's output
at position j is the MLP's output on the j-th window. The output is (1, 124):
4 channels at 31 positions, flattened channel-major (``Flatten``).

Run from the project folder with hw2/ on the path (``import mlp_scan``).
"""
import numpy as np

from mytorch.nn.activations import ReLU
from mytorch.nn.conv import Conv1d, Flatten
from mytorch.nn.module import Module


def _window_filters(matrix, channels):
    """An MLP layer's weights (out, window * channels), read time-major, as Conv1d filters (out, channels, window)."""
    # BEGIN SOLUTION
    out = matrix.shape[0]
    # Column t * channels + c of the matrix is tap t of channel c.
    return np.ascontiguousarray(matrix.reshape(out, -1, channels).transpose(0, 2, 1))
    # END SOLUTION


class CNN_SimpleScanningMLP(Module):
    """The MLP 192 -> 8 -> 16 -> 4 on windows of 8 time steps, 4 apart: 31 windows of the 128 steps.

    The first layer reads a whole window (kernel 8, stride 4); the other two
    act on each window's hidden vector alone (kernel 1).
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = Conv1d(24, 8, 8, 4)
        self.conv2 = Conv1d(8, 16, 1, 1)
        self.conv3 = Conv1d(16, 4, 1, 1)
        self.layers = [self.conv1, ReLU(), self.conv2, ReLU(), self.conv3, Flatten()]
        # END SOLUTION

    def init_weights(self, weights):
        """``weights``: the MLP's (w1 (8, 192), w2 (16, 8), w3 (4, 16)); the convolutions' biases become 0."""
        # BEGIN SOLUTION
        w1, w2, w3 = weights
        for conv, matrix in ((self.conv1, w1), (self.conv2, w2), (self.conv3, w3)):
            conv.weight.data = _window_filters(np.asarray(matrix, dtype=np.float64), conv.in_channel)
            conv.bias.data = np.zeros(conv.out_channel)
        # END SOLUTION

    def forward(self, x):
        """``x`` (1, 24, 128) -> (1, 124)."""
        for layer in self.layers:
            x = layer(x)
        return x


class CNN_DistributedScanningMLP(Module):
    """The same MLP with its weights shared across sub-windows, as a deeper CNN.

    Each of the MLP's 8 first-layer neurons is one of 4 copies of a block of
    2 neurons reading 2 time steps; each of its 16 second-layer neurons is one
    of 2 copies of a block of 8 reading 2 of those sub-windows; the 4 outputs
    read 2 of those. The given matrices hold each shared block several times
    on their diagonal (NaN elsewhere); the convolutions take the first copy:
    Conv1d(24, 2, 2, 2) -> ReLU -> Conv1d(2, 8, 2, 2) -> ReLU -> Conv1d(8, 4, 2, 1),
    whose last layer sees 8 time steps, 4 apart, as the simple scanning MLP.
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = Conv1d(24, 2, 2, 2)
        self.conv2 = Conv1d(2, 8, 2, 2)
        self.conv3 = Conv1d(8, 4, 2, 1)
        self.layers = [self.conv1, ReLU(), self.conv2, ReLU(), self.conv3, Flatten()]
        # END SOLUTION

    def init_weights(self, weights):
        """``weights``: the MLP's (w1 (8, 192), w2 (16, 8), w3 (4, 16)); the convolutions' biases become 0."""
        # BEGIN SOLUTION
        for conv, matrix in zip((self.conv1, self.conv2, self.conv3), weights):
            # The first block on the diagonal: conv's filters read kernel_size
            # steps of in_channel channels (the block's columns, time-major).
            block = np.asarray(matrix, dtype=np.float64)[:conv.out_channel, :conv.in_channel * conv.kernel_size]
            conv.weight.data = _window_filters(block, conv.in_channel)
            conv.bias.data = np.zeros(conv.out_channel)
        # END SOLUTION

    def forward(self, x):
        """``x`` (1, 24, 128) -> (1, 124)."""
        for layer in self.layers:
            x = layer(x)
        return x
