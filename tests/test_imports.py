"""Imports work from every entry point, and MyTorch never imports torch.

tensor.py, autograd_engine.py and nn/functional.py import each other, so a
fresh interpreter must be able to start from any of them. Each check runs in
a new subprocess: within this test session everything is already imported.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# After the import, use the names, so a half-initialised module would show.
SMOKE = ("from mytorch.tensor import Tensor; "
         "from mytorch.nn.functional import Add; "
         "from mytorch.autograd_engine import Function, backward; "
         "x = Tensor(2., requires_grad=True); (x * x + 1).backward(); "
         "assert x.grad.data == 4.0 and issubclass(Add, Function)")

ENTRY_POINTS = [
    "import mytorch.nn.functional",
    "import mytorch.autograd_engine",
    "import mytorch.tensor",
    "from mytorch.nn.functional import Add",
    "from mytorch.autograd_engine import Function",
    "from mytorch.tensor import Tensor",
    "import mytorch.nn",
    "import mytorch",
    "from mytorch import Tensor, no_grad, nn",
]


def run_python(code):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("statement", ENTRY_POINTS)
def test_import_from_each_entry_point(statement):
    result = run_python(f"{statement}\n{SMOKE}")
    assert result.returncode == 0, result.stderr


def test_top_level_package_exports():
    result = run_python("import mytorch; print(sorted(mytorch.__all__)); "
                        "print(mytorch.Tensor is __import__('mytorch.tensor').tensor.Tensor)")
    assert result.returncode == 0, result.stderr
    assert "'Tensor'" in result.stdout and "'no_grad'" in result.stdout and "'nn'" in result.stdout
    assert result.stdout.strip().endswith("True")


def _project_modules():
    """Every module of the mytorch and hw1 packages, as dotted names."""
    names = []
    for package in ("mytorch", "hw1"):
        base = ROOT / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_mytorch_runs_with_torch_unavailable():
    # sys.modules[name] = None makes any `import torch` raise ImportError.
    modules = _project_modules()
    code = ("import sys, importlib\n"
            "sys.modules['torch'] = None\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            f"{SMOKE}\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_importing_mytorch_does_not_load_torch():
    modules = _project_modules()
    code = ("import sys, importlib\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


TORCH_IMPORT = re.compile(r"^\s*(import\s+torch\b|from\s+torch\b)", re.MULTILINE)


def test_no_torch_import_in_library_autograder_or_sandbox_source():
    # Catches imports hidden inside functions, which importing alone would not run.
    folders = ("mytorch", "hw1", "autograder", "teaching")
    files = [p for d in folders if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py")]
    files += [p for p in (ROOT / "sandbox.py",) if p.exists()]
    offenders = [str(p.relative_to(ROOT)) for p in files if TORCH_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_library_never_imports_its_teaching_tools():
    # teaching/ uses mytorch, never the other way round: no cycle, and the
    # hand-in (mytorch/, hw1/) works without the teaching package.
    run = run_python("import sys, mytorch, mytorch.nn, mytorch.optim, hw1.mnist; "
                     "print(sorted(m for m in sys.modules if m.split('.')[0] == 'teaching'))")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_every_teaching_tool_imports_first_in_a_fresh_interpreter():
    for module in ("teaching", "teaching.gradcheck", "teaching.tracing", "teaching.viz", "teaching.examples"):
        run = run_python(f"import {module}")
        assert run.returncode == 0, (module, run.stderr)
