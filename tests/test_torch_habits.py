"""Issue 20: a PyTorch user's habits, each as PyTorch does it or refused with a message naming the fix.

The eight habits that were silently wrong, the errors that hid their cause,
and the conveniences a PyTorch user reaches for first.
"""
import math

import numpy as np
import pytest

import mytorch
from mytorch import Tensor, nn, no_grad, optim
from nn_parity import close

FLOATS = [np.float64, np.float32]


# ------------------------------------------- 1. Tensor(ndarray) copies the user's data
def test_tensor_of_a_slice_does_not_write_into_the_dataset(torch):
    X = np.arange(6.0).reshape(3, 2)
    xb = Tensor(X[0:2])
    xb -= 0.5
    tb = torch.tensor(X[0:2])
    tb -= 0.5
    assert X[0, 0] == 0.0
    close(xb, tb)
    X[2, 1] = 100.0  # nor does changing the array change the tensor
    assert xb.data.max() < 100


@pytest.mark.parametrize("dtype", FLOATS)
def test_sgd_step_changes_neither_the_source_array_nor_other_tensors(torch, dtype):
    W = np.ones((2, 3), dtype)
    p = Tensor(W, requires_grad=True, is_parameter=True)
    other = Tensor(W)
    (p * p).sum().backward()
    optim.SGD([p], lr=0.1).step()
    tp = torch.tensor(W, requires_grad=True)
    (tp * tp).sum().backward()
    torch.optim.SGD([tp], lr=0.1).step()
    close(p, tp)
    assert (W == 1).all() and (other.data == 1).all()


def test_results_of_operations_are_not_copied():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert np.shares_memory(x.T().data, x.data)  # views stay views, as in PyTorch
    assert np.shares_memory(x[0].data, x.data)
    assert np.shares_memory(x.detach().data, x.data)
    assert not np.shares_memory(x.copy().data, x.data)


def test_top_level_tensor_copies_like_torch_tensor():
    array = np.zeros(2)
    t = mytorch.tensor(array, requires_grad=True)
    assert t.requires_grad and not np.shares_memory(t.data, array)
    assert mytorch.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert mytorch.tensor.Tensor is Tensor  # still the module mytorch/tensor.py


# ------------------------------------------------- 2. assigning over a parameter
def test_assigning_a_non_parameter_over_a_parameter_is_refused_like_torch(torch):
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"Linear.weight = Tensor \(is_parameter=False\).*is_parameter=True"
                                        r".*layer.weight.data = array"):
        layer.weight = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match="cannot assign"):
        torch.nn.Linear(3, 2).weight = torch.zeros(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match="ndarray"):
        layer.bias = np.zeros(2)
    new = Tensor(np.zeros((2, 3)), requires_grad=True, is_parameter=True)
    layer.weight = new
    assert layer.parameters()[0] is new
    layer.bias = None  # removing one is allowed, as in PyTorch
    assert len(layer.parameters()) == 1


# ---------------------------------------------------------- 3. in-place methods
@pytest.mark.parametrize("method", ["fill_", "zero_", "normal_", "uniform_"])
def test_in_place_methods_on_a_leaf_that_requires_grad_are_refused_like_torch(torch, method):
    args = (1.0,) if method == "fill_" else ()
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"{method}\(\) on a leaf Tensor that requires grad.*no_grad"):
        getattr(w, method)(*args)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        getattr(torch.ones(3, requires_grad=True), method)(*args)
    with no_grad():
        assert getattr(w, method)(*args) is w
    assert w._version == 1


def test_fill_on_a_result_in_a_graph_is_refused():
    y = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"fill_\(\) on a tensor that is part of a graph.*Mul"):
        y.fill_(0)
    t = Tensor(np.ones(3))
    assert (t.fill_(2).data == 2).all() and (t.zero_().data == 0).all()


