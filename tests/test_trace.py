"""trace: the step-by-step narration of a backward pass (handout §0.1.5 Steps 1-8)."""
import io

import numpy as np
import pytest

import teaching
from mytorch import Tensor
from mytorch.autograd_engine import AccumulateGrad, BackwardFunction, Function
from mytorch.nn import functional as F
from teaching.tracing import trace
from teaching.examples import handout_graph

HANDOUT_STEPS = """\
Step 1: e.backward() seeds de/de = 1 and passes it to Add#1 (e)
Step 2: Add#1 (e) receives 1 and its Add.backward returns:
          input 0: 1 -> passed to Add#2
          input 1: 1 -> skipped, a constant of shape ()
Step 3: Add#2 receives 1 and its Add.backward returns:
          input 0: 1 -> passed to Add#3 (d)
          input 1: 1 -> passed to c
Step 4: AccumulateGrad of c receives 1: c.grad: None -> 1
Step 5: Add#3 (d) receives 1 and its Add.backward returns:
          input 0: 1 -> passed to Mul#1
          input 1: 1 -> passed to a
Step 6: AccumulateGrad of a receives 1: a.grad: None -> 1
Step 7: Mul#1 receives 1 and its Mul.backward returns:
          input 0: 2 -> passed to a
          input 1: 1 -> skipped, a constant of shape ()
Step 8: AccumulateGrad of a receives 2: a.grad: 1 -> 3"""


def methods():
    return (Tensor.__dict__["backward"], BackwardFunction.__dict__["apply"], AccumulateGrad.__dict__["apply"])


def test_trace_of_the_handout_example_matches_its_steps_line_by_line():
    t = handout_graph()
    out = io.StringIO()
    with trace(names=t, stream=out) as steps:
        t["e"].backward()
    expected = HANDOUT_STEPS.split("\n")
    assert out.getvalue().split("\n")[:-1] == expected
    assert steps.lines == expected
    assert steps.text == HANDOUT_STEPS
    assert t["a"].grad.data == 3 and t["c"].grad.data == 1  # the narration changed nothing


def test_trace_prints_to_stdout_by_default(capsys):
    t = handout_graph()
    with trace(names=t):
        t["e"].backward()
    assert capsys.readouterr().out == HANDOUT_STEPS + "\n"


def test_trace_events_record_the_steps():
    t = handout_graph()
    with trace(names=t, stream=io.StringIO()) as steps:
        t["e"].backward()
    kinds = [event.kind for event in steps.events]
    assert kinds == ["seed", "node", "node", "accumulate", "node", "accumulate", "node", "accumulate"]
    assert [event.step for event in steps.events] == list(range(1, 9))
    first = steps.events[1]
    assert first.node is t["e"].grad_fn and first.label == "Add#1 (e)"
    assert [(k, who, what) for k, who, _, what in first.passed] == [(0, "Add#2", "passed"), (1, None, "constant")]
    mul = steps.events[6]
    assert mul.passed[0][2] == 2.0
    last = steps.events[7]
    assert last.node.variable is t["a"] and last.before == 1.0 and last.after == 3.0
    received = steps.gradients_received()
    assert received[t["d"].grad_fn] == 1.0


def test_trace_names_unnamed_leaves_and_numbers_operations():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.full((3,), 2.0), requires_grad=True)
    with trace(stream=io.StringIO()) as steps:
        (x * w * w).sum().backward()
    text = steps.text
    assert text.startswith("Step 1: backward() on a tensor of shape () seeds its gradient w.r.t. itself, 1, "
                           "and passes it to Sum#1")
    assert "Mul#1 receives [[1, 1, 1], [1, 1, 1]]" in text
    assert "-> passed to Mul#2" in text
    assert "AccumulateGrad of leaf#1 (shape (3,)) receives [4, 4, 4]: leaf#1.grad: None -> [4, 4, 4]" in text
    # w is used twice: the second store accumulates onto the first.
    assert "leaf#1.grad: [4, 4, 4] -> [8, 8, 8]" in text
    assert "AccumulateGrad of leaf#2 (shape (2, 3)) receives [[4, 4, 4], [4, 4, 4]]" in text


def test_trace_abbreviates_big_gradients_on_one_line():
    x = Tensor(np.arange(20.0).reshape(4, 5), requires_grad=True)
    with trace(names={"x": x}, stream=io.StringIO()) as steps:
        (x * 2).backward()
    assert "x.grad: None -> (4, 5) [2, 2, 2, ..., 2]" in steps.text
    assert all("\n" not in line for line in steps.lines)


