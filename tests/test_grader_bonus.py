"""The HW1 bonus's grader checks (autograder/hw1b_autograder/), driven in-process until the harness runs them.

Each check is an (inputs, probe, judge) triple. ``grade`` below plays both
sides in one process: inputs and judge (the parent's side) and probe (the
child's) on this project's mytorch, or on a mutated one (monkeypatched). The
reference must pass every check; each mutation must fail exactly the
problems that use the broken component, with a message naming the component
and the fix. The parent's side must never import mytorch or torch.
"""
import importlib
import importlib.util
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader_tools import make_handout
from mytorch.nn import functional as F
from mytorch.nn.batchnorm import BatchNorm1d
from mytorch import Tensor
from mytorch.nn.dropout import Dropout, DropoutFunction
from mytorch.nn.linear import Linear
from mytorch.nn.loss import CrossEntropyLoss
from mytorch.nn.module import Module
from mytorch.optim.adam import Adam

ROOT = Path(__file__).resolve().parents[1]
BONUS = ROOT / "autograder" / "hw1b_autograder"
if str(BONUS) not in sys.path:
    sys.path.append(str(BONUS))  # the check modules import each other by name, as in the grader's folder


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


problems = _load("hw1b_problems", BONUS / "problems.py")  # "problems" is HW1P1's table's name too
checking = importlib.import_module("checking")
ALL = {p.id for p in problems.PROBLEMS}


def grade(seed=0):
    """{problem id: list of failure messages} (an empty list: the problem scores its points)."""
    report = {}
    for problem in problems.PROBLEMS:
        failures = []
        for check in problem.checks():
            inp = check.inputs(np.random.default_rng(seed))
            try:
                obs = check.probe(inp, importlib.import_module)
            except Exception as err:  # the harness reports these with the student's traceback
                failures.append(f"{check.name}: your code raised {type(err).__name__}: {err}")
                continue
            try:
                check.judge(inp, obs)
            except checking.CheckFailure as failure:
                failures.append(f"{check.name}: {failure}")
        report[problem.id] = failures
    return report


def failed(report):
    return {pid for pid, failures in report.items() if failures}


# ------------------------------------------------------------------- the table
def test_the_table_has_the_contracts_problems_and_points():
    points = {p.id: p.points for p in problems.PROBLEMS}
    assert points == {"A.1": 1, "A.2": 4, "D.1": 3, "D.2": 3, "D.3": 4, "B.1": 1, "B.2": 1, "B.3": 2, "B.4": 6}
    assert problems.TOTAL_POINTS == 25
    assert len({p.name for p in problems.PROBLEMS}) == len(problems.PROBLEMS)
    for problem in problems.PROBLEMS:
        assert problem.checks() and all(isinstance(c, checking.Check) for c in problem.checks())


def test_the_regions_the_table_names_are_the_bonus_files_solution_regions():
    # The regions the table names are exactly those of the bonus's files (its kit: make_handout --homework 1b).
    named = {(path, owner) for p in problems.PROBLEMS for path, owners in p.regions.items() for owner in owners}
    found = set()
    for path in ("mytorch/optim/adam.py", "mytorch/nn/dropout.py"):
        regions = make_handout.find_regions((ROOT / path).read_text(encoding="utf-8"), path)
        found |= {(path, r.owner) for r in regions}
    assert found == named == {("mytorch/optim/adam.py", "Adam.step"),
                              ("mytorch/nn/dropout.py", "DropoutFunction.forward"),
                              ("mytorch/nn/dropout.py", "DropoutFunction.backward")}


def test_the_hw1p1_kit_holds_no_bonus_file(tmp_path):
    files, _ = make_handout.make_handout(ROOT, tmp_path / "kit")
    assert not [f for f in files if f.endswith(("adam.py", "dropout.py")) or "hw1b" in f]
    assert "Dropout" not in (tmp_path / "kit" / "mytorch" / "nn" / "__init__.py").read_text()
    assert "Adam" not in (tmp_path / "kit" / "mytorch" / "optim" / "__init__.py").read_text()


