"""The fused Functions agree with the same formulas composed from elementary operations.

Students may build Linear, BatchNorm and cross-entropy from Add, MatMul, Sum,
Exp, Log, ...; the fused versions must be interchangeable with those, in
values and in gradients.
"""
import numpy as np
import pytest

from mytorch import Tensor
from mytorch.nn import functional as F
from nn_parity import close


def leaves(rng, *shapes):
    return [Tensor(rng.normal(size=s), requires_grad=True) for s in shapes]


def grads_of(fn, inputs, g):
    for t in inputs:
        t.grad = None
    out = fn(*inputs)
    (out * Tensor(g)).sum().backward()
    return out.data, [t.grad.data for t in inputs]


def assert_same(fused, composed, inputs, g):
    out_f, grads_f = grads_of(fused, inputs, g)
    out_c, grads_c = grads_of(composed, inputs, g)
    close(out_f, out_c, rtol=1e-9)
    for gf, gc in zip(grads_f, grads_c):
        close(gf, gc, rtol=1e-9, atol=1e-11)


def test_linear_equals_matmul_transpose_add(rng):
    inputs = leaves(rng, (6, 4), (3, 4), (3,))
    assert_same(F.linear, lambda x, w, b: x @ w.T() + b, inputs, rng.normal(size=(6, 3)))


def composed_batch_norm(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    mean = x.sum(axis=0) / n
    centred = x - mean
    var = (centred * centred).sum(axis=0) / n
    return centred / (var + eps) ** 0.5 * gamma + beta


@pytest.mark.parametrize("batch", [2, 7])
def test_batch_norm_training_equals_composed(rng, batch):
    inputs = leaves(rng, (batch, 5), (5,), (5,))

    def fused(x, gamma, beta):
        return F.batch_norm(x, None, None, gamma, beta, training=True)

    assert_same(fused, composed_batch_norm, inputs, rng.normal(size=(batch, 5)))


def test_batch_norm_eval_equals_composed(rng):
    inputs = leaves(rng, (4, 3), (3,), (3,))
    mean, var = Tensor(rng.normal(size=3)), Tensor(rng.uniform(0.5, 2, size=3))

    def fused(x, gamma, beta):
        return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=1e-3)

    def composed(x, gamma, beta):
        return (x - mean) / (var + 1e-3) ** 0.5 * gamma + beta

    assert_same(fused, composed, inputs, rng.normal(size=(4, 3)))


def test_cross_entropy_equals_composed(rng):
    (x,) = leaves(rng, (5, 4))
    labels = np.array([3, 0, 0, 2, 1])
    one_hot = Tensor(np.eye(4)[labels])

    def composed(x):
        shift = Tensor(x.data.max(axis=1, keepdims=True))  # a constant: the loss does not depend on it
        shifted = x - shift
        log_softmax = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
        return -(log_softmax * one_hot).sum() / x.shape[0]

    def fused(x):
        return F.cross_entropy(x, Tensor(labels))

    assert_same(fused, composed, [x], np.array(1.7))
