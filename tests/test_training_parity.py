"""Training whole models with MyTorch and with PyTorch from the same start gives the same run."""
import numpy as np
import pytest

from mytorch import Tensor, nn, no_grad, optim
from nn_parity import assert_same_state, close, torch_twin


def build(with_bn, in_features=6, hidden=5, classes=4):
    layers = [nn.Linear(in_features, hidden)]
    if with_bn:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(), nn.Linear(hidden, classes)]
    return nn.Sequential(*layers)


def train_step(torch, model, twin, opt, topt, x_np, y_np):
    model.train()
    twin.train()
    opt.zero_grad()
    topt.zero_grad()
    loss = nn.CrossEntropyLoss()(model(Tensor(x_np)), Tensor(y_np))
    tloss = torch.nn.CrossEntropyLoss()(twin(torch.from_numpy(x_np)), torch.from_numpy(y_np))
    loss.backward()
    tloss.backward()
    opt.step()
    topt.step()
    return loss, tloss


@pytest.mark.parametrize("batch", [2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("with_bn", [False, True])
def test_five_train_then_five_eval_steps_match_torch(torch, rng, batch, momentum, with_bn):
    np.random.seed(batch)
    model = build(with_bn)
    twin = torch_twin(torch, model)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=momentum)
    for _ in range(5):
        x_np, y_np = rng.normal(size=(batch, 6)), rng.integers(0, 4, size=batch)
        loss, tloss = train_step(torch, model, twin, opt, topt, x_np, y_np)
        close(loss, tloss)
        assert_same_state(model, twin)
    model.eval()
    twin.eval()
    for _ in range(5):
        x_np, y_np = rng.normal(size=(batch, 6)), rng.integers(0, 4, size=batch)
        with no_grad():
            out = model(Tensor(x_np))
            loss = nn.CrossEntropyLoss()(out, Tensor(y_np))
        with torch.no_grad():
            tout = twin(torch.from_numpy(x_np))
            tloss = torch.nn.CrossEntropyLoss()(tout, torch.from_numpy(y_np))
        assert not out.requires_grad
        close(out, tout)
        close(loss, tloss)
    assert_same_state(model, twin)  # eval changed nothing, running stats included


def test_mnist_shaped_model_trains_like_torch_for_200_steps(torch):
    """Linear(784, 20) -> BatchNorm1d(20) -> ReLU() -> Linear(20, 10), batch 100, lr 0.1, momentum 0.9."""
    np.random.seed(11785)
    model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))
    twin = torch_twin(torch, model)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    data = np.random.default_rng(2024)
    losses, tlosses = [], []
    for _ in range(200):
        x_np = data.random((100, 784))  # like MNIST pixels in [0, 1)
        y_np = data.integers(0, 10, size=100)
        loss, tloss = train_step(torch, model, twin, opt, topt, x_np, y_np)
        losses.append(loss.item())
        tlosses.append(tloss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-6)
    assert_same_state(model, twin, rtol=1e-6, atol=1e-10)
    # random labels carry no signal: the run stays finite and settles near chance level, ln 10
    assert np.all(np.isfinite(losses))
    assert abs(np.mean(losses[-50:]) - np.log(10)) < 0.1, np.mean(losses[-50:])


def test_a_float32_model_trains_in_float32_end_to_end(rng):
    model = build(with_bn=True)
    for layer in model.layers:
        for name in ("weight", "bias", "gamma", "beta", "running_mean", "running_var"):
            if hasattr(layer, name):
                getattr(layer, name).data = getattr(layer, name).data.astype(np.float32)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        out = model(Tensor(rng.normal(size=(5, 6)).astype(np.float32)))
        loss = nn.CrossEntropyLoss()(out, Tensor(rng.integers(0, 4, size=5)))
        loss.backward()
        opt.step()
        assert out.dtype == loss.dtype == np.float32
    bn = model.layers[1]
    arrays = [p.data for p in model.parameters()] + [p.grad.data for p in model.parameters()]
    arrays += opt.momentums + [bn.running_mean.data, bn.running_var.data]
    assert all(a.dtype == np.float32 for a in arrays)
    model.eval()
    assert model(Tensor(rng.normal(size=(2, 6)).astype(np.float32))).dtype == np.float32
