"""Checks of HW3P1's packed sequences: pack_sequence and unpack_sequence (mytorch/nn/util.py)."""
import numpy as np

from . import formulas
from .common import (Check, CheckFailure, data_of, expect_array, expect_grad, expect_list, expect_tensor, matches,
                     observe_packed, observe_tensor, packed_input, shape_of)

# Lengths of the batches: ties, a single sequence, sequences of length 1.
BATCHES = ([3, 5, 5, 1, 4, 5, 3], [4], [1, 1, 1], [2, 4, 1, 4], [1])
FEATURES = 3

PACK_HINT = "Look at pack_sequence in mytorch/nn/util.py"
SORT_HINT = ("sorted_indices orders the sequences by length, longest first, and keeps the caller's order among "
             "equal lengths: a stable sort, e.g. np.argsort(-lengths, kind='stable')")
UNPACK_HINT = ("Look at unpack_sequence in mytorch/nn/util.py: it returns the sequences in the original order "
               "(the order given to pack_sequence), sequence sorted_indices[k] from the rows of sorted position k, "
               "row t of position k being packed row sum(batch_sizes[:t]) + k")


def sequences_inputs(rng):
    batches = [{"arrays": [rng.normal(size=(n, FEATURES)) for n in lengths]} for lengths in BATCHES]
    for batch in batches:
        batch["weights"] = rng.normal(size=(sum(len(a) for a in batch["arrays"]), FEATURES))
        batch["seq_weights"] = [rng.normal(size=a.shape) for a in batch["arrays"]]
    return {"batches": batches}


def _batches(inp, obs):
    results = obs.get("results") if isinstance(obs, dict) else None
    if not isinstance(results, list) or len(results) != len(inp["batches"]):
        raise CheckFailure(f"the probe returned {obs!r:.200}; expected one result per batch")
    return zip(inp["batches"], results)


def _lengths(batch):
    return [len(a) for a in batch["arrays"]]


# ---------------------------------------------------------------- pack_sequence
def pack_probe(inp, student, backward=False):
    T, U = student("mytorch.tensor"), student("mytorch.nn.util")
    results = []
    for batch in inp["batches"]:
        seqs = [T.Tensor(a.copy(), requires_grad=True) for a in batch["arrays"]]
        packed = U.pack_sequence(seqs)
        if backward:
            (packed.data * T.Tensor(batch["weights"].copy())).backward()
            results.append([observe_tensor(s) for s in seqs])
        else:
            results.append(observe_packed(packed))
    return {"results": results}


def pack_backward_probe(inp, student):
    return pack_probe(inp, student, backward=True)


def expect_index_field(what, got, expected, hint):
    """An index field (observe_index_array) must be a plain int ndarray equal to ``expected``."""
    if not isinstance(got, dict):
        raise CheckFailure(f"{what}: the packed sequence has no such field ({got}). {hint}")
    if got.get("values") is None:
        raise CheckFailure(f"{what}: expected a plain int np.ndarray, got a {got.get('type')}. {hint}")
    expect_array(what, got["values"], expected, hint, rtol=0, atol=0)


def pack_forward_judge(inp, obs):
    for batch, got in _batches(inp, obs):
        lengths = _lengths(batch)
        where = f"pack_sequence of sequences with lengths {lengths}"
        if not isinstance(got, dict):
            raise CheckFailure(f"{where}: the probe returned {got!r:.200}")
        order = formulas.sorted_order(lengths)
        indices = got.get("sorted_indices")
        values = indices.get("values") if isinstance(indices, dict) else None
        if _sorted_but_not_stably(values, lengths):
            raise CheckFailure(f"{where}: sorted_indices is {values.tolist()}, expected {order.tolist()}: the "
                               f"lengths are sorted, but not stably on ties. {SORT_HINT}")
        expect_index_field(f"{where}: sorted_indices", indices, order, SORT_HINT + f". {PACK_HINT}")
        expect_index_field(f"{where}: batch_sizes", got.get("batch_sizes"), formulas.batch_sizes_of(lengths),
                           "batch_sizes[t] is how many sequences are still running at step t (length > t). "
                           + PACK_HINT)
        expected = formulas.pack(batch["arrays"])
        data = got.get("data")
        if not matches(data_of(data), expected) and \
                matches(data_of(data), np.concatenate([batch["arrays"][i] for i in order])):
            raise CheckFailure(f"{where}: data holds the sorted sequences one after the other; it must be "
                               "time-major: for each step t, row t of every sequence still running, longest "
                               f"first. {PACK_HINT}")
        expect_tensor(f"{where}: data", data, expected,
                      "data is time-major: for step t = 0, 1, ..., row t of each sequence still running, in "
                      "sorted order; build it from differentiable operations (indexing, unsqueeze, cat) so "
                      f"gradients reach the sequences. {PACK_HINT}")


