"""HW2P1's models (hw2/mlp_scan.py, hw2/hw2.py): the scanning MLPs equal their MLP, the CNN trains as PyTorch's.

hw2/ has no __init__.py: its modules are imported as top-level ``mlp_scan``
and ``hw2`` with hw2/ on the path, as the course's graders do.
"""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from mytorch import Tensor, nn, optim
from nn_parity import close

HW2 = Path(__file__).resolve().parents[1] / "hw2"


def load(name):
    """The module hw2/<name>.py, imported by its top-level name with hw2/ first on the path."""
    if sys.path[0] != str(HW2):
        sys.path.insert(0, str(HW2))
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) != str(HW2 / f"{name}.py"):
        del sys.modules[name]  # e.g. hw2/ seen as a namespace package from the project folder
    module = importlib.import_module(name)
    assert module.__file__ == str(HW2 / f"{name}.py")
    return module


def mlp_weights(rng):
    """A random MLP 192 -> 8 -> 16 -> 4 (no biases), (out, in) matrices."""
    return [rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)) for n_in, n_out in ((192, 8), (8, 16), (16, 4))]


def scan(weights, x, window=8, stride=4):
    """The MLP run window by window over x (1, 24, T), each window read time-major: (1, 4 * positions)."""
    w1, w2, w3 = weights
    outputs = []
    for start in range(0, x.shape[2] - window + 1, stride):
        v = x[0, :, start:start + window].T.reshape(-1)       # index t * 24 + c
        h = np.maximum(w1 @ v, 0)
        h = np.maximum(w2 @ h, 0)
        outputs.append(w3 @ h)
    return np.stack(outputs, axis=1).reshape(1, -1)           # (4, positions), flattened channel-major


def block_diagonal(block, copies):
    """``block`` ``copies`` times on the diagonal, NaN elsewhere (how the distributed weights are given)."""
    rows, cols = block.shape
    out = np.full((rows * copies, cols * copies), np.nan)
    for i in range(copies):
        out[i * rows:(i + 1) * rows, i * cols:(i + 1) * cols] = block
    return out


def test_hw2_is_a_folder_of_top_level_modules():
    assert not (HW2 / "__init__.py").exists()
    assert hasattr(load("mlp_scan"), "CNN_SimpleScanningMLP") and hasattr(load("hw2"), "CNN")


def test_simple_scanning_mlp_equals_the_mlp_window_by_window(rng):
    model = load("mlp_scan").CNN_SimpleScanningMLP()
    weights = mlp_weights(rng)
    model.init_weights(tuple(weights))
    x = rng.normal(size=(1, 24, 128))
    out = model(Tensor(x))
    assert out.shape == (1, 124)
    close(out, scan(weights, x))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "Flatten"]
    convs = model.layers[::2][:3]
    assert [(c.in_channel, c.out_channel, c.kernel_size, c.stride) for c in convs] == \
        [(24, 8, 8, 4), (8, 16, 1, 1), (16, 4, 1, 1)]
    assert all(np.all(c.bias.data == 0) and c.weight.data.dtype == np.float64 for c in convs)


def test_distributed_scanning_mlp_equals_the_shared_mlp_window_by_window(rng):
    model = load("mlp_scan").CNN_DistributedScanningMLP()
    blocks = [rng.normal(size=shape) for shape in ((2, 48), (8, 4), (4, 16))]
    given = [block_diagonal(b, n) for b, n in zip(blocks, (4, 2, 1))]
    model.init_weights(tuple(given))
    x = rng.normal(size=(1, 24, 128))
    out = model(Tensor(x))
    assert out.shape == (1, 124) and not np.isnan(out.data).any()
    full = [np.nan_to_num(w, nan=0.0) for w in given]        # the same MLP, zeros off the diagonal
    close(out, scan(full, x))
    convs = model.layers[::2][:3]
    assert [(c.in_channel, c.out_channel, c.kernel_size, c.stride) for c in convs] == \
        [(24, 2, 2, 2), (2, 8, 2, 2), (8, 4, 2, 1)]


