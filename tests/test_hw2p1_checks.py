"""HW2P1's grader checks (autograder/hw2p1_autograder/), run by a small in-process driver.

Until the grader's new harness (issue 19) runs them, this driver plays both
of its processes in one: ``inputs`` and ``judge`` as the parent, ``probe``
as the child, with what crosses between them checked to be plain data
(copied, so the judge never holds a student object). The reference must
pass every check; a mutated component must fail its problem with a message
that names the component and the fix; the student regions left as the kit's
stubs must fail every problem.
"""
import importlib
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from grader_tools import ROOT, make_handout

GRADER = ROOT / "autograder" / "hw2p1_autograder"
HW2 = ROOT / "hw2"
MODULES = ("observe", "reference", "problems", "conv_checks", "scan_checks", "cnn_checks")


def _load_grader():
    """The grader's modules, imported by their own names with its folder on the path, then taken out of
    sys.modules again (the HW1P1 grader has a ``reference`` and a ``problems`` too)."""
    saved = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    sys.path.insert(0, str(GRADER))
    try:
        return types.SimpleNamespace(**{name: importlib.import_module(name) for name in MODULES})
    finally:
        sys.path.remove(str(GRADER))
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


G = _load_grader()
PROBLEMS = G.problems.PROBLEMS


def checks_of(problem):
    return getattr(getattr(G, problem.module), problem.checks_name)


# ---------------------------------------------------------------- the driver
def as_data(value, where="obs"):
    """A copy of ``value`` if it is plain data (what may cross between the grader's processes), else fail."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is np.ndarray:
        assert value.dtype.kind in "biuf", f"{where}: an array of dtype {value.dtype}"
        return value.copy()
    if type(value) is dict:
        assert all(type(k) is str for k in value), f"{where}: a key that is not a str"
        return {k: as_data(v, f"{where}[{k!r}]") for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(as_data(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise AssertionError(f"{where}: a {type(value).__name__} is not plain data")


def hw2_module(name):
    if str(HW2) not in sys.path:
        sys.path.insert(0, str(HW2))
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) != str(HW2 / f"{name}.py"):
        del sys.modules[name]  # hw2/ seen as a namespace package from the project folder
    return importlib.import_module(name)


def student_with(overrides=None):
    """``student(name)`` of the child: the project's module, or the mutant ``overrides`` gives for it."""
    def student(name):
        if overrides and name in overrides:
            return overrides[name]
        if name in ("mlp_scan", "hw2"):
            return hw2_module(name)
        return importlib.import_module(name)
    return student


def run_problem(problem, student, seed=0):
    """[(check name, None or the CheckFailure message)] for every check of ``problem``."""
    results = []
    for check in checks_of(problem):
        rng = np.random.default_rng(seed)
        inp = as_data(check.inputs(rng), "inputs")
        obs = as_data(check.probe(as_data(inp), student), "obs")
        try:
            check.judge(inp, obs)
            results.append((check.name, None))
        except G.observe.CheckFailure as failure:
            results.append((check.name, str(failure)))
    return results


def mutant(module_name, relpath, old, new):
    """The module at ``relpath`` with ``old`` (found exactly once) replaced by ``new``, outside sys.modules."""
    source = (ROOT / relpath).read_text()
    assert source.count(old) == 1, f"mutation: {old!r} found {source.count(old)} times in {relpath}"
    module = types.ModuleType(module_name)
    module.__file__ = str(ROOT / relpath)
    exec(compile(source.replace(old, new), str(ROOT / relpath), "exec"), module.__dict__)
    return module


def stubbed(module_name, relpath):
    """The module as the kit would have it: every solution region replaced by its raising stub."""
    source = (ROOT / relpath).read_text()
    module = types.ModuleType(module_name)
    module.__file__ = str(ROOT / relpath)
    exec(compile(make_handout.stub_source(source, make_handout.find_regions(source, relpath)),
                 str(ROOT / relpath), "exec"), module.__dict__)
    return module


# ---------------------------------------------------------------- the table
def test_the_problem_table_is_the_contracts():
    assert [(p.name, p.points) for p in PROBLEMS] == [
        ("Conv1d forward", 20), ("Conv1d backward", 30), ("Flatten", 10), ("CNN as a simple scanning MLP", 10),
        ("CNN as a distributed scanning MLP", 10), ("CNN", 15)]
    assert G.problems.TOTAL_POINTS == 95
    assert [len(checks_of(p)) for p in PROBLEMS] == [3, 3, 1, 1, 1, 1]