# ------------------------------------------------------------------ 4. powers
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_number_to_the_power_of_an_integer_tensor_is_exact(torch, dtype):
    e = np.array([0, 1, 3], dtype)
    out, expected = 2 ** Tensor(e), 2 ** torch.tensor(e)
    assert out.data.tolist() == expected.tolist()
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("base", [2, 0.5, 0, 0.0, -2.0])
def test_number_to_the_power_of_a_tensor_matches_torch(torch, rng, dtype, base):
    e = np.array([0.0, 1.0, 2.0, -1.5, 3.0], dtype) if base != 0 else np.array([0.0, 1.0, 2.5], dtype)
    x, tx = Tensor(e, requires_grad=True), torch.tensor(e, requires_grad=True)
    y, ty = base ** x, base ** tx
    assert y.dtype == dtype
    close(y, ty, rtol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad, rtol=1e-6)


@pytest.mark.parametrize("exponent", [np.float64(2), np.float32(2), np.int64(2)])
def test_numpy_scalar_exponent_does_not_promote(torch, exponent):
    t = Tensor(np.array([1.5, 2.0], np.float32))
    assert (t ** exponent).dtype == np.float32
    assert (torch.tensor([1.5, 2.0]) ** exponent).dtype == torch.float32


def test_integer_to_a_negative_integer_power_is_refused(torch):
    # A documented difference: PyTorch truncates 2 ** -1 to 0 without a word.
    with pytest.raises(ValueError, match=r"2 \*\* Tensor: Integers to negative integer powers.*2.0 \*\* t"):
        2 ** Tensor([-1])
    assert (2 ** torch.tensor([-1])).tolist() == [0]


# ---------------------------------------------------- 5. Tensor(2, 3) is not a shape
def test_tensor_2_3_says_how_to_make_a_shape():
    with pytest.raises(TypeError, match=r"requires_grad must be True or False, got 3.*Tensor.zeros\(2, 3\)"):
        Tensor(2, 3)
    with pytest.raises(TypeError, match="requires_grad must be True or False, got 'yes'"):
        Tensor([1.0]).requires_grad = "yes"
    assert Tensor(1.0, requires_grad=np.bool_(True)).requires_grad is True


# --------------------------------------------------------- 6. module.training
def test_training_is_is_train_under_pytorchs_name(torch, rng):
    x = rng.standard_normal((4, 3))
    bn, tbn = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3).double()
    bn(Tensor(x))
    tbn(torch.tensor(x))
    bn.training = False
    tbn.training = False
    assert bn.is_train is False and bn.training is False
    close(bn(Tensor(x)), tbn(torch.tensor(x)))
    model = nn.Sequential(nn.Linear(3, 2), bn)
    model.train()
    assert bn.training and model.training
    model.eval()
    assert not any(m.training for m in model.modules())


# ----------------------------------------------------------- 7. assigning .grad
def test_a_gradient_of_the_wrong_type_or_shape_is_refused_at_assignment_like_torch(torch):
    w, tw = Tensor(np.ones((2, 3)), requires_grad=True), torch.ones(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match=r"t.grad = ndarray: a gradient must be a Tensor or None.*Tensor\(array\)"):
        w.grad = np.ones((2, 3))
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        tw.grad = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"Tensor of shape \(3,\).*must have that shape"):
        w.grad = Tensor(np.ones(3))
    with pytest.raises(RuntimeError, match="the gradient and the tensor are the same size"):
        tw.grad = torch.ones(3)
    with pytest.raises(TypeError, match="must be floating point"):
        w.grad = Tensor(np.ones((2, 3), np.int64))
    w.grad = Tensor(np.full((2, 3), 2.0))
    optim.SGD([w], lr=0.5).step()
    assert (w.data == 0).all()


# ----------------------------------------------- 8. NumPy functions cut the graph
def test_numpy_functions_on_a_tensor_that_requires_grad_are_refused(torch):
    x = Tensor(np.ones(2), requires_grad=True)
    for call in (lambda: np.concatenate([x, x]), lambda: np.sum(x), lambda: np.asarray(x),
                 lambda: np.array(x), lambda: x.numpy()):
        with pytest.raises(RuntimeError, match=r"requires grad.*detach\(\)"):
            call()
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        np.asarray(torch.ones(2, requires_grad=True))
    with no_grad():
        assert np.concatenate([x, x]).shape == (4,) and np.asarray(x) is x.data
    assert np.concatenate([x.detach(), x.data]).shape == (4,)
    assert x.detach().numpy() is x.data


