"""The HW3P1 grader's checks (autograder/hw3p1_autograder/), run by a small in-process driver.

Until the per-problem process harness runs them, this driver plays both
sides: ``inputs`` and ``judge`` as the parent, ``probe`` as the child, with
the inputs and observations passed through a pickle round trip as the
harness will pass them between processes. The reference scores 100/100;
each mutation of a component fails the problems that use it, with a message
naming the component and the fix.
"""
import importlib
import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest

from grader_tools import ROOT
from mytorch import tensor as mt_tensor
from mytorch.nn import functional as F
from mytorch.nn import gru as mt_gru
from mytorch.nn import rnn as mt_rnn
from mytorch.nn import util as mt_util

GRADER = ROOT / "autograder" / "hw3p1_autograder"


def _load_grader():
    spec = importlib.util.spec_from_file_location("hw3p1_autograder", GRADER / "__init__.py",
                                                  submodule_search_locations=[str(GRADER)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["hw3p1_autograder"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("hw3p1_autograder.problems"), importlib.import_module("hw3p1_autograder.common")


problems, common = _load_grader()


def _plain(value):
    """True if ``value`` is data a parent and a child can exchange: numbers, str, None, numeric ndarrays, containers."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, (np.integer, np.floating))


def run_problem(problem, seed=0):
    """(points earned, failure messages) of ``problem`` on the mytorch imported here."""
    failures = []
    for check in problem.checks():
        inp = check.inputs(np.random.default_rng(seed))
        assert _plain(inp), f"{check.name}: inputs must be plain data"
        child_inp = pickle.loads(pickle.dumps(inp))
        try:
            obs = check.probe(child_inp, importlib.import_module)
        except Exception as exc:  # the harness reports this with the student's traceback
            failures.append(f"{check.name}: {type(exc).__name__}: {exc}")
            continue
        assert _plain(obs), f"{check.name}: observations must be plain data"
        try:
            check.judge(inp, pickle.loads(pickle.dumps(obs)))
        except common.CheckFailure as failure:
            failures.append(f"{check.name}: {failure}")
    return (0 if failures else problem.points), failures


def grade():
    """{problem id: failure messages} for every failing problem, and the score."""
    failed, score = {}, 0
    for problem in problems.PROBLEMS:
        points, failures = run_problem(problem)
        score += points
        if failures:
            failed[problem.id] = failures
    return score, failed


def test_the_table_is_the_contracts():
    assert [(p.name.split(" ", 1)[1], p.points) for p in problems.PROBLEMS] == [
        ("RNN unit forward", 10), ("RNN unit backward", 5), ("cat forward", 3), ("cat backward", 4),
        ("slicing forward", 2), ("slicing backward", 3), ("unsqueeze", 3), ("pack_sequence forward", 10),
        ("pack_sequence backward", 5), ("unpack_sequence forward", 10), ("unpack_sequence backward", 5),
        ("RNN over time forward", 10), ("RNN over time backward", 10), ("GRU unit forward", 10),
        ("GRU unit backward", 5), ("GRU over time forward", 5)]
    assert all(p.name.startswith(p.id + " ") for p in problems.PROBLEMS)
    assert problems.TOTAL_POINTS == 100
    assert len(problems.BY_ID) == len(problems.PROBLEMS)


def test_the_reference_scores_100():
    score, failed = grade()
    assert failed == {}
    assert score == 100


def test_inputs_are_deterministic_given_the_generator():
    for problem in problems.PROBLEMS:
        for check in problem.checks():
            a = pickle.dumps(check.inputs(np.random.default_rng(5)))
            assert a == pickle.dumps(check.inputs(np.random.default_rng(5))), check.name


def test_the_grader_imports_neither_torch_nor_mytorch():
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('hw3p1_autograder', {str(GRADER / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(GRADER)!r}])\n"
            "package = importlib.util.module_from_spec(spec); sys.modules['hw3p1_autograder'] = package\n"
            "spec.loader.exec_module(package)\n"
            "import hw3p1_autograder.problems as table\n"
            "assert len([c for p in table.PROBLEMS for c in p.checks()]) == 16\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'mytorch')))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# ---------------------------------------------------------------- mutations
def _pack_with_order(sequences, order):
    """The reference's pack_sequence with a given sorted order (to plant a mistake)."""
    lengths = np.array([s.shape[0] for s in sequences])
    batch_sizes = (lengths[None, :] > np.arange(lengths.max())[:, None]).sum(axis=1)
    stacked = mt_tensor.cat([sequences[i] for i in order], dim=0)
    starts = np.concatenate([[0], np.cumsum(lengths[order])[:-1]])
    rows = np.concatenate([starts[:b] + t for t, b in enumerate(batch_sizes)])
    return mt_util.PackedSequence(stacked[rows], order, batch_sizes)


def unstable_pack(sequences):
    lengths = np.array([s.shape[0] for s in sequences])
    # longest first, but ties in reverse order of arrival
    return _pack_with_order(sequences, np.lexsort((-np.arange(len(lengths)), -lengths)))


def sequence_major_pack(sequences):
    packed = unstable_pack(sequences)
    order = np.argsort(-np.array([s.shape[0] for s in sequences]), kind="stable")
    return mt_util.PackedSequence(mt_tensor.cat([sequences[i] for i in order], 0), order, packed.batch_sizes)


def not_written(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"{name}: your code here")
    return stub


def gru_update_swapped(self, x, h=None):
    if h is None:
        h = mt_tensor.Tensor(np.zeros((x.shape[0], self.hidden_size)))
    lin = F.LinearFunction.apply
    r = F.sigmoid(lin(x, self.weight_ir, self.bias_ir) + lin(h, self.weight_hr, self.bias_hr))
    z = F.sigmoid(lin(x, self.weight_iz, self.bias_iz) + lin(h, self.weight_hz, self.bias_hz))
    n = F.tanh(lin(x, self.weight_in, self.bias_in) + r * lin(h, self.weight_hn, self.bias_hn))
    return z * n + (1 - z) * h


def h_final_in_original_order(forward):
    def mutant(self, packed, hidden=None):
        out, h_final = forward(self, packed, hidden)
        return out, h_final[np.argsort(packed.sorted_indices)]
    return mutant


def gru_bias_outside_reset(self, x, h=None):
    if h is None:
        h = mt_tensor.Tensor(np.zeros((x.shape[0], self.hidden_size)))
    lin = F.LinearFunction.apply
    r = F.sigmoid(lin(x, self.weight_ir, self.bias_ir) + lin(h, self.weight_hr, self.bias_hr))
    z = F.sigmoid(lin(x, self.weight_iz, self.bias_iz) + lin(h, self.weight_hz, self.bias_hz))
    n = F.tanh(lin(x, self.weight_in, self.bias_in) + r * (h @ self.weight_hn.T()) + self.bias_hn)
    return (1 - z) * n + z * h


def cat_gradient_not_split(ctx, grad_output):
    # every input gets the first slab of its size, not the one it filled
    g = grad_output.data
    sizes = np.diff(np.concatenate([[0], ctx.bounds, [g.shape[ctx.dim]]]))
    return tuple(mt_tensor.Tensor(np.take(g, np.arange(n), axis=ctx.dim)) for n in sizes)


def unpack_in_sorted_order(unpack):
    def mutant(packed):
        seqs = unpack(packed)
        return [seqs[i] for i in packed.sorted_indices]
    return mutant


def rnn_unit_without_bias_hh(self, x, h=None):
    if h is None:
        h = mt_tensor.Tensor(np.zeros((x.shape[0], self.hidden_size)))
    return F.tanh(F.LinearFunction.apply(x, self.weight_ih, self.bias_ih) + h @ self.weight_hh.T())


def unsqueeze_always_at_axis_0(self, dim=0):
    return F.Unsqueeze.apply(self, 0)


MUTATIONS = {
    # name: (target, attribute, replacement factory, failing problems, words of the first problem's message)
    "sorted_indices not stable on ties": (mt_util, "pack_sequence", lambda old: unstable_pack,
                                          {"2.6", "2.7"}, ["not stably on ties", "stable sort"]),
    "pack data sequence-major": (mt_util, "pack_sequence", lambda old: sequence_major_pack,
                                 {"2.6", "2.7"}, ["sorted sequences one after the other", "time-major"]),
    "pack_sequence not written": (mt_util, "pack_sequence", lambda old: not_written("pack_sequence"),
                                  {"2.6", "2.7"}, ["NotImplementedError: pack_sequence: your code here"]),
    "GRU update gate swapped": (mt_gru.GRUUnit, "forward", lambda old: gru_update_swapped,
                                {"4.1", "4.2", "4.3"}, ["z and 1 - z swapped", "h' = (1 - z) * n + z * h"]),
    "h_final in original order": (mt_rnn.TimeIterator, "forward", h_final_in_original_order,
                                  {"3.1", "3.2", "4.3"}, ["original order", "sorted order (longest first)"]),
    "GRU reset gate after the bias": (mt_gru.GRUUnit, "forward", lambda old: gru_bias_outside_reset,
                                      {"4.1", "4.2", "4.3"}, ["bias_hn outside the reset gate", "b_hn included",
                                                              "GRUUnit.forward"]),
    "cat gradient not split": (F.Cat, "backward", lambda old: staticmethod(cat_gradient_not_split),
                               {"2.2", "2.7", "3.2"}, ["gradient of input 1", "split the output's gradient back"]),
    "unpack in sorted order": (mt_util, "unpack_sequence", unpack_in_sorted_order,
                               {"2.8", "2.9"}, ["sorted order", "original order", "unpack_sequence"]),
    "RNN unit without b_hh": (mt_rnn.RNNUnit, "forward", lambda old: rnn_unit_without_bias_hh,
                              {"1.1", "1.2", "3.1", "3.2"}, ["RNNUnit", "b_hh"]),
    "unsqueeze always at axis 0": (mt_tensor.Tensor, "unsqueeze", lambda old: unsqueeze_always_at_axis_0,
                                   {"2.5"}, ["x.unsqueeze(1) of x with shape (2, 3)", "a new axis of length 1 at dim"]),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_mutated_component_fails_its_problems_with_a_message_naming_it(monkeypatch, name):
    target, attribute, replacement, expected, words = MUTATIONS[name]
    old = target.__dict__[attribute] if isinstance(target, type) else getattr(target, attribute)
    monkeypatch.setattr(target, attribute, replacement(old))
    score, failed = grade()
    assert set(failed) == expected, {k: v[0][:300] for k, v in failed.items()}
    first = failed[sorted(expected)[0]][0]
    for word in words:
        assert word in first, first
    assert score == 100 - sum(problems.BY_ID[p].points for p in expected)


def test_with_every_hw3p1_component_missing_only_slicing_passes(monkeypatch):
    # What a kit scores before any work: slicing is given code (its 5 points are freebies).
    for target, name in ((mt_tensor, "cat"), (mt_tensor.Tensor, "unsqueeze"), (mt_util, "pack_sequence"),
                         (mt_util, "unpack_sequence"), (mt_rnn.RNNUnit, "forward"),
                         (mt_rnn.TimeIterator, "forward"), (mt_gru.GRUUnit, "forward")):
        monkeypatch.setattr(target, name, not_written(name))
    score, failed = grade()
    assert score == 5 and set(problems.BY_ID) - set(failed) == {"2.3", "2.4"}
    assert "NotImplementedError: forward: your code here" in failed["4.1"][0]


@pytest.mark.parametrize("bad_obs, words", [
    ({"results": "nonsense"}, "expected 4 results"),
    ({"results": [{"type": "Tensor", "data_type": "list", "data": None}] * 4}, "plain numeric np.ndarray"),
    ({"results": [{"type": "ndarray"}] * 4}, "expected a Tensor, got a ndarray"),
    ({"results": [{"type": "Tensor", "data_type": "ndarray", "data": np.zeros((1, 1)), "requires_grad": True,
                   "is_leaf": False}] * 4}, "expected shape (7, 3), got shape (1, 1)"),
])
def test_judges_treat_observations_as_untrusted(bad_obs, words):
    check = problems.BY_ID["2.1"].checks()[0]
    with pytest.raises(common.CheckFailure) as info:
        check.judge(check.inputs(np.random.default_rng(0)), bad_obs)
    assert words in str(info.value)


def test_a_result_outside_the_graph_is_named(monkeypatch):
    monkeypatch.setattr(mt_tensor, "cat", lambda seq, dim=0: mt_tensor.Tensor(
        np.concatenate([t.data for t in seq], axis=dim)))
    _, failed = grade()
    assert "must be a non-leaf that requires grad" in failed["2.1"][0]
