"""autograder/hw1_autograder/jail.py: the attacks student code can make on the machine that grades it.

Each test runs a small attack as the jailed child of a stand-in grader
(tests/jail_tools.py) and checks that it ends blocked or detected. Modes:
``same`` is a same-user grader (Autolab) with Landlock, ``loose`` the same
without Landlock (an old kernel), ``user`` a root grader that drops to an
unprivileged user (Gradescope; skipped unless the tests run as root).
"""
import os
import signal

import pytest

import jail_tools as J

MODES = ["same", "loose", "user"]


def _landlock_abi():
    import importlib.util
    spec = importlib.util.spec_from_file_location("hw1_jail", J.GRADER / "jail.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.landlock_abi()


ABI = _landlock_abi()


def _drop_possible():
    if not J.IS_ROOT or J.SYSTEM_PYTHON is None or J.unprivileged_user() is None:
        pytest.skip("the privilege drop needs root, a system Python and an unprivileged account")


def mode_options(mode):
    if mode == "user":
        _drop_possible()
        return {"user": J.unprivileged_user(), "strict": True, "python": J.SYSTEM_PYTHON}
    if mode == "same" and ABI < 1:
        pytest.skip("this kernel has no Landlock")
    options = {"strict": mode == "same"}
    if J.IS_ROOT:
        # A same-user grader is not root (Autolab): run the stand-in grader as a plain user too.
        _drop_possible()
        options.update(grader_user=J.unprivileged_user(), python=J.SYSTEM_PYTHON)
    return options


@pytest.fixture
def folder():
    folder = J.shared_folder()
    yield folder
    import shutil
    shutil.rmtree(folder, ignore_errors=True)


def finished(result):
    assert result.driver.returncode == 0, result.driver.stderr[-3000:]
    assert result.left == [], f"processes survived grading: {result.left}"
    return result


# ------------------------------------------------------------------ isolation
def test_environment_is_scrubbed(folder, monkeypatch):
    monkeypatch.setenv("HW1_GRADER_SECRET", "s3cr3t-value")
    monkeypatch.setenv("PYTHONSTARTUP", str(folder / "startup.py"))
    result = finished(J.run_jailed("""
        import os
        print(sorted(os.environ))
        print(open('/proc/self/environ').read())
    """, folder))
    names = eval(result.stdout.splitlines()[0])
    assert set(names) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                          "MKL_NUM_THREADS", "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE"}
    assert "s3cr3t" not in result.stdout and "HW1_GRADER_SECRET" not in result.stdout


@pytest.mark.parametrize("mode", ["same", "loose"])
def test_startup_hooks_are_never_imported(folder, monkeypatch, mode):
    """sitecustomize, usercustomize and .pth files, wherever a student could put them, never run."""
    options = mode_options(mode)
    hook = "print('HOOK RAN', __name__)\n"
    plant = folder / "plant"
    for where in (folder, plant, folder / "home" / ".local" / "lib" / "python3.11" / "site-packages"):
        where.mkdir(parents=True, exist_ok=True)
        (where / "sitecustomize.py").write_text(hook)
        (where / "usercustomize.py").write_text(hook)
        (where / "evil.pth").write_text("import sys; print('PTH RAN')\n")
    monkeypatch.setenv("PYTHONPATH", str(plant))
    monkeypatch.setenv("HOME", str(folder / "home"))
    monkeypatch.setenv("PYTHONUSERBASE", str(folder / "home" / ".local"))
    result = finished(J.run_jailed("""
        import sys
        print(sorted(m for m in sys.modules if 'customize' in m), sys.flags.isolated, sys.flags.no_site)
    """, folder, site=[str(plant)], **options))
    assert "RAN" not in result.stdout + result.stderr
    assert result.stdout.split("\n")[0] == "[] 1 1"


