"""Checks of HW3P1's recurrent layers: RNNUnit, RNN, GRUUnit, GRU (mytorch/nn/rnn.py, mytorch/nn/gru.py).

Every layer is built by its constructor, then its parameters' ``.data`` are
overwritten with the inputs' values (as the course's graders do), so the
expected values never depend on the student's initialisation.
"""
import numpy as np

from . import formulas
from .common import (Check, CheckFailure, data_of, expect_array, expect_grad, expect_tensor, matches,
                     observe_packed, observe_tensor, packed_input, set_parameters)

BATCH, INPUT, HIDDEN = 4, 5, 3
# Packed batches: ties, a single sequence, sequences of length 1.
BATCHES = ([3, 5, 5, 1, 4], [4], [1, 1, 1])
RNN_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
GRU_NAMES = tuple(f"weight_{s}{g}" for s in "ih" for g in "rzn") + tuple(f"bias_{s}{g}" for s in "ih" for g in "rzn")

RNN_UNIT_HINT = ("Look at RNNUnit.forward in mytorch/nn/rnn.py: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), "
                 "h zeros of shape (batch, hidden_size) when None, the parameters read at call time")
RNN_GRAD_HINT = ("compose RNNUnit.forward from differentiable operations (matmul, transpose, add, tanh), so autograd "
                 "derives the gradients of x, h and the four parameters")
GRU_UNIT_HINT = ("Look at GRUUnit.forward in mytorch/nn/gru.py: PyTorch's GRUCell, r = sigmoid(x W_ir^T + b_ir + "
                 "h W_hr^T + b_hr), z likewise with the z parameters, n = tanh(x W_in^T + b_in + r * (h W_hn^T + "
                 "b_hn)), h' = (1 - z) * n + z * h; h zeros when None")
GRU_MISTAKES = {
    "bias_hn outside the reset gate": "the reset gate must multiply the whole hidden projection, b_hn included: "
                                      "n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))",
    "z and 1 - z swapped": "the update gate keeps the old state: h' = (1 - z) * n + z * h",
}
TIME_HINT = ("Look at TimeIterator.forward in mytorch/nn/rnn.py: at step t the unit gets the rows of step t of "
             "packed.data (the first batch_sizes[t] sequences) and their states h[:batch_sizes[t]]; the outputs "
             "of all steps, joined with cat, are the packed output's data, with the input's sorted_indices and "
             "batch_sizes")
FINAL_HINT = ("h_final is (batch, hidden_size) in sorted order (longest first): row k is the state of the sequence "
              "at sorted position k after its own last step (PyTorch returns the original order; the contract "
              "does not)")


def _parameters(rng, names, scale=0.5):
    def shape(name):  # weight_ih / weight_ir ...: (H, I); weight_hh / weight_hr ...: (H, H); biases (H,)
        if name.startswith("bias"):
            return (HIDDEN,)
        return (HIDDEN, INPUT) if name[len("weight_")] == "i" else (HIDDEN, HIDDEN)
    return {name: rng.normal(scale=scale, size=shape(name)) for name in names}


# ---------------------------------------------------------------- units
def unit_inputs(names):
    def inputs(rng):
        return {"params": _parameters(rng, names), "x": rng.normal(size=(BATCH, INPUT)),
                "h": rng.normal(size=(BATCH, HIDDEN)), "weights": rng.normal(size=(BATCH, HIDDEN))}
    return inputs


def _unit(student, module, cls, params):
    unit = getattr(student(module), cls)(INPUT, HIDDEN)
    set_parameters(unit, params)
    return unit


def unit_forward_probe(module, cls):
    def probe(inp, student):
        T = student("mytorch.tensor")
        unit = _unit(student, module, cls, inp["params"])
        x, h = T.Tensor(inp["x"].copy(), requires_grad=True), T.Tensor(inp["h"].copy(), requires_grad=True)
        with_h = observe_tensor(unit(x, h))
        return {"with_h": with_h, "without_h": observe_tensor(unit(T.Tensor(inp["x"].copy(), requires_grad=True)))}
    return probe


def unit_backward_probe(module, cls, names):
    def probe(inp, student):
        T = student("mytorch.tensor")
        unit = _unit(student, module, cls, inp["params"])
        x, h = T.Tensor(inp["x"].copy(), requires_grad=True), T.Tensor(inp["h"].copy(), requires_grad=True)
        (unit(x, h) * T.Tensor(inp["weights"].copy())).backward()
        return {"x": observe_tensor(x), "h": observe_tensor(h),
                "params": {name: observe_tensor(getattr(unit, name)) for name in names}}
    return probe


def _obs_dict(obs, keys):
    if not isinstance(obs, dict) or any(k not in obs for k in keys):
        raise CheckFailure(f"the probe returned {obs!r:.200}; expected the keys {keys}")
    return obs


