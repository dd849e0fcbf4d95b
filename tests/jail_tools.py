"""Helpers for the attack tests of autograder/hw1_autograder/jail.py.

``run_jailed(code)`` runs a stand-in grader in its own process: it configures
the jail, starts ``code`` as the jailed child (the way runner.py starts a
problem), waits with a short time limit, reaps, and reports what happened as
JSON. The stand-in, not pytest, is what an attack on "the parent" hits.
Every child carries a unique marker in its command line, so the tests can
look for survivors in /proc (a forked Python keeps its command line).
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADER = ROOT / "autograder" / "hw1_autograder"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# An interpreter another user can run: on this project's machine the tests' Python lives under /root.
SYSTEM_PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), None)

DRIVER = r'''
import json, os, subprocess, sys, tempfile, time
config = json.loads(sys.argv[1])
sys.path.insert(0, config["grader"])
import jail
jail.configure(user=config["user"], scratch=config["scratch"], strict=config["strict"],
               limits=jail.Limits(**config["limits"]), budget=config["budget"], python=config["python"],
               site=config["site"])
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    start = time.monotonic()
    proc = jail.start(config["script"], [config["marker"]], stdout=out, stderr=err, cwd=config["cwd"],
                      timeout=config["timeout"])
    timed_out = False
    try:
        proc.wait(timeout=config["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
    time.sleep(config["linger"])
    killed = jail.reap(proc)
    seconds = time.monotonic() - start
    sizes = [out.seek(0, 2), err.seek(0, 2)]
    out.seek(0); err.seek(0)
    print(json.dumps({"returncode": proc.returncode, "timed_out": timed_out, "killed": killed,
                      "budget_exhausted": proc.budget_exhausted, "seconds": seconds,
                      "stdout": out.read(20000).decode(errors="replace"),
                      "stderr": err.read(20000).decode(errors="replace"), "sizes": sizes,
                      "status": jail.status()}))
'''


def shared_folder():
    """A new folder under /tmp that every user can enter and read (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="hw1p1-jailtest-"))
    folder.chmod(0o755)
    return folder


def survivors(marker):
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                continue
    return found


def kill_survivors(marker):
    for pid in survivors(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Jailed:
    """What ``run_jailed`` saw: the stand-in grader's report, its own exit, and survivors."""

    def __init__(self, report, driver, marker, left):
        self.__dict__.update(report or {})
        self.driver = driver
        self.marker = marker
        self.left = left


def run_jailed(code, folder, user=None, strict=False, timeout=2.0, linger=0.0, budget=None,
               python=None, site=(), grader_user=None, **limits):
    """Run ``code`` (a Python script's text) as a jailed child of a stand-in grader; a Jailed.

    ``grader_user`` runs the stand-in grader itself as that user (a same-user grader that is not
    root, as on Autolab, when the tests run as root), with the system Python.
    """
    marker = "jailtest-" + uuid.uuid4().hex
    script = folder / f"child_{marker}.py"
    script.write_text(textwrap.dedent(code))
    script.chmod(0o644)
    scratch = folder / f"scratch_{marker}"
    config = {"grader": str(GRADER), "user": user, "scratch": str(scratch), "strict": strict,
              "limits": limits, "budget": budget, "python": python or sys.executable, "site": list(site),
              "script": str(script), "marker": marker, "cwd": str(folder), "timeout": timeout,
              "linger": linger}
    try:
        drop = {}
        if grader_user is not None:
            entry = pwd.getpwnam(grader_user)
            drop = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            folder.chmod(0o1777)
        driver = subprocess.run([config["python"] if grader_user else sys.executable, "-c", DRIVER,
                                 json.dumps(config)], capture_output=True, text=True, timeout=60,
                                cwd=str(folder), **drop)
        report = None
        if driver.returncode == 0 and driver.stdout.strip():
            report = json.loads(driver.stdout.strip().splitlines()[-1])
        left = survivors(marker)
    finally:
        kill_survivors(marker)
    return Jailed(report, driver, marker, left)


def numpy_site(folder):
    """A copy (hard links where possible) of the tests' NumPy in ``folder``/site that any user can read."""
    import numpy
    source = Path(numpy.__file__).resolve().parents[1]
    site = folder / "site"
    site.mkdir()
    for name in ("numpy", "numpy.libs"):
        if (source / name).exists():
            try:
                shutil.copytree(source / name, site / name, copy_function=os.link)
            except OSError:
                shutil.rmtree(site / name, ignore_errors=True)
                shutil.copytree(source / name, site / name)
    for path in [site, *site.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else (path.stat().st_mode | 0o444))
    return site


def unprivileged_user():
    """A user to drop to, as the grader does: hw1student if it exists, else nobody."""
    for name in ("hw1student", "nobody"):
        try:
            return pwd.getpwnam(name).pw_name
        except KeyError:
            continue
    return None