def test_reading_numpy_functions_stay_allowed():
    x = Tensor(np.array([1.0, 3.0, 2.0]), requires_grad=True)
    assert np.argmax(x) == 1 and np.argmin(x) == 0 and np.shape(x) == (3,)
    assert np.allclose(x, x) and np.array_equal(x, x) and np.isclose(x, 1.0).tolist() == [True, False, False]


def test_numpy_ufuncs_say_what_to_write():
    t = Tensor([1.0, float("nan")])
    with pytest.raises(TypeError, match=r"np.isnan\(Tensor\).*np.isnan\(t.data\)"):
        np.isnan(t)
    with pytest.raises(TypeError, match=r"np.exp\(Tensor\).*t.exp\(\)"):
        np.exp(t)
    assert isinstance(np.float64(2) * t, Tensor) and isinstance(np.float32(1) - t, Tensor)
    assert (np.ones(2) == Tensor(np.ones(2))).data.all()
    with pytest.raises(TypeError, match="wrap arrays with Tensor"):
        np.ones(2) + t


# -------------------------------------------------------------- unclear errors
@pytest.mark.parametrize("dtype", FLOATS)
def test_one_element_tensors_convert_like_torch(torch, dtype):
    loss, tloss = Tensor(np.array(0.25, dtype)), torch.tensor(0.25, dtype=getattr(torch, np.dtype(dtype).name))
    assert float(loss) == float(tloss) and int(Tensor(2.7)) == int(torch.tensor(2.7))
    assert f"{loss:.3f}" == f"{tloss:.3f}" == "0.250"
    assert not math.isnan(loss) and math.isnan(Tensor(float("nan")))
    classes = ["a", "b", "c"]
    logits = Tensor([0.1, 0.9, 0.3])
    assert classes[logits.argmax()] == classes[torch.tensor([0.1, 0.9, 0.3]).argmax()] == "b"
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        classes[Tensor(1.0)]
    with pytest.raises(TypeError, match=r"only a one-element tensor converts.*shape \(2,\)"):
        float(Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="only a one-element tensor can be formatted"):
        f"{Tensor([1.0, 2.0]):.3f}"
    assert f"{Tensor([1.0, 2.0])}" == repr(Tensor([1.0, 2.0])) and f"{loss}" == repr(loss)


def test_in_checks_elements_like_torch(torch):
    t, tt = Tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]])
    for value in (2, 5, 4.0):
        assert (value in t) == (value in tt)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), [[1.0, 2.0, 3.0]]], ids=["ndarray", "list"])
@pytest.mark.parametrize("layer", [nn.Linear(3, 2), nn.ReLU(), nn.BatchNorm1d(3), nn.Sequential(nn.ReLU())],
                         ids=["Linear", "ReLU", "BatchNorm1d", "Sequential"])