# -------------------------------------------------------------- the reference
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_reference_passes_every_check(seed):
    assert grade(seed) == {pid: [] for pid in ALL}


def test_the_parent_side_never_imports_mytorch_or_torch(tmp_path):
    cases = []
    for problem in problems.PROBLEMS:
        for i, check in enumerate(problem.checks()):
            inp = check.inputs(np.random.default_rng(3))
            cases.append((problem.id, i, inp, check.probe(inp, importlib.import_module)))
    data = tmp_path / "cases.pkl"
    data.write_bytes(pickle.dumps(cases))
    script = f"""
import importlib, pickle, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("mytorch", "torch"):
            raise ImportError("the parent must not import " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(BONUS)!r})
import numpy as np
problems = importlib.import_module("problems")
for pid, i, inp, obs in pickle.load(open({str(data)!r}, "rb")):
    check = problems.BY_ID[pid].checks()[i]
    again = check.inputs(np.random.default_rng(3))
    check.judge(again, obs)
print("judged")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    importing = re.compile(r"^\s*(from|import)\s+(my)?torch\b", re.MULTILINE)
    assert not [p.name for p in BONUS.glob("*.py") if importing.search(p.read_text(encoding="utf-8"))]


# ------------------------------------------------------------------ mutations
def _adam_step(bias_correction=True, eps_inside=False):
    def step(self):
        beta1, beta2 = self.betas
        for i, (param, m, v) in enumerate(zip(self.params, self.m, self.v)):
            if param.grad is None:
                continue
            self.steps[i] += 1
            t, g = self.steps[i], param.grad.data
            m[...] = beta1 * m + (1 - beta1) * g
            v[...] = beta2 * v + (1 - beta2) * g * g
            m_hat, v_hat = (m / (1 - beta1 ** t), v / (1 - beta2 ** t)) if bias_correction else (m, v)
            denom = np.sqrt(v_hat + self.eps) if eps_inside else np.sqrt(v_hat) + self.eps
            param.data -= self.lr * m_hat / denom
    return step


def _dropout_forward(scale=True, draws=1, keep_p=False):
    def forward(ctx, x, p):
        keep = p if keep_p else 1 - p
        masks = [np.random.binomial(1, keep, size=x.shape) for _ in range(draws)]
        ctx.scaled_mask = masks[0] / (keep if scale else 1.0)
        return Tensor(x.data * ctx.scaled_mask)
    return staticmethod(forward)


def _dropout_backward_new_mask(ctx, grad_output):
    mask = np.random.binomial(1, 0.5, size=grad_output.shape)
    return (Tensor(grad_output.data * mask * 2.0),)


def _dropout_module_forward_in_eval(self, x):
    return DropoutFunction.apply(x, self.p)  # no eval branch: drops in eval too


def _batchnorm_forward(momentum_reversed=False, biased_running=False):
    original = BatchNorm1d.forward

    def forward(self, x):
        if not self.is_train:
            return original(self, x)
        rm, rv = self.running_mean.data.copy(), self.running_var.data.copy()
        momentum = self.momentum
        out = F.BatchNormFunction.apply(x, self.gamma, self.beta, self.running_mean.data, self.running_var.data,
                                        True, 1 - momentum if momentum_reversed else momentum, self.eps)
        if biased_running:
            self.running_var.data[...] = (1 - momentum) * rv + momentum * x.data.var(axis=0)
            self.running_mean.data[...] = (1 - momentum) * rm + momentum * x.data.mean(axis=0)
        return out
    return forward


def _torch_style_init(self, in_features, out_features, bias=True):
    # The initialisation MyTorch had before the course's contract: PyTorch's bound, np.random.uniform.
    Module.__init__(self)
    self.in_features, self.out_features = in_features, out_features
    bound = 1 / np.sqrt(in_features)
    self.weight = Tensor(np.random.uniform(-bound, bound, (out_features, in_features)), requires_grad=True,
                         is_parameter=True)
    self.bias = Tensor(np.random.uniform(-bound, bound, out_features), requires_grad=True, is_parameter=True)


def _loss_as_numpy_scalar(self, predicted, target):
    out = F.cross_entropy(predicted, target)
    out.data = np.float64(out.data)
    return out


MUTATIONS = {
    "adam without bias correction": (
        (Adam, "step", _adam_step(bias_correction=False)), {"A.1", "A.2", "D.3"},
        ["WITHOUT bias correction", "Adam.step (mytorch/optim/adam.py)"]),
    "adam eps inside the square root": (
        (Adam, "step", _adam_step(eps_inside=True)), {"A.1", "A.2", "D.3"},
        ["add eps AFTER the square root", "Adam.step (mytorch/optim/adam.py)"]),
    "dropout without 1/(1-p)": (
        (DropoutFunction, "forward", _dropout_forward(scale=False)), {"D.1", "D.2", "D.3"},
        ["without the scale: divide by (1 - p)", "Dropout (mytorch/nn/dropout.py)"]),
    "dropout drawing two masks": (
        (DropoutFunction, "forward", _dropout_forward(draws=2)), {"D.1", "D.2", "D.3"},
        ["two np.random draws per training forward", "draw exactly one mask per forward"]),
    "dropout keeping with probability p": (
        (DropoutFunction, "forward", _dropout_forward(keep_p=True)), {"D.1", "D.2", "D.3"},
        ["KEEPS with probability p", "Dropout (mytorch/nn/dropout.py)"]),
    "dropout backward drawing a new mask": (
        (DropoutFunction, "backward", staticmethod(_dropout_backward_new_mask)), {"D.2", "D.3"},
        ["in backward multiply the gradient by the same mask"]),
    "dropout active in eval": (
        (Dropout, "forward", _dropout_module_forward_in_eval), {"D.1", "D.3"},
        ["eval", "in eval mode return the input unchanged and draw nothing"]),
    "batchnorm momentum reversed": (
        (BatchNorm1d, "forward", _batchnorm_forward(momentum_reversed=True)), {"B.1", "B.2", "B.3", "B.4"},
        ["momentum weights the NEW batch", "BatchNorm1d (mytorch/nn/batchnorm.py)"]),
    "batchnorm biased running variance": (
        (BatchNorm1d, "forward", _batchnorm_forward(biased_running=True)), {"B.1", "B.2", "B.3", "B.4"},
        ["running_var matches an update with the biased batch variance"]),
    "linear with pytorch's initialisation": (
        (Linear, "__init__", _torch_style_init), {"D.1", "D.2", "D.3"},
        ["right after building the model", "one np.random.rand(out_features, in_features) call"]),
    "a loss whose .data is an np.float64": (
        (CrossEntropyLoss, "forward", _loss_as_numpy_scalar), {"A.1", "A.2", "D.3", "B.3", "B.4"},
        ["a 0-d array, never an np.float64"]),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_mutation_fails_exactly_its_problems_naming_the_component_and_fix(monkeypatch, mutation):
    (owner, attribute, replacement), expected, phrases = MUTATIONS[mutation]
    monkeypatch.setattr(owner, attribute, replacement)
    report = grade()
    assert failed(report) == expected, {pid: f[:1] for pid, f in report.items() if f}
    for pid in expected:
        message = "\n".join(report[pid])
        for phrase in phrases:
            assert phrase in message, f"{pid}: {phrase!r} not in\n{message}"


def test_a_stub_fails_its_problems_with_its_own_message(monkeypatch):
    def stub(self):
        raise NotImplementedError("Adam.step: your code here")
    monkeypatch.setattr(Adam, "step", stub)
    report = grade()
    assert failed(report) == {"A.1", "A.2", "D.3"}
    assert "your code raised NotImplementedError: Adam.step: your code here" in report["A.1"][0]
