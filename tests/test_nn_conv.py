"""Conv1d and Flatten (HW2P1, course/CONTRACT.md): parity with PyTorch, the contract, errors."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mytorch import Tensor, nn, optim
from mytorch.nn import conv
from nn_parity import close
from teaching import gradcheck

# (batch, in, out, kernel, stride, width): kernel 1, the kernel as wide as the
# input, strides below, at and above the kernel, and widths whose last
# samples no window covers ((width - kernel) % stride != 0).
SHAPES = [
    (2, 3, 4, 3, 1, 10), (1, 1, 1, 1, 1, 1), (3, 5, 2, 4, 2, 11), (2, 6, 3, 3, 3, 17),
    (2, 4, 5, 2, 5, 23), (4, 7, 9, 6, 4, 67), (1, 2, 3, 5, 1, 5), (2, 3, 2, 1, 3, 8),
]


def torch_conv(torch, layer):
    """The float64 torch.nn.Conv1d with ``layer``'s weights."""
    twin = torch.nn.Conv1d(layer.in_channel, layer.out_channel, layer.kernel_size, stride=layer.stride,
                           dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data))
        twin.bias.copy_(torch.from_numpy(layer.bias.data))
    return twin


def numpy_conv(x, weight, bias, stride):
    """y[n,o,j] = b[o] + sum_c sum_k W[o,c,k] x[n,c,j*stride+k], one position at a time (the definition)."""
    n, _, width = x.shape
    out_channels, _, kernel = weight.shape
    positions = (width - kernel) // stride + 1
    y = np.empty((n, out_channels, positions))
    for j in range(positions):
        window = x[:, :, j * stride:j * stride + kernel]            # (N, C, K)
        y[:, :, j] = np.tensordot(window, weight, axes=((1, 2), (1, 2))) + bias
    return y


@pytest.mark.parametrize("batch,c_in,c_out,kernel,stride,width", SHAPES)
def test_conv1d_values_and_all_three_gradients_match_torch(torch, rng, batch, c_in, c_out, kernel, stride, width):
    layer = nn.Conv1d(c_in, c_out, kernel, stride)
    twin = torch_conv(torch, layer)
    x_np = rng.normal(size=(batch, c_in, width))
    x, tx = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, tout = layer(x), twin(tx)
    close(out, tout)
    assert out.shape == (batch, c_out, (width - kernel) // stride + 1)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    tout.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)


def test_conv1d_matches_the_definition_without_torch(rng):
    for batch, c_in, c_out, kernel, stride, width in SHAPES:
        layer = nn.Conv1d(c_in, c_out, kernel, stride)
        x = rng.normal(size=(batch, c_in, width))
        close(layer(Tensor(x)), numpy_conv(x, layer.weight.data, layer.bias.data, stride))


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4), kernel=st.integers(1, 5),
       stride=st.integers(1, 6), extra=st.integers(0, 12), seed=st.integers(0, 2 ** 16))
def test_conv1d_forward_and_gradients_match_the_definition_for_any_sizes(batch, c_in, c_out, kernel, stride,
                                                                         extra, seed):
    rng = np.random.default_rng(seed)
    layer = nn.Conv1d(c_in, c_out, kernel, stride)
    x_np = rng.normal(size=(batch, c_in, kernel + extra))
    x = Tensor(x_np, requires_grad=True)
    out = layer(x)
    close(out, numpy_conv(x_np, layer.weight.data, layer.bias.data, stride))
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    # Each output is linear in x, W and b: its gradients, one position at a time.
    grad_x, grad_w = np.zeros_like(x_np), np.zeros_like(layer.weight.data)
    for j in range(out.shape[2]):
        window = slice(j * stride, j * stride + kernel)
        grad_x[:, :, window] += np.einsum("no,ock->nck", g[:, :, j], layer.weight.data)
        grad_w += np.einsum("no,nck->ock", g[:, :, j], x_np[:, :, window])
    close(x.grad, grad_x)
    close(layer.weight.grad, grad_w)
    close(layer.bias.grad, g.sum(axis=(0, 2)))


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv1d_gradients_match_finite_differences(rng, stride):
    layer = nn.Conv1d(2, 3, 3, stride)
    x = Tensor(rng.normal(size=(2, 2, 9)), requires_grad=True)
    w = Tensor(layer.weight.data.copy(), requires_grad=True)
    b = Tensor(layer.bias.data.copy(), requires_grad=True)
    assert gradcheck(lambda x, w, b: conv.Conv1dFunction.apply(x, w, b, stride), x, w, b)


