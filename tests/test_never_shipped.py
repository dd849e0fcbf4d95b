"""One list of what never ships (autograder/hw1_autograder/never_shipped.txt), read by every tool."""
import shutil
import subprocess

import pytest

from grader_tools import ROOT, never_shipped

PATTERNS = never_shipped.NEVER_SHIPPED


def _example(pattern):
    """A file name the pattern matches."""
    return pattern.replace("*", "example")


def test_the_list_holds_the_caches_environments_and_data():
    for pattern in ("__pycache__", "*.pyc", ".git", "venv", ".venv", "*.npy", "*.whl", "*.gz"):
        assert pattern in PATTERNS
    assert not any(p.startswith("#") or not p for p in PATTERNS)


@pytest.mark.parametrize("parts,expected", [
    (("mytorch", "__pycache__", "tensor.cpython-311.pyc"), True),
    (("mytorch", "tensor.py"), False),
    (("autograder", "hw1_autograder", "data", "train_data.npy"), True),
    (("hw1", "mnist.py"), False),
    (("mytorch.egg-info", "PKG-INFO"), True),
])
def test_a_path_is_never_shipped_when_one_part_matches(parts, expected):
    assert never_shipped.never_shipped(parts) is expected


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize("pattern", PATTERNS)
def test_git_ignores_every_pattern(pattern):
    # .gitignore repeats the list (git reads no other file): it must not fall behind.
    # A file inside a folder of that name: matched by file patterns and folder patterns alike.
    path = f"mytorch/{_example(pattern)}/file"
    run = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", path])
    assert run.returncode == 0, f".gitignore does not ignore {path} ({pattern!r} of never_shipped.txt)"