def test_scanning_mlps_match_torch_convolutions(torch, rng):
    # The same weights in torch's Conv1d stack give the same output (the layers, not only the MLP, agree).
    for name in ("CNN_SimpleScanningMLP", "CNN_DistributedScanningMLP"):
        model = getattr(load("mlp_scan"), name)()
        model.init_weights(tuple(mlp_weights(rng)) if name.startswith("CNN_Simple") else
                           tuple(block_diagonal(rng.normal(size=s), n) for s, n in (((2, 48), 4), ((8, 4), 2),
                                                                                   ((4, 16), 1))))
        twin = []
        for layer in model.layers:
            if isinstance(layer, nn.Conv1d):
                t = torch.nn.Conv1d(layer.in_channel, layer.out_channel, layer.kernel_size, layer.stride,
                                    dtype=torch.float64)
                with torch.no_grad():
                    t.weight.copy_(torch.from_numpy(layer.weight.data))
                    t.bias.copy_(torch.from_numpy(layer.bias.data))
                twin.append(t)
            else:
                twin.append(torch.nn.ReLU() if isinstance(layer, nn.ReLU) else torch.nn.Flatten())
        x = rng.normal(size=(1, 24, 128))
        close(model(Tensor(x)), torch.nn.Sequential(*twin)(torch.from_numpy(x)))


def test_cnn_has_the_contracts_eight_layers():
    cnn = load("hw2").CNN()
    assert isinstance(cnn.layers, nn.Sequential) and len(cnn.layers) == 8
    assert [type(layer).__name__ for layer in cnn.layers] == \
        ["Conv1d", "Tanh", "Conv1d", "ReLU", "Conv1d", "Sigmoid", "Flatten", "Linear"]
    c1, c2, c3 = cnn.layers[0], cnn.layers[2], cnn.layers[4]
    assert [(c.in_channel, c.out_channel, c.kernel_size, c.stride) for c in (c1, c2, c3)] == \
        [(24, 56, 5, 1), (56, 28, 6, 2), (28, 14, 2, 2)]
    assert (cnn.layers[7].in_features, cnn.layers[7].out_features) == (182, 10)
    expected = [p for i in (0, 2, 4, 7) for p in (cnn.layers[i].weight, cnn.layers[i].bias)]
    assert cnn.parameters() == expected
    assert cnn(Tensor(np.zeros((3, 24, 60)))).shape == (3, 10)


def torch_cnn(torch, cnn):
    layers = []
    for layer in cnn.layers:
        if isinstance(layer, nn.Conv1d):
            t = torch.nn.Conv1d(layer.in_channel, layer.out_channel, layer.kernel_size, layer.stride,
                                dtype=torch.float64)
        elif isinstance(layer, nn.Linear):
            t = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        else:
            t = {"Tanh": torch.nn.Tanh, "ReLU": torch.nn.ReLU, "Sigmoid": torch.nn.Sigmoid,
                 "Flatten": torch.nn.Flatten}[type(layer).__name__]()
        if isinstance(layer, (nn.Conv1d, nn.Linear)):
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(layer.weight.data))
                t.bias.copy_(torch.from_numpy(layer.bias.data))
        layers.append(t)
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_cnn_five_sgd_steps_match_torch(torch, rng, momentum):
    cnn = load("hw2").CNN()
    twin = torch_cnn(torch, cnn)
    opt = optim.SGD(cnn.parameters(), lr=0.1, momentum=momentum)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=momentum)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(5):
        x, labels = rng.normal(size=(4, 24, 60)), rng.integers(0, 10, 4)
        opt.zero_grad()
        topt.zero_grad()
        out, tout = cnn.layers(Tensor(x)), twin(torch.from_numpy(x))
        close(out, tout)
        loss, tloss = loss_fn(out, Tensor(labels)), tloss_fn(tout, torch.from_numpy(labels))
        close(loss, tloss)
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
    for p, tp in zip(cnn.parameters(), twin.parameters()):
        close(p, tp)
        close(p.grad, tp.grad)


def test_hw2p1_solution_regions_are_well_formed_and_left_out_of_the_hw1p1_kit():
    from grader_tools import ROOT, make_handout
    owners = {
        "mytorch/nn/conv.py": ["conv1d_output_size", "Conv1dFunction.forward", "Conv1dFunction.backward",
                               "Flatten.forward"],
        "hw2/mlp_scan.py": ["_window_filters", "CNN_SimpleScanningMLP.__init__", "CNN_SimpleScanningMLP.init_weights",
                            "CNN_DistributedScanningMLP.__init__", "CNN_DistributedScanningMLP.init_weights"],
        "hw2/hw2.py": ["CNN.__init__"],
    }
    for rel, expected in owners.items():
        regions = make_handout.find_regions((ROOT / rel).read_text(), rel)  # raises on a bad marker
        assert [r.owner for r in regions] == expected
        assert make_handout._dropped(rel)   # a kit per homework is still to come (issue 23)
    assert make_handout._dropped("autograder/hw2p1_autograder/problems.py")
