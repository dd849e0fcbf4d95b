"""HW3P1's tensor operations against PyTorch (float64 values and gradients): cat, unsqueeze, slicing."""
import numpy as np
import pytest

from mytorch import Tensor
from mytorch.tensor import cat
from nn_parity import close

SHAPES = {0: [(2, 3, 4), (1, 3, 4), (3, 3, 4)], 1: [(2, 1, 4), (2, 3, 4)], 2: [(2, 3, 1), (2, 3, 5), (2, 3, 2)],
          -1: [(2, 3, 2), (2, 3, 4)], -3: [(1, 3, 4), (2, 3, 4)]}


def backward_both(torch, out, tout, rng):
    """Back-propagate the same random upstream gradient through both results."""
    g = rng.normal(size=out.shape)
    (out * Tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()


@pytest.mark.parametrize("dim", sorted(SHAPES))
def test_cat_matches_torch_and_splits_the_gradient_back(torch, rng, dim):
    arrays = [rng.normal(size=s) for s in SHAPES[dim]]
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = cat(xs, dim), torch.cat(txs, dim)
    close(out, tout, rtol=0, atol=0)
    assert not out.is_leaf and out.requires_grad and type(out.data) is np.ndarray
    backward_both(torch, out, tout, rng)
    for x, tx in zip(xs, txs):
        close(x.grad, tx.grad, rtol=0, atol=0)


def test_cat_defaults_to_dim_0_takes_a_tuple_and_mixes_constants(torch, rng):
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    x, c = Tensor(a.copy(), requires_grad=True), Tensor(b.copy())
    out = cat((x, c))
    assert out.shape == (6, 3)
    out.backward()
    close(x.grad, np.ones((2, 3)))
    assert c.grad is None
    assert not cat([Tensor(a), Tensor(b)]).requires_grad


def test_cat_of_one_tensor_is_a_new_node(rng):
    x = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    out = cat([x], 1)
    assert out is not x and not out.is_leaf
    out.backward()
    close(x.grad, np.ones((2, 3)))


@pytest.mark.parametrize("seq, dim, error, words", [
    ([], 0, TypeError, "non-empty"),
    ([np.ones(2)], 0, TypeError, "seq[0] is a ndarray"),
    ([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], 0, ValueError, "every other axis must match"),
    ([Tensor(np.ones((2, 3))), Tensor(np.ones(3))], 0, ValueError, "tensor 1 has shape (3,)"),
    ([Tensor(np.ones((2, 3)))], 2, IndexError, "dim 2 is out of range"),
    ([Tensor(np.ones(()))], 0, ValueError, "zero-dimensional"),
    ([Tensor(np.ones(2))], 0.5, TypeError, "dim must be an int"),
])
def test_cat_refuses_bad_input_naming_it(seq, dim, error, words):
    with pytest.raises(error, match="cat|Cat") as info:
        cat(seq, dim)
    assert words in str(info.value)


@pytest.mark.parametrize("shape, dim", [((3,), 0), ((3,), 1), ((3,), -1), ((2, 3), 1), ((2, 3), -3), ((), 0),
                                        ((2, 3, 4), 3)])
def test_unsqueeze_matches_torch(torch, rng, shape, dim):
    a = rng.normal(size=shape)
    x, tx = Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
    out, tout = x.unsqueeze(dim), tx.unsqueeze(dim)
    close(out, tout, rtol=0, atol=0)
    assert not out.is_leaf
    backward_both(torch, out, tout, rng)
    close(x.grad, tx.grad, rtol=0, atol=0)


def test_unsqueeze_defaults_to_dim_0_and_refuses_a_bad_dim():
    assert Tensor(np.ones((2, 3))).unsqueeze().shape == (1, 2, 3)
    with pytest.raises(IndexError, match=r"Unsqueeze: dim 3 is out of range .*\[-3, 2\]"):
        Tensor(np.ones((2, 3))).unsqueeze(3)
    with pytest.raises(TypeError, match="unsqueeze"):
        Tensor(np.ones(2)).unsqueeze(None)


@pytest.mark.parametrize("key", [1, -1, slice(1, 3), slice(None, None, 2), (0, slice(1, None)),
                                 (slice(None), 2), (slice(1, 2), slice(None, -1)), (-2, -1)])
def test_slicing_with_ints_slices_and_tuples_matches_torch_and_gives_a_non_leaf(torch, rng, key):
    a = rng.normal(size=(4, 5))
    x, tx = Tensor(a.copy(), requires_grad=True), torch.tensor(a, requires_grad=True)
    out, tout = x[key], tx[key]
    close(out, tout, rtol=0, atol=0)
    assert not out.is_leaf and out.grad_fn is not None and type(out.data) is np.ndarray
    backward_both(torch, out, tout, rng)
    close(x.grad, tx.grad, rtol=0, atol=0)
    assert out.grad is None  # a non-leaf keeps no gradient


def test_cat_of_slices_puts_back_the_original(rng):
    a = rng.normal(size=(5, 3))
    x = Tensor(a, requires_grad=True)
    out = cat([x[:2], x[2:3], x[3:]], 0)
    close(out, a, rtol=0, atol=0)
    (out * Tensor(a)).sum().backward()
    close(x.grad, a, rtol=0, atol=0)
