"""cross_entropy and CrossEntropyLoss: parity with PyTorch, stability, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from mytorch import Tensor, nn
from mytorch.nn import functional as F
from nn_parity import close


def both(torch, logits, labels):
    x = Tensor(logits, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, Tensor(labels))
    tloss = torch.nn.functional.cross_entropy(tx, torch.from_numpy(labels))
    loss.backward()
    tloss.backward()
    return x, tx, loss, tloss


@pytest.mark.parametrize("batch", [1, 2, 5, 7, 100])
@pytest.mark.parametrize("classes", [1, 2, 10])
def test_loss_and_gradient_match_torch(torch, rng, batch, classes):
    logits = rng.normal(size=(batch, classes)) * 3
    labels = rng.integers(0, classes, size=batch)
    x, tx, loss, tloss = both(torch, logits, labels)
    assert loss.shape == ()
    close(loss, tloss)
    close(x.grad, tx.grad)


def test_module_matches_function(rng):
    logits, labels = Tensor(rng.normal(size=(4, 3))), Tensor(np.array([0, 2, 1, 2]))
    assert nn.CrossEntropyLoss()(logits, labels).item() == F.cross_entropy(logits, labels).item()
    assert nn.CrossEntropyLoss().parameters() == []


def test_huge_logits_are_finite_and_match_torch(torch):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, -1000.0]])
    labels = np.array([1, 2, 0])
    x, tx, loss, tloss = both(torch, logits, labels)
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.data))
    close(loss, tloss)
    close(x.grad, tx.grad)


def test_int32_and_unsigned_labels_work(torch, rng):
    logits = rng.normal(size=(3, 4))
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.tensor([3, 0, 1]))
    for dtype in (np.int32, np.uint8):
        close(F.cross_entropy(Tensor(logits), Tensor(np.array([3, 0, 1], dtype=dtype))), expected)


def test_float32_stays_float32(rng):
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, Tensor(np.array([0, 1, 2, 0])))
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


def test_labels_need_no_grad_and_get_none(rng):
    labels = Tensor(np.array([0, 1]))
    x = Tensor(rng.normal(size=(2, 2)), requires_grad=True)
    F.cross_entropy(x, labels).backward()
    assert labels.grad is None and x.grad is not None


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=st.floats(-50, 50)),
       st.floats(-100, 100), st.data())
def test_properties_shift_invariance_and_gradient_rows_sum_to_zero(logits, shift, data):
    n, c = logits.shape
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    x = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, Tensor(labels))
    loss.backward()
    assert loss.item() >= 0
    # adding a constant to a row leaves its softmax, hence the loss, unchanged
    shifted = F.cross_entropy(Tensor(logits + shift), Tensor(labels)).item()
    assert np.isclose(shifted, loss.item(), rtol=1e-9, atol=1e-9)
    # softmax minus one-hot sums to zero in each row
    np.testing.assert_allclose(x.grad.data.sum(axis=1), 0, atol=1e-12)


def test_label_out_of_range_says_which():
    x = Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"cross_entropy: label 4 is out of range for 4 classes "
                                         r"\(expected 0 <= label <= 3\)"):
        F.cross_entropy(x, Tensor(np.array([0, 4, 1])))
    with pytest.raises(ValueError, match="cross_entropy: label -1 is out of range for 4 classes"):
        F.cross_entropy(x, Tensor(np.array([0, -1, 1])))


def test_non_integer_labels_are_refused():
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices, got dtype float64"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), Tensor(np.array([0.0, 1.0])))


def test_wrong_label_shape_is_refused():
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(batch,\) = \(2,\)"
                                         r".*got shape \(2, 1\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), Tensor(np.array([[0], [1]])))


def test_batch_size_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"cross_entropy: batch sizes differ: predicted has 2 rows "
                                         r"\(shape \(2, 3\)\), target has 3 labels"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), Tensor(np.array([0, 1, 2])))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"cross_entropy: predicted must be 2-D logits \(batch, classes\), "
                                         r"got shape \(3,\)"):
        F.cross_entropy(Tensor(np.zeros(3)), Tensor(np.array([0])))
    with pytest.raises(TypeError, match="cross_entropy: target .* must be a Tensor, got ndarray"):
        F.cross_entropy(Tensor(np.zeros((1, 3))), np.array([0]))
    with pytest.raises(ValueError, match="cross_entropy: the batch is empty"):
        F.cross_entropy(Tensor(np.zeros((0, 3))), Tensor(np.zeros(0, dtype=np.int64)))