def test_a_layer_called_on_an_array_says_it_expects_a_tensor(layer, bad):
    with pytest.raises(TypeError, match=r"input must be a Tensor, got (ndarray|list); wrap it with Tensor\(x\)"):
        layer(bad)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_and_mean_take_pytorchs_keywords(torch, rng, dtype):
    a = rng.standard_normal((2, 3, 4)).astype(dtype)
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = x.sum(dim=1, keepdim=True) * x.mean(dim=(0, 2)).reshape(1, 3, 1) + x.mean(dim=-1, keepdim=True)
    ty = tx.sum(dim=1, keepdim=True) * tx.mean(dim=(0, 2)).reshape(1, 3, 1) + tx.mean(dim=-1, keepdim=True)
    close(y, ty, rtol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad, rtol=1e-5)
    with pytest.raises(TypeError, match="give dim or axis"):
        x.sum(axis=0, dim=0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_small_integers_with_an_out_of_range_number_are_refused(torch, dtype):
    # A documented difference: PyTorch wraps around without a word (1 + 300 -> 45).
    t = Tensor(np.array([1, 2], dtype))
    with pytest.raises(OverflowError, match=rf"the number 300 does not fit the tensor's dtype {np.dtype(dtype)}"):
        t + 300
    assert (torch.tensor([1, 2], dtype=getattr(torch, np.dtype(dtype).name)) + 300).tolist() == [45, 46]
    with pytest.raises(OverflowError, match="does not fit"):
        t += 300
    assert (t + 3).dtype == dtype


def test_batchnorm_weight_and_bias_are_gamma_and_beta():
    bn = nn.BatchNorm1d(3)
    assert bn.weight is bn.gamma and bn.bias is bn.beta
    new = Tensor(np.full(3, 2.0), requires_grad=True, is_parameter=True)
    bn.weight = new
    assert bn.gamma is new and list(bn.state_dict()) == ["gamma", "beta", "running_mean", "running_var"]


def test_data_is_an_ndarray_and_gradients_zero_in_place():
    w = Tensor(np.ones(2), requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad.data, np.ndarray) and (w.grad.zero_().data == 0).all()
    with pytest.raises(AttributeError, match="'numpy.ndarray' object has no attribute 'zero_'"):
        w.grad.data.zero_()


def test_a_tensor_assigned_to_data_is_refused_by_the_optimizer():
    layer = nn.Linear(3, 2)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    layer.weight.data = Tensor(np.zeros((2, 3)))  # PyTorch's habit; not checked when assigned (speed)
    with pytest.raises(TypeError, match=r"params\[0\] \(a Tensor\) has .data holding a Tensor.*p.data = other.data"):
        opt.zero_grad()
    with pytest.raises(TypeError, match=r"SGD: params\[0\] \(a Tensor\) has .data holding a Tensor"):
        optim.SGD(layer.parameters())


def test_next_of_parameters_like_torch():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    params = model.parameters()
    assert next(params) is model.layers[0].weight and next(params) is model.layers[0].bias
    assert len(params) == 4 and params[3] is model.layers[1].bias


# ------------------------------------------------------------------ conveniences
def test_shape_conveniences_match_torch(torch, rng):
    a = rng.standard_normal((2, 3))
    t, tt = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert t.size() == tuple(tt.size()) and t.size(1) == tt.size(1) and t.size(-1) == 3
    assert t.dim() == tt.dim() and t.numel() == tt.numel()
    assert t.tolist() == tt.tolist() and Tensor(2.5).tolist() == 2.5
    y = t.view(3, 2) * t.t().reshape(3, 2) + t.clone().view(-1).reshape(3, 2)
    ty = tt.view(3, 2) * tt.t().reshape(3, 2) + tt.clone().view(-1).reshape(3, 2)
    close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    close(t.grad, tt.grad)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        t.size(2)
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        Tensor(np.ones((1, 2, 3))).t()
    with pytest.raises(IndexError, match="a 0-d tensor has no dimensions"):
        Tensor(1.0).size(0)
    for dtype in (np.bool_, np.int32, np.float32):
        assert Tensor(np.ones(2, dtype)).clone().dtype == dtype == torch.ones(2).to(
            getattr(torch, np.dtype(dtype).name.replace("bool_", "bool"))).clone().numpy().dtype


def test_requires_grad_and_zero_in_place():
    t = Tensor([1.0, 2.0]).requires_grad_()
    assert t.requires_grad and t.requires_grad_(False) is t and not t.requires_grad
    assert (t.zero_().data == 0).all()


def test_children_and_modules():
    inner = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    model = nn.Sequential(inner, nn.Linear(2, 1))
    assert model.children() == [inner, model.layers[1]]
    assert model.modules() == [model, inner, inner.layers[0], inner.layers[1], model.layers[1]]


def test_top_level_constructors_and_seed():
    mytorch.manual_seed(3)
    a = mytorch.randn(2, 3)
    mytorch.manual_seed(3)
    assert (mytorch.randn((2, 3)).data == a.data).all() and a.dtype == np.float64
    z = mytorch.zeros(2, dtype=np.float32, requires_grad=True)
    assert z.dtype == np.float32 and z.requires_grad and (mytorch.ones(2).data == 1).all()
    assert isinstance(mytorch.__version__, str)


def test_reprs_of_optimizers_and_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False)
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=False)"
    assert repr(optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)) == \
        "SGD(lr=0.1, momentum=0.9; 1 parameter tensors)"