# -------------------------------------------------------------------- cleanup
DAEMONS = """
    import os, signal, sys, time
    def daemon():                      # setsid and double fork: leaves the process group
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(60)
            os._exit(0)
    def stopped():                     # a child that stops itself: SIGTERM would never reach it
        if os.fork() == 0:
            os.kill(os.getpid(), signal.SIGSTOP)
            time.sleep(60)
            os._exit(0)
    daemon(); stopped()
    if os.fork() == 0:                 # and a plain child left running
        time.sleep(60)
    time.sleep(0.3)
    print("parent leaves")
"""


@pytest.mark.parametrize("mode", MODES)
def test_setsid_daemons_and_stopped_children_are_killed(folder, mode):
    result = finished(J.run_jailed(DAEMONS, folder, **mode_options(mode)))
    assert "parent leaves" in result.stdout
    assert result.killed >= 3


@pytest.mark.parametrize("mode", MODES)
def test_endless_loop_is_stopped_at_the_time_limit(folder, mode):
    result = finished(J.run_jailed("while True:\n    pass\n", folder, timeout=1.0, **mode_options(mode)))
    assert result.timed_out and result.returncode == -signal.SIGKILL
    assert result.seconds < 10


def test_total_budget_cuts_a_problem_short(folder):
    result = finished(J.run_jailed("import time\ntime.sleep(30)\n", folder, timeout=20.0, budget=1.0))
    assert result.timed_out and result.budget_exhausted and result.seconds < 10


# --------------------------------------------------------------------- limits
@pytest.mark.parametrize("mode", MODES)
def test_limits_are_set_before_student_code(folder, mode):
    result = finished(J.run_jailed("""
        import resource
        for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"):
            print(name, resource.getrlimit(getattr(resource, name))[0])
    """, folder, timeout=2.0, memory=512 * 2 ** 20, file_size=2 ** 20, open_files=64, **mode_options(mode)))
    limits = dict(line.split() for line in result.stdout.splitlines())
    assert limits == {"RLIMIT_CPU": "8", "RLIMIT_AS": str(512 * 2 ** 20), "RLIMIT_FSIZE": str(2 ** 20),
                      "RLIMIT_NOFILE": "64", "RLIMIT_CORE": "0"}


@pytest.mark.parametrize("mode", MODES)
def test_memory_is_limited(folder, mode):
    result = finished(J.run_jailed("""
        try:
            block = bytearray(2 * 1024 ** 3)
            print("allocated", len(block))
        except MemoryError:
            print("MemoryError")
    """, folder, memory=512 * 2 ** 20, **mode_options(mode)))
    assert result.stdout.strip() == "MemoryError"


@pytest.mark.parametrize("mode", MODES)
def test_output_flood_is_cut_at_the_file_size_limit(folder, mode):
    result = finished(J.run_jailed("""
        import sys
        line = "x" * 1023 + "\\n"
        for _ in range(50 * 1024):   # 50 MB
            sys.stdout.write(line)
    """, folder, file_size=2 ** 20, **mode_options(mode)))
    # Python ignores SIGXFSZ: the write that crosses the limit raises (EFBIG), nothing more is stored.
    assert result.returncode == 1 and "File too large" in result.stderr
    assert result.sizes[0] <= 2 ** 20


@pytest.mark.parametrize("mode", MODES)
def test_process_flood_is_limited(folder, mode):
    result = finished(J.run_jailed("""
        import os, time
        made = 0
        try:
            for _ in range(500):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                made += 1
        except OSError as error:
            print("stopped:", type(error).__name__)
        print("made", made)
    """, folder, processes=16, **mode_options(mode)))
    assert "stopped: BlockingIOError" in result.stdout
    assert int(result.stdout.split("made")[1]) <= 16
    assert result.killed >= 1


