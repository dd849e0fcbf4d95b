"""The audit of student operations (autograder/hw1_autograder/audit.py) and the report helpers'
robustness against odd student objects, called directly (the graded runs are in
test_grader_mistakes.py)."""
import sys
import types

import numpy as np
import pytest

from test_grader_reference import _load

from mytorch.autograd_engine import ContextManager, Function
from mytorch.tensor import Tensor

harness = _load("harness")
sys.modules.setdefault("reference", _load("reference"))  # audit.py imports it by this name
sys.modules.setdefault("diagnose", _load("diagnose"))  # and this one
audit = _load("audit")


def _module(**classes):
    """A stand-in for a student's nn/functional.py holding ``classes``."""
    module = types.ModuleType("student_functional")
    for name, cls in classes.items():
        cls.__module__ = module.__name__
        cls.__name__ = cls.__qualname__ = name
        setattr(module, name, cls)
    return module


def _matmul(grad_a_sign=1.0):
    class MatMul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return Tensor(a.data @ b.data)

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            g = grad_output.data
            if a.data.ndim == 1 or b.data.ndim == 1 or a.data.ndim > 2:
                raise ValueError("only matrices")  # a limitation, not a wrong gradient
            return Tensor(grad_a_sign * g @ b.data.T), Tensor(a.data.T @ g)
    return MatMul


def _report(**classes):
    return audit.audit_operations(_module(**classes), Function, Tensor, ContextManager, seed=3)


def test_a_correct_operation_passes_and_an_unknown_signature_is_named():
    class Clip(Function):
        @staticmethod
        def forward(ctx, a, low, high=1.0, mode="x"):
            return Tensor(np.clip(a.data, low, high))

        @staticmethod
        def backward(ctx, grad_output):
            return (grad_output,)

    report = _report(MatMul=_matmul(), Clip=Clip)
    assert report.startswith("no operation found wrong (checked: MatMul)")
    assert "skipped: Clip (arguments not inferred)" in report
    # With nothing found, it says what it could not see (special points) before sending anyone to the engine.
    assert "away from special points (ReLU at exactly 0)" in report and "the failed check's title" in report


def test_a_wrong_gradient_is_named_with_input_element_and_both_values():
    report = _report(MatMul=_matmul(-1.0))
    assert report.startswith(audit.FOUND)
    report = report[len(audit.FOUND):]
    assert report.startswith("MatMul.backward: gradient for input 0 differs from finite differences at (0, 0): "
                             "expected ")
    expected, got = report.split("expected ")[1].split(" (inputs")[0].split(", got ")
    assert float(expected) == pytest.approx(-float(got), rel=1e-3)
    assert "class MatMul" in report


def test_every_broken_operation_is_named_not_only_the_first():
    class Sub(Function):  # no unbroadcast: a (3, 4) gradient for a (4,) input
        @staticmethod
        def forward(ctx, a, b):
            return Tensor(a.data - b.data)

        @staticmethod
        def backward(ctx, grad_output):
            return Tensor(grad_output.data), Tensor(-grad_output.data)

    report = _report(Sub=Sub, MatMul=_matmul(-1.0))
    assert report.startswith(audit.FOUND + "Sub.backward: gradient for input 1 has shape")
    assert "MatMul.backward: gradient for input 0 differs from finite differences" in report
    assert "class Sub" in report and "class MatMul" in report


def test_missing_unbroadcast_and_inplace_forward_are_named():
    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return Tensor(a.data * b.data)

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            return Tensor(grad_output.data * b.data), Tensor(grad_output.data * a.data)

    report = _report(Mul=Mul)[len(audit.FOUND):]
    assert report.startswith("Mul.backward: gradient for input 1 has shape (3, 4), but that input has shape (4,)")
    assert "unbroadcast" in report
    assert "they share unbroadcast" not in report  # one operation: its own backward is the place

    class Add(Function):
        @staticmethod
        def forward(ctx, a, b):
            return Tensor(a.data + b.data)

        @staticmethod
        def backward(ctx, grad_output):
            return Tensor(grad_output.data), Tensor(grad_output.data)

    both = _report(Mul=Mul, Add=Add)
    shared = [line for line in both.splitlines() if "they share unbroadcast(grad, shape)" in line]
    assert len(shared) == 1 and "Add" in shared[0] and "Mul" in shared[0]

    class Sub(Function):
        @staticmethod
        def forward(ctx, a, b):
            a.data -= b.data
            return Tensor(a.data.copy())

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, Tensor(-grad_output.data)

    assert _report(Sub=Sub).startswith(audit.FOUND + "Sub.forward changed its input 0")

    class Add(Function):  # the kit's Add while unbroadcast is still a stub
        @staticmethod
        def forward(ctx, a, b):
            ctx.shapes = a.data.shape, b.data.shape
            return Tensor(a.data + b.data)

        @staticmethod
        def backward(ctx, grad_output):
            if ctx.shapes[0] != ctx.shapes[1]:
                raise NotImplementedError("unbroadcast: your code here")
            return grad_output, grad_output

    assert _report(Add=Add).startswith(audit.FOUND + "Add.backward raised NotImplementedError: unbroadcast: "
                                       "your code here (inputs of shapes (3, 4), (4,))")


