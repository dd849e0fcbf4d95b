"""Helpers for the layer/optimizer parity tests: build the PyTorch twin of a MyTorch model.

Imported by tests/test_nn_*.py, tests/test_optim*.py and tests/test_training_parity.py
(pytest puts tests/ on sys.path). Only the tests use torch; mytorch never does.
"""
import numpy as np

from mytorch import nn

RTOL = 1e-7
ATOL = 1e-12


def close(actual, expected, rtol=RTOL, atol=ATOL):
    """Assert two arrays (or a Tensor and a torch tensor) agree in shape and value."""
    actual = getattr(actual, "data", actual)
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def torch_twin(torch, model):
    """A float64 torch module with the same structure, weights and running stats as ``model``."""
    tnn = torch.nn
    if isinstance(model, nn.Sequential):
        return tnn.Sequential(*[torch_twin(torch, layer) for layer in model.layers])
    if isinstance(model, nn.Linear):
        twin = tnn.Linear(model.in_features, model.out_features, bias=model.bias is not None,
                          dtype=torch.float64)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(model.weight.data))
            if model.bias is not None:
                twin.bias.copy_(torch.from_numpy(model.bias.data))
        return twin
    if isinstance(model, nn.BatchNorm1d):
        twin = tnn.BatchNorm1d(model.num_features, eps=model.eps, momentum=model.momentum,
                               dtype=torch.float64)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(model.gamma.data))
            twin.bias.copy_(torch.from_numpy(model.beta.data))
            twin.running_mean.copy_(torch.from_numpy(model.running_mean.data))
            twin.running_var.copy_(torch.from_numpy(model.running_var.data))
        return twin
    simple = {nn.ReLU: tnn.ReLU, nn.Sigmoid: tnn.Sigmoid, nn.Tanh: tnn.Tanh}
    for ours, theirs in simple.items():
        if isinstance(model, ours):
            return theirs()
    raise TypeError(f"no torch twin for {type(model).__name__}")


def assert_same_state(model, twin, rtol=RTOL, atol=ATOL):
    """Every parameter, gradient and running statistic of ``model`` matches ``twin``."""
    ours = model.layers if isinstance(model, nn.Sequential) else [model]
    theirs = list(twin) if isinstance(model, nn.Sequential) else [twin]
    for layer, tlayer in zip(ours, theirs):
        pairs = []
        if isinstance(layer, nn.Linear):
            pairs = [(layer.weight, tlayer.weight), (layer.bias, tlayer.bias)]
        elif isinstance(layer, nn.BatchNorm1d):
            pairs = [(layer.gamma, tlayer.weight), (layer.beta, tlayer.bias)]
            close(layer.running_mean, tlayer.running_mean, rtol, atol)
            close(layer.running_var, tlayer.running_var, rtol, atol)
        for p, tp in pairs:
            close(p, tp, rtol, atol)
            if tp.grad is None:
                assert p.grad is None
            else:
                close(p.grad, tp.grad, rtol, atol)
