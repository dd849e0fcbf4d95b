"""Start the process that runs student code: bounded, isolated, and cleaned up after.

``runner.py`` starts each problem's child with :func:`start` and ends it with
:func:`reap`. What the child gets, whatever the platform:

- **Limits** (``Limits``): CPU seconds, address space (memory), processes,
  the size of any file it writes (its captured stdout/stderr too: an output
  flood ends the child with SIGXFSZ instead of filling the disk), open files,
  no core dumps; the parent enforces the wall-clock limit, and a total time
  budget for the whole grading (:func:`configure`).
- **Isolation**: Python started with ``-I -S -B`` (no PYTHON* variables, no
  user site, no ``site`` module, so no ``.pth``, ``sitecustomize`` or
  ``usercustomize`` is ever imported; no script folder or current folder on
  ``sys.path``) and a ``sys.path`` set here: the grader's folder, the standard
  library and the folder NumPy comes from. A scrubbed environment (nothing of
  the grader's: only PATH, HOME and TMPDIR in a scratch folder, LANG and the
  thread counts). stdin is /dev/null; only the fds the runner passes stay open.
- **Cleanup**: the child leads its own session; afterwards its process group
  is killed, then every orphan it left behind: the grader is a child
  subreaper (Linux), so a ``setsid`` daemon reparents to it and is found and
  killed, stopped (SIGSTOP) or not. When the child runs as a dedicated user,
  everything of that user is killed (``kill(-1)`` as that user) once no
  other child is running. Each child has a scratch folder of its own
  (HOME, TMPDIR), removed with it: a disk it filled is free again.
- **Privilege drop** (when the grader runs as root, ``configure(user=...)``):
  the child runs as that unprivileged user with a scratch folder it owns;
  it cannot read, write, signal or trace the grader.
- **Landlock** (Linux 5.13+, ``configure(strict=True)``): the child can write
  only under its scratch folder, cannot signal or trace processes outside its
  own sandbox (the grader, ``make``; Linux 6.12+), cannot execute programs
  and cannot open TCP connections. This is what protects a same-user grader
  (Autolab) from the student code it runs; :func:`status` says what held.

The grader process itself is made non-dumpable (``PR_SET_DUMPABLE`` 0): a
process of the same user cannot ptrace it or read its memory, environment or
file descriptors through /proc.
"""
import atexit
import ctypes
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.realpath(__file__))

# prctl options (linux/prctl.h).
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


class Limits:
    """Resource limits of one child. Sizes in bytes, times in seconds."""

    def __init__(self, memory=3 * 1024 ** 3, processes=64, file_size=32 * 1024 ** 2, open_files=256,
                 cpu_margin=5.0):
        self.memory = memory
        self.processes = processes
        self.file_size = file_size
        self.open_files = open_files
        self.cpu_margin = cpu_margin


class _Config:
    """How children are started in this grading (set by :func:`configure`)."""

    def __init__(self):
        self.user = None          # pwd entry of the unprivileged user, or None (same user as the grader)
        self.scratch = None       # the child's HOME/TMPDIR parent folder (owned by the user)
        self.strict = False       # Landlock: write only in scratch, no signals out, no exec, no TCP
        self.limits = Limits()
        self.deadline = None      # time.monotonic() when the total budget runs out
        self.python = sys.executable
        self.site = None          # folders to put on the child's sys.path (where NumPy is)


CONFIG = _Config()
_LIVE = set()          # pids of children started and not yet reaped
_SCRATCH = {}          # pid of a child -> its scratch folder, removed when it is reaped
_LOCK = threading.Lock()
_PARENT_READY = False


def configure(user=None, scratch=None, strict=False, limits=None, budget=None, python=None, site=None):
    """Set how every later child starts: ``user`` (a name; None: as the grader), ``scratch`` (a folder),
    ``strict`` (Landlock), ``limits``, ``budget`` (seconds for the whole grading from now)."""
    CONFIG.user = pwd.getpwnam(user) if user else None
    CONFIG.scratch = scratch
    CONFIG.strict = strict
    CONFIG.limits = limits or Limits()
    CONFIG.deadline = None if budget is None else time.monotonic() + budget
    CONFIG.python = python or sys.executable
    CONFIG.site = site


def time_left():
    """Seconds left in the total budget, or None without one."""
    return None if CONFIG.deadline is None else CONFIG.deadline - time.monotonic()


def problem_timeout(timeout):
    """A problem's time limit in seconds, cut to what is left of the total budget (at least 10 ms)."""
    left = time_left()
    return timeout if left is None else max(0.01, min(timeout, left))


def clamp_deadline(deadline):
    """A problem's deadline (a ``time.monotonic()`` value), moved up to the total budget's end if that comes first."""
    return deadline if CONFIG.deadline is None else min(deadline, CONFIG.deadline)


# ------------------------------------------------------------ the parent side
def _prctl(option, value):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError, TypeError):  # not Linux
        return False


def _prepare_parent():
    """Once: the grader becomes a subreaper (orphans come back to it) and non-dumpable (no ptrace, no /proc)."""
    global _PARENT_READY
    if not _PARENT_READY:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        _prctl(PR_SET_DUMPABLE, 0)
        _PARENT_READY = True