def rnn_unit_forward_judge(inp, obs):
    obs = _obs_dict(obs, ("with_h", "without_h"))
    p, x, h = inp["params"], inp["x"], inp["h"]
    expect_tensor(f"RNNUnit({INPUT}, {HIDDEN})(x, h) with x {x.shape}, h {h.shape}", obs["with_h"],
                  formulas.rnn_cell(p, x, h), RNN_UNIT_HINT)
    expect_tensor(f"RNNUnit({INPUT}, {HIDDEN})(x) without h (zeros)", obs["without_h"],
                  formulas.rnn_cell(p, x, np.zeros_like(h)), RNN_UNIT_HINT)


def gru_unit_forward_judge(inp, obs):
    obs = _obs_dict(obs, ("with_h", "without_h"))
    p, x = inp["params"], inp["x"]
    for h, key, what in ((inp["h"], "with_h", "(x, h)"), (np.zeros_like(inp["h"]), "without_h", "(x) without h")):
        where = f"GRUUnit({INPUT}, {HIDDEN}){what}"
        _name_gru_mistake(where, data_of(obs[key]), lambda mistake: formulas.gru_cell(p, x, h, mistake)[0],
                          formulas.gru_cell(p, x, h)[0])
        expect_tensor(where, obs[key], formulas.gru_cell(p, x, h)[0], GRU_UNIT_HINT)


def _name_gru_mistake(where, got, compute, expected):
    """Raise the named message if ``got`` is a known GRU mistake's value (and not the right one)."""
    if got is None or matches(got, expected):
        return
    for mistake, fix in GRU_MISTAKES.items():
        if matches(got, compute(mistake)):
            raise CheckFailure(f"{where}: the values are those of a GRU with {mistake}; {fix}. Look at "
                               "GRUUnit.forward in mytorch/nn/gru.py")


def unit_backward_judge(names, cell_backward, hint):
    def judge(inp, obs):
        obs = _obs_dict(obs, ("x", "h", "params"))
        p, x, h = inp["params"], inp["x"], inp["h"]
        if cell_backward is formulas.rnn_cell_backward:
            dx, dh, grads = cell_backward(p, x, h, formulas.rnn_cell(p, x, h), inp["weights"])
        else:
            dx, dh, grads = cell_backward(p, x, h, formulas.gru_cell(p, x, h)[1], inp["weights"])
        unit = "RNNUnit" if names is RNN_NAMES else "GRUUnit"
        expect_grad(f"{unit}: the gradient of x", obs["x"], dx, hint)
        expect_grad(f"{unit}: the gradient of h", obs["h"], dh, hint)
        if not isinstance(obs["params"], dict):
            raise CheckFailure(f"{unit}: the probe returned {obs['params']!r:.200}")
        for name in names:
            expect_grad(f"{unit}: the gradient of {name}", obs["params"].get(name), grads[name], hint)
    return judge


# ---------------------------------------------------------------- over a packed batch
def time_inputs(names, backward):
    def inputs(rng):
        inp = {"params": _parameters(rng, names), "batches": []}
        for lengths in BATCHES:
            batch = formulas.add_packed_fields({"arrays": [rng.normal(size=(n, INPUT)) for n in lengths]})
            if backward:
                batch["w_out"] = rng.normal(size=(sum(lengths), HIDDEN))
                batch["w_final"] = rng.normal(size=(len(lengths), HIDDEN))
            inp["batches"].append(batch)
        return inp
    return inputs


def time_probe(cls_path, backward):
    module, cls = cls_path

    def probe(inp, student):
        T = student("mytorch.tensor")
        results = []
        for batch in inp["batches"]:
            layer = getattr(student(module), cls)(INPUT, HIDDEN)  # a fresh one: no gradients carried over
            set_parameters(layer.unit, inp["params"])
            packed, leaf = packed_input(student, batch)
            out, h_final = layer(packed)
            if backward:
                (out.data * T.Tensor(batch["w_out"].copy())).backward()
                (h_final * T.Tensor(batch["w_final"].copy())).backward()
                results.append({"data": observe_tensor(leaf),
                                "params": {n: observe_tensor(getattr(layer.unit, n)) for n in inp["params"]}})
            else:
                results.append({"out": observe_packed(out), "h_final": observe_tensor(h_final)})
        return {"results": results}
    return probe


def _time_results(inp, obs):
    results = obs.get("results") if isinstance(obs, dict) else None
    if not isinstance(results, list) or len(results) != len(inp["batches"]):
        raise CheckFailure(f"the probe returned {obs!r:.200}; expected one result per batch")
    for r in results:
        if not isinstance(r, dict):
            raise CheckFailure(f"the probe returned {r!r:.200}")
    return zip(inp["batches"], results)


