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