def site_folders():
    """The folders the child needs on sys.path for NumPy: where this process finds it."""
    if CONFIG.site is not None:
        return list(CONFIG.site)
    import numpy
    return [os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))]


def _scratch_dirs():
    """A fresh scratch folder for one child (its HOME and TMPDIR), inside the grading's scratch folder."""
    if CONFIG.scratch is None:  # a local run: a scratch folder of its own, removed at exit
        CONFIG.scratch = tempfile.mkdtemp(prefix="hw1p1-scratch-")
        atexit.register(shutil.rmtree, CONFIG.scratch, True)
    os.makedirs(CONFIG.scratch, mode=0o700, exist_ok=True)
    owner = (CONFIG.user.pw_uid, CONFIG.user.pw_gid) if CONFIG.user is not None and os.geteuid() == 0 else None
    if owner:
        os.chown(CONFIG.scratch, *owner)
    base = tempfile.mkdtemp(prefix="child-", dir=CONFIG.scratch)
    home, tmp = os.path.join(base, "home"), os.path.join(base, "tmp")
    for folder in (home, tmp):
        os.mkdir(folder, mode=0o700)
    for folder in (base, home, tmp) if owner else ():
        os.chown(folder, *owner)
    return base, home, tmp


def child_env(home, tmp):
    """The child's whole environment: nothing of the grader's (no secrets, no paths of its own)."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}


def _processes_of(uid):
    """Pids of the processes whose real uid is ``uid`` (Linux /proc), without this one."""
    pids = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/status") as status:
                for line in status:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(name))
                        break
        except OSError:
            continue
    return pids


def _process_limit():
    """RLIMIT_NPROC for the child: it counts every process of the user, so add what runs already
    (None where they cannot be counted: no /proc)."""
    if CONFIG.user is not None:
        return CONFIG.limits.processes
    if not os.path.isdir("/proc"):
        return None
    return len(_processes_of(os.getuid())) + CONFIG.limits.processes


class JailedProcess(subprocess.Popen):
    """A child started by :func:`start`; ``wait(timeout)`` never waits past the total time budget."""

    budget_exhausted = False

    def wait(self, timeout=None):
        left = time_left()
        if left is not None and timeout is not None and left < timeout:
            if left <= 0 and self.poll() is None:
                self.budget_exhausted = True
                raise subprocess.TimeoutExpired(self.args, 0)
            try:
                return super().wait(timeout=max(left, 0.01))
            except subprocess.TimeoutExpired:
                self.budget_exhausted = True
                raise
        return super().wait(timeout=timeout)


def start(script, args, stdout, stderr, cwd, pass_fds=(), timeout=None):
    """Start ``python script args`` as a jailed child (see the module docstring); a JailedProcess.

    ``timeout`` (the problem's time limit, which the caller enforces) sets the CPU limit, a
    backstop; without it, what is left of the total budget, else 10 minutes.
    """
    _prepare_parent()
    base, home, tmp = _scratch_dirs()
    limits = CONFIG.limits
    seconds = timeout or time_left() or 600.0
    boot = {"script": os.path.realpath(script), "site": site_folders(), "writable": [base],
            "strict": CONFIG.strict, "cpu": int(max(seconds, 1) + limits.cpu_margin) + 1, "memory": limits.memory,
            "nproc": _process_limit(), "fsize": limits.file_size, "nofile": limits.open_files}
    command = [CONFIG.python, "-I", "-S", "-B", "-c", boot_code(boot["script"]), json.dumps(boot)] \
        + [str(a) for a in args]
    drop = {}
    if CONFIG.user is not None and os.geteuid() == 0:
        drop = {"user": CONFIG.user.pw_uid, "group": CONFIG.user.pw_gid, "extra_groups": []}
    with _LOCK:  # a reap in another thread must not take this child for an orphan
        proc = JailedProcess(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=cwd,
                             pass_fds=tuple(pass_fds), env=child_env(home, tmp), start_new_session=True,
                             umask=0o077, **drop)
        _LIVE.add(proc.pid)
        _SCRATCH[proc.pid] = base
    return proc


def start_command(command, out, err, pass_fds, cwd, timeout=None):
    """:func:`start` for a command line ``[python, script, *args]`` (the interpreter is the jail's own)."""
    return start(command[1], command[2:], stdout=out, stderr=err, cwd=cwd, pass_fds=pass_fds, timeout=timeout)


def _process_table():
    """{pid: parent pid} of every process, from /proc (Linux); empty elsewhere."""
    table = {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                table[int(name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    return table


def _descendants(roots, table):
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo += [child for child, parent in table.items() if parent == pid]
    return found


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_all_of_user(uid, gid):
    """SIGKILL every process of ``uid``: a forked helper becomes that user and calls kill(-1)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the helper: only system calls, then _exit)
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def reap(proc, rounds=50):
    """Kill ``proc``, its process group and every process it left behind; reap them. Returns the count killed."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        pass
    if proc.returncode is None:
        proc.kill()
        proc.wait()
    killed = 0
    for _ in range(rounds):
        stray = set()
        with _LOCK:
            _LIVE.discard(proc.pid)
            if CONFIG.user is not None and os.geteuid() == 0 and not _LIVE:
                # No other problem is running (--jobs 1): everything of the student's user goes.
                stray |= set(_processes_of(CONFIG.user.pw_uid))
                if stray:
                    _kill_all_of_user(CONFIG.user.pw_uid, CONFIG.user.pw_gid)
            table = _process_table()
            # Orphans come back to us (subreaper). The grader starts no children of its own while
            # grading, so every child of ours that is no live problem's process is student code.
            orphans = [pid for pid, parent in table.items() if parent == os.getpid() and pid not in _LIVE]
        stray |= _descendants(orphans, table)
        if not stray:
            break
        for pid in stray:
            _kill(pid)
        killed += len(stray)
        for pid in orphans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        time.sleep(0.005)
    # What it wrote goes with it (a disk it filled is free again for the next problem).
    shutil.rmtree(_SCRATCH.pop(proc.pid, ""), ignore_errors=True)
    return killed


# ------------------------------------------------------------- the child side
def boot(config):
    """In the child, before any student code: limits, sandbox, sys.path; then run the script as __main__."""
    import runpy
    _set_limits(config)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if config["strict"]:
        landlock(config["writable"])
    script = config["script"]
    sys.path[:] = [os.path.dirname(script)] + [p for p in sys.path if p] + config["site"]
    sys.argv[:] = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


def _set_limits(config):
    """Lower this process's limits (hard limits too, so student code cannot raise them again)."""
    try:
        import resource
    except ImportError:  # pragma: no cover  (not POSIX)
        return
    for name, soft, hard in (("RLIMIT_CPU", config["cpu"], config["cpu"] + 2), ("RLIMIT_AS", config["memory"], None),
                             ("RLIMIT_NPROC", config["nproc"], None), ("RLIMIT_FSIZE", config["fsize"], None),
                             ("RLIMIT_NOFILE", config["nofile"], None), ("RLIMIT_CORE", 0, None)):
        kind = getattr(resource, name, None)
        if kind is None or soft is None:
            continue
        for limits in ((soft, soft if hard is None else hard), (soft, resource.getrlimit(kind)[1])):
            try:
                resource.setrlimit(kind, limits)
                break
            except (ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS: that limit is not set
                continue


def boot_code(script):
    """The child's first code: -I leaves the script's folder off sys.path, so it names the folder of
    a jail.py to import: the one beside ``script`` (the grading folder's copy), else this one."""
    folder = os.path.dirname(script)
    if not os.path.isfile(os.path.join(folder, "jail.py")):
        folder = HERE
    return (f"import sys; sys.path.insert(0, {folder!r}); import jail, json; sys.path.pop(0); "
            "jail.boot(json.loads(sys.argv[1]))")


# ------------------------------------------------------------------ Landlock
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same numbers on x86_64 and arm64
_FS_EXECUTE = 1 << 0
_FS_WRITES = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) \
    | (1 << 11) | (1 << 12)   # write file, remove dir/file, make char/dir/reg/sock/fifo/block/sym
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect
_SCOPE = (1 << 0) | (1 << 1)    # abstract unix sockets, signals


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def landlock_abi():
    """The kernel's Landlock ABI version, 0 when there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError, TypeError):
        return 0
    return max(int(version), 0)


def landlock(writable):
    """Sandbox this process (and what it starts): write only beneath ``writable``; see the module docstring."""
    abi = landlock_abi()
    if abi < 1:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    writes = _FS_WRITES | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(writes | _FS_EXECUTE, _NET_TCP if abi >= 4 else 0, _SCOPE if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for folder in writable:
            fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
            try:
                rule = _PathBeneath(writes, fd)
                if libc.syscall(_SYS_ADD_RULE, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {folder} failed")
            finally:
                os.close(fd)
        if libc.syscall(_SYS_RESTRICT, ruleset, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def status():
    """Lines for the staff log: which protections this grading has, and what is left."""
    abi = landlock_abi() if CONFIG.strict else 0
    user = CONFIG.user.pw_name if CONFIG.user is not None and os.geteuid() == 0 else None
    lines = [f"Student code runs as: {user or pwd.getpwuid(os.getuid()).pw_name}"
             + ("" if user else " (the grader's own user: no privilege drop)")]
    if CONFIG.strict:
        if abi >= 6:
            lines.append(f"Landlock ABI {abi}: writes only in its scratch folder, no signals or ptrace "
                         "outside its sandbox, no exec, no TCP")
        elif abi >= 1:
            lines.append(f"Landlock ABI {abi}: writes only in its scratch folder, no ptrace, no exec; this "
                         "kernel cannot stop it signalling the grader (needs Linux 6.12)")
        else:
            lines.append("Landlock unavailable (needs Linux 5.13+): "
                         + ("the unprivileged user protects the grader" if user else
                            "same-user student code could write the grader's files and signal it; "
                            "tampering with the grader's files is detected"))
    return lines
