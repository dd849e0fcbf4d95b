"""Module state: state_dict / load_state_dict, save / load, zero_grad, Sequential indexing, Linear(bias=False)."""
import io
import pickle

import numpy as np
import pytest

import mytorch
from mytorch import Tensor, nn, optim
from nn_parity import close, torch_twin


def mlp(seed=0):
    np.random.seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        self.heads = [nn.Linear(3, 1), nn.Linear(3, 2, bias=False)]
        self.scale = Tensor(np.ones(1), requires_grad=True, is_parameter=True)
        self.register_buffer("steps", Tensor(np.zeros(())))
        self.cache = Tensor(np.zeros(2))  # a plain tensor attribute: neither parameter nor buffer

    def forward(self, x):
        h = self.body(x)
        return self.heads[0](h) * self.scale


# ------------------------------------------------------------------ state_dict

def test_sequential_names_match_torch(torch):
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3, bias=False))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3, bias=False))
    assert list(model.state_dict()) == list(twin.state_dict())


def test_batchnorm_names_differ_from_torch_only_by_handout_names(torch):
    # The handout names BatchNorm1d's parameters gamma and beta; PyTorch calls them weight and bias and
    # also keeps a num_batches_tracked counter.
    assert list(nn.BatchNorm1d(3).state_dict()) == ["gamma", "beta", "running_mean", "running_var"]
    theirs = list(torch.nn.BatchNorm1d(3).state_dict())
    assert theirs == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_names_follow_attribute_paths():
    net = Net()
    assert list(net.state_dict()) == [
        "body.0.weight", "body.0.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight", "scale", "steps"]
    assert [t for _, t in net.named_parameters()] == net.parameters()
    assert [name for name, _ in net.named_buffers()] == ["steps"]


def test_a_shared_layer_is_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert list(model.state_dict()) == ["0.weight", "0.bias"]


def test_a_reference_back_to_a_parent_is_not_followed():
    root = nn.Sequential(nn.Linear(2, 2))
    root[0].owner = root  # a cycle
    assert list(root.state_dict()) == ["0.weight", "0.bias"]


def test_state_dict_holds_copies():
    model = mlp()
    state = model.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    np.testing.assert_array_equal(state["0.weight"], model[0].weight.data)
    model[0].weight.data += 1
    assert not np.allclose(state["0.weight"], model[0].weight.data)


def test_buffers_follow_rebinding():
    bn = nn.BatchNorm1d(2)
    bn.running_mean = Tensor(np.array([3.0, 4.0]))  # what a student's forward may do
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], [3, 4])


def test_register_buffer_refuses_non_tensors():
    net = Net()
    with pytest.raises(TypeError, match="expected a Tensor that is not a parameter, got ndarray"):
        net.register_buffer("x", np.zeros(2))
    with pytest.raises(TypeError, match="got a parameter"):
        net.register_buffer("x", Tensor(np.zeros(2), requires_grad=True, is_parameter=True))
    with pytest.raises(TypeError, match="attribute name"):
        net.register_buffer("a.b", Tensor(np.zeros(2)))


# ------------------------------------------------------------- load_state_dict

def test_load_copies_in_place_and_keeps_identity():
    source, target = mlp(1), mlp(2)
    source.train()
    source(Tensor(np.random.normal(size=(6, 4))))  # move the running statistics
    tensors = [t for _, t in target.named_parameters()] + [t for _, t in target.named_buffers()]
    arrays = [t.data for t in tensors]
    versions = [t._version for t in tensors]
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, value), t, a, v in zip(source.state_dict().items(), tensors, arrays, versions):
        np.testing.assert_array_equal(target.state_dict()[name], value)
        assert t.data is a and t._version == v + 1


