"""NumPy twins of HW2P1's components: the expected values of every check, from the formulas.

Written from the definitions (course/CONTRACT.md), independently of mytorch
and never calling it: the convolution gathers its windows with an index
array and sums with ``einsum``, its input gradient scatters with
``np.add.at``; the scanning MLPs run the MLP window by window; the CNN is a
list of layers with hand-derived backwards and plain SGD.
"""
import numpy as np


# ---------------------------------------------------------------- Conv1d
def window_index(width, kernel, stride):
    """(W_out, K) sample indices: row j holds j*stride + k for k < K."""
    positions = (width - kernel) // stride + 1
    return stride * np.arange(positions)[:, None] + np.arange(kernel)[None, :]


def conv1d(x, weight, bias, stride):
    """y[n,o,j] = b[o] + sum_c sum_k W[o,c,k] x[n,c,j*stride+k]; x (N, C, W) -> (N, O, W_out)."""
    patches = x[:, :, window_index(x.shape[2], weight.shape[2], stride)]        # (N, C, W_out, K)
    return np.einsum("ncjk,ock->noj", patches, weight) + bias[None, :, None]


def conv1d_backward(x, weight, stride, grad_out):
    """(grad_x, grad_weight, grad_bias) for the upstream gradient ``grad_out`` (N, O, W_out)."""
    index = window_index(x.shape[2], weight.shape[2], stride)
    patches = x[:, :, index]
    grad_weight = np.einsum("noj,ncjk->ock", grad_out, patches)
    grad_bias = grad_out.sum(axis=(0, 2))
    grad_x = np.zeros_like(x, dtype=np.float64)
    # Every (window j, tap k) sends W[o,c,k] g[n,o,j] back to sample j*stride + k; overlaps add up.
    np.add.at(grad_x, (slice(None), slice(None), index), np.einsum("noj,ock->ncjk", grad_out, weight))
    return grad_x, grad_weight, grad_bias


def conv_stack(x, layers, seed_ones=True):
    """Forward through Conv1d layers [(weight, bias, stride)], then backward from a gradient of ones.

    Returns (outputs, grad_x, [(grad_weight, grad_bias)]): each layer's output,
    and the gradients of sum(last output).
    """
    outputs, inputs = [], []
    for weight, bias, stride in layers:
        inputs.append(x)
        x = conv1d(x, weight, bias, stride)
        outputs.append(x)
    g = np.ones_like(x)
    grads = []
    for (weight, _, stride), layer_input in zip(reversed(layers), reversed(inputs)):
        g, grad_weight, grad_bias = conv1d_backward(layer_input, weight, stride, g)
        grads.append((grad_weight, grad_bias))
    return outputs, g, grads[::-1]


# ---------------------------------------------------------------- scanning MLPs
def scan_mlp(weights, x, window=8, stride=4, time_major=True):
    """The MLP (no biases, ReLU after its first two layers) on each window of x (1, C, T): (1, outputs * positions).

    A window is read time-major (index t*C + c), or channel-major (c*window + t)
    with ``time_major=False`` (a mistake the scanning checks recognise). The
    outputs are laid out (outputs, positions) and flattened channel-major.
    """
    w1, w2, w3 = weights
    columns = []
    for start in range(0, x.shape[2] - window + 1, stride):
        patch = x[0, :, start:start + window]                   # (C, window)
        v = patch.T.reshape(-1) if time_major else patch.reshape(-1)
        h = np.maximum(w1 @ v, 0)
        h = np.maximum(w2 @ h, 0)
        columns.append(w3 @ h)
    return np.stack(columns, axis=1).reshape(1, -1)


# ---------------------------------------------------------------- the CNN
def cross_entropy(logits, labels):
    """(mean loss, gradient w.r.t. the logits) of softmax cross-entropy."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = logits.shape[0]
    loss = -log_softmax[np.arange(n), labels].mean()
    grad = np.exp(log_softmax)
    grad[np.arange(n), labels] -= 1
    return loss, grad / n


class CNN:
    """The HW2P1 CNN: ("conv", W, b, stride), ("tanh",), ("relu",), ("sigmoid",), ("flatten",), ("linear", W, b)."""

    def __init__(self, layers):
        self.layers = [list(layer) for layer in layers]

    def forward(self, x):
        self.inputs = []
        for layer in self.layers:
            self.inputs.append(x)
            kind = layer[0]
            if kind == "conv":
                x = conv1d(x, layer[1], layer[2], layer[3])
            elif kind == "tanh":
                x = np.tanh(x)
            elif kind == "relu":
                x = np.maximum(x, 0)
            elif kind == "sigmoid":
                x = 1 / (1 + np.exp(-x))
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            else:
                x = x @ layer[1].T + layer[2]
        self.output = x
        return x

    def backward(self, grad):
        """The parameters' gradients, {(layer index, 1 weight / 2 bias): array}, after forward."""
        grads = {}
        for i in reversed(range(len(self.layers))):
            layer, x = self.layers[i], self.inputs[i]
            kind = layer[0]
            if kind == "conv":
                grad, grads[i, 1], grads[i, 2] = conv1d_backward(x, layer[1], layer[3], grad)
            elif kind == "tanh":
                grad = grad * (1 - np.tanh(x) ** 2)
            elif kind == "relu":
                grad = grad * (x > 0)
            elif kind == "sigmoid":
                s = 1 / (1 + np.exp(-x))
                grad = grad * s * (1 - s)
            elif kind == "flatten":
                grad = grad.reshape(x.shape)
            else:
                grads[i, 1], grads[i, 2] = grad.T @ x, grad.sum(axis=0)
                grad = grad @ layer[1]
        return grads

    def sgd_step(self, grads, lr):
        for (i, slot), g in grads.items():
            self.layers[i][slot] = self.layers[i][slot] - lr * g
