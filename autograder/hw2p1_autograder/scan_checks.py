"""Checks of the CNNs as scanning MLPs: hw2/mlp_scan.py (imported as ``mlp_scan``, hw2/ on the path).

The case is a random MLP 192 -> 8 -> 16 -> 4 (no biases, ReLU after the first
two layers) and a random (1, 24, 128) input; the expected (1, 124) output is
the MLP run window by window over the input (reference.scan_mlp). For the
distributed CNN, the MLP's weights are shared: each given matrix holds one
block several times on its diagonal and NaN elsewhere.
"""
import numpy as np

import reference as ref
from observe import Check, CheckFailure, Steps, array, assert_close, item, judge, shown, strings, tensor

SCAN_FILE = "hw2/mlp_scan.py"
LAYER_KINDS = ["Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "Flatten"]
# Per model: (in, out, kernel, stride) of each Conv1d, and how often each block repeats on the diagonal.
MODELS = {
    "CNN_SimpleScanningMLP": ([(24, 8, 8, 4), (8, 16, 1, 1), (16, 4, 1, 1)], None),
    "CNN_DistributedScanningMLP": ([(24, 2, 2, 2), (2, 8, 2, 2), (8, 4, 2, 1)], (4, 2, 1)),
}


def _fix(model):
    convs = ", ".join(f"Conv1d{spec}" for spec in MODELS[model][0])
    return (f"check {model} in {SCAN_FILE}: its layers ({convs}, ReLU between them, Flatten last) and "
            "init_weights, which turns each (out, in) matrix into filters (out, in_channel, kernel): the MLP "
            "reads a window time-major (input index t*in_channel + c), so reshape to (out, kernel, in_channel) "
            "and transpose the last two axes")


def scan_inputs(rng, model):
    x = rng.normal(size=(1, 24, 128))
    if MODELS[model][1] is None:
        weights = [rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)) for n_in, n_out in ((192, 8), (8, 16), (16, 4))]
    else:
        weights = []
        for (c_in, c_out, kernel, _), copies in zip(*MODELS[model]):
            block = rng.normal(0, 1 / np.sqrt(c_in * kernel), (c_out, c_in * kernel))
            given = np.full((c_out * copies, c_in * kernel * copies), np.nan)
            for i in range(copies):
                given[i * c_out:(i + 1) * c_out, i * c_in * kernel:(i + 1) * c_in * kernel] = block
            weights.append(given)
    return {"model": model, "seed": int(rng.integers(2 ** 31)), "x": x, "weights": weights}


def probe_scan(inp, student):
    """Construct the model, init_weights(the MLP's matrices), observe its layers and its output for x."""
    name, obs = inp["model"], {}
    with Steps(obs) as step:
        step(f"importing {name} from {SCAN_FILE}")
        model_class = getattr(student("mlp_scan"), name)
        Tensor = student("mytorch.tensor").Tensor
        np.random.seed(inp["seed"])
        step(f"{name}() (the constructor)")
        model = model_class()
        step(f"{name}.init_weights(weights)")
        model.init_weights(tuple(w.copy() for w in inp["weights"]))
        step(f"{name}.layers")
        layers = model.layers
        if not isinstance(layers, (list, tuple)):
            obs["layers"] = type(layers).__name__
            return obs
        obs["layers"] = [type(layer).__name__ for layer in layers]
        obs["filters"] = [tensor(layer.weight) for layer in layers if type(layer).__name__ == "Conv1d"]
        step(f"{name} called on a Tensor of shape (1, 24, 128)")
        obs["out"] = tensor(model(Tensor(inp["x"].copy())))
    return obs


def _filters(matrix, spec, time_major):
    c_in, c_out, kernel, _ = spec
    block = np.nan_to_num(matrix, nan=0.0)[:c_out, :c_in * kernel]
    if time_major:
        return block.reshape(c_out, kernel, c_in).transpose(0, 2, 1)
    return block.reshape(c_out, c_in, kernel)


def _as_convolutions(inp, time_major):
    """What the model's convolutions give with filters read time-major (right) or channel-major (a mistake)."""
    x = inp["x"]
    specs = MODELS[inp["model"]][0]
    for i, (spec, matrix) in enumerate(zip(specs, inp["weights"])):
        x = ref.conv1d(x, _filters(matrix, spec, time_major), np.zeros(spec[1]), spec[3])
        if i < len(specs) - 1:
            x = np.maximum(x, 0)
    return x


@judge(lambda inp: _fix(inp["model"]))
def judge_scan(inp, obs):
    name, fix = inp["model"], _fix(inp["model"])
    layers = item(obs, "layers", f"{name}.layers")
    if strings(layers) != LAYER_KINDS:
        raise CheckFailure(f"{name}.layers: expected a list of the layers in order, {LAYER_KINDS}; got "
                           f"{shown(layers)}")
    specs = MODELS[name][0]
    filters = item(obs, "filters", "the Conv1d weights")
    for i, spec in enumerate(specs):
        observed = item(filters, i, f"the weight of Conv1d layer {i + 1}")
        c_in, c_out, kernel, _ = spec
        what = f"{name}: the weight of Conv1d{spec} (Conv1d layer {i + 1}) after init_weights"
        got = array(what, observed)
        if got.shape != (c_out, c_in, kernel):
            raise CheckFailure(f"{what}: expected shape {(c_out, c_in, kernel)} (out_channel, in_channel, "
                               f"kernel_size), got {got.shape}; {fix}")
    x = inp["x"]
    if MODELS[name][1] is None:
        expected = ref.scan_mlp(inp["weights"], x)
    else:  # the same MLP with zeros where the given matrices hold NaN
        expected = ref.scan_mlp([np.nan_to_num(w, nan=0.0) for w in inp["weights"]], x)
    what = f"{name} output for an input of shape (1, 24, 128)"
    got = array(what, item(obs, "out", what))
    if np.isnan(got).any():
        raise CheckFailure(f"{what}: NaN in the output: init_weights used entries outside the first block on "
                           "each matrix's diagonal (the given matrices hold NaN there); slice the first block")
    positions = expected.shape[1] // 4
    assert_close(what, got, expected, fix, mistakes=[
        (_as_convolutions(inp, time_major=False).reshape(1, -1),
         "init_weights reads the MLP's input channel-major (index c*kernel + t); the MLP reads a window "
         "time-major (index t*in_channel + c): reshape each matrix to (out, kernel, in_channel), then transpose "
         "to (out, in_channel, kernel)"),
        (expected.reshape(4, positions).T.reshape(1, -1),
         "the output is laid out position-major; it is the last Conv1d's (1, 4, 31) flattened channel-major "
         "(Flatten, C order): output channel 0 at all 31 positions first"),
    ])


SIMPLE_SCANNING = [Check("CNN_SimpleScanningMLP equals the MLP scanned over the input",
                         lambda rng: scan_inputs(rng, "CNN_SimpleScanningMLP"), probe_scan, judge_scan)]
DISTRIBUTED_SCANNING = [Check("CNN_DistributedScanningMLP equals the shared-parameter MLP scanned over the input",
                              lambda rng: scan_inputs(rng, "CNN_DistributedScanningMLP"), probe_scan, judge_scan)]
