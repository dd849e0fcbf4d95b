"""dtypes as PyTorch: scalars and 0-d tensors do not promote; .float()/.double()/.to(); Module conversion."""
import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from nn_parity import close

TORCH_NAME = {"float32": "torch.float32", "float64": "torch.float64", "int32": "torch.int32",
              "int64": "torch.int64", "bool": "torch.bool"}


def check_dtype(got, expected):
    assert TORCH_NAME[got.data.dtype.name] == str(expected.dtype), (got.data.dtype, expected.dtype)


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.int64(3), 2.5, 3, np.float32(2.0)])
def test_a_float32_tensor_with_a_scalar_stays_float32(torch, scalar):
    t, tt = Tensor(np.array([1.0, 2.0], np.float32)), torch.tensor([1.0, 2.0], dtype=torch.float32)
    for got, expected in ((t * scalar, tt * scalar), (scalar + t, scalar + tt), (t - scalar, tt - scalar),
                          (scalar / t, scalar / tt)):
        check_dtype(got, expected)
        close(got.data, expected.numpy(), rtol=1e-6)


def test_integer_and_bool_tensors_with_scalars(torch):
    i32 = np.array([1, 2], np.int32)
    check_dtype(Tensor(i32) * np.int64(3), torch.tensor(i32) * np.int64(3))
    check_dtype(Tensor(i32) + 3, torch.tensor(i32) + 3)
    b = np.array([True, False])
    check_dtype(Tensor(b) + 1, torch.tensor(b) + 1)
    # A float with an integer tensor: MyTorch's default float dtype is float64 (PyTorch's float32).
    assert (Tensor(i32) * 2.5).data.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_0d_tensor_does_not_promote_within_floats(torch, rng, dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    a = rng.standard_normal(3).astype(dtype)
    s = np.array(1.5, other)
    x, sx = Tensor(a, requires_grad=True), Tensor(s, requires_grad=True)
    tx, tsx = torch.tensor(a, requires_grad=True), torch.tensor(s, requires_grad=True)
    y = x * sx + sx / x - sx
    ty = tx * tsx + tsx / tx - tsx
    check_dtype(y, ty)
    close(y.data, ty.detach().numpy(), rtol=1e-6)
    y.backward(Tensor(np.ones(3, dtype)))
    ty.backward(torch.ones(3, dtype=ty.dtype))
    check_dtype(x.grad, tx.grad)
    check_dtype(sx.grad, tsx.grad)
    close(sx.grad.data, tsx.grad.numpy(), rtol=1e-5)
    close(x.grad.data, tx.grad.numpy(), rtol=1e-5)


def test_0d_tensors_of_another_category_and_two_0d_tensors_promote(torch):
    i = np.array([1, 2], np.int32)
    check_dtype(Tensor(i) * Tensor(np.array(2.5)), torch.tensor(i) * torch.tensor(2.5, dtype=torch.float64))
    a, b = np.array(1.0, np.float32), np.array(2.0, np.float64)
    check_dtype(Tensor(a) + Tensor(b), torch.tensor(a) + torch.tensor(b))


def test_tensor_float_double_to_are_in_the_graph(torch, rng):
    a = rng.standard_normal(3)
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = x.float()
    ty = tx.float()
    check_dtype(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    check_dtype(x.grad, tx.grad)
    close(x.grad.data, tx.grad.numpy(), rtol=1e-6)
    assert x.double() is x and x.to("float64") is x and x.to(np.float64) is x  # same dtype: self
    assert y.double().data.dtype == np.float64 and x.to("float32").data.dtype == np.float32
    with pytest.raises(TypeError, match="not a NumPy dtype"):
        x.to("fp32")


def test_module_float_double_convert_in_place_keeping_identity():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    params = model.parameters()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    assert model.float() is model
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert all(p.data.dtype == np.float32 for p in params)
    bn = model.layers[1]
    assert bn.running_mean.data.dtype == bn.running_var.data.dtype == np.float32
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    loss = nn.CrossEntropyLoss()(model(x), Tensor(np.array([0, 1, 0, 1, 1])))
    assert loss.data.dtype == np.float32
    loss.backward()
    opt.step()  # the optimizer made before the conversion trains the same objects
    assert all(p.data.dtype == np.float32 and p.grad.data.dtype == np.float32 for p in params)
    model.double()
    assert all(p.data.dtype == np.float64 for p in params) and bn.running_var.data.dtype == np.float64
    assert model.to(np.float32) is model and params[0].data.dtype == np.float32
    with pytest.raises(TypeError, match="float dtype"):
        model.to(np.int64)


def test_linear_dtype_mismatch(torch):
    lin = nn.Linear(3, 2).float()
    with pytest.raises(TypeError, match=r"float64 and float32.*model.double\(\) or the input with x.float\(\)"):
        lin(Tensor(np.ones((1, 3))))
    with pytest.raises(TypeError, match=r"linear: the operands have different float dtypes"):
        nn.functional.linear(Tensor(np.ones((1, 3))), lin.weight, lin.bias)
    tlin = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="same dtype"):
        tlin(torch.ones((1, 3), dtype=torch.float64))
    # Documented difference: a lower-precision input into float64 layers (the handout's float32
    # MNIST pixels) is computed in the layers' float64; PyTorch refuses it.
    out = nn.Linear(3, 2)(Tensor(np.ones((1, 3), np.float32)))
    assert out.data.dtype == np.float64


def test_matmul_of_different_float_dtypes_is_refused_like_torch(torch):
    with pytest.raises(TypeError, match="MatMul: the operands have different float dtypes, float32 and float64"):
        Tensor(np.ones((2, 2), np.float32)) @ Tensor(np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.ones((2, 2)) @ torch.ones((2, 2), dtype=torch.float64)