def _sorted_but_not_stably(values, lengths):
    """True if ``values`` orders the sequences longest first but breaks a tie's original order."""
    if values is None or values.shape != (len(lengths),) or sorted(values.tolist()) != list(range(len(lengths))):
        return False
    by_length = [lengths[i] for i in values.tolist()]
    return by_length == sorted(lengths, reverse=True) and not matches(values, formulas.sorted_order(lengths), 0, 0)


def pack_backward_judge(inp, obs):
    for batch, got in _batches(inp, obs):
        lengths = _lengths(batch)
        expect_list(f"pack_sequence of lengths {lengths}: the sequences", got, len(lengths))
        for i, (g, s) in enumerate(zip(formulas.unpack_grad(lengths, batch["weights"]), got)):
            expect_grad(f"pack_sequence of lengths {lengths}: the gradient of sequence {i} (length {lengths[i]})",
                        s, g, "each packed row's gradient goes back to the row of the sequence it came from; "
                              "build data from differentiable operations (indexing, unsqueeze, cat). " + PACK_HINT)


# ---------------------------------------------------------------- unpack_sequence
def unpack_probe(inp, student, backward=False):
    """unpack_sequence of a packed object whose fields are set to the right values (so pack's bugs stay out)."""
    T, U = student("mytorch.tensor"), student("mytorch.nn.util")
    results = []
    for batch in inp["batches"]:
        packed, leaf = packed_input(student, batch)
        outs = U.unpack_sequence(packed)
        if backward:
            shapes = [shape_of(o) for o in outs]
            if shapes != [w.shape for w in batch["seq_weights"]]:  # the judge reports them; no backward to run
                results.append({"shapes": shapes})
                continue
            for out, w in zip(outs, batch["seq_weights"]):
                (out * T.Tensor(w.copy())).backward()
            results.append(observe_tensor(leaf))
        else:
            results.append([observe_tensor(o) for o in outs] if isinstance(outs, (list, tuple))
                           else f"a {type(outs).__name__}")
    return {"results": results}


def unpack_backward_probe(inp, student):
    return unpack_probe(inp, student, backward=True)


def unpack_inputs(rng):
    inp = sequences_inputs(rng)
    for batch in inp["batches"]:
        formulas.add_packed_fields(batch)
    return inp


def unpack_forward_judge(inp, obs):
    for batch, got in _batches(inp, obs):
        lengths = _lengths(batch)
        where = f"unpack_sequence of a packed batch of lengths {lengths}"
        expect_list(where, got, len(lengths), UNPACK_HINT)
        in_sorted = [batch["arrays"][i] for i in batch["sorted_indices"]]
        if len(set(lengths)) > 1 and all(matches(data_of(g), a) for g, a in zip(got, in_sorted)):
            raise CheckFailure(f"{where}: the sequences come back in sorted order (longest first); return them in "
                               f"the original order: the one at sorted position k is sequence sorted_indices[k]. "
                               f"{UNPACK_HINT}")
        for i, (g, a) in enumerate(zip(got, batch["arrays"])):
            expect_tensor(f"{where}: sequence {i}", g, a, UNPACK_HINT)


def unpack_backward_judge(inp, obs):
    for batch, got in _batches(inp, obs):
        lengths = _lengths(batch)
        expected = formulas.pack(batch["seq_weights"])
        if isinstance(got, dict) and "shapes" in got:
            raise CheckFailure(f"unpack_sequence of lengths {lengths}: the sequences have shapes {got['shapes']}, "
                               f"expected {[w.shape for w in batch['seq_weights']]}. {UNPACK_HINT}")
        expect_grad(f"unpack_sequence of lengths {lengths}: the gradient of the packed data", got, expected,
                    "each sequence's gradient must reach the packed rows it was read from: build the sequences "
                    "from differentiable operations on packed.data (indexing, cat). " + UNPACK_HINT)


PACK_FORWARD = [Check("pack_sequence: sorted_indices, batch_sizes, data (ties, one sequence, length 1)",
                      sequences_inputs, pack_probe, pack_forward_judge)]
PACK_BACKWARD = [Check("pack_sequence: the gradient of each sequence", sequences_inputs, pack_backward_probe,
                       pack_backward_judge)]
UNPACK_FORWARD = [Check("unpack_sequence: the sequences in the original order", unpack_inputs, unpack_probe,
                        unpack_forward_judge)]
UNPACK_BACKWARD = [Check("unpack_sequence: the gradient of the packed data", unpack_inputs, unpack_backward_probe,
                         unpack_backward_judge)]
