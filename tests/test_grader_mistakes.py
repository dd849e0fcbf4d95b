"""Student mistakes the autograder must catch, each in the problem it belongs to, with a message
that names the problem and where to look (issues 10 and 14); and correct solutions it must accept.

Each case copies the project, makes one student-style edit (to the reference, or to the
handout-style composed solution, grader_tools.COMPOSED), grades the copy, and checks the whole
score dict and what the report says. The audit of the student's operations (audit.py) is checked
here too: a broken elementary operation is named in the report of every Part 2 problem it breaks.
"""
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader_tools import (FULL_SCORES, compose, copy_project, grade, model_solution, mutate, replace_solution,
                          scores_of)

FUNCTIONAL = "mytorch/nn/functional.py"
PART2 = {"2.1 Linear", "2.2 ReLU", "2.3 SGD", "2.4 BatchNorm", "2.5 Cross Entropy", "2.6 Momentum"}
TRAINING = {"2.3 SGD", "2.4 BatchNorm", "2.5 Cross Entropy", "2.6 Momentum"}


def solution_body(key):
    """The model solution's code for ``"path::Owner"`` (tools/model_solution/solution.py)."""
    return model_solution.REGIONS[key]


def edit(relpath, class_name, marker, replace):
    return lambda root: mutate(root, relpath, marker, replace, class_name)


def swap(old, new):
    """Replace ``old`` by ``new`` in the marker line."""
    return lambda line, indent: line.replace(old, new)


def before(code):
    """Put ``code`` (one line) before the marker line."""
    return lambda line, indent: f"{indent}{code}\n{line}"


def solution(relpath, owner, body):
    return lambda root: replace_solution(root, relpath, owner, body)


def composed(*edits, overrides=None):
    """The handout-style solution, then ``edits``."""
    def setup(root):
        compose(root, overrides)
        for e in edits:
            e(root)
    return setup


BIASED_RUNNING_VAR = """
if self.is_train:
    m = x.shape[0]
    mean = x.sum(axis=0) / m
    diff = x - mean
    var = (diff * diff).sum(axis=0) / m
    self.running_mean.data = (1 - self.momentum) * self.running_mean.data + self.momentum * mean.data
    self.running_var.data = (1 - self.momentum) * self.running_var.data + self.momentum * var.data
    x_hat = diff / (var + self.eps) ** 0.5
else:
    x_hat = (x - Tensor(self.running_mean.data)) / (Tensor(self.running_var.data) + self.eps) ** 0.5
return self.gamma * x_hat + self.beta
"""

# Right loss and gradient (the shift cancels), but the caller's logits change.
CROSS_ENTROPY_IN_PLACE = """
n, classes = predicted.shape
predicted.data -= predicted.data.max(axis=1, keepdims=True)
log_sum_exp = predicted.exp().sum(axis=1, keepdims=True).log()
one_hot = Tensor(np.eye(classes)[target.data])
return -((predicted - log_sum_exp) * one_hot).sum() / n
"""

# The line of the reference's Function.apply that links an input's node.
PARENT_LINE = "parents.append(AccumulateGrad(arg) if arg.is_leaf else arg.grad_fn)"


def STORE_LEAF_NODE(line, indent):
    """Function.apply as Appendix A words it: the leaf's AccumulateGrad is created once and
    stored in its grad_fn. Correct, so it must get full marks."""
    return (f"{indent}if arg.is_leaf and arg.grad_fn is None:\n{indent}    arg.grad_fn = AccumulateGrad(arg)\n"
            f"{indent}parents.append(arg.grad_fn)")


ACCUMULATE_ASSIGNS = edit("mytorch/autograd_engine.py", None, "variable.grad.data += grad",
                          swap("variable.grad.data += grad", "variable.grad.data = grad"))
MATMUL_BROKEN = edit(FUNCTIONAL, "MatMul", "grad_a = G @ B.swapaxes(-1, -2)", swap("G @", "-G @"))
MATMUL_SAYS = "MatMul.backward: gradient for input 0 differs from finite differences at"

# A recursive backward() that recurses into a constant's None node.
BACKWARD_INTO_NONE = """
if isinstance(grad_fn, AccumulateGrad):
    grad_fn.apply(grad_of_outputs)
    return
grads = grad_fn.apply(grad_of_outputs)
for parent, grad in zip(grad_fn.next_functions, grads):
    if grad is not None:
        backward(parent, grad)
"""

# A recursive backward() that does not stop at a leaf: it iterates over what AccumulateGrad.apply returns.
DFS_PAST_A_LEAF = """
if grad_fn is None:
    return
grads = grad_fn.apply(grad_of_outputs)
for parent, grad in zip(grad_fn.next_functions, grads):
    backward(parent, grad)
"""