def test_odd_operations_never_crash_the_audit():
    class Exits(Function):
        @staticmethod
        def forward(ctx, a):
            sys.exit(3)

    class Weird(Function):
        @staticmethod
        def forward(ctx, a):
            return "not a tensor"

        @staticmethod
        def backward(ctx, grad_output):
            return None

    class Stub(Function):
        @staticmethod
        def forward(ctx, a, b):
            raise NotImplementedError("Stub.forward: your code here")

    report = _report(Exits=Exits, Stub=Stub)
    assert report.startswith("no operation found wrong")  # nothing ran: no verdict, but say so
    assert "forward raised on every input tried: Stub (NotImplementedError)" in report
    assert "skipped: Exits (SystemExit)" in report
    assert _report(Weird=Weird).startswith(audit.FOUND + "Weird.forward returned str")


def test_the_audit_note_stops_at_its_time_budget_and_survives_import_errors():
    class Hangs(Function):
        @staticmethod
        def forward(ctx, a):
            while True:
                pass

    module = _module(Hangs=Hangs)
    engine = types.SimpleNamespace(Function=Function, ContextManager=ContextManager)
    tensor = types.SimpleNamespace(Tensor=Tensor)
    modules = {"mytorch.nn.functional": module, "mytorch.autograd_engine": engine, "mytorch.tensor": tensor}
    found, note = audit.audit_note(modules.__getitem__, budget=0.3)
    assert not found and note.startswith("Audit of your operations") and "stopped after 0.3 s" in note

    def broken_import(name):
        raise SyntaxError("invalid syntax (functional.py, line 3)")
    assert "could not run (SyntaxError: invalid syntax" in audit.audit_note(broken_import, budget=0.3)[1]


def test_describe_never_crashes_on_odd_objects():
    class BadRepr:
        data = None

        def __repr__(self):
            raise AttributeError("'Tensor' object has no attribute 'size'")

    text = harness.describe(BadRepr())
    assert "repr() failed" in text and "has no attribute 'size'" in text
    nested = Tensor(np.ones(2))
    nested.data = Tensor(np.ones(2))  # what p.data = Tensor(p.data) - lr * p.grad leaves behind
    assert "whose .data holds a Tensor (not an np.ndarray)" in harness.describe(nested)
    with pytest.raises(harness.CheckFailure, match=r"param.grad.data"):
        harness.data_of("parameter", nested)


# ------------------------------------------------ diagnose.py: named causes from plain data
diagnose = sys.modules["diagnose"]


def test_swapped_gradients_are_named_and_right_ones_are_not():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert "swapped order" in diagnose.swapped_gradients("Div", [b, a], [a, b])
    assert "Div.backward (mytorch/nn/functional.py)" in diagnose.swapped_gradients("Div", [b, a], [a, b])
    assert diagnose.swapped_gradients("Div", [a, b], [a, b]) is None
    assert diagnose.swapped_gradients("Div", [a, a + 1], [a, b]) is None  # wrong, but not swapped
    assert diagnose.swapped_gradients("Div", [a], [a]) is None


def _ce(logits, labels, divisor):
    top = logits.max(axis=1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels].sum() / divisor


def test_cross_entropy_divided_by_the_classes_is_named():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(4, 7)), rng.integers(0, 7, 4)
    hint = diagnose.cross_entropy_divisor(np.array(_ce(logits, labels, 7)), logits, labels)
    assert "divided by C = 7, the number of classes" in hint and "instead of N = 4" in hint
    assert "not divided by N = 4" in diagnose.cross_entropy_divisor(_ce(logits, labels, 1), logits, labels)
    assert diagnose.cross_entropy_divisor(_ce(logits, labels, 4), logits, labels) is None
    assert diagnose.cross_entropy_divisor(_ce(logits, labels, 4) + 0.1, logits, labels) is None
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    softmax[np.arange(4), labels] -= 1
    assert "divided by C = 7" in diagnose.cross_entropy_grad_divisor(softmax / 7, logits, labels)
    assert diagnose.cross_entropy_grad_divisor(softmax / 4, logits, labels) is None


