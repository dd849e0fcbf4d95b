"""sandbox.py runs without torch, prints the handout example readably, and catches broken ops."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_sandbox(prelude=""):
    """Run sandbox.py as __main__ in a fresh interpreter with torch made unimportable."""
    code = ("import sys, runpy\n"
            "sys.modules['torch'] = None\n"
            f"{prelude}\n"
            "runpy.run_path('sandbox.py', run_name='__main__')\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_sandbox_prints_the_handout_example_and_passes():
    result = run_sandbox()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in [
        "d = a*b + a = Tensor(3., grad_fn=<Add>)",
        "e = (d + c) + 3 = Tensor(9., grad_fn=<Add>)",
        "BackwardFunction Add  (made e)",
        "BackwardFunction Add  (made d)",
        "BackwardFunction Mul",
        "AccumulateGrad  (stores into a.grad)",
        "AccumulateGrad  (stores into c.grad)",
        "None  (a constant: gets no gradient)",
        "e.grad_fn.next_functions = [<BackwardFunction Add>, None]",
        "a.grad = Tensor(3.)   b.grad = None   c.grad = Tensor(1.)",
        "Step 1: e.backward() seeds de/de = 1 and passes it to Add#1 (e)",
        "Step 4: AccumulateGrad of c receives 1: c.grad: None -> 1",
        "Step 8: AccumulateGrad of a receives 2: a.grad: 1 -> 3",
        "ok        x / (x + 1): autograd gradient == finite differences",
        "bias.grad = Tensor([2., 2., 2.])",
        "=== Your own checks (my_checks) ===",
        "All sandbox checks passed.",
    ]:
        assert line in out, f"missing line: {line!r}"
    assert "MISMATCH" not in out
    assert result.stderr == ""


def test_sandbox_reports_a_broken_operation_and_keeps_going():
    # A Mul whose backward swaps the gradients: the checks must notice.
    prelude = ("import mytorch.nn.functional as F\n"
               "good = F.Mul.backward\n"
               "F.Mul.backward = staticmethod(lambda ctx, g: tuple(reversed(good(ctx, g))))\n")
    result = run_sandbox(prelude)
    assert result.returncode == 1
    assert "MISMATCH  a.grad == 3" in result.stdout
    assert re.search(r"\n\d+ checks? failed: ", result.stdout)
    # Later sections still ran.
    assert "=== Division ===" in result.stdout


def test_sandbox_shows_a_crash_and_keeps_going():
    prelude = ("import mytorch.nn.functional as F\n"
               "def unfinished(ctx, a, b):\n"
               "    raise NotImplementedError('Div.forward: your code here')\n"
               "F.Div.forward = staticmethod(unfinished)\n")
    result = run_sandbox(prelude)
    assert result.returncode == 1
    assert "NotImplementedError: Div.forward: your code here" in result.stderr
    assert "=== Your own checks (my_checks) ===" in result.stdout
    assert "Division" in result.stdout.splitlines()[-1]