# The model BatchNorm1d with alpha taken for the momentum (0.9 on the batch, 0.1 on the running value).
MOMENTUM_REVERSED = solution_body("mytorch/nn/batchnorm.py::BatchNorm1d.forward").replace(
    "a = 1 - self.momentum", "a = self.momentum").replace(
    "+ self.momentum * mean.data", "+ (1 - self.momentum) * mean.data").replace(
    "+ self.momentum * unbiased", "+ (1 - self.momentum) * unbiased")

# The model cross entropy, averaged over the classes instead of the batch.
CROSS_ENTROPY_OVER_CLASSES = solution_body("mytorch/nn/functional.py::cross_entropy").replace(
    ".sum() / batch", ".sum() / classes")

# The handout's Tensor.backward, word for word (§0.1.5 Step 1).
FAITHFUL_BACKWARD = "autograd_engine.backward(self.grad_fn, Tensor.ones(self.shape))"

# name: (setup(root), problems that lose their points, {problem: texts its report must show})
CASES = {
    # ------------------------------------------------------------ issue 14
    "sub_forward_writes_into_input": (
        edit(FUNCTIONAL, "Sub", "out = a.data - b.data",
             lambda line, indent: f"{indent}a.data -= b.data\n{indent}out = a.data.copy()"),
        {"1.1.1 Subtraction"}, {"1.1.1": ["Sub.forward(ctx, a, b) with a, b of shape", "changed its input"]}),
    "relu_forward_writes_into_input": (
        edit(FUNCTIONAL, "ReLU", "out = np.maximum(a.data, 0)",
             lambda line, indent: f"{indent}np.maximum(a.data, 0, out=a.data)\n{indent}out = a.data.copy()"),
        {"2.2 ReLU"}, {"2.2": ["changed its input z"]}),
    "div_adds_epsilon": (
        edit(FUNCTIONAL, "Div", "out = a.data / b.data", swap("b.data", "(b.data + 1e-8)")),
        {"1.1.3 Division"}, {"1.1.3": ["Div.forward(ctx, a, b)", "wrong values"]}),
    "apply_flags_from_first_input_only": (
        edit("mytorch/autograd_engine.py", None, PARENT_LINE,
             lambda line, indent: f"{line}\n{indent}requires_grad = isinstance(args[0], Tensor) and "
                                  "args[0].requires_grad"),
        {"1.2 Autograd"} | PART2, {"1.2": ["with k a constant (requires_grad=False) FIRST",
                                           "expected requires_grad=True, is_leaf=False"]}),
    "unbroadcast_ignores_size_1_axes": (
        edit(FUNCTIONAL, None, "stretched = tuple(", lambda line, indent: f"{indent}stretched = ()"),
        {"2.1 Linear"}, {"2.1": ["for input 1, whose shape is (1, ", "Add.backward: gradient for input 1 has shape"]}),
    "cross_entropy_ignores_grad_output": (
        edit(FUNCTIONAL, "CrossEntropyFunction", "scale = grad_output.data / ctx.softmax.shape[0]",
             swap("grad_output.data", "1.0")),
        {"2.5 Cross Entropy"}, {"2.5": [").log().backward()", "must multiply by its grad_output"]}),
    # backward() on a leaf no operation has used is not in the handout: a 0-point note, with the
    # hint that no longer calls that leaf a constant.
    "backward_on_a_leaf_crashes": (
        edit("mytorch/tensor.py", None, "node = autograd_engine.AccumulateGrad(self) if self.is_leaf else",
             lambda line, indent: f"{indent}node = self.grad_fn"),
        set(), {"1.2": ["note  (0 points, not in the handout) x.backward() on a leaf no operation has used",
                        "PyTorch stores the gradient of x"]}),
    "handout_faithful_tensor_backward": (
        composed(overrides={("mytorch/tensor.py", "Tensor.backward"): FAITHFUL_BACKWARD}),
        set(), {"1.2": ["note  (0 points, not in the handout) x.backward() on a leaf no operation has used",
                        "got None", "costs no points"]}),
    "handout_faithful_tensor_backward_with_stored_leaf_nodes": (
        composed(edit("mytorch/autograd_engine.py", None, PARENT_LINE, STORE_LEAF_NODE),
                 overrides={("mytorch/tensor.py", "Tensor.backward"): FAITHFUL_BACKWARD}),
        set(), {}),
    # ------------------------------------------------------------ issue 18
    "truediv_passes_numbers_on": (
        composed(overrides={("mytorch/tensor.py", "Tensor.__truediv__"): "return F.Div.apply(self, other)"}),
        {"2.4 BatchNorm", "2.5 Cross Entropy"},
        {"1.1.3": ["note  (0 points, not in the handout) a / 3", "Tensor.__truediv__ (mytorch/tensor.py, line"],
         "2.4": ["Tensor.__truediv__ (mytorch/tensor.py, line", "wrap the number first"],
         "2.5": ["Tensor.__truediv__ (mytorch/tensor.py, line", "wrap the number first",
                 "The error above was raised in your code at mytorch/"]}),
    "dfs_does_not_stop_at_a_leaf": (
        composed(overrides={("mytorch/autograd_engine.py", "backward"): DFS_PAST_A_LEAF}),
        {"1.2 Autograd"} | PART2,
        {"1.2": ["In backward() (mytorch/autograd_engine.py, line", "AccumulateGrad: its apply stores",
                 "if isinstance(grad_fn, AccumulateGrad)"],
         "2.1": ["In backward() (mytorch/autograd_engine.py, line",
                 "The error above was raised in your code at mytorch/autograd_engine.py, line"]}),
    "batchnorm_running_momentum_reversed": (
        composed(overrides={("mytorch/nn/batchnorm.py", "BatchNorm1d.forward"): MOMENTUM_REVERSED}),
        {"2.4 BatchNorm"}, {"2.4": ["running_mean", "the weights are reversed", "alpha is NOT the momentum",
                                    "BatchNorm1d.forward (mytorch/nn/batchnorm.py)"]}),
    "cross_entropy_divided_by_classes": (
        composed(overrides={(FUNCTIONAL, "cross_entropy"): CROSS_ENTROPY_OVER_CLASSES}),
        {"2.5 Cross Entropy"}, {"2.5": ["divided by C = ", "the number of classes", "instead of N = ",
                                        "cross_entropy (mytorch/nn/functional.py)"]}),
    "sub_gradients_swapped": (
        edit(FUNCTIONAL, "Sub", "return Tensor(unbroadcast(g, ctx.a_shape)), Tensor(unbroadcast(-g, ctx.b_shape))",
             swap("return Tensor(unbroadcast(g, ctx.a_shape)), Tensor(unbroadcast(-g, ctx.b_shape))",
                  "return Tensor(unbroadcast(-g, ctx.b_shape)), Tensor(unbroadcast(g, ctx.a_shape))")),
        {"1.1.1 Subtraction"}, {"1.1.1": ["right gradients in swapped order",
                                          "Sub.backward (mytorch/nn/functional.py)"]}),
    "div_gradients_swapped_in_the_model_solution": (
        composed(solution(FUNCTIONAL, "Div.backward",
                          solution_body("mytorch/nn/functional.py::Div.backward").replace(
                              "return Tensor(unbroadcast(grad_a, a.shape)), Tensor(unbroadcast(grad_b, b.shape))",
                              "return Tensor(unbroadcast(grad_b, b.shape)), Tensor(unbroadcast(grad_a, a.shape))"))),
        # The model's BatchNorm and cross entropy divide too: the audit names Div there.
        {"1.1.3 Division", "2.4 BatchNorm", "2.5 Cross Entropy"},
        {"1.1.3": ["right gradients in swapped order", "Div.backward (mytorch/nn/functional.py)"],
         "2.5": ["Div.backward: gradients in swapped order", "class Div"]}),
    "batchnorm_eps_outside_sqrt_in_training": (
        edit(FUNCTIONAL, "BatchNormFunction", "inv_std = 1 / np.sqrt(var + eps)",
             swap("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")),
        {"2.4 BatchNorm"}, {"2.4": ["output in training mode", "wrong values"]}),
    "batchnorm_eps_outside_sqrt_in_eval": (
        edit(FUNCTIONAL, "BatchNormFunction", "inv_std = 1 / np.sqrt(running_var + eps)",
             swap("np.sqrt(running_var + eps)", "(np.sqrt(running_var) + eps)")),
        {"2.4 BatchNorm"}, {"2.4": ["output in eval mode", "wrong values"]}),
    "batchnorm_eps_hard_coded": (
        edit(FUNCTIONAL, "BatchNormFunction", "ctx.training = training", before("eps = 1e-5")),
        {"2.4 BatchNorm"}, {"2.4": ["eps=0.001", "wrong values"]}),
    "cross_entropy_shifts_logits_in_place": (
        composed(overrides={(FUNCTIONAL, "cross_entropy"): CROSS_ENTROPY_IN_PLACE}),
        {"2.5 Cross Entropy"}, {"2.5": ["changed its input logits"]}),
    # ------------------------------------------------------------ issue 10
    "sgd_rebinds_the_parameter": (
        solution("mytorch/optim/sgd.py", "SGD.step", "param = param - self.lr * param.grad"),
        TRAINING, {"2.3": ["unchanged by optimizer.step()", "param.data = param.data - lr * param.grad.data",
                           "mytorch/optim/sgd.py, SGD.step()"]}),
    "sgd_array_minus_tensor": (
        solution("mytorch/optim/sgd.py", "SGD.step", "param.data = param.data - self.lr * param.grad"),
        TRAINING, {"2.3": ["param.grad.data", "mytorch/optim/sgd.py"]}),
    # The velocity rebound to a local name: right at step 1, lost after it.
    "momentum_velocity_not_kept": (
        solution("mytorch/optim/sgd.py", "SGD.step",
                 "velocity = self.momentum * velocity - self.lr * param.grad.data\nparam.data += velocity"),
        {"2.6 Momentum"},
        {"2.6": ["Step 1 was right, so the velocity is not carried over", "self.momentums",
                 "this step equals plain SGD"]}),
    # No momentum term at all: plain SGD, which looks the same from outside as a lost velocity.
    "momentum_ignored": (
        solution("mytorch/optim/sgd.py", "SGD.step", "param.data -= self.lr * param.grad.data"),
        {"2.6 Momentum"},
        {"2.6": ["this step equals plain SGD, W - lr * grad", "v = momentum * v - lr * grad"]}),
    "sgd_tensor_inside_data": (
        solution("mytorch/optim/sgd.py", "SGD.step", "param.data = type(param)(param.data) - self.lr * param.grad"),
        TRAINING, {"2.3": ["whose .data holds a Tensor", "param.grad.data", "mytorch/optim/sgd.py"]}),
    "biased_running_variance": (
        composed(overrides={("mytorch/nn/batchnorm.py", "BatchNorm1d.forward"): BIASED_RUNNING_VAR}),
        {"2.4 BatchNorm"}, {"2.4": ["running_var", "UNBIASED batch variance", "mytorch/nn/batchnorm.py"]}),
    "no_unbroadcast_in_composed_linear": (
        composed(solution(FUNCTIONAL, "unbroadcast", "return grad")),
        PART2, {p: ["Add.backward: gradient for input 1 has shape", "unbroadcast"]
                for p in ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6")}),
    "mul_without_unbroadcast_in_composed_batchnorm": (
        composed(solution(FUNCTIONAL, "Mul.backward", "a, b = ctx.saved_tensors\n"
                          "return Tensor(grad_output.data * b.data), Tensor(grad_output.data * a.data)")),
        {"2.4 BatchNorm"}, {"2.4": ["Mul.backward: gradient for input", "unbroadcast"]}),
    "accumulate_assigns": (
        ACCUMULATE_ASSIGNS,
        {"1.2 Autograd"}, {"1.2": ["AccumulateGrad.apply", "adds into an existing .grad (+=)"]}),
    # With the handout's recursive DFS every path reaches the leaf on its own,
    # so the composed BatchNorm and cross entropy (which reuse intermediate
    # results) lose their leaves' gradients too: an engine bug, and the audit
    # says no operation is wrong.
    "accumulate_assigns_in_recursive_engine": (
        composed(ACCUMULATE_ASSIGNS),
        {"1.2 Autograd", "2.4 BatchNorm", "2.5 Cross Entropy"},
        {"1.2": ["AccumulateGrad.apply", "adds into an existing .grad (+=)"],
         "2.4": ["no operation found wrong", "Function.apply, backward()"]}),
    "backward_recurses_into_a_constant": (
        composed(overrides={("mytorch/autograd_engine.py", "backward"): BACKWARD_INTO_NONE}),
        {"1.2 Autograd"} | PART2,
        {"1.2": ["'NoneType' object has no attribute 'apply'", "must not call .apply on it",
                 "a leaf that requires grad but was never used in an operation"]}),
    # §0.1.4's "store the node on the output tensor", with no condition: a constant's result keeps a
    # node. Handout-faithful, so no points lost; a 0-point note says what PyTorch does.
    "node_stored_on_every_result": (
        edit("mytorch/autograd_engine.py", None, "        if requires_grad:",
             before("output.grad_fn = backward_function")),
        set(), {"1.2": ["PyTorch keeps no node for a result that does not require grad", "costs no points"]}),
    "leaf_nodes_stored_in_grad_fn": (
        composed(edit("mytorch/autograd_engine.py", None, PARENT_LINE, STORE_LEAF_NODE)),
        set(), {}),
    # Only 1.1 done, on the kit's given Function.apply (it runs the forward and
    # returns its result, a constant): the 1.1 problems score, 1.2 does not.
    "only_1_1_done": (
        lambda root: [replace_solution(root, *where, body) for where, body in (
            # Whether the given part ran the forward before this region or not.
            (("mytorch/autograd_engine.py", "Function.apply"),
             "output = output if 'output' in locals() else cls.forward(backward_function.ctx, *args)"),
            (("mytorch/autograd_engine.py", "backward"), 'raise NotImplementedError("backward: your code here")'),
            (("mytorch/tensor.py", "Tensor.backward"), 'raise NotImplementedError("Tensor.backward: your code")'))],
        {"1.2 Autograd"} | PART2, {"1.2": ["expected requires_grad=True, is_leaf=False"]}),
    # ------------------------------------------------------------ the audit
    "audit_names_broken_matmul": (
        composed(MATMUL_BROKEN), PART2, {p: [MATMUL_SAYS, "class MatMul"] for p in ("2.1", "2.4", "2.5")}),
    "audit_names_broken_pow_in_batchnorm": (
        composed(edit(FUNCTIONAL, "Pow", "return (Tensor(grad_output.data * p * base ** (p - 1)),)",
                      swap("p * base ** (p - 1)", "p * base ** p"))),
        {"2.4 BatchNorm"}, {"2.4": ["Pow.backward: gradient for input 0 differs from finite differences"]}),
    "audit_names_broken_exp_in_cross_entropy": (
        composed(edit(FUNCTIONAL, "Exp", "return (Tensor(grad_output.data * ctx.out),)",
                      swap("grad_output.data * ctx.out", "ctx.out"))),
        {"2.5 Cross Entropy"}, {"2.5": ["Exp.backward: gradient for input 0 differs from finite differences"]}),
}


@pytest.fixture(scope="session")
def mistakes(tmp_path_factory):
    """Every case graded, in parallel: name -> CompletedProcess."""
    base = tmp_path_factory.mktemp("mistakes")

    # The edits first, one at a time: CPython 3.11's ast.parse (used to find
    # solution regions) is not safe in several threads at once.
    roots = {}
    for name in CASES:
        try:
            roots[name] = copy_project(base / name)
            CASES[name][0](roots[name])
        except Exception as exc:  # a stale mutation fails its own test only
            roots[name] = exc

    def run(name):
        root = roots[name]
        return root if isinstance(root, Exception) else grade(root, "--jobs", "2")

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run, name) for name in CASES}
        return {name: f.result() for name, f in futures.items()}


