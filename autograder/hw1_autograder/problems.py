"""The problems the autograder scores, with the handout's points: the one table.

Each problem names the list of checks (in ``test_autograd.py`` or
``test_mlp.py``) that must all pass for its points, and the solution regions
it grades, with the handout section each region's stub points at. The table
is plain data, so the parent process can read it without importing any checks.

Everything else reads it: the runner and the harness (which checks, how many
points), the starter code's stubs (each names its handout section, from
``handout_sections()``), and the project's tests (the full scores).
To add a problem, add a row here, its check list, and its tests.

Every scored check enforces a sentence of the handout (its section is in the
check's docstring or comment) or the given code's documented contract. A
check list may also hold 0-point notes (``harness.note``): behaviour the
handout leaves open, such as what PyTorch does there; a note is shown when it
has something to say and never costs points.
"""
import importlib


class Problem:
    """One scored problem: ``id`` ("2.4"), ``name`` (the score key), ``points``."""

    def __init__(self, id, name, points, module, checks_name, regions=None):
        self.id = id
        self.name = name
        self.points = points
        self._module = module
        self._checks_name = checks_name
        # {file: {"Class.method", "Class", "function" or "*" (whole file): handout section}}
        self.regions = regions or {}

    def checks(self):
        """The check functions, each taking a ``harness.Context``."""
        return getattr(importlib.import_module(self._module), self._checks_name)


TENSOR, ENGINE, FUNCTIONAL = "mytorch/tensor.py", "mytorch/autograd_engine.py", "mytorch/nn/functional.py"

PROBLEMS = [
    # Given in the starter code: it passes before any work is done, so a
    # student can see the autograder itself runs. Worth nothing.
    Problem("0", "Addition", 0, "test_autograd", "ADDITION"),
    Problem("1.1.1", "1.1.1 Subtraction", 5, "test_autograd", "SUBTRACTION",
            {TENSOR: {"Tensor.__sub__": "§1.1.1 Subtract"}, FUNCTIONAL: {"Sub": "§1.1.1 Subtract"}}),
    Problem("1.1.2", "1.1.2 Multiplication", 5, "test_autograd", "MULTIPLICATION",
            {TENSOR: {"Tensor.__mul__": "§1.1.2 Multiply"}, FUNCTIONAL: {"Mul": "§1.1.2 Multiply"}}),
    Problem("1.1.3", "1.1.3 Division", 5, "test_autograd", "DIVISION",
            {TENSOR: {"Tensor.__truediv__": "§1.1.3 Divide"}, FUNCTIONAL: {"Div": "§1.1.3 Divide"}}),
    Problem("1.2", "1.2 Autograd", 25, "test_autograd", "AUTOGRAD",
            {TENSOR: {"Tensor.backward": "§1.2 Autograd (Step 1 of §0.1.5)"},
             ENGINE: {"Function.apply": "§1.2 Autograd and Appendix A",
                      "backward": "§1.2 Autograd (§0.1.5-§0.1.6)"}}),
    Problem("2.1", "2.1 Linear", 5, "test_mlp", "LINEAR",
            {FUNCTIONAL: {"unbroadcast": "§2.1 Linear Layer (Add, and your Sub/Mul/Div, must support "
                                         "different shapes)",
                          # "This will require implementing matrix operation(s)": x @ W.T() calls it.
                          "MatMul": "§2.1 Linear Layer (x W^T is a matrix product: Tensor.__matmul__ "
                                    "calls MatMul)"},
             "mytorch/nn/sequential.py": {"*": "§2.1 Linear Layer (Sequential)"},
             "mytorch/nn/linear.py": {"*": "§2.1 Linear Layer"}}),
    Problem("2.2", "2.2 ReLU", 10, "test_mlp", "RELU",
            {FUNCTIONAL: {"ReLU": "§2.2 ReLU"}, "mytorch/nn/activations.py": {"ReLU": "§2.2 ReLU"}}),
    # SGD.step is one region for both 2.3 and 2.6 (momentum); it is listed once, here.
    Problem("2.3", "2.3 SGD", 10, "test_mlp", "SGD",
            {"mytorch/optim/sgd.py": {"SGD.step": "§2.3 SGD / §2.6 Momentum"}}),
    Problem("2.4", "2.4 BatchNorm", 10, "test_mlp", "BATCHNORM",
            {"mytorch/nn/batchnorm.py": {"*": "§2.4 Batch Normalization and Appendix C"}}),
    Problem("2.5", "2.5 Cross Entropy", 15, "test_mlp", "CROSS_ENTROPY",
            {FUNCTIONAL: {"cross_entropy": "§2.5 Cross Entropy Loss and Appendix B"}}),
    Problem("2.6", "2.6 Momentum", 10, "test_mlp", "MOMENTUM"),
]
BY_ID = {p.id: p for p in PROBLEMS}

# Problem 3 (MNIST) is graded by hand from validation_accuracy.png.
MNIST_POINTS = 10
TOTAL_POINTS = sum(p.points for p in PROBLEMS) + MNIST_POINTS  # 110

# Problem 3's regions: graded by hand, so in no row above.
MNIST_REGIONS = {
    "hw1/mnist.py": {
        "mnist": "§3.1 Initialize Objects",
        "train": "§3.2 train()",
        "validate": "§3.3 validate()",
    },
}

