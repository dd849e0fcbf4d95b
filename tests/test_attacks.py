"""Hostile submissions through the Autolab and Gradescope packages (issue 19's platform attacks).

Each submission attacks the machine that grades it, not the checks: it
signals the grader, rewrites the grader's files, leaves a setsid daemon
that later forges results.json, reads the environment, plants start-up
hooks and compiled modules, loops, floods, eats memory, fills the disk.
Every attack must end blocked, or detected and reported, and a score must
always come out. Autolab runs as the tests' user (same user as the
grader); Gradescope, when the tests run as root, in a /autograder layout
whose virtualenv another user can reach, so that student code runs as an
unprivileged user.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

import jail_tools as J
from grader_tools import FULL_SCORES, copy_project
from test_make_autograder import PNG, ROOT, TOOL, ZERO, check_spec, scores_of

GRADE_SUBMISSION = ROOT / "autograder" / "hw1_autograder" / "grade_submission.py"
ABI = __import__("test_jail").ABI   # the kernel's Landlock ABI
SECRET = "hw1-grader-secret-7f3a"

# Appended to mytorch/__init__.py: runs in every problem's process, before any check.
HOSTILE = '''

def _hostile():
    import os, signal, sys, time
    done = []
    for signum in (signal.SIGSTOP, signal.SIGKILL):          # freeze or kill the grader
        try:
            os.kill(os.getppid(), signum)
            done.append(f"signalled the grader with {signum}")
        except OSError:
            pass
    here = os.path.dirname(os.path.abspath(__file__))
    targets = [os.path.join(os.path.dirname(here), "autograder", "hw1_autograder", name)
               for name in ("harness.py", "test_mlp.py")]
    results = []
    try:                                                      # where the grader itself lives
        command = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\\0")
        for part in command:
            part = part.decode(errors="replace")
            if part.endswith("grade_submission.py"):
                targets += [part, os.path.join(os.path.dirname(part), "runner.py")]
            if part.startswith("/") and os.path.isdir(os.path.join(part, "results")):
                results.append(os.path.join(part, "results", "results.json"))
    except OSError:
        pass
    for target in targets:                                    # backdoor the grader
        try:
            with open(target, "a") as handle:
                handle.write("\\nBACKDOORED = True\\n")
            done.append(f"wrote {target}")
        except OSError:
            pass
    for target in results:
        try:
            open(target).read()
            done.append(f"read {target}")
        except OSError:
            pass
    if os.fork() == 0:                                        # a daemon that forges the results later
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(2)
            for target in results:
                try:
                    with open(target, "w") as handle:
                        handle.write('{"score": 100, "tests": []}')
                except OSError:
                    pass
            os._exit(0)
        os._exit(0)
    print("ENVIRONMENT:", dict(os.environ))
    if done:
        print("ATTACK SUCCEEDED:", done)


_hostile()
'''


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("packages")
    run = subprocess.run([sys.executable, str(TOOL), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out


def _tar(folder, extra=None):
    """handin.tar of ``folder`` (mytorch/, hw1/, the plot) plus ``extra`` {name: bytes}."""
    path = folder / "handin.tar"
    with tarfile.open(path, "w") as tar:
        for name in ("mytorch", "hw1", "validation_accuracy.png"):
            if (folder / name).exists():
                tar.add(folder / name, arcname=name,
                        filter=lambda info: None if "__pycache__" in info.name else info)
        for name, data in (extra or {}).items():
            (folder / "extra").mkdir(exist_ok=True)
            (folder / "extra" / "f").write_bytes(data)
            tar.add(folder / "extra" / "f", arcname=name)
    return path


def _reference_with(folder, init_code, extra=None):
    copy_project(folder)
    (folder / "validation_accuracy.png").write_bytes(PNG)
    with open(folder / "mytorch" / "__init__.py", "a") as init:
        init.write(init_code)
    return _tar(folder, extra)


PLANTED = {  # start-up hooks and compiled modules: none may be taken, each must be named
    "mytorch/evil.pth": b"import os; print('PTH RAN')\n",
    "mytorch/sitecustomize.py": b"print('SITECUSTOMIZE RAN')\n",
    "hw1/usercustomize.py": b"print('USERCUSTOMIZE RAN')\n",
    "mytorch/tensor.cpython-311-x86_64-linux-gnu.so": b"\x7fELF not really",
    "mytorch/nn/functional.pyc": b"junk",
}


@pytest.fixture(scope="module")
def hostile_tar(tmp_path_factory):
    return _reference_with(tmp_path_factory.mktemp("hostile"), HOSTILE, PLANTED)


def run_autolab(packages, handin, where, make_args=(), env=None):
    where.mkdir(parents=True)
    shutil.copy(packages / "autograde.tar", where / "autograde.tar")
    shutil.copy(packages / "autograde-Makefile", where / "Makefile")
    shutil.copy(handin, where / "handin.tar")
    (where / "tmp").mkdir()
    started = time.monotonic()
    run = subprocess.run(["make", "-s", f"PYTHON={sys.executable}", *make_args], cwd=where, capture_output=True,
                         text=True, env=dict(os.environ, TMPDIR=str(where / "tmp"), **(env or {})))
    run.seconds = time.monotonic() - started
    run.scores = json.loads(run.stdout.splitlines()[-1])["scores"]
    return run


def gradescope_layout(packages, where):
    """ROOT/source, ROOT/run_autograder, ROOT/submission, ROOT/results, ROOT/tmp."""
    for name in ("submission", "results", "tmp"):
        (where / name).mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(packages / "autograder.zip"), "-d", str(where / "source")], check=True)
    shutil.copy2(where / "source" / "run_autograder", where / "run_autograder")
    (where / "tmp").chmod(0o1777)
    return where


def run_gradescope(where, args=(), env=None, python=None):
    started = time.monotonic()
    environment = dict(os.environ, HW1_AUTOGRADER_ROOT=str(where), TMPDIR=str(where / "tmp"), **(env or {}))
    if python:
        environment["PYTHON"] = python
    run = subprocess.run([str(where / "run_autograder"), *args], cwd="/", capture_output=True, text=True,
                         env=environment)
    run.seconds = time.monotonic() - started
    run.results_text = (where / "results" / "results.json").read_text()
    run.results = json.loads(run.results_text)
    return run


def grader_processes(where):
    """Processes still running whose command line mentions ``where`` (the grading's own folders)."""
    return [pid for pid in J.survivors(str(where)) if pid != os.getpid()]


@pytest.fixture(scope="module")
def student_venv():
    """A virtualenv another user can run, holding the tests' NumPy (the tests' own Python may sit in /root)."""
    if not J.IS_ROOT or J.SYSTEM_PYTHON is None or J.unprivileged_user() is None:
        pytest.skip("the privilege drop needs root, a system Python and an unprivileged account")
    folder = J.shared_folder()
    run = subprocess.run([J.SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(folder / "venv")],
                         capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"no venv module for {J.SYSTEM_PYTHON}: {run.stderr[-300:]}")
    site = next((folder / "venv" / "lib").glob("python3*/site-packages"))
    for entry in J.numpy_site(folder).iterdir():
        entry.rename(site / entry.name)
    check = subprocess.run([str(folder / "venv" / "bin" / "python"), "-c", "import numpy"], capture_output=True)
    if check.returncode != 0:
        pytest.skip("the tests' NumPy does not load in the system Python")
    yield folder / "venv"
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------- the hostile submission
def _assert_hostile_held(output, results_text=""):
    everything = output + results_text
    assert "ATTACK SUCCEEDED" not in everything, everything[everything.find("ATTACK SUCCEEDED") - 200:][:2000]
    assert SECRET not in everything
    assert "RAN" not in everything.replace("RANGE", "")
    assert "TAMPERED" not in everything


def test_hostile_submission_on_autolab_same_user(packages, hostile_tar, tmp_path):
    where = tmp_path / "autolab"
    run = run_autolab(packages, hostile_tar, where, env={"HW1_GRADER_SECRET": SECRET})
    assert run.scores == FULL_SCORES, run.stdout[-3000:]
    _assert_hostile_held(run.stdout + run.stderr)
    for name in PLANTED:
        if not name.endswith("customize.py"):
            assert name in run.stdout      # named as dropped
    time.sleep(2.5)                        # the daemon's moment, had it survived
    assert grader_processes(where) == []
    assert "BACKDOORED" not in (where / "autograder" / "hw1_autograder" / "harness.py").read_text()
    if J.IS_ROOT:
        assert "student code runs as" in run.stdout


def test_hostile_submission_on_autolab_run_by_a_plain_user(packages, hostile_tar, student_venv):
    """Autolab as it usually is: the grader is not root, student code runs as the same user (Landlock guards)."""
    user = J.unprivileged_user()
    where = J.shared_folder()
    where.chmod(0o1777)
    for source, name in ((packages / "autograde.tar", "autograde.tar"), (packages / "autograde-Makefile", "Makefile"),
                         (hostile_tar, "handin.tar")):
        shutil.copy(source, where / name)
        (where / name).chmod(0o644)
    entry = __import__("pwd").getpwnam(user)
    run = subprocess.run(["make", "-s", f"PYTHON={student_venv / 'bin' / 'python'}"], cwd=where,
                         capture_output=True, text=True, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                         env={"PATH": os.environ["PATH"], "TMPDIR": str(where), "HOME": str(where),
                              "HW1_GRADER_SECRET": SECRET})
    try:
        assert json.loads(run.stdout.splitlines()[-1])["scores"] == FULL_SCORES, run.stdout[-3000:] + run.stderr
        assert "not root: student code runs as the grader's own user" in run.stdout
        if ABI >= 6:
            _assert_hostile_held(run.stdout + run.stderr)
        time.sleep(2.5)
        assert grader_processes(where) == []
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_hostile_submission_on_gradescope_as_an_unprivileged_user(packages, hostile_tar, student_venv):
    where = gradescope_layout(packages, J.shared_folder() / "autograder")
    os.symlink(student_venv, where / "venv")
    shutil.copy(hostile_tar, where / "submission" / "handin.tar")
    run = run_gradescope(where, env={"HW1_GRADER_SECRET": SECRET})
    assert f"student code runs as {J.unprivileged_user()}" in run.stdout, run.stdout[-3000:] + run.stderr
    check_spec(run.results)
    assert run.results["score"] == 100 and scores_of(run.results) == FULL_SCORES
    _assert_hostile_held(run.stdout + run.stderr, run.results_text)
    assert (where / "results").stat().st_mode & 0o077 == 0     # the student user cannot even look
    before = (where / "results" / "results.json").read_text()
    time.sleep(2.5)
    assert (where / "results" / "results.json").read_text() == before
    assert grader_processes(where) == []
    shutil.rmtree(where.parent, ignore_errors=True)


def test_a_local_regrade_leaves_the_staff_checkout_alone(hostile_tar, tmp_path):
    checkout = copy_project(tmp_path / "checkout")
    before = {p: p.read_bytes() for p in checkout.rglob("*") if p.is_file()}
    run = subprocess.run([sys.executable, str(checkout / "autograder" / "hw1_autograder" / "grade_submission.py"),
                          "autolab", str(hostile_tar)], capture_output=True, text=True, cwd=str(tmp_path),
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert json.loads(run.stdout.splitlines()[-1])["scores"] == FULL_SCORES
    _assert_hostile_held(run.stdout + run.stderr)
    after = {p: p.read_bytes() for p in checkout.rglob("*") if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob("hw1p1-grading-*"))     # the grading folder is gone


TAMPER_COPY = """
import os as _os
_copy = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "autograder",
                      "hw1_autograder", "harness.py")
_os.chmod(_copy, 0o644)
with open(_copy, "a") as _handle:
    _handle.write("\\nBACKDOORED = True\\n")
"""


@pytest.fixture(scope="module")
def tamper_tar(tmp_path_factory):
    return _reference_with(tmp_path_factory.mktemp("tamper"), TAMPER_COPY)


def test_tampering_with_the_grader_is_undone_and_reported(tmp_path, tamper_tar):
    """Where nothing blocks the write (no Landlock, same user), the change is found and reported.

    Student code rewrites the grading folder's copy; the grader's own runner.py is rewritten from
    the grader's process (as student code could: it would also have to find the path).
    """
    checkout = copy_project(tmp_path / "checkout")
    runner_py = checkout / "autograder" / "hw1_autograder" / "runner.py"
    code = ("import sys, runpy, threading, time\n"
            f"sys.path.insert(0, {str(runner_py.parent)!r})\n"
            "import grade_submission, jail\n"
            "real = jail.configure\n"
            "jail.configure = lambda **kw: real(**dict(kw, strict=False))\n"
            f"threading.Timer(0.5, lambda: open({str(runner_py)!r}, 'a').write('#evil\\n')).start()\n"
            f"sys.exit(grade_submission.main(['autolab', {str(tamper_tar)!r}, '--user', 'none']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path),
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert "[staff] TAMPERED: these autograder files changed on disk during grading and were restored: " \
           "runner.py" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    assert "[staff] TAMPERED: student code changed the grading folder's copy of the autograder (later " \
           "problems may have run it): harness.py" in run.stdout
    assert "#evil" not in runner_py.read_text()
    assert json.loads(run.stdout.splitlines()[-1])["scores"] == FULL_SCORES


# ------------------------------------------------------------ always a score
LOOP = "\nwhile True:\n    pass\n"
FLOOD = ('\nimport sys\nsys.stdout.write("\\n" * 10_000_000)\nsys.stdout.flush()\n'
         'block = bytearray(8 * 1024 ** 3)\n')


@pytest.fixture(scope="module")
def loop_tar(tmp_path_factory):
    return _reference_with(tmp_path_factory.mktemp("loop"), LOOP)


@pytest.fixture(scope="module")
def flood_tar(tmp_path_factory):
    return _reference_with(tmp_path_factory.mktemp("flood"), FLOOD)


def test_endless_loops_end_within_the_budget_on_autolab(packages, loop_tar, tmp_path):
    run = run_autolab(packages, loop_tar, tmp_path / "autolab", make_args=("TIMEOUT=2", "BUDGET=6"))
    assert run.scores == ZERO
    assert "timed out" in run.stdout
    assert run.seconds < 60            # 11 problems at 2 s would take 22 s and more; the budget is 6 s


def test_endless_loops_end_within_the_budget_on_gradescope(packages, loop_tar, tmp_path):
    where = gradescope_layout(packages, tmp_path / "gs")
    shutil.copy(loop_tar, where / "submission" / "handin.tar")
    run = run_gradescope(where, ["--timeout", "2", "--budget", "6"], python=sys.executable)
    check_spec(run.results)
    assert run.results["score"] == 0 and "timed out" in run.results_text
    assert run.seconds < 60


def test_the_provisional_zero_is_there_before_grading_ends(packages, loop_tar, tmp_path):
    where = gradescope_layout(packages, tmp_path / "gs")
    shutil.copy(loop_tar, where / "submission" / "handin.tar")
    proc = subprocess.Popen([str(where / "run_autograder"), "--timeout", "30", "--budget", "60"], cwd="/",
                            env=dict(os.environ, HW1_AUTOGRADER_ROOT=str(where), PYTHON=sys.executable,
                                     TMPDIR=str(where / "tmp")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        results = where / "results" / "results.json"
        deadline = time.monotonic() + 30
        while not results.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        provisional = json.loads(results.read_text())
        assert provisional["score"] == 0 and "provisional score of 0" in provisional["output"]
        check_spec(provisional)
    finally:
        os.killpg(proc.pid, 9)    # the platform's own timeout: what it finds is the provisional zero
        proc.wait()
    assert json.loads(results.read_text())["score"] == 0


def test_output_floods_and_memory_leave_a_small_report_and_the_score_last(packages, flood_tar, tmp_path):
    run = run_autolab(packages, flood_tar, tmp_path / "autolab")
    assert run.scores == ZERO
    assert "MemoryError" in run.stdout
    assert len(run.stdout) < 1_000_000
    where = gradescope_layout(packages, tmp_path / "gs")
    shutil.copy(flood_tar, where / "submission" / "handin.tar")
    run = run_gradescope(where, python=sys.executable)
    check_spec(run.results)
    assert run.results["score"] == 0 and len(run.results_text) < 1_000_000


# ----------------------------------------------------------------- a full disk
def test_a_full_disk_in_the_grader_still_gives_a_score(hostile_tar, tmp_path):
    """ENOSPC where the grader writes (mocked): every problem 0 with the reason, the JSON line last."""
    code = ("import errno, sys\n"
            f"sys.path.insert(0, {str(GRADE_SUBMISSION.parent)!r})\n"
            "import grade_submission, runner\n"
            "def full(*args, **kwargs):\n"
            "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "runner.run_problem = full\n"
            f"sys.exit(grade_submission.main(['gradescope', '--submission', {str(hostile_tar)!r}, "
            f"'--results', {str(tmp_path / 'results.json')!r}, '--user', 'none']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert json.loads(run.stdout.splitlines()[-1])["scores"] == ZERO, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    check_spec(results)
    assert "ran out of disk space" in results["output"]


@pytest.fixture
def tiny_tmpfs():
    """A 16 MB tmpfs as the grader's TMPDIR (root only)."""
    if not J.IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    folder = J.shared_folder()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=1777", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


FILL_DISK = '''
import os
try:
    with open(os.path.join(os.environ["HOME"], "fill"), "wb") as handle:
        while True:
            handle.write(bytes(1024 * 1024))
except OSError as error:
    print("disk full:", error)
'''


def test_student_code_filling_the_disk_costs_only_its_own_problems(packages, tmp_path, tiny_tmpfs):
    handin = _reference_with(tmp_path / "fill", FILL_DISK)
    run = subprocess.run([sys.executable, str(GRADE_SUBMISSION), "autolab", str(handin)], capture_output=True,
                         text=True, cwd=str(tmp_path), env=dict(os.environ, TMPDIR=str(tiny_tmpfs)))
    last = run.stdout.splitlines()[-1]
    assert json.loads(last)["scores"] == FULL_SCORES, run.stdout[-3000:] + run.stderr[-2000:]
    assert os.listdir(tiny_tmpfs) == []


def test_the_student_user_is_checked_before_privileges_are_dropped(tmp_path):
    """The account must reach Python and NumPy, and must not be able to write where Python imports from."""
    folder, hidden = tmp_path / "site", tmp_path / "hidden"
    folder.mkdir()
    hidden.mkdir()
    (hidden / "python").write_text("")
    hidden.chmod(0o700)
    code = f"""
import os, pwd, sys
sys.path.insert(0, {str(GRADE_SUBMISSION.parent)!r})
import grade_submission as g
me = pwd.getpwuid(os.getuid())
stranger = type("Entry", (), {{"pw_uid": me.pw_uid + 12345, "pw_gid": me.pw_gid + 12345}})()
site, hidden = {str(folder)!r}, {str(hidden / "python")!r}
os.chmod(site, 0o755)
print(g.writable(site, me), g.writable(site, stranger))
os.chmod(site, 0o757)
print(g.writable(site, stranger), g.reachable(hidden, stranger), g.choose_user("none")[0])
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["True", "False", "True", "False", "None"], run.stderr


def test_a_fabricated_plot_is_flagged_for_staff(tmp_path):
    """A file that is no PNG, or a PNG no plot is the size of, fails Problem 3's entry with FLAGGED."""
    header = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
    cases = {"text.png": b"I promise this is a plot" * 100,
             "tiny.png": header + (1).to_bytes(4, "big") * 2 + b"\0" * 2000,
             "small_file.png": header + (640).to_bytes(4, "big") + (480).to_bytes(4, "big"),
             "plot.png": PNG}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    code = f"""
import sys
sys.path.insert(0, {str(GRADE_SUBMISSION.parent)!r})
import runner
for name in {sorted(cases)!r}:
    test = runner.plot_test(runner.PlotCheck({str(tmp_path)!r} + "/" + name))
    print(name, test.get("status"), test["name"].split("[")[-1] if "[" in test["name"] else "-")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.splitlines() == ["plot.png None -", "small_file.png failed FLAGGED: implausible size]",
                                       "text.png failed FLAGGED: not a PNG]",
                                       "tiny.png failed FLAGGED: implausible size]"], run.stderr
