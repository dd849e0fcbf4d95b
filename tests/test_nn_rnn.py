"""HW3P1's packed sequences, RNN and GRU against PyTorch (float64 values and gradients)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mytorch import Tensor
from mytorch.nn import util
from mytorch.nn.gru import GRU, GRUUnit
from mytorch.nn.rnn import RNN, RNNUnit, TimeIterator, step_rows
from mytorch.nn.util import PackedSequence, pack_sequence, unpack_sequence
from grader_tools import ROOT, make_handout
from nn_parity import close

RTOL, ATOL = 1e-9, 1e-12

# Lengths of the batches: ties, one sequence, sequences of length 1, already sorted, ascending.
LENGTHS = {"ties": [3, 5, 5, 1, 4, 5, 3], "single": [6], "single-step": [1], "all-ones": [1, 1, 1],
           "sorted": [4, 3, 2], "ascending": [1, 2, 3, 4], "equal": [3, 3]}


def sequences(rng, lengths, features=4):
    arrays = [rng.normal(size=(n, features)) for n in lengths]
    return arrays


def both(torch, arrays):
    return ([Tensor(a.copy(), requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


# ------------------------------------------------------------------ pack / unpack
@pytest.mark.parametrize("case", sorted(LENGTHS))
def test_pack_sequence_matches_torch(torch, rng, case):
    ours, theirs = both(torch, sequences(rng, LENGTHS[case]))
    packed = pack_sequence(ours)
    tpacked = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    close(packed.data, tpacked.data, rtol=0, atol=0)
    assert type(packed.sorted_indices) is np.ndarray and packed.sorted_indices.dtype.kind == "i"
    assert type(packed.batch_sizes) is np.ndarray and packed.batch_sizes.dtype.kind == "i"
    np.testing.assert_array_equal(packed.sorted_indices, tpacked.sorted_indices.numpy())
    np.testing.assert_array_equal(packed.batch_sizes, tpacked.batch_sizes.numpy())
    assert not packed.data.is_leaf
    g = rng.normal(size=packed.data.shape)
    (packed.data * Tensor(g)).sum().backward()
    (tpacked.data * torch.from_numpy(g)).sum().backward()
    for x, tx in zip(ours, theirs):
        close(x.grad, tx.grad, rtol=0, atol=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_pack_then_unpack_match_torch_for_any_lengths(torch, lengths):
    arrays = [np.arange(n * 2, dtype=float).reshape(n, 2) + 100 * i for i, n in enumerate(lengths)]
    packed = pack_sequence([Tensor(a) for a in arrays])
    tpacked = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(a) for a in arrays], enforce_sorted=False)
    close(packed.data, tpacked.data, rtol=0, atol=0)
    np.testing.assert_array_equal(packed.sorted_indices, tpacked.sorted_indices.numpy())
    np.testing.assert_array_equal(packed.batch_sizes, tpacked.batch_sizes.numpy())
    for seq, a in zip(unpack_sequence(packed), arrays):
        close(seq, a, rtol=0, atol=0)


def test_pack_sequence_sorts_ties_stably():
    packed = pack_sequence([Tensor(np.full((n, 1), float(i))) for i, n in enumerate([2, 3, 2, 3, 1])])
    np.testing.assert_array_equal(packed.sorted_indices, [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(packed.batch_sizes, [5, 4, 2])
    np.testing.assert_array_equal(packed.data.data[:, 0], [1, 3, 0, 2, 4, 1, 3, 0, 2, 1, 3])


@pytest.mark.parametrize("case", sorted(LENGTHS))
def test_unpack_sequence_matches_torch_and_inverts_pack(torch, rng, case):
    arrays = sequences(rng, LENGTHS[case])
    data = [Tensor(a) for a in arrays]
    packed = pack_sequence(data)
    leaf = Tensor(packed.data.data.copy(), requires_grad=True)
    tleaf = torch.tensor(packed.data.data.copy(), requires_grad=True)
    ours = unpack_sequence(PackedSequence(leaf, packed.sorted_indices, packed.batch_sizes))
    tpacked = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(a) for a in arrays], enforce_sorted=False)
    theirs = torch.nn.utils.rnn.unpack_sequence(torch.nn.utils.rnn.PackedSequence(
        tleaf, tpacked.batch_sizes, tpacked.sorted_indices, tpacked.unsorted_indices))
    assert len(ours) == len(arrays)
    total, ttotal = 0, 0
    for x, tx, a in zip(ours, theirs, arrays):
        close(x, a, rtol=0, atol=0)
        close(x, tx, rtol=0, atol=0)
        g = rng.normal(size=a.shape)
        total = (x * Tensor(g)).sum() + total
        ttotal = (tx * torch.from_numpy(g)).sum() + ttotal
    total.backward()
    ttotal.backward()
    close(leaf.grad, tleaf.grad, rtol=0, atol=0)


def test_util_is_reachable_from_mytorch_nn_and_keeps_features_axes():
    assert util.pack_sequence is pack_sequence
    packed = pack_sequence([Tensor(np.ones((2, 3, 2))), Tensor(np.zeros((3, 3, 2)))])
    assert packed.data.shape == (5, 3, 2)
    data, sorted_indices, batch_sizes = packed
    assert data is packed.data and list(batch_sizes) == [2, 2, 1]
    assert [s.shape for s in unpack_sequence(packed)] == [(2, 3, 2), (3, 3, 2)]


@pytest.mark.parametrize("bad, error, words", [
    ([], TypeError, "non-empty list"),
    (Tensor(np.ones((2, 3))), TypeError, "got Tensor"),
    ([np.ones((2, 3))], TypeError, "sequences[0] is a ndarray"),
    ([Tensor(np.ones((0, 3)))], ValueError, "at least one time step"),
    ([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], ValueError, "feature axes must match"),
])
def test_pack_sequence_refuses_bad_input(bad, error, words):
    with pytest.raises(error, match="pack_sequence") as info:
        pack_sequence(bad)
    assert words in str(info.value)


def test_unpack_and_packed_sequence_refuse_bad_input():
    with pytest.raises(TypeError, match="unpack_sequence: expected a PackedSequence"):
        unpack_sequence([Tensor(np.ones((2, 2)))])
    with pytest.raises(ValueError, match="batch_sizes add up to 3 rows"):
        PackedSequence(Tensor(np.ones((4, 2))), np.array([0, 1]), np.array([2, 1]))
    with pytest.raises(TypeError, match="batch_sizes must be a 1-D int array"):
        PackedSequence(Tensor(np.ones((3, 2))), np.array([0, 1]), np.array([2.0, 1.0]))


# ------------------------------------------------------------------ torch twins
RNN_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
GATES = ("r", "z", "n")


def rnn_twin(torch, unit, cell):
    """torch's RNNCell (cell=True) or one-layer RNN with ``unit``'s weights."""
    twin = (torch.nn.RNNCell if cell else torch.nn.RNN)(unit.input_size, unit.hidden_size,
                                                         nonlinearity=unit.nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        for name in RNN_NAMES:
            getattr(twin, name if cell else name + "_l0").copy_(torch.from_numpy(getattr(unit, name).data))
    return twin


def gru_twin(torch, unit, cell):
    """torch's GRUCell or one-layer GRU with ``unit``'s weights (torch stacks the gates r, z, n)."""
    twin = (torch.nn.GRUCell if cell else torch.nn.GRU)(unit.input_size, unit.hidden_size, dtype=torch.float64)
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        for kind in ("weight_i", "weight_h", "bias_i", "bias_h"):
            stacked = np.concatenate([getattr(unit, kind + g).data for g in GATES])
            getattr(twin, f"{kind}h{suffix}").copy_(torch.from_numpy(stacked))
    return twin


def rnn_grads(torch, unit, twin, cell):
    suffix = "" if cell else "_l0"
    for name in RNN_NAMES:
        close(getattr(unit, name).grad, getattr(twin, name + suffix).grad, RTOL, ATOL)


def gru_grads(torch, unit, twin, cell):
    suffix = "" if cell else "_l0"
    for kind in ("weight_i", "weight_h", "bias_i", "bias_h"):
        theirs = getattr(twin, f"{kind}h{suffix}").grad.numpy()
        ours = np.concatenate([getattr(unit, kind + g).grad.data for g in GATES])
        close(ours, theirs, RTOL, ATOL)


UNITS = {"rnn": (RNNUnit, rnn_twin, rnn_grads), "rnn-relu": (RNNUnit, rnn_twin, rnn_grads),
         "gru": (GRUUnit, gru_twin, gru_grads)}


def make_unit(kind, n_in, hidden):
    cls = UNITS[kind][0]
    return cls(n_in, hidden, nonlinearity="relu") if kind == "rnn-relu" else cls(n_in, hidden)


@pytest.mark.parametrize("kind", sorted(UNITS))
@pytest.mark.parametrize("with_h", [True, False])
def test_unit_matches_torch_cell(torch, rng, kind, with_h):
    unit = make_unit(kind, 4, 3)
    _, twin_of, grads_of = UNITS[kind]
    twin = twin_of(torch, unit, cell=True)
    (x, h), (tx, th) = both(torch, [rng.normal(size=(5, 4)), rng.normal(size=(5, 3))])
    out = unit(x, h) if with_h else unit(x)
    tout = twin(tx, th) if with_h else twin(tx)
    close(out, tout, RTOL, ATOL)
    g = rng.normal(size=out.shape)
    (out * Tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    close(x.grad, tx.grad, RTOL, ATOL)
    if with_h:
        close(h.grad, th.grad, RTOL, ATOL)
    grads_of(torch, unit, twin, cell=True)


@pytest.mark.parametrize("kind", ["rnn", "rnn-relu", "gru"])
@pytest.mark.parametrize("case", sorted(LENGTHS))
def test_layer_over_a_packed_batch_matches_torch(torch, rng, kind, case):
    layer = (RNN(4, 3, nonlinearity="relu") if kind == "rnn-relu" else RNN(4, 3)) if kind != "gru" else GRU(4, 3)
    _, twin_of, grads_of = UNITS[kind]
    twin = twin_of(torch, layer.unit, cell=False)
    ours, theirs = both(torch, sequences(rng, LENGTHS[case]))
    out, h_final = layer(pack_sequence(ours))
    tout, th_n = twin(torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False))
    close(out.data, tout.data, RTOL, ATOL)
    np.testing.assert_array_equal(out.sorted_indices, tout.sorted_indices.numpy())
    np.testing.assert_array_equal(out.batch_sizes, tout.batch_sizes.numpy())
    assert isinstance(out, PackedSequence) and isinstance(h_final, Tensor)
    # h_final is in sorted order (longest first); torch's h_n (1, B, H) in the original order.
    th_sorted = th_n[0][tout.sorted_indices]
    close(h_final, th_sorted, RTOL, ATOL)
    g_out, g_h = rng.normal(size=out.data.shape), rng.normal(size=h_final.shape)
    ((out.data * Tensor(g_out)).sum() + (h_final * Tensor(g_h)).sum()).backward()
    ((tout.data * torch.from_numpy(g_out)).sum() + (th_sorted * torch.from_numpy(g_h)).sum()).backward()
    for x, tx in zip(ours, theirs):
        close(x.grad, tx.grad, RTOL, ATOL)
    grads_of(torch, layer.unit, twin, cell=False)


def test_initial_hidden_state_is_in_sorted_order(torch, rng):
    layer = GRU(4, 3)
    twin = gru_twin(torch, layer.unit, cell=False)
    arrays = sequences(rng, [2, 4, 3])
    packed = pack_sequence([Tensor(a) for a in arrays])
    h0 = rng.normal(size=(3, 3))
    h = Tensor(h0[packed.sorted_indices].copy(), requires_grad=True)
    out, h_final = layer(packed, h)
    tpacked = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(a) for a in arrays], enforce_sorted=False)
    th0 = torch.tensor(h0, requires_grad=True)
    tout, th_n = twin(tpacked, th0[None])
    close(out.data, tout.data, RTOL, ATOL)
    close(h_final, th_n[0][tpacked.sorted_indices], RTOL, ATOL)
    h_final.sum().backward()
    th_n.sum().backward()
    close(h.grad, th0.grad.numpy()[packed.sorted_indices], RTOL, ATOL)


# ------------------------------------------------------------------ the contract's shape
def test_parameters_have_the_contracts_names_shapes_and_dtype():
    unit = RNNUnit(5, 3)
    assert [(n, t.shape) for n, t in unit.named_parameters()] == [
        ("weight_ih", (3, 5)), ("weight_hh", (3, 3)), ("bias_ih", (3,)), ("bias_hh", (3,))]
    gru = GRUUnit(5, 3)
    names = dict(gru.named_parameters())
    assert set(names) == {f"weight_{s}{g}" for s in "ih" for g in GATES} | {f"bias_{s}{g}" for s in "ih" for g in GATES}
    for name, t in names.items():
        assert t.data.dtype == np.float64 and t.is_parameter
        assert t.shape == ((3,) if name.startswith("bias") else (3, 5) if name[7] == "i" else (3, 3))
    rnn, gru_layer = RNN(5, 3), GRU(5, 3)
    assert isinstance(rnn, TimeIterator) and type(rnn.unit) is RNNUnit
    assert isinstance(gru_layer, TimeIterator) and type(gru_layer.unit) is GRUUnit
    assert [n for n, _ in rnn.named_parameters()] == [f"unit.{n}" for n in RNN_NAMES]


def test_initialisation_draws_from_numpys_global_generator():
    np.random.seed(3)
    a = GRU(4, 2)
    np.random.seed(3)
    b = GRU(4, 2)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert np.all(np.abs(p.data) <= 1 / np.sqrt(2))


def test_layers_read_their_parameters_at_call_time(rng):
    unit = RNNUnit(2, 2)
    x = Tensor(rng.normal(size=(1, 2)))
    unit.weight_ih.data[...] = 0
    unit.bias_ih.data[...] = 0
    unit.bias_hh.data[...] = 0
    close(unit(x), np.zeros((1, 2)), rtol=0, atol=0)


@pytest.mark.parametrize("cls", [RNNUnit, GRUUnit])
def test_units_refuse_bad_shapes(cls):
    unit = cls(3, 2)
    with pytest.raises(ValueError, match=r"expected an input of shape \(batch, 3\), got \(4, 2\)"):
        unit(Tensor(np.ones((4, 2))))
    with pytest.raises(ValueError, match=r"expected a hidden state of shape \(4, 2\)"):
        unit(Tensor(np.ones((4, 3))), Tensor(np.ones((3, 2))))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        unit(np.ones((4, 3)))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        cls(3, 0)


def test_time_iterator_refuses_what_is_not_packed():
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        RNN(2, 2)(Tensor(np.ones((3, 2))))
    packed = pack_sequence([Tensor(np.ones((2, 2)))])
    with pytest.raises(ValueError, match=r"hidden must be a Tensor of shape \(1, 2\)"):
        GRU(2, 2)(packed, Tensor(np.ones((2, 2))))


# ------------------------------------------------------------------ deep graphs, the kit
def test_step_rows_cuts_each_steps_rows_in_order(rng):
    sizes = [7, 7, 5, 5, 5, 2, 1, 1]
    data = Tensor(rng.normal(size=(sum(sizes), 3)), requires_grad=True)
    pieces = step_rows(data, sizes)
    offsets = np.cumsum([0] + sizes)
    assert len(pieces) == len(sizes)
    for t, piece in enumerate(pieces):
        close(piece, data.data[offsets[t]:offsets[t + 1]], rtol=0, atol=0)
    sum(((p * (t + 1)).sum() for t, p in enumerate(pieces)), Tensor(0.0)).backward()
    close(data.grad[:, 0], np.repeat(np.arange(1, len(sizes) + 1), sizes).astype(float), rtol=0, atol=0)


def test_a_gru_over_400_steps_back_propagates(rng):
    # 400 steps x ~20 operations: far deeper than Python's recursion limit.
    layer = GRU(2, 3)
    x = Tensor(rng.normal(size=(400, 2)), requires_grad=True)
    out, h_final = layer(pack_sequence([x]))
    h_final.sum().backward()
    assert x.grad.shape == (400, 2) and np.all(np.isfinite(x.grad.data))


HW3P1_FILES = ("mytorch/nn/util.py", "mytorch/nn/rnn.py", "mytorch/nn/gru.py")


def test_hw3p1_solution_regions_are_well_formed_and_stay_out_of_the_hw1p1_kit():
    tool = make_handout
    owners = set()
    for rel in HW3P1_FILES:
        owners |= {r.owner for r in tool.find_regions((ROOT / rel).read_text(), rel)}
        assert tool._dropped(rel), f"{rel} would ship in the HW1P1 kit"
    assert owners == {"pack_sequence", "unpack_sequence", "RNNUnit.forward", "TimeIterator.forward",
                      "GRUUnit.forward"}
    assert tool._dropped("autograder/hw3p1_autograder/problems.py")