# Elementary operations the handout leaves to the student's choice ("you will
# need to implement your OWN operations/functions if you need them"): graded
# through the problems that use them; each points at the section that first
# needs it, and its stub says it is optional.
OPTIONAL_OPERATIONS = {
    FUNCTIONAL: {
        "Sum": "§2.4 Batch Normalization (sums, eqs. 3-4)",
        "Pow": "§2.4 Batch Normalization (** 0.5, eq. 5)",
        "Exp": "§2.5 Cross Entropy Loss (exp, Appendix B.1)",
        "Neg": "§2.5 Cross Entropy Loss (-x)",
    },
}


# What each check enforces, by the check function's name: the handout's section, or the given
# code's documented contract. A 0-point note (harness.note) says what it tells instead, since the
# handout does not ask for it. Part 1.1's three operations share their checks' names.
CHECK_BASIS = {
    # given code
    "check_add_direct": "given code: Add (§0.2.1), forward(ctx, ...) / backward returning one gradient per input",
    # 1.1 (Sub, Mul, Div)
    "direct": "§1.1.1-§1.1.3: the operation's forward and backward, in the given Add's form (§0.2.1); the "
              "ContextManager rule that forward returns a new Tensor (given autograd_engine.py)",
    "direct_0d": "§1.1.x on 0-d tensors, as in the handout's own example (§0.1.4: torch.tensor(1.))",
    "operator": "§1.1.1: Tensor.__sub__ (and __mul__, __truediv__) for tensor_a - tensor_b; number first "
                "through the given __r*__",
    "number": "0-point note: tensor <op> number, which PyTorch accepts and the handout does not ask for "
              "(its Part 2 code, the student's own, often needs it)",
    # 1.2
    "check_handout_example": "§0.1.4-§0.1.7 (the worked example) and Appendix A.1 (node types, next_functions)",
    "check_graph_of_operations": "Appendix A.1 (AccumulateGrad parents of leaves that require grad), §0.1.5",
    "check_constant_operands": "Appendix A.1 ('if any of a node's parents requires_grad, this node will "
                               "also'), §0.1.5 (constants get no gradient)",
    "check_constants": "Appendix A.1 ('if all parents aren't gradient enabled, a child would have "
                       "requires_grad=False and is_leaf=True')",
    "check_backward_on_leaf": "0-point note: backward() on a leaf no operation has used (PyTorch stores ones; "
                              "the handout's Tensor.backward hands grad_fn None to the DFS)",
    "check_reused_leaf": "§0.1.6 (gradients of every path add up)",
    "check_shared_intermediate": "§0.1.6 (generalized chain rule through an intermediate result)",
    "check_same_tensor_twice": "§0.1.6, §0.1.5 Step 8 (+=)",
    "check_chains": "§0.1.5 (the DFS) and §0.1.6 on long chains",
    "check_accumulation": "§0.1.5 Step 8 (+= across backward calls); given AccumulateGrad (its own memory)",
    # 2.1
    "check_add_broadcast": "§2.1 ('modify Add to support tensors with different shapes', as torch broadcasts)",
    "check_linear_layer": "§2.1 Linear(x) = x W^T + b; Appendix A.2 (parameters)",
    "check_linear_sequential": "§2.1 Sequential.forward; given Module.parameters()",
    # 2.2
    "check_relu_function": "§2.2 ReLU and ReLU' (0 at z = 0); Appendix A.1 for a constant input",
    "check_relu_layer": "§2.2 (activations.ReLU.forward calls functional.ReLU)",
    "check_relu_mlp": "§2.1-§2.2 together",
    # 2.3
    "check_sgd_by_hand": "§2.3 W = W - lr grad, 'does NOT add to the computational graph'",
    "check_sgd_zero_grad": "given Optimizer.zero_grad(); §3.2 pseudocode",
    "check_sgd_training": "§2.3 in the training routine of §0.1.2",
    # 2.4
    "check_batchnorm_init": "given BatchNorm1d.__init__ (gamma 1, beta 0, running mean 0, variance 1); App. C",
    "check_batchnorm_train_forward": "§2.4 eqs 3-9 (biased variance normalises, unbiased one runs; eps given)",
    "check_batchnorm_eval_forward": "§2.4 ('running averages used during inference in place of u_B and s_B^2')",
    "check_batchnorm_gradients": "§2.4 through autograd (§1.2)",
    "check_batchnorm_training": "§2.4 with §2.3",
    # 2.5
    "check_cross_entropy_function": "§2.5, Appendix B (LogSoftmax, NLLLoss averaged over N) and B.2",
    "check_cross_entropy_loss": "§2.5 (the given nn.loss.CrossEntropyLoss calls cross_entropy)",
    "check_cross_entropy_stable": "Appendix B.1 (LogSumExp trick)",
    "check_cross_entropy_training": "§2.5 with §2.3",
    # 2.6
    "check_momentum_by_hand": "§2.6 momentum equations, self.momentums",
    "check_momentum_training": "§2.6 with §2.3",
}


def handout_sections():
    """{file: {owner: handout section}} of every solution region: the problems', Problem 3's, the optional ones."""
    table = {}
    for regions in [p.regions for p in PROBLEMS] + [MNIST_REGIONS, OPTIONAL_OPERATIONS]:
        for path, owners in regions.items():
            for owner, section in owners.items():
                if owner in table.get(path, {}):
                    raise ValueError(f"problems.py: {path} {owner} is listed twice; give each region one section")
                table.setdefault(path, {})[owner] = section
    return table
