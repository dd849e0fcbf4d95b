"""./create_tarball.sh packs the Autolab submission: the right files, nothing else."""
import subprocess
import tarfile

import pytest

from grader_tools import copy_project


@pytest.fixture
def project(tmp_path):
    """A copy of the project with the clutter a student's folder collects."""
    root = copy_project(tmp_path / "handout")
    for junk in ("mytorch/__pycache__/tensor.cpython-311.pyc", "mytorch/nn/__pycache__/x.pyc",
                 "hw1/stray.pyc", "hw1/train_data.npy", "hw1/.venv/bin/python", "mytorch/.git/HEAD",
                 "autograder/hw1_autograder/data/train_data.npy"):
        path = root / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"junk")
    return root


def _pack(root):
    run = subprocess.run([str(root / "create_tarball.sh")], cwd="/", capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with tarfile.open(root / "handin.tar") as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    return run, names


def _check_contents(names):
    assert "mytorch/tensor.py" in names and "hw1/mnist.py" in names
    assert "mytorch/nn/functional.py" in names and "mytorch/optim/sgd.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".npy"))]
    assert not [n for n in names if ".venv" in n or ".git" in n]
    assert all(n.startswith(("mytorch/", "hw1/")) or n == "validation_accuracy.png" for n in names)


def test_tarball_without_plot_warns_but_packs(project):
    run, names = _pack(project)
    _check_contents(names)
    assert "validation_accuracy.png" not in names
    assert "WARNING: validation_accuracy.png is missing" in run.stderr
    assert "./grade.sh m" in run.stderr
    assert f"Wrote {project}/handin.tar with:" in run.stdout
    assert "  mytorch/tensor.py" in run.stdout.splitlines()


def test_tarball_with_plot(project):
    (project / "validation_accuracy.png").write_bytes(b"\x89PNG fake")
    run, names = _pack(project)
    _check_contents(names)
    assert "validation_accuracy.png" in names
    assert run.stderr == ""
    assert "  validation_accuracy.png" in run.stdout.splitlines()


def test_tarball_replaces_an_old_one(project):
    (project / "handin.tar").write_bytes(b"not a tar")
    _, names = _pack(project)
    _check_contents(names)
