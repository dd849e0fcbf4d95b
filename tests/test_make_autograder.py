"""tools/make_autograder.py: both platform packages, and grading with them as the servers do.

The packages are built once per module. Each grading runs in a temporary
folder laid out like the platform: Autolab's (handin.tar, autograde.tar and
the Makefile side by side, then `make`) and Gradescope's (ROOT/source holds
the unzipped package, ROOT/run_autograder, ROOT/submission, ROOT/results).
"""
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader_tools import FULL_SCORES, copy_project

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "make_autograder.py"
FULL = FULL_SCORES
ZERO = {name: 0 for name in FULL}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

# Gradescope's autograder specification: the fields results.json may hold.
TOP_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format",
              "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output",
               "output_format", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("packages")
    run = subprocess.run([sys.executable, str(TOOL), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def _pack(folder):
    run = subprocess.run([str(folder / "create_tarball.sh")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return folder / "handin.tar"


@pytest.fixture(scope="module")
def reference_tar(tmp_path_factory):
    """handin.tar of the reference, with a plot, made by the project's own create_tarball.sh."""
    folder = tmp_path_factory.mktemp("reference")
    copy_project(folder)
    (folder / "validation_accuracy.png").write_bytes(PNG)
    return _pack(folder)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """The generated starter kit (tools/make_handout.py)."""
    folder = tmp_path_factory.mktemp("kit") / "handout"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "make_handout.py"), str(folder),
                          "--allow-uncommitted"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return folder


@pytest.fixture(scope="module")
def kit_tar(kit):
    return _pack(kit)


# ------------------------------------------------------------------- helpers
def autolab(packages, handin, where):
    """Grade ``handin`` as Autolab does; (completed process, the scores of its last line)."""
    where.mkdir()
    shutil.copy(packages / "autograde.tar", where / "autograde.tar")
    shutil.copy(packages / "autograde-Makefile", where / "Makefile")
    shutil.copy(handin, where / "handin.tar")
    scratch = where / "tmp"
    scratch.mkdir()
    run = subprocess.run(["make", "-s", f"PYTHON={sys.executable}"], cwd=where, capture_output=True, text=True,
                         env=dict(os.environ, TMPDIR=str(scratch)))
    last = run.stdout.splitlines()[-1]
    return run, json.loads(last)["scores"]


def gradescope(packages, where, fill):
    """Grade as Gradescope does; ``fill(submission_folder)`` puts the student's upload in place."""
    for name in ("source", "submission", "results", "tmp"):
        (where / name).mkdir(parents=True)
    with zipfile.ZipFile(packages / "autograder.zip") as archive:
        archive.extractall(where / "source")
    for info in zipfile.ZipFile(packages / "autograder.zip").infolist():
        mode = info.external_attr >> 16
        if mode:
            os.chmod(where / "source" / info.filename, stat.S_IMODE(mode))
    shutil.copy2(where / "source" / "run_autograder", where / "run_autograder")
    fill(where / "submission")
    env = dict(os.environ, HW1_AUTOGRADER_ROOT=str(where), PYTHON=sys.executable, TMPDIR=str(where / "tmp"))
    run = subprocess.run([str(where / "run_autograder")], cwd="/", capture_output=True, text=True, env=env)
    results = json.loads((where / "results" / "results.json").read_text())
    return run, results


def check_spec(results):
    """results.json field by field against Gradescope's specification."""
    assert set(results) <= TOP_FIELDS
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert isinstance(results["tests"], list) and results["tests"]
    for test in results["tests"]:
        assert set(test) <= TEST_FIELDS, test
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert isinstance(test["output"], str) and test["output"]
        assert test["visibility"] in VISIBILITIES
        assert test["status"] in ("passed", "failed")
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == 100


def scores_of(results):
    return {t["name"]: t["score"] for t in results["tests"] if not t["name"].startswith("3 MNIST")}


def plot_test(results):
    [test] = [t for t in results["tests"] if t["name"].startswith("3 MNIST")]
    return test


def untar_into(handin):
    return lambda submission: shutil.copy(handin, submission / "handin.tar")


def make_tar(path, members):
    """A tar at ``path`` from (TarInfo fields, data) pairs."""
    with tarfile.open(path, "w") as tar:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for key, value in fields.items():
                setattr(info, key, value)
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _files_outside(root, allowed):
    """Files under ``root`` whose names start with 'evil' (what the bad archives try to write)."""
    return [p for p in root.rglob("evil*") if p not in allowed]


# --------------------------------------------------------------- the packages
def test_packages_hold_the_grader_and_no_solution(packages):
    with tarfile.open(packages / "autograde.tar") as tar:
        tar_names = sorted(m.name for m in tar.getmembers())
        texts = [tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()]
    with zipfile.ZipFile(packages / "autograder.zip") as archive:
        zip_names = sorted(archive.namelist())
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
        requirements = archive.read("requirements.txt").decode()
        setup = archive.read("setup.sh").decode()
    for name in ("runner.py", "harness.py", "problems.py", "submission.py", "grade_submission.py",
                 "test_autograd.py", "test_mlp.py", "reference.py"):
        assert f"autograder/hw1_autograder/{name}" in tar_names
    assert all(n.startswith("autograder/hw1_autograder/") for n in tar_names)
    assert not [n for n in tar_names if n.endswith((".pyc", ".npy")) or "__pycache__" in n]
    assert not any("# BEGIN SOLUTION" in text or "import torch" in text for text in texts)
    assert zip_names == sorted(tar_names + ["setup.sh", "run_autograder", "requirements.txt"])
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert requirements == "numpy==2.2.6\nmatplotlib==3.10.9\n"
    assert "torch" not in setup and "requirements.txt" in setup
    makefile = (packages / "autograde-Makefile").read_text()
    assert "tar -xf autograde.tar" in makefile and "grade_submission.py autolab handin.tar" in makefile


def test_scripts_are_valid_bash(packages, tmp_path):
    with zipfile.ZipFile(packages / "autograder.zip") as archive:
        archive.extractall(tmp_path)
    for name in ("setup.sh", "run_autograder"):
        run = subprocess.run(["bash", "-n", str(tmp_path / name)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_refuses_to_overwrite_without_force(packages):
    run = subprocess.run([sys.executable, str(TOOL), str(packages)], capture_output=True, text=True)
    assert run.returncode == 2 and "use --force to overwrite" in run.stderr
    run = subprocess.run([sys.executable, str(TOOL), str(packages), "--force"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_refuses_to_ship_a_solution_region(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_autograder
    finally:
        sys.path.remove(str(ROOT / "tools"))
    grader = tmp_path / "autograder" / "hw1_autograder"
    grader.mkdir(parents=True)
    (grader / "runner.py").write_text("x = 1\n")
    assert make_autograder.grader_files(tmp_path) == ["autograder/hw1_autograder/runner.py"]
    (grader / "helper.py").write_text("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(SystemExit, match="helper.py holds a '# BEGIN SOLUTION' region"):
        make_autograder.grader_files(tmp_path)


# ------------------------------------------------------------ real gradings
def test_reference_scores_100_on_autolab(packages, reference_tar, tmp_path):
    run, scores = autolab(packages, reference_tar, tmp_path / "autolab")
    assert run.returncode == 0, run.stderr
    assert scores == FULL
    assert "Total score: 100/110" in run.stdout
    assert "validation_accuracy.png submitted" in run.stdout
    assert not (tmp_path / "autolab" / "mytorch").exists()  # graded in a scratch folder, not here


def test_reference_scores_100_on_gradescope(packages, reference_tar, tmp_path):
    run, results = gradescope(packages, tmp_path / "gs", untar_into(reference_tar))
    assert run.returncode == 0, run.stderr
    check_spec(results)
    assert results["score"] == 100 and scores_of(results) == FULL
    assert all(t["status"] == "passed" and t["output"].startswith("[PASS]")
               for t in results["tests"] if t["max_score"])
    plot = plot_test(results)
    assert plot["max_score"] == 0 and plot["status"] == "passed"
    assert "by hand" in plot["output"] and "graded by hand" in plot["name"]
    assert "Autograded score: 100/100" in results["output"]
    assert json.loads(run.stdout.splitlines()[-1])["scores"] == FULL  # the JSON is last here too


def test_unpacked_files_on_gradescope(packages, reference_tar, tmp_path):
    def fill(submission):
        with tarfile.open(reference_tar) as tar:
            tar.extractall(submission)
        (submission / "notes.txt").write_text("hello")
    run, results = gradescope(packages, tmp_path / "gs", fill)
    check_spec(results)
    assert results["score"] == 100
    assert "Ignored" in results["output"] and "notes.txt" in results["output"]


def test_starter_kit_scores_0_with_addition(packages, kit_tar, tmp_path):
    run, scores = autolab(packages, kit_tar, tmp_path / "autolab")
    assert scores == ZERO
    assert "[PASS] Addition" in run.stdout and "Total score: 0/110" in run.stdout
    run, results = gradescope(packages, tmp_path / "gs", untar_into(kit_tar))
    check_spec(results)
    assert results["score"] == 0 and scores_of(results) == ZERO
    [addition] = [t for t in results["tests"] if t["name"] == "Addition"]
    assert addition["status"] == "passed"
    plot = plot_test(results)
    assert plot["status"] == "failed" and "MISSING" in plot["output"]


def test_planted_autograder_and_forged_output_are_ignored(packages, kit, tmp_path):
    folder = tmp_path / "cheat"
    shutil.copytree(kit, folder, ignore=shutil.ignore_patterns("__pycache__", "handin.tar"))
    forged = json.dumps({"scores": FULL})
    # An autograder of the student's own that awards full points, and a grade.sh...
    planted = folder / "autograder" / "hw1_autograder"
    for name in ("runner.py", "harness.py", "grade_submission.py"):
        (planted / name).write_text(f"print({forged!r})\n")
    (folder / "grade.sh").write_text(f"#!/bin/sh\necho '{forged}'\n")
    # ... and student code that prints a forged score line.
    with open(folder / "mytorch" / "__init__.py", "a") as init:
        init.write(f"\nprint({forged!r})\n")
    with tarfile.open(folder / "cheat.tar", "w") as tar:
        for name in ("mytorch", "hw1", "autograder", "grade.sh"):
            tar.add(folder / name, arcname=name)
    run, scores = autolab(packages, folder / "cheat.tar", tmp_path / "autolab")
    assert scores == ZERO
    assert "Ignored" in run.stdout and "autograder/" in run.stdout and "grade.sh" in run.stdout
    run, results = gradescope(packages, tmp_path / "gs", untar_into(folder / "cheat.tar"))
    check_spec(results)
    assert results["score"] == 0
    assert "autograder/, grade.sh" in results["output"]


def test_submission_that_fails_to_import(packages, reference_tar, tmp_path):
    broken = tmp_path / "broken.tar"
    with tarfile.open(reference_tar) as source, tarfile.open(broken, "w") as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name == "mytorch/tensor.py":
                data = b"def broken(:\n"
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    run, scores = autolab(packages, broken, tmp_path / "autolab")
    assert run.returncode == 0
    assert scores == ZERO
    assert run.stdout.count("SyntaxError") >= len(FULL) - 1  # a message for every problem


# ----------------------------------------------------------- refused archives
BAD_ARCHIVES = {
    "dotdot": ([({"name": "mytorch/../../evil_dotdot.txt"}, b"x")], "has a '..' component"),
    "absolute": ([({"name": "/{tmp}/evil_absolute.txt"}, b"x")], "has an absolute path"),
    "symlink": ([({"name": "mytorch", "type": tarfile.SYMTYPE, "linkname": "/{tmp}"}, None),
                 ({"name": "mytorch/evil_symlink.txt"}, b"x")], "is a symbolic link to"),
    "hardlink": ([({"name": "hw1/evil_hardlink", "type": tarfile.LNKTYPE, "linkname": "../../etc/passwd"}, None)],
                 "is a hard link to"),
    "device": ([({"name": "mytorch/evil_device", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None)],
               "is a device file or FIFO"),
    "huge": ([({"name": "mytorch/evil_huge.npy"}, bytes(60 * 1024 * 1024))], "unpacks to more than 50 MB"),
    "corrupt": (b"\x1f\x8b this is not a tar archive at all" * 40, "is not a readable tar archive"),
    "empty_file": (b"", "is not a readable tar archive"),
}


@pytest.fixture(scope="module")
def bad_archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    made = {}
    for name, (members, _) in BAD_ARCHIVES.items():
        path = folder / f"{name}.tar"
        if isinstance(members, bytes):
            path.write_bytes(members)
        else:
            members = [(dict(fields, name=fields["name"].replace("/{tmp}", str(folder))), data)
                       for fields, data in members]
            for fields, _ in members:
                if "linkname" in fields:
                    fields["linkname"] = fields["linkname"].replace("/{tmp}", str(folder))
            make_tar(path, members)
        made[name] = path
    return folder, made


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_unsafe_or_corrupt_archives_are_refused(packages, bad_archives, case, tmp_path):
    folder, made = bad_archives
    message = BAD_ARCHIVES[case][1]
    run, scores = autolab(packages, made[case], tmp_path / "autolab")
    assert scores == ZERO
    assert "SUBMISSION REFUSED" in run.stdout or "not a readable tar archive" in run.stdout
    assert message in run.stdout
    run, results = gradescope(packages, tmp_path / "gs", untar_into(made[case]))
    check_spec(results)
    assert results["score"] == 0 and message in results["output"]
    assert all(message in t["output"] for t in results["tests"] if t["max_score"])
    assert _files_outside(tmp_path, []) == [] and _files_outside(folder, []) == []


def test_empty_and_incomplete_archives_score_zero_with_a_message(packages, tmp_path):
    empty = make_tar(tmp_path / "empty.tar", [])
    run, scores = autolab(packages, empty, tmp_path / "autolab")
    assert scores == ZERO
    assert "MISSING: the submission has no mytorch/ folder" in run.stdout
    assert "MISSING: the submission has no hw1/ folder" in run.stdout
    only_mytorch = make_tar(tmp_path / "only.tar", [({"name": "mytorch/__init__.py"}, b"")])
    run, results = gradescope(packages, tmp_path / "gs", untar_into(only_mytorch))
    check_spec(results)
    assert results["score"] == 0
    assert "no hw1/ folder" in results["output"] and "no mytorch/" not in results["output"]


def test_nothing_submitted_on_gradescope(packages, tmp_path):
    run, results = gradescope(packages, tmp_path / "gs", lambda submission: None)
    check_spec(results)
    assert results["score"] == 0 and "MISSING" in results["output"]


def test_runner_project_must_hold_its_own_autograder(tmp_path):
    (tmp_path / "mytorch").mkdir()
    run = subprocess.run([sys.executable, str(ROOT / "autograder" / "hw1_autograder" / "runner.py"),
                          "--project", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert f"--project {tmp_path.resolve()}: no autograder/hw1_autograder/harness.py there" in run.stderr