def test_ones_seeded_backward_equals_torchs_sum_backward(torch, rng):
    layer = nn.Conv1d(5, 7, 4, 3)
    twin = torch_conv(torch, layer)
    x_np = rng.normal(size=(3, 5, 70))
    x, tx = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    layer(x).backward()
    twin(tx).sum().backward()
    close(x.grad, tx.grad)
    close(layer.weight.grad, twin.weight.grad)
    close(layer.bias.grad, twin.bias.grad)


def test_samples_no_window_covers_get_exactly_zero_gradient(rng):
    layer = nn.Conv1d(3, 2, 4, 3)
    x = Tensor(rng.normal(size=(2, 3, 12)), requires_grad=True)   # windows start at 0, 3, 6: samples 10, 11 unread
    layer(x).backward()
    assert np.all(x.grad.data[:, :, 10:] == 0)
    assert np.all(x.grad.data[:, :, :10] != 0)


@pytest.mark.parametrize("depth", [2, 3])
def test_stacked_layers_match_torch(torch, rng, depth):
    # Like the grader's cases: channels 5-14, kernels 3-6, strides 3-4, widths 60-79.
    sizes = [int(c) for c in rng.integers(5, 15, depth + 1)]
    layers, twins = [], []
    for i in range(depth):
        layers.append(nn.Conv1d(sizes[i], sizes[i + 1], int(rng.integers(3, 7)), int(rng.integers(3, 5))))
        twins.append(torch_conv(torch, layers[-1]))
        if i < depth - 1:
            layers.append(nn.Tanh())
            twins.append(torch.nn.Tanh())
    model, twin = nn.Sequential(*layers), torch.nn.Sequential(*twins)
    x_np = rng.normal(size=(2, sizes[0], 79))
    x, tx = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, tout = model(x), twin(tx)
    close(out, tout)
    out.backward()
    tout.sum().backward()
    close(x.grad, tx.grad)
    for layer, tlayer in zip(model.layers[::2], twin[::2]):
        close(layer.weight.grad, tlayer.weight.grad)
        close(layer.bias.grad, tlayer.bias.grad)


def test_first_layer_input_without_grad_gets_none(rng):
    layer = nn.Conv1d(2, 3, 2)
    x = Tensor(rng.normal(size=(1, 2, 6)))
    layer(x).backward()
    assert x.grad is None and layer.weight.grad is not None


def test_parameters_follow_the_contract():
    np.random.seed(3)
    layer = nn.Conv1d(4, 6, 5, 2)
    assert (layer.in_channel, layer.out_channel, layer.kernel_size, layer.stride) == (4, 6, 5, 2)
    assert layer.parameters() == [layer.weight, layer.bias]
    for p, shape in ((layer.weight, (6, 4, 5)), (layer.bias, (6,))):
        assert p.shape == shape and type(p.data) is np.ndarray and p.data.dtype == np.float64
        assert p.is_parameter and p.requires_grad and p.is_leaf
    # One draw for the weight, then one for the bias, PyTorch's bound 1/sqrt(in * kernel).
    np.random.seed(3)
    bound = 1 / np.sqrt(4 * 5)
    assert np.array_equal(layer.weight.data, np.random.uniform(-bound, bound, (6, 4, 5)))
    assert np.array_equal(layer.bias.data, np.random.uniform(-bound, bound, 6))
    assert repr(layer) == "Conv1d(4, 6, kernel_size=5, stride=2)"
    assert nn.Conv1d(2, 3, 4).stride == 1


def test_the_layer_reads_its_parameters_at_call_time(rng):
    layer = nn.Conv1d(2, 3, 2)
    x = rng.normal(size=(1, 2, 5))
    w, b = rng.normal(size=(3, 2, 2)), rng.normal(size=3)
    layer.weight.data, layer.bias.data = w, b   # what a grader does
    close(layer(Tensor(x)), numpy_conv(x, w, b, 1))