def _section(output, problem_id):
    """The report of one problem: from its [PASS]/[FAIL] line to the next problem's."""
    start = output.find(f"] {problem_id} ")
    assert start >= 0, f"no report for problem {problem_id}"
    end = output.find("\n[", start)
    summary = output.find("\n=====", start)
    ends = [e for e in (end, summary) if e >= 0]
    return output[start:min(ends) if ends else len(output)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_mistake_costs_its_own_problem_and_says_where(mistakes, name):
    run = mistakes[name]
    if isinstance(run, Exception):
        raise run
    _, lost, says = CASES[name]
    assert run.returncode == 0 and run.stderr == "", run.stdout[-3000:] + run.stderr[-3000:]
    assert "AUTOGRADER ERROR" not in run.stdout
    expected = {k: (0 if k in lost else v) for k, v in FULL_SCORES.items()}
    assert scores_of(run.stdout) == expected, run.stdout[-8000:]
    for problem, texts in says.items():
        section = _section(run.stdout, problem)
        for text in texts:
            assert text in section, f"{problem} report lacks {text!r}:\n{section[-4000:]}"


def test_the_audit_only_speaks_for_part_2(mistakes):
    # 1.1.x and 1.2 failures are about one operation or the engine already: no audit there.
    assert "Audit of your operations" not in _section(mistakes["div_adds_epsilon"].stdout, "1.1.3")
    assert "Audit of your operations" not in mistakes["leaf_nodes_stored_in_grad_fn"].stdout
    # The optimizer problems get it only when it finds a broken operation.
    out = mistakes["sgd_rebinds_the_parameter"].stdout
    assert "Audit of your operations" not in _section(out, "2.3") + _section(out, "2.6")
    assert "no operation found wrong" in _section(out, "2.4")
    out = mistakes["audit_names_broken_matmul"].stdout
    assert MATMUL_SAYS in _section(out, "2.3") and MATMUL_SAYS in _section(out, "2.6")