def test_the_parent_side_never_imports_mytorch_or_torch():
    # The parent's modules, inputs for every check and the judges' imports, in a fresh process.
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(GRADER)!r})
        import numpy as np
        import problems
        for p in problems.PROBLEMS:
            for check in p.checks():
                check.inputs(np.random.default_rng(1))
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("mytorch", "torch", "hw2", "mlp_scan"))
        assert not bad, bad
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inputs_are_deterministic_plain_data(seed):
    for problem in PROBLEMS:
        for check in checks_of(problem):
            a, b = (as_data(check.inputs(np.random.default_rng(seed)), "inputs") for _ in range(2))
            assert repr(a) == repr(b)


# ---------------------------------------------------------------- the reference
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.id)
def test_the_reference_passes_every_check(problem, seed):
    assert [r for r in run_problem(problem, student_with(), seed) if r[1]] == []


def test_the_single_layer_case_has_samples_no_window_covers():
    for seed in range(5):
        inp = G.conv_checks.stack_inputs(np.random.default_rng(seed), 1, backward=True)
        (_, _, kernel, stride), width = inp["layers"][0], inp["x"].shape[2]
        assert (width - kernel) % stride != 0


def test_the_reference_formulas_match_torch(torch, rng):
    # The grader's expected values (never from torch at grading time) agree with PyTorch here.
    x, w, b = rng.normal(size=(2, 5, 67)), rng.normal(size=(7, 5, 4)), rng.normal(size=7)
    g = rng.normal(size=(2, 7, 22))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv1d(tx, tw, tb, stride=3)
    out.backward(torch.from_numpy(g))
    np.testing.assert_allclose(G.reference.conv1d(x, w, b, 3), out.detach().numpy(), rtol=1e-10)
    for mine, theirs in zip(G.reference.conv1d_backward(x, w, 3, g), (tx, tw, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- mistakes
CONV, SCAN, CNN = "mytorch/nn/conv.py", "hw2/mlp_scan.py", "hw2/hw2.py"
MISTAKES = {
    "flipped_kernel": ("conv1d_forward", "mytorch.nn.conv", CONV,
                       "filters = weight.data.reshape(out_channels, channels * kernel)",
                       "filters = weight.data[:, :, ::-1].reshape(out_channels, channels * kernel)",
                       ["Conv1d(", "kernel flipped", "cross-correlation"]),
    "bias_left_out": ("conv1d_forward", "mytorch.nn.conv", CONV, "out += bias.data[:, None]", "pass",
                      ["Conv1d(", "lacks the bias"]),
    "stride_ignored_in_backward": ("conv1d_backward", "mytorch.nn.conv", CONV,
                                   "grad_x[:, :, k:k + last + 1:ctx.stride] += grad_columns[:, :, k]",
                                   "grad_x[:, :, k:k + positions] += grad_columns[:, :, k]",
                                   ["x.grad", "Conv1d's backward ignores the stride", "j*s + k", CONV]),
    "weight_grad_without_batch_sum": ("conv1d_backward", "mytorch.nn.conv", CONV,
                                      "grad_weight = np.tensordot(g, ctx.columns, axes=((0, 2), (0, 2)))",
                                      "grad_weight = np.tensordot(g[:1], ctx.columns[:1], axes=((0, 2), (0, 2)))",
                                      ["weight.grad", "Conv1d's backward", "grad_W[o,c,k]"]),
    "flatten_in_fortran_order": ("flatten", "mytorch.nn.conv", CONV, "return x.reshape(x.shape[0], -1)",
                                 "return x.T().reshape(-1, x.shape[0]).T()",
                                 ["Flatten forward", "Fortran order", "x.reshape(N, -1)"]),
    "flatten_outside_the_graph": ("flatten", "mytorch.nn.conv", CONV, "return x.reshape(x.shape[0], -1)",
                                  "return Tensor(x.data.reshape(x.shape[0], -1))",
                                  ["Flatten forward", "does not require grad", "x.reshape"]),
    "scanning_weights_read_channel_major": ("simple_scanning", "mlp_scan", SCAN,
                                            "matrix.reshape(out, -1, channels).transpose(0, 2, 1)",
                                            "matrix.reshape(out, channels, -1)",
                                            ["CNN_SimpleScanningMLP", "channel-major", "time-major", "transpose"]),
    "distributed_weights_outside_the_first_block": (
        "distributed_scanning", "mlp_scan", SCAN,
        "[:conv.out_channel, :conv.in_channel * conv.kernel_size]",
        "[:conv.out_channel, -conv.in_channel * conv.kernel_size:]",
        ["CNN_DistributedScanningMLP", "NaN", "first block"]),
    "cnn_activations_swapped": ("cnn", "hw2", CNN, "Conv1d(24, 56, 5, 1), Tanh(),", "Conv1d(24, 56, 5, 1), ReLU(),",
                                ["cnn.layers", "'Tanh'", "hw2/hw2.py"]),
    "cnn_wrong_stride": ("cnn", "hw2", CNN, "Conv1d(56, 28, 6, 2), ReLU(),", "Conv1d(56, 28, 6, 1), ReLU(),",
                         ["cnn.layers(x)", "raised", "Conv1d(56, 28, 6, 2)"]),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_fails_its_problem_naming_the_component_and_the_fix(name):
    problem_id, module_name, relpath, old, new, words = MISTAKES[name]
    student = student_with({module_name: mutant(module_name, relpath, old, new)})
    problem = G.problems.BY_ID[problem_id]
    failures = [message for _, message in run_problem(problem, student) if message]
    assert failures, f"{name}: {problem.name} still passes"
    for word in words:
        assert word in failures[0], (word, failures[0])


def test_the_kits_stubs_fail_every_problem():
    stubs = {"mytorch.nn.conv": stubbed("mytorch.nn.conv", CONV), "mlp_scan": stubbed("mlp_scan", SCAN),
             "hw2": stubbed("hw2", CNN)}
    for problem in PROBLEMS:
        results = run_problem(problem, student_with(stubs))
        assert all(message for _, message in results), (problem.name, results)
        assert all("NotImplementedError" in message for _, message in results), results


# ---------------------------------------------------------------- untrusted observations
def _paths(value, path=()):
    """Every position in an observation tree (dict keys and list indices), the root's children first."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, child in items:
        found.append(path + (key,))
        found += _paths(child, path + (key,))
    return found


def _replaced(tree, path, junk):
    if not path:
        return junk
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[path[0]] = _replaced(tree[path[0]], path[1:], junk)
    return copy


JUNK = (None, "junk", 3, [], {}, np.zeros(2), np.array(["a"]), {"type": "Tensor", "data": np.zeros((1, 1))})


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.id)
def test_judges_treat_observations_as_untrusted(problem):
    # Any observation replaced by junk gives a CheckFailure (or, where the judge does not read it, a pass),
    # never another exception from the parent.
    pick = np.random.default_rng(7)
    for check in checks_of(problem):
        inp = as_data(check.inputs(np.random.default_rng(0)), "inputs")
        obs = as_data(check.probe(as_data(inp), student_with()), "obs")
        paths = _paths(obs)
        for i in pick.choice(len(paths), size=min(8, len(paths)), replace=False):
            for junk in (JUNK[k] for k in pick.choice(len(JUNK), size=3, replace=False)):
                try:
                    check.judge(inp, _replaced(obs, paths[i], junk))
                except G.observe.CheckFailure:
                    pass
        for junk in JUNK + ({"error": "junk"}, {"error": {"step": 1}}):
            with pytest.raises(G.observe.CheckFailure):
                check.judge(inp, junk)


def test_data_must_be_exactly_an_ndarray():
    observed = {"type": "Tensor", "data_type": "matrix", "data": np.zeros((2, 2))}
    with pytest.raises(G.observe.CheckFailure, match="exactly an np.ndarray .* got a 'matrix'"):
        G.observe.array("out", observed)
    observed = {"type": "Tensor", "data_type": "float64", "data": None}
    with pytest.raises(G.observe.CheckFailure, match="numeric np.ndarray, got a 'float64'"):
        G.observe.array("loss", observed)
    assert G.observe.tensor(np.float64(1.0))["data"] is None   # the child side: only arrays are copied