def test_trace_reports_gradients_an_operation_did_not_compute():
    x = Tensor(np.ones((2, 3)))  # a constant input: linear computes no gradient for it
    w = Tensor(np.ones((4, 3)), requires_grad=True)
    with trace(names={"w": w}, stream=io.StringIO()) as steps:
        F.linear(x, w).backward()
    assert "input 0: None (a constant of shape (2, 3))" in steps.text
    assert "-> passed to w" in steps.text


def test_trace_of_backward_from_a_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with trace(names={"x": x}, stream=io.StringIO()) as steps:
        x.backward()
    assert steps.lines == [
        "Step 1: x.backward() seeds dx/dx = [1, 1] and passes it to the AccumulateGrad of x",
        "Step 2: AccumulateGrad of x receives [1, 1]: x.grad: None -> [1, 1]",
    ]


def test_names_from_locals_skip_private_and_non_tensor_entries():
    a = Tensor(2.0, requires_grad=True)
    _hidden = a  # noqa: F841  (an alias a notebook might hold, e.g. `_`)
    number = 3  # noqa: F841
    with trace(names=locals(), stream=io.StringIO()) as steps:
        (a * a).backward()
    assert steps.lines[-1] == "Step 4: AccumulateGrad of a receives 2: a.grad: 2 -> 4"


# ------------------------------------------- it narrates any engine
def recursive_engine(node, grad):
    """The handout's recursive DFS, as a student might write it: no topological sort."""
    if isinstance(node, AccumulateGrad):
        node.apply(grad)
        return
    for parent, parent_grad in zip(node.next_functions, node.apply(grad)):
        if parent is not None and parent_grad is not None:
            recursive_engine(parent, parent_grad)


def test_trace_narrates_a_students_own_engine():
    t = handout_graph()
    with trace(names=t, stream=io.StringIO()) as steps:
        recursive_engine(t["e"].grad_fn, Tensor(1.0))
    leaf_lines = [line for line in steps.lines if "AccumulateGrad" in line]
    assert leaf_lines == [
        "Step 5: AccumulateGrad of a receives 2: a.grad: None -> 2",
        "Step 6: AccumulateGrad of a receives 1: a.grad: 2 -> 3",
        "Step 7: AccumulateGrad of c receives 1: c.grad: None -> 1",
    ]


# ------------------------------------------- the classes are put back
def test_trace_restores_the_methods_on_exit():
    before = methods()
    with trace(stream=io.StringIO()):
        assert methods() != before
    assert methods() == before


def test_trace_restores_the_methods_after_an_error_in_the_block():
    before = methods()
    with pytest.raises(KeyError):
        with trace(stream=io.StringIO()):
            raise KeyError("boom")
    assert methods() == before
    with trace(stream=io.StringIO()):  # and a new trace can start
        pass


class FailingBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return Tensor(x.data * 1)

    @staticmethod
    def backward(ctx, grad_output):
        raise ArithmeticError("my backward is unfinished")


def test_trace_reports_a_failing_backward_and_restores_the_methods():
    before = methods()
    x = Tensor([1.0], requires_grad=True)
    out = io.StringIO()
    with pytest.raises(ArithmeticError):
        with trace(names={"x": x}, stream=out):
            FailingBackward.apply(x).backward()
    assert methods() == before
    assert out.getvalue().split("\n")[1] == (
        "Step 2: FailingBackward#1 receives [1]; FailingBackward.backward raised "
        "ArithmeticError: my backward is unfinished")


def test_traces_do_not_nest():
    before = methods()
    with trace(stream=io.StringIO()):
        with pytest.raises(RuntimeError, match="already active; traces cannot be nested"):
            with trace(stream=io.StringIO()):
                pass
        inside = methods()
        assert inside != before  # the outer trace is still on
    assert methods() == before


def test_trace_tells_nothing_when_backward_is_refused():
    with trace(stream=io.StringIO()) as steps:
        with pytest.raises(RuntimeError, match="does not require grad"):
            Tensor([1.0]).backward()
    assert steps.lines == [] and steps.events == []


def test_trace_is_exported_by_the_teaching_package(capsys):
    assert teaching.trace is trace and "trace" in teaching.__all__
    t = handout_graph()
    with teaching.trace(names=t):
        t["e"].backward()
    assert capsys.readouterr().out.startswith("Step 1: e.backward() seeds de/de = 1")