def test_loaded_parameters_are_the_ones_the_optimizer_trains():
    model = mlp(3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.load_state_dict(mlp(4).state_dict())
    before = model[0].weight.data.copy()
    x, y = Tensor(np.random.normal(size=(8, 4))), Tensor(np.random.randint(0, 3, 8))
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()
    assert not np.allclose(model[0].weight.data, before)
    assert opt.params[0] is model[0].weight


def test_load_accepts_tensors_and_a_torch_twin_state(torch):
    model = mlp(5)
    twin = torch_twin(torch, mlp(6))
    renamed = {k.replace("1.weight", "1.gamma").replace("1.bias", "1.beta"): v.numpy()
               for k, v in twin.state_dict().items() if not k.endswith("num_batches_tracked")}
    model.load_state_dict({k: Tensor(v) for k, v in renamed.items()})
    model.eval()
    twin.eval()
    x = np.random.normal(size=(3, 4))
    close(model(Tensor(x)), twin(torch.from_numpy(x)))


def test_strict_errors_name_every_bad_key_and_copy_nothing():
    model = mlp(7)
    before = model.state_dict()
    state = mlp(8).state_dict()
    del state["0.bias"]
    state["extra"] = np.zeros(1)
    state["3.weight"] = np.zeros((5, 3))
    state["1.gamma"] = state["1.gamma"].astype(np.float32)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    assert message.startswith("Error(s) in loading state_dict for Sequential: ")
    assert "missing key(s): '0.bias'" in message
    assert "unexpected key(s): 'extra'" in message
    assert "'3.weight' has shape (5, 3), the model's has shape (3, 5)" in message
    assert "'1.gamma' has dtype float32, the model's has dtype float64 (convert" in message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_load_reports_keys_as_torch(torch):
    model = mlp(9)
    state = mlp(10).state_dict()
    del state["3.bias"]
    state["other"] = np.zeros(2)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model[3].weight.data, state["3.weight"])
    twin = torch.nn.Linear(2, 1)
    tresult = twin.load_state_dict({"weight": torch.zeros(1, 2), "other": torch.zeros(1)}, strict=False)
    assert tresult._fields == result._fields


def test_shape_mismatch_is_refused_even_when_not_strict():
    with pytest.raises(RuntimeError, match="'weight' has shape"):
        nn.Linear(2, 3).load_state_dict({"weight": np.zeros((2, 2))}, strict=False)


@pytest.mark.parametrize("state, match", [
    ([("weight", np.zeros((3, 2)))], "expected a dict of name -> array"),
])
def test_load_refuses_a_non_mapping(state, match):
    with pytest.raises(TypeError, match=match):
        nn.Linear(2, 3).load_state_dict(state)


def test_load_refuses_non_array_values():
    state = nn.Linear(2, 3).state_dict()
    state["bias"] = [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="'bias' is a list, expected an ndarray or a Tensor"):
        nn.Linear(2, 3).load_state_dict(state)


# ------------------------------------------------------------------ save / load

def test_trained_model_round_trips_through_a_file(tmp_path):
    model = mlp(11)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = Tensor(np.random.normal(size=(16, 4))), Tensor(np.random.randint(0, 3, 16))
    for _ in range(5):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    path = tmp_path / "model.pt"
    mytorch.save(model.state_dict(), path)
    assert path.exists() and not (tmp_path / "model.pt.npz").exists()  # written exactly where asked
    restored = mlp(12)
    restored.load_state_dict(mytorch.load(path))
    model.eval()
    restored.eval()
    np.testing.assert_array_equal(restored(x).data, model(x).data)
    loaded = mytorch.load(str(path))
    assert list(loaded) == list(model.state_dict())
    assert list(np.load(path).files) == list(loaded)  # a plain .npz, readable by NumPy


def test_save_and_load_file_objects_and_odd_names():
    state = {"file": np.arange(3), "allow_pickle": np.ones((2, 2), np.float32), "a.b": Tensor(np.array(1.5))}
    buffer = io.BytesIO()
    mytorch.save(state, buffer)
    buffer.seek(0)
    loaded = mytorch.load(buffer)
    assert list(loaded) == list(state)
    assert loaded["allow_pickle"].dtype == np.float32
    np.testing.assert_array_equal(loaded["a.b"], 1.5)


