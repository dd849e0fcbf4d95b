"""Sandbox: try MyTorch operations and autograd by hand (handout §0.3.3).

    python3 sandbox.py

It replays the handout's worked example (§0.1.4-0.1.7), prints the graph that
the forward pass built, then runs a few more operations and checks their
values and gradients against formulas worked out by hand. Each section runs
on its own: if one of your operations is unfinished or wrong, that section
prints its traceback and the others still run. The sections at the bottom,
in my_checks(), are yours.

No PyTorch needed: every expected value here comes from NumPy or from the
chain rule by hand.
"""
import argparse
import os
import sys
import traceback


def _arguments():
    """--help; the sandbox takes no arguments (checked before NumPy is needed)."""
    parser = argparse.ArgumentParser(prog="sandbox.py", description=__doc__.split("\n\n")[0],
                                     epilog="Add your own checks in my_checks() at the bottom of sandbox.py.")
    parser.parse_args()


def _numpy_or_setup():
    """Run with NumPy: this folder's .venv when the Python running us lacks it, else say how to set up."""
    try:
        import numpy  # noqa: F401
        return
    except ImportError:
        pass
    venv = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv")
    for python in (os.path.join(venv, "bin", "python"), os.path.join(venv, "Scripts", "python.exe")):
        if os.path.isfile(python) and os.path.realpath(sys.prefix) != os.path.realpath(venv):
            os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(f"sandbox.py: NumPy is not installed for {sys.executable}; set up first: "
             "python3 -m venv .venv && .venv/bin/python -m pip install -e .")


if __name__ == "__main__":
    _arguments()
    _numpy_or_setup()

import numpy as np  # noqa: E402  (after the set-up check above)

from mytorch.autograd_engine import AccumulateGrad, BackwardFunction  # noqa: E402
from mytorch.tensor import Tensor  # noqa: E402
from teaching import GradcheckError, gradcheck, handout_graph, trace  # noqa: E402

_failures = []


# ----------------------------------------------------------------- helpers
def check(name, got, expected, rtol=1e-7, atol=1e-10):
    """Print whether ``got`` (a Tensor, array or number) matches ``expected``."""
    got_array = got.data if isinstance(got, Tensor) else np.asarray(got)
    expected = np.asarray(expected)
    if got_array.shape == expected.shape and np.allclose(got_array, expected, rtol=rtol, atol=atol):
        print(f"  ok        {name}")
        return True
    print(f"  MISMATCH  {name}: got {got_array!r}, expected {expected!r}")
    _failures.append(name)
    return False


def check_gradient(name, fn, array):
    """Compare autograd's gradients of ``fn`` at ``array`` with finite differences.

    ``fn`` takes a Tensor and returns a Tensor; ``gradcheck`` (in
    teaching/gradcheck.py) nudges each input element up and down and compares
    every resulting change of the output with what your backward computed.
    """
    x = Tensor(np.array(array, dtype=np.float64), requires_grad=True)
    try:
        gradcheck(fn, x)
    except GradcheckError as err:
        print(f"  MISMATCH  {name}: {err}")
        _failures.append(name)
        return False
    print(f"  ok        {name}: autograd gradient == finite differences")
    return True


def node_label(node, names):
    """What kind of graph node this is (handout Appendix A.1), with tensor names from ``names``."""
    if node is None:
        return "None  (a constant: gets no gradient)"
    if isinstance(node, AccumulateGrad):
        owner = next((n for n, t in names.items() if t is node.variable), "a leaf")
        return f"AccumulateGrad  (stores into {owner}.grad)"
    if isinstance(node, BackwardFunction):
        made = next((n for n, t in names.items() if t.grad_fn is node), None)
        return f"BackwardFunction {node.function_name}" + (f"  (made {made})" if made else "")
    return repr(node)


def print_graph(node, names=None, depth=1):
    """Print the graph below ``node``, one parent per line, indented by depth.

    ``names`` maps a name to a Tensor, e.g. {"a": a}, so the nodes can say
    which tensor they belong to.
    """
    names = names or {}
    print("    " * depth + node_label(node, names))
    for parent in getattr(node, "next_functions", None) or []:
        print_graph(parent, names, depth + 1)


def section(title):
    """Decorator: run the function as a titled section; report a crash and go on."""
    def run(fn):
        print(f"\n=== {title} ===")
        try:
            fn()
        except Exception:  # noqa: BLE001 - show the student every failure, then carry on
            traceback.print_exc()
            _failures.append(title)
        return fn
    return run


# ------------------------------------------------------------------ examples
def show_handout_graph():
    # teaching/examples.py builds the handout's example (§0.1.4): leaves a, b, c; results d, e.
    names = handout_graph()
    a, b, c, d, e = (names[k] for k in "abcde")
    print(f"  a = {a}\n  b = {b}\n  c = {c}\n  d = a*b + a = {d}\n  e = (d + c) + 3 = {e}")

    print("  The graph, from e.grad_fn back to the leaves:")
    print_graph(e.grad_fn, names)
    print(f"  e.grad_fn.next_functions = {e.grad_fn.next_functions}")

    e.backward()
    print(f"  after e.backward():  a.grad = {a.grad}   b.grad = {b.grad}   c.grad = {c.grad}")
    check("e == 9", e, 9.0)
    check("a.grad == 3  (1 from '+ a', 2 from 'a * b')", a.grad, 3.0)
    check("b.grad is None  (b does not require grad)", b.grad is None, True)
    check("c.grad == 1", c.grad, 1.0)