def test_running_statistics_with_reversed_momentum_are_named():
    rng = np.random.default_rng(2)
    previous, mean = rng.normal(size=5), rng.normal(size=5)
    var, unbiased = rng.uniform(1, 2, 5), rng.uniform(2, 3, 5)
    reversed_mean = 0.1 * previous + 0.9 * mean
    hint = diagnose.running_statistic("running_mean", reversed_mean, previous, mean, var, unbiased)
    assert "the weights are reversed" in hint and "mytorch/nn/batchnorm.py" in hint
    # It tells the student what they wrote (0.1 on the old value), not the right rule.
    assert "is 0.1 * (its old value) + 0.9 * (the batch mean)" in hint
    biased_running = diagnose.running_statistic(
        "running_var", 0.9 * previous + 0.1 * var, previous, mean, var, unbiased)
    assert "running average of the biased batch variance" in biased_running and "eq 7" in biased_running
    assert "biased batch variance" in diagnose.running_statistic(
        "running_var", 0.1 * previous + 0.9 * var, previous, mean, var, unbiased)
    assert "is the batch mean itself" in diagnose.running_statistic(
        "running_mean", mean, previous, mean, var, unbiased)
    assert diagnose.running_statistic("running_mean", 0.9 * previous + 0.1 * mean, previous, mean, var,
                                      unbiased) is None
    assert diagnose.running_statistic("running_mean", previous, previous, mean, var, unbiased) is None


def test_crashes_get_their_cause_and_place():
    operator = [("mytorch/nn/batchnorm.py", 30, "forward"), ("mytorch/tensor.py", 318, "__truediv__"),
                ("mytorch/autograd_engine.py", 200, "apply"), ("mytorch/nn/functional.py", 140, "forward")]
    hint = diagnose.crash("AttributeError", "'int' object has no attribute 'data'", operator)
    assert "Tensor.__truediv__ (mytorch/tensor.py, line 318, in __truediv__)" in hint
    assert "__rtruediv__" in hint
    engine = [("mytorch/tensor.py", 280, "backward"), ("mytorch/autograd_engine.py", 400, "backward")]
    hint = diagnose.crash("TypeError", "'NoneType' object is not iterable", engine)
    assert "In backward() (mytorch/autograd_engine.py, line 400, in backward)" in hint
    assert "AccumulateGrad" in hint
    hint = diagnose.crash("AttributeError", "'NoneType' object has no attribute 'apply'", engine)
    assert "a leaf that requires grad but was never used" in hint and "a constant" in hint
    assert diagnose.crash("TypeError", "'NoneType' object is not iterable", operator) is None
    assert diagnose.crash("ValueError", "shapes (2,3) and (4,5) not aligned", operator) is None
    assert diagnose.crash_site(operator) == "mytorch/nn/functional.py, line 140, in forward"
    assert diagnose.crash_site([]) is None


def test_a_crash_site_replaces_the_generic_advice_when_no_operation_is_wrong():
    F = types.ModuleType("F_empty")
    text = audit.audit_operations(F, Function, Tensor, ContextManager, 0, crash_site="mytorch/tensor.py, line 9, "
                                                                                      "in __mul__")
    assert "raised in your code at mytorch/tensor.py, line 9, in __mul__" in text
    assert "the engine" not in text


def test_unwritten_optional_operations_are_listed_apart_never_as_broken():
    class Neg(Function):  # the kit's stub of an optional operation
        @staticmethod
        def forward(ctx, a):
            raise NotImplementedError("Neg.forward: your code here (optional)")

    class Exp(Function):  # forward written, backward not yet
        @staticmethod
        def forward(ctx, a):
            return Tensor(np.exp(a.data))

        @staticmethod
        def backward(ctx, grad_output):
            raise NotImplementedError("Exp.backward: your code here (optional)")

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            return Tensor(a.data * b.data)

        @staticmethod
        def backward(ctx, grad_output):
            return Tensor(grad_output.data), Tensor(grad_output.data)  # wrong

    report = _report(Neg=Neg, Exp=Exp)
    assert report.startswith("no operation found wrong") and "NotImplementedError" not in report
    assert report.count("not written (optional): Neg, Exp") == 1
    report = _report(Neg=Neg, Mul=Mul)
    assert report.startswith(audit.FOUND + "Mul.backward") and "Neg" not in report.split("\n")[0]
    assert report.rstrip().endswith("not written (optional): Neg")