def time_forward_judge(name, cell):
    def judge(inp, obs):
        for batch, got in _time_results(inp, obs):
            lengths = [len(a) for a in batch["arrays"]]
            where = f"{name}({INPUT}, {HIDDEN}) over a packed batch of lengths {lengths}"
            order = formulas.sorted_order(lengths)
            batch_sizes = formulas.batch_sizes_of(lengths)
            expected, final, _ = formulas.run_packed(cell, inp["params"], batch["packed"],
                                                     batch_sizes, HIDDEN)
            out = got.get("out")
            if not isinstance(out, dict) or not isinstance(out.get("data"), dict):
                raise CheckFailure(f"{where}: the first result must be a packed sequence with data, sorted_indices "
                                   f"and batch_sizes, got {out!r:.200}. {TIME_HINT}")
            if name == "GRU":
                _name_gru_mistake(where, data_of(out["data"]), lambda m: formulas.run_packed(
                    lambda p, x, h: formulas.gru_cell(p, x, h, m), inp["params"], formulas.pack(batch["arrays"]),
                    batch_sizes, HIDDEN)[0], expected)
            expect_tensor(f"{where}: the packed output's data", out["data"], expected, TIME_HINT)
            for field, value in (("sorted_indices", order), ("batch_sizes", batch_sizes)):
                field_obs = out.get(field)
                got_values = field_obs.get("values") if isinstance(field_obs, dict) else None
                expect_array(f"{where}: the packed output's {field}", got_values, value,
                             f"the output keeps the input's {field}. {TIME_HINT}", rtol=0, atol=0)
            in_original = np.empty_like(final)
            in_original[order] = final
            h_obs = got.get("h_final")
            if len(set(lengths)) > 1 and matches(data_of(h_obs), in_original):
                raise CheckFailure(f"{where}: h_final is in the original order of the sequences; {FINAL_HINT}. "
                                   "Look at TimeIterator.forward in mytorch/nn/rnn.py")
            expect_tensor(f"{where}: h_final", h_obs, final, FINAL_HINT + ". Look at TimeIterator.forward in "
                                                                          "mytorch/nn/rnn.py")
    return judge


def rnn_time_backward_judge(inp, obs):
    for batch, got in _time_results(inp, obs):
        lengths = [len(a) for a in batch["arrays"]]
        where = f"RNN({INPUT}, {HIDDEN}) over a packed batch of lengths {lengths}"
        batch_sizes = formulas.batch_sizes_of(lengths)
        _, _, steps = formulas.run_packed(formulas.rnn_cell, inp["params"], formulas.pack(batch["arrays"]),
                                          batch_sizes, HIDDEN)
        d_data, grads = formulas.rnn_packed_backward(inp["params"], batch_sizes, steps, batch["w_out"],
                                                     batch["w_final"])
        hint = ("the gradients flow back through the packed output (cat of the steps' states), h_final, the "
                "per-step slices and the unit; build all of them from differentiable operations. " + TIME_HINT)
        expect_grad(f"{where}: the gradient of the packed input's data", got.get("data"), d_data, hint)
        params = got.get("params")
        if not isinstance(params, dict):
            raise CheckFailure(f"{where}: the probe returned {params!r:.200}")
        for name in RNN_NAMES:
            expect_grad(f"{where}: the gradient of unit.{name}", params.get(name), grads[name], hint)


def _gru_step(p, x, h):
    return formulas.gru_cell(p, x, h)


RNN_UNIT_FORWARD = [Check("RNNUnit forward, with h and with h=None", unit_inputs(RNN_NAMES),
                          unit_forward_probe("mytorch.nn.rnn", "RNNUnit"), rnn_unit_forward_judge)]
RNN_UNIT_BACKWARD = [Check("RNNUnit backward: gradients of x, h and the parameters", unit_inputs(RNN_NAMES),
                           unit_backward_probe("mytorch.nn.rnn", "RNNUnit", RNN_NAMES),
                           unit_backward_judge(RNN_NAMES, formulas.rnn_cell_backward, RNN_GRAD_HINT))]
RNN_FORWARD = [Check("RNN over packed batches: packed output and h_final (sorted order)",
                     time_inputs(RNN_NAMES, False), time_probe(("mytorch.nn.rnn", "RNN"), False),
                     time_forward_judge("RNN", formulas.rnn_cell))]
RNN_BACKWARD = [Check("RNN over packed batches: gradients of the sequences and the parameters",
                      time_inputs(RNN_NAMES, True), time_probe(("mytorch.nn.rnn", "RNN"), True),
                      rnn_time_backward_judge)]
GRU_UNIT_FORWARD = [Check("GRUUnit forward, with h and with h=None", unit_inputs(GRU_NAMES),
                          unit_forward_probe("mytorch.nn.gru", "GRUUnit"), gru_unit_forward_judge)]
GRU_UNIT_BACKWARD = [Check("GRUUnit backward: gradients of x, h and the twelve parameters", unit_inputs(GRU_NAMES),
                           unit_backward_probe("mytorch.nn.gru", "GRUUnit", GRU_NAMES),
                           unit_backward_judge(GRU_NAMES, formulas.gru_cell_backward,
                                               "compose GRUUnit.forward from differentiable operations "
                                               "(matmul, add, mul, sigmoid, tanh). " + GRU_UNIT_HINT))]
GRU_FORWARD = [Check("GRU over packed batches: packed output and h_final (sorted order)",
                     time_inputs(GRU_NAMES, False), time_probe(("mytorch.nn.gru", "GRU"), False),
                     time_forward_judge("GRU", _gru_step))]