def handout_backward_steps():
    names = handout_graph()
    # trace() narrates the backward pass node by node, as the handout's
    # Steps 1-8 do; it works with whatever backward() you wrote.
    with trace(names=names):
        names["e"].backward()
    check("a.grad == 3 after the walk", names["a"].grad, 3.0)


def broadcasting_add():
    x = Tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    bias = Tensor([10., 20., 30.], requires_grad=True)
    y = x + bias                      # (2, 3) + (3,) -> (2, 3), as in NumPy
    print(f"  x + bias =\n{y}")
    y.backward()
    print(f"  bias.grad = {bias.grad}  (shape {bias.grad.shape}: summed over the broadcast rows)")
    check("x + bias", y, np.arange(6.).reshape(2, 3) + [10., 20., 30.])
    check("x.grad is all ones", x.grad, np.ones((2, 3)))
    check("bias.grad sums the 2 rows", bias.grad, [2., 2., 2.])


def matmul():
    x = Tensor([[1., 2.], [3., 4.], [5., 6.]], requires_grad=True)   # (3, 2)
    w = Tensor([[1., 0., -1.], [2., 1., 0.]], requires_grad=True)    # (2, 3)
    y = x @ w
    y.backward()
    print(f"  x @ w =\n{y}\n  x.grad =\n{x.grad}\n  w.grad =\n{w.grad}")
    check("x @ w", y, x.data @ w.data)
    # With a gradient G of ones: dL/dx = G w^T and dL/dw = x^T G.
    check("x.grad == G @ w.T", x.grad, np.ones((3, 3)) @ w.data.T)
    check("w.grad == x.T @ G", w.grad, x.data.T @ np.ones((3, 3)))


def sums():
    x = Tensor(np.arange(6.).reshape(2, 3), requires_grad=True)
    rows = x.sum(axis=1)
    print(f"  x.sum(axis=1) = {rows}   x.sum() = {x.sum()}")
    (rows * Tensor([1., 10.])).backward()
    print(f"  gradient of sum(x.sum(axis=1) * [1, 10]) w.r.t. x =\n{x.grad}")
    check("x.sum(axis=1)", rows, [3., 12.])
    check("x.sum(axis=0, keepdims=True)", x.sum(axis=0, keepdims=True), [[3., 5., 7.]])
    check("each element gets its row's weight", x.grad, [[1., 1., 1.], [10., 10., 10.]])


def division():
    a = Tensor([1., 2., 3.], requires_grad=True)
    b = Tensor([4., 5., 6.], requires_grad=True)
    q = a / b
    q.backward()
    print(f"  a / b = {q}\n  a.grad = {a.grad}\n  b.grad = {b.grad}")
    check("a / b", q, [0.25, 0.4, 0.5])
    check("d(a/b)/da == 1/b", a.grad, 1 / b.data)
    check("d(a/b)/db == -a/b^2", b.grad, -a.data / b.data ** 2)
    check_gradient("x / (x + 1)", lambda x: x / (x + 1.0), [0.5, 1.5, -3.0])


# =============================================================================
# YOUR OWN CHECKS
#
# When you add an operation (handout §0.3.3: "write your own tests for these
# operations in the sandbox"), test it in my_checks() below:
#
#   1. Build small Tensors with requires_grad=True and apply your operation.
#   2. check("what it is", result, expected) compares a value with one you
#      worked out by hand or with NumPy.
#   3. Call .backward() on the result and check each input's .grad against
#      the derivative you worked out on paper.
#   4. check_gradient("name", fn, array) compares autograd with finite
#      differences for any fn(Tensor) -> Tensor: a safety net for step 3.
#
# Keep the inputs tiny (a few numbers) so you can verify them by eye, and
# include the awkward cases: zeros, negative numbers, broadcasting shapes.
# =============================================================================
def my_checks():
    """Your checks go here; this first one shows the pattern."""
    x = Tensor([-1., 0.5, 2.], requires_grad=True)
    y = x * x * x
    y.backward()
    check("x ** 3 by multiplication", y, [-1., 0.125, 8.])
    check("d(x^3)/dx == 3 x^2", x.grad, 3 * x.data ** 2)
    check_gradient("x * x * x", lambda t: t * t * t, [-1., 0.5, 2.])


def main():
    section("Handout example: d = a*b + a, e = (d + c) + 3")(show_handout_graph)
    section("The backward pass of the example, step by step (handout §0.1.5)")(handout_backward_steps)
    section("Division")(division)
    # Part 2: these need what you write from §2.1 on; until then they show where they stop.
    section("Broadcasting add: (2, 3) + (3,) (Part 2: needs unbroadcast, §2.1)")(broadcasting_add)
    section("Matrix multiplication: (3, 2) @ (2, 3) (Part 2: needs your MatMul, §2.1)")(matmul)
    section("Sum over an axis (Part 2: needs your Sum, §2.4)")(sums)
    section("Your own checks (my_checks)")(my_checks)
    if _failures:
        count = f"{len(_failures)} check" + ("" if len(_failures) == 1 else "s")
        print(f"\n{count} failed: " + "; ".join(_failures))
        raise SystemExit(1)
    print("\nAll sandbox checks passed.")


if __name__ == "__main__":
    main()
