"""Comparisons, bool() and NumPy interop, against PyTorch and NumPy."""
import numpy as np
import pytest

from mytorch import Tensor

OPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@pytest.mark.parametrize("symbol", list(OPS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_comparisons_match_torch_with_broadcasting_and_scalars(torch, rng, symbol, dtype):
    op = OPS[symbol]
    a = rng.integers(-2, 3, (3, 4)).astype(dtype)
    b = rng.integers(-2, 3, (4,)).astype(dtype)
    ta = Tensor(a, requires_grad=True)
    pairs = [(ta, Tensor(b)), (ta, 0.0), (1, ta), (np.float64(1.0), ta), (ta, Tensor(np.array(1.0)))]

    def to_torch(v):
        return torch.tensor(v.data) if isinstance(v, Tensor) else v

    for left, right in pairs:
        got = op(left, right)
        expected = op(to_torch(left), to_torch(right))
        assert isinstance(got, Tensor) and got.data.dtype == np.bool_
        assert not got.requires_grad and got.grad_fn is None and got.is_leaf
        np.testing.assert_array_equal(got.data, expected.numpy())


def test_equal_tensors_compare_equal_elementwise():
    assert (Tensor([1.0]) == Tensor([1.0])).data.tolist() == [True]
    assert bool(Tensor([1.0]) == Tensor([1.0]))
    assert (Tensor([1.0, 2.0]) != Tensor([1.0, 3.0])).data.tolist() == [False, True]


def test_comparison_with_other_objects():
    t = Tensor([1.0])
    assert (t == None) is False and (t != "a") is True  # noqa: E711  identity fallback, as torch
    with pytest.raises(TypeError):
        t < "a"
    with pytest.raises(ValueError, match=r"==: shapes \(2,\) and \(3,\) cannot be broadcast"):
        Tensor([1.0, 2.0]) == Tensor([1.0, 2.0, 3.0])


def test_tensors_stay_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) == object.__hash__(a)


def test_bool_like_torch(torch):
    assert bool(Tensor(1.0)) is True and bool(Tensor(0.0)) is False
    assert bool(Tensor([[2]])) is True and bool(Tensor([False])) is False
    assert bool(torch.tensor(0.0)) is False
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(Tensor([1.0, 1.0]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(torch.tensor([1.0, 1.0]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(Tensor(np.zeros(0)))
    if Tensor([1.0]) < 2:
        pass
    else:
        pytest.fail("a one-element comparison must be usable in an if")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_functions_see_the_data(rng, dtype):
    a = rng.standard_normal((3, 4)).astype(dtype)
    t, u = Tensor(a), Tensor(a.copy())
    assert np.argmax(t) == np.argmax(a) and np.argmax(t, axis=1).tolist() == np.argmax(a, axis=1).tolist()
    assert np.array_equal(t, u) is True and np.array_equal(t, Tensor(a + 1)) is False
    assert np.sum(t) == np.sum(a) and np.sum(t).dtype == np.sum(a).dtype
    np.testing.assert_array_equal(np.sum(t, axis=0), np.sum(a, axis=0))
    assert np.mean(t) == np.mean(a)
    assert np.allclose(t, u) and not np.allclose(t, Tensor(a + 1))
    assert np.allclose(t, a)  # a Tensor and an ndarray
    assert isinstance(np.sum(t, axis=0), np.ndarray)  # plain NumPy results, outside any graph
    np.testing.assert_array_equal(np.concatenate([t, u]), np.concatenate([a, a]))


def test_asarray_shares_or_copies_as_asked():
    t = Tensor(np.array([1.0, 2.0]))
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    copied = np.array(t, copy=True)
    copied[0] = 5
    assert t.data[0] == 1.0


@pytest.mark.parametrize("scalar", [np.float64(2), np.float32(2), np.int64(2), 2.0, 2])
def test_numpy_scalars_on_either_side_still_give_tensors(torch, scalar):
    t = Tensor(np.array([1.0, 3.0]))
    for result, expected in ((scalar * t, 2 * np.array([1.0, 3.0])), (t * scalar, np.array([2.0, 6.0])),
                             (scalar - t, np.array([1.0, -1.0])), (scalar / t, np.array([2.0, 2 / 3])),
                             (t + scalar, np.array([3.0, 5.0]))):
        assert type(result) is Tensor
        np.testing.assert_allclose(result.data, expected)
    assert type(scalar * torch.tensor([1.0])) is torch.Tensor  # PyTorch too


@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")
def test_numpy_functions_on_torch_tensors_vary(torch):
    # The README's PyTorch column for NumPy functions.
    t = torch.tensor([1.0, 2.0])
    assert isinstance(np.argmax(t), torch.Tensor)
    for func in (np.sum, np.mean):
        with pytest.raises(TypeError):
            func(t)


def test_numpy_ufuncs_on_a_tensor_are_refused():
    # Documented: use t.exp() (in the graph) or np.exp(t.data).
    with pytest.raises(TypeError):
        np.exp(Tensor([1.0]))