# -------------------------------------------------------- reaching the grader
@pytest.mark.parametrize("mode", ["same", "user"])
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP])
def test_the_grader_cannot_be_killed_or_stopped(folder, mode, signum):
    options = mode_options(mode)
    if mode == "same" and ABI < 6:
        pytest.skip("signal scoping needs Landlock ABI 6 (Linux 6.12): a residual of same-user graders")
    result = finished(J.run_jailed(f"""
        import os
        try:
            os.kill(os.getppid(), {int(signum)})
            print("signalled")
        except PermissionError:
            print("refused")
    """, folder, **options))
    assert result.stdout.strip() == "refused"


@pytest.mark.parametrize("mode", ["same", "user"])
def test_the_grader_cannot_be_read_or_traced(folder, mode):
    result = finished(J.run_jailed("""
        import os
        for name in ("environ", "mem", "fd/1"):
            try:
                open(f"/proc/{os.getppid()}/{name}", "rb").read(1)
                print(name, "read")
            except OSError as error:
                print(name, "refused")
    """, folder, **mode_options(mode)))
    assert result.stdout.split() == ["environ", "refused", "mem", "refused", "fd/1", "refused"]


@pytest.mark.parametrize("mode", ["same", "user"])
def test_writes_only_in_the_scratch_folder(folder, mode):
    (folder / "grader_file.py").write_text("honest = True\n")
    (folder / "grader_file.py").chmod(0o666)   # even a file the permissions would let it write
    result = finished(J.run_jailed("""
        import os
        def attempt(path):
            try:
                with open(path, "a") as handle:
                    handle.write("backdoor = True\\n")
                return "written"
            except OSError:
                return "refused"
        print(attempt("grader_file.py"), attempt("/tmp/hw1p1_escape.txt"),
              attempt(os.path.join(os.environ["HOME"], "notes.txt")))
        try:
            os.execv("/bin/true", ["true"])
        except OSError:
            print("exec refused")
    """, folder, **mode_options(mode)))
    assert result.stdout.split("\n")[:2] == ["refused refused written", "exec refused"]
    assert (folder / "grader_file.py").read_text() == "honest = True\n"
    assert not os.path.exists("/tmp/hw1p1_escape.txt")


def test_unprivileged_user_reads_no_grader_secret(folder):
    options = mode_options("user")
    secret = folder / "secret.txt"
    secret.write_text("expected values")
    secret.chmod(0o600)
    result = finished(J.run_jailed(f"""
        import os
        print(os.getuid() != 0, os.getgroups())
        try:
            print(open({str(secret)!r}).read())
        except PermissionError:
            print("refused")
    """, folder, **options))
    assert result.stdout.split("\n")[:2] == ["True []", "refused"]
    assert "Student code runs as: " + options["user"] in result.status


def test_a_command_line_starts_the_same_way_and_deadlines_respect_the_budget(folder):
    """start_command (a runner's [python, script, *args]) and clamp_deadline, in a stand-in grader process."""
    import subprocess
    import sys
    script = folder / "hello.py"
    script.write_text("import sys\nprint('hello', sys.argv[1:], sys.flags.isolated)\n")
    code = f"""
import subprocess, sys, tempfile, time
sys.path.insert(0, {str(J.GRADER)!r})
import jail
jail.configure(scratch={str(folder / "scratch")!r}, budget=5.0)
assert jail.clamp_deadline(time.monotonic() + 100) <= time.monotonic() + 5.0
assert jail.clamp_deadline(time.monotonic() + 1) <= time.monotonic() + 1
assert 4.0 < jail.problem_timeout(60.0) <= 5.0 and jail.problem_timeout(2.0) == 2.0
with tempfile.TemporaryFile() as out:
    proc = jail.start_command([sys.executable, {str(script)!r}, "a", "1"], out, subprocess.DEVNULL, (),
                              {str(folder)!r})
    proc.wait(timeout=30)
    jail.reap(proc)
    out.seek(0)
    print(out.read().decode(), end="")
jail.configure()
assert jail.clamp_deadline(42.0) == 42.0 and jail.problem_timeout(60.0) == 60.0
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hello ['a', '1'] 1\n"