def test_an_sgd_step_between_forward_and_backward_is_refused(rng):
    layer = nn.Conv1d(2, 3, 2)
    out = layer(Tensor(rng.normal(size=(1, 2, 5))))
    layer.weight.grad = Tensor(np.ones((3, 2, 2)))
    optim.SGD([layer.weight], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|changed in place"):
        out.backward()


def test_a_float32_input_is_computed_in_float64(rng):
    layer = nn.Conv1d(2, 3, 2)
    x = Tensor(rng.normal(size=(1, 2, 5)).astype(np.float32), requires_grad=True)
    out = layer(x)
    assert out.data.dtype == np.float64
    out.backward()
    assert x.grad.data.dtype == np.float32


@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3, 4, 5), (3, 7)])
def test_flatten_forward_and_backward_match_torch(torch, rng, shape):
    x_np = rng.normal(size=shape)
    x, tx = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, tout = nn.Flatten()(x), torch.nn.Flatten()(tx)
    close(out, tout)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    tout.backward(torch.from_numpy(g))
    close(x.grad, tx.grad)


def test_flatten_is_channel_major():
    x = Tensor(np.arange(12.0).reshape(2, 2, 3))
    assert nn.Flatten()(x).data.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_star_import_exposes_only_the_layers():
    names = {}
    exec("from mytorch.nn.conv import *", names)
    assert sorted(n for n in names if not n.startswith("__")) == ["Conv1d", "Flatten"]


@pytest.mark.parametrize("make, x, message", [
    (lambda: nn.Conv1d(3, 2, 2), np.zeros((1, 3, 5)), r"Conv1d\(3, 2, kernel_size=2, stride=1\): input must be a "
                                                      r"Tensor, got ndarray; wrap it"),
    (lambda: nn.Conv1d(3, 2, 2), Tensor(np.zeros((3, 5))), r"expected an input of shape \(batch, 3, width\); "
                                                           r"got shape \(3, 5\)"),
    (lambda: nn.Conv1d(3, 2, 2), Tensor(np.zeros((1, 4, 5))), r"got shape \(1, 4, 5\)"),
    (lambda: nn.Conv1d(3, 2, 6), Tensor(np.zeros((1, 3, 5))), r"width 5 .* shorter than the kernel \(6\)"),
    (lambda: nn.Flatten(), Tensor(np.zeros(3)), r"Flatten: expected an input \(batch, \.\.\.\) with at least 2"),
])
def test_bad_inputs_are_refused_clearly(make, x, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()(x)


@pytest.mark.parametrize("args, name", [((0, 2, 2), "in_channel"), ((2, 2.5, 2), "out_channel"),
                                        ((2, 2, 0), "kernel_size"), ((2, 2, 2, -1), "stride")])
def test_bad_sizes_are_refused(args, name):
    with pytest.raises(ValueError, match=f"Conv1d: {name} must be a positive integer"):
        nn.Conv1d(*args)


def _lines_run_in_conv(batch, width, kernel=3):
    """How many lines of mytorch/nn/conv.py run for one forward + backward (sys.settrace)."""
    layer = nn.Conv1d(2, 3, kernel, 2)
    x = Tensor(np.ones((batch, 2, width)), requires_grad=True)
    count = [0]

    def tracer(frame, event, arg):
        if frame.f_code.co_filename == conv.__file__:
            if event == "line":
                count[0] += 1
            return tracer
        return None

    sys.settrace(tracer)
    try:
        layer(x).backward()
    finally:
        sys.settrace(None)
    return count[0]


def test_no_python_loop_over_the_batch_or_the_positions():
    # The contract: vectorised. The lines run do not grow with the batch or the width (only with the kernel).
    assert _lines_run_in_conv(1, 9) == _lines_run_in_conv(64, 9) == _lines_run_in_conv(64, 301)
    assert _lines_run_in_conv(1, 9, kernel=5) > _lines_run_in_conv(1, 9, kernel=3)