def test_load_refuses_pickles(tmp_path, torch):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"weight": np.zeros(2)}))
    with pytest.raises(ValueError, match="never unpickles"):
        mytorch.load(evil)
    torch_file = tmp_path / "torch.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), torch_file)
    with pytest.raises(ValueError, match="not a file written by mytorch.save"):
        mytorch.load(torch_file)
    objects = tmp_path / "objects.npz"
    np.savez(objects, weight=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled \\(object\\) arrays"):
        mytorch.load(objects)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single .npy array"):
        mytorch.load(single)


@pytest.mark.parametrize("obj, match", [
    (nn.Linear(2, 2), "saves a state dict, not a module.*model.state_dict\\(\\)"),
    ([np.zeros(2)], "expected a dict of name -> array"),
    ({"w": np.array(["a"])}, "'w' is an array of dtype <U1"),
    ({"w": [1.0]}, "'w' is list"),
    ({3: np.zeros(1)}, "keys must be non-empty strings"),
])
def test_save_refuses_what_it_cannot_store_without_pickle(obj, match):
    with pytest.raises(TypeError, match=match):
        mytorch.save(obj, io.BytesIO())


# -------------------------------------------------------------------- zero_grad

def test_module_zero_grad_sets_none_as_torch_2(torch):
    model = mlp(13)
    x = Tensor(np.random.normal(size=(4, 4)))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    twin = torch.nn.Linear(2, 2)
    twin(torch.ones(1, 2)).sum().backward()
    twin.zero_grad()
    assert twin.weight.grad is None


def test_module_zero_grad_can_fill_zeros():
    layer = nn.Linear(3, 2)
    layer(Tensor(np.ones((2, 3)))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and not grad.data.any()


# ------------------------------------------------------------ Sequential indexing

def test_sequential_indexing_and_len_match_torch(torch):
    model = mlp(14)
    twin = torch.nn.Sequential(*[torch.nn.Identity() for _ in range(4)])
    assert len(model) == len(twin) == 4
    assert model[0] is model.layers[0] and model[-1] is model.layers[3]
    part = model[1:3]
    assert type(part) is nn.Sequential and part.layers == model.layers[1:3]
    assert type(twin[1:3]) is torch.nn.Sequential and len(twin[1:3]) == len(part)
    assert list(model[::-1]) == list(model.layers[::-1])
    assert list(model[1:].state_dict()) == ["0.gamma", "0.beta", "0.running_mean", "0.running_var",
                                           "2.weight", "2.bias"]


@pytest.mark.parametrize("index, error, match", [
    (4, IndexError, "index 4 is out of range for 4 layer"),
    (-5, IndexError, "index -5 is out of range"),
    ("0", TypeError, "integers or slices, got str"),
    (1.0, TypeError, "got float"),
])
def test_sequential_bad_index(index, error, match):
    with pytest.raises(error, match=match):
        mlp(15)[index]


# --------------------------------------------------------------- Linear(bias=False)

def test_linear_without_bias_matches_torch(torch, rng):
    layer = nn.Linear(4, 3, bias=False)
    assert layer.bias is None and layer.parameters() == [layer.weight]
    assert repr(layer) == "Linear(in_features=4, out_features=3, bias=False)"
    twin = torch.nn.Linear(4, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data))
    x = rng.normal(size=(5, 4))
    mx, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = layer(mx), twin(tx)
    close(out, tout)
    out.backward()
    tout.backward(torch.ones_like(tout))
    close(layer.weight.grad, twin.weight.grad)
    close(mx.grad, tx.grad)
    assert list(layer.state_dict()) == list(twin.state_dict()) == ["weight"]


def test_linear_without_bias_equals_the_composed_form(rng):
    layer = nn.Linear(4, 3, bias=False)
    x = Tensor(rng.normal(size=(5, 4)))
    composed = x @ layer.weight.T()  # what a handout-style forward computes when bias is None
    close(layer(x), composed, rtol=1e-12)
    close(nn.functional.linear(x, layer.weight), composed, rtol=1e-12)


def test_linear_without_bias_draws_the_same_weight():
    np.random.seed(3)
    with_bias = nn.Linear(3, 2)
    np.random.seed(3)
    without = nn.Linear(3, 2, bias=False)
    np.testing.assert_array_equal(with_bias.weight.data, without.weight.data)


def test_model_without_biases_trains_as_torch(torch):
    np.random.seed(1)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    twin = torch_twin(torch, model)
    opt, topt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    x, y = np.random.normal(size=(8, 3)), np.random.randint(0, 2, 8)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        nn.CrossEntropyLoss()(model(Tensor(x)), Tensor(y)).backward()
        torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
        topt.step()
    close(model[0].weight, twin[0].weight)
    close(model[3].bias, twin[3].bias)


def test_sgd_trains_a_model_without_biases():
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.params) == 2
    x, y = Tensor(np.random.normal(size=(8, 3))), Tensor(np.random.randint(0, 2, 8))
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
