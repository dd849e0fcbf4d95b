#!/usr/bin/env python3
"""Grade one student submission the way a course server does (Autolab or Gradescope).

    python3 autograder/hw1_autograder/grade_submission.py autolab handin.tar
    python3 autograder/hw1_autograder/grade_submission.py gradescope [--root /autograder]

For every submission: a fresh grading folder in a temporary folder (never
the folder this grader sits in, so a staff member's regrade leaves their
checkout alone) gets a copy of this autograder, written from the copy this
process read into memory when it started, then only the student's source
(``submission.py`` reads the archive checking it as it goes, refuses unsafe
ones and takes only ``.py`` files under ``mytorch/`` and ``hw1/`` and the
plot), and ``runner.py --project`` grades that folder, each problem in its
own jailed process (``jail.py``).

- ``autolab``: prints the report; its last line is ``{"scores": {...}}``.
- ``gradescope``: the same report, and ``results.json`` per Gradescope's
  specification, written first as a provisional zero and replaced at the end.
  The submission is ``ROOT/submission`` (a ``handin.tar`` in it, or the files
  themselves), the results go to ``ROOT/results/results.json``; ROOT is
  ``/autograder`` unless ``--root`` or the environment variable
  ``HW1_AUTOGRADER_ROOT`` says otherwise.

Run as root (Gradescope), student code runs as an unprivileged user
(``--user``: ``hw1student``, which the Gradescope package's setup.sh creates,
else ``nobody``), in a scratch folder it owns, out of reach of the grader's
files, results and processes. Either way it runs under Landlock where the
kernel has it, with a per-run secret seed (``runner.py --secret-seed``) and a
total time budget (``--budget``). The grader's own files are checked after
grading: any change is undone and reported.

A refused, empty, corrupt or incomplete submission scores 0 on every problem
with the reason in the report, and the JSON line / results.json is still
written; so does a full disk. The exit status is non-zero only when the
autograder itself failed.
"""
import argparse
import errno
import hashlib
import os
import pwd
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import jail  # noqa: E402
import problems  # noqa: E402
import runner  # noqa: E402
import submission  # noqa: E402

DEFAULT_ROOT = "/autograder"
ROOT_VARIABLE = "HW1_AUTOGRADER_ROOT"
# What of this folder a grading folder needs: the code, not data or caches
# (never_shipped.txt), nor a plot (the submission's is copied in separately).
NOT_COPIED = submission.NEVER_SHIPPED + ("*.png",)
# Gradescope stops an autograder after 10 minutes unless staff raise it: a score must exist before.
GRADESCOPE_BUDGET = 540.0
AUTOLAB_BUDGET = 540.0
STUDENT_USERS = ("hw1student", "nobody")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="grade_submission.py",
                                     description="Grade one HW1P1 submission as Autolab or Gradescope does.")
    platforms = parser.add_subparsers(dest="platform", required=True)
    autolab = platforms.add_parser("autolab", help="grade handin.tar; the last line is the scores JSON")
    autolab.add_argument("handin", nargs="?", default="handin.tar",
                         help="the student's archive (default handin.tar)")
    gradescope = platforms.add_parser("gradescope", help="grade ROOT/submission, write ROOT/results/results.json")
    gradescope.add_argument("--root", default=os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT),
                            help=f"Gradescope's folder (default ${ROOT_VARIABLE} or {DEFAULT_ROOT})")
    gradescope.add_argument("--submission", help="the submission folder or archive (default ROOT/submission)")
    gradescope.add_argument("--results", help="where results.json goes (default ROOT/results/results.json)")
    for sub, budget in ((autolab, AUTOLAB_BUDGET), (gradescope, GRADESCOPE_BUDGET)):
        sub.add_argument("--timeout", type=float, default=runner.DEFAULT_TIMEOUT, metavar="SECONDS",
                         help=f"time limit per problem (default {runner.DEFAULT_TIMEOUT:g})")
        sub.add_argument("--budget", type=float, default=budget, metavar="SECONDS",
                         help=f"time for the whole grading, below the platform's own limit (default {budget:g})")
        sub.add_argument("--user", default="auto",
                         help="run student code as this user when grading as root; 'auto' (default): "
                              f"{' or '.join(STUDENT_USERS)}; 'none': as the grader's own user")
        sub.add_argument("--keep", metavar="DIR",
                         help="grade in DIR (created; must not exist) and keep it, to look at afterwards")
    args = parser.parse_args(argv)
    if args.platform == "gradescope":
        args.submission = args.submission or os.path.join(args.root, "submission")
        args.results_default = args.results is None
        args.results = args.results or os.path.join(args.root, "results", "results.json")
    return args


# ------------------------------------------------------- the grader's own code
def snapshot_grader(folder=HERE):
    """{relative path: bytes} of every file of this autograder a grading folder gets, read once, now."""
    files = {}
    for path, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not submission.never_shipped([d], NOT_COPIED))
        for name in sorted(names):
            if not submission.never_shipped([name], NOT_COPIED):
                full = os.path.join(path, name)
                with open(full, "rb") as handle:
                    files[os.path.relpath(full, folder)] = handle.read()
    return files


def preload():
    """Import every module this process will use, now, before any student code runs."""
    for problem in problems.PROBLEMS:
        problem.checks()


def make_grading_folder(folder, snapshot):
    """Write the autograder into ``folder`` from ``snapshot`` (never from disk again): read-only files."""
    base = os.path.join(folder, "autograder", "hw1_autograder")
    for relpath, data in snapshot.items():
        target = os.path.join(base, relpath)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        os.chmod(target, 0o444)
    for path in (os.path.join(folder, "autograder"), base):
        os.chmod(path, 0o555)


def tampered(snapshot, folder=HERE):
    """Files of this autograder that changed on disk since ``snapshot``; each is put back as it was."""
    changed = []
    now = snapshot_grader(folder)
    for relpath in sorted(set(snapshot) | set(now)):
        if snapshot.get(relpath) != now.get(relpath):
            changed.append(relpath)
            target = os.path.join(folder, relpath)
            try:
                if relpath in snapshot:
                    with open(target, "wb") as handle:
                        handle.write(snapshot[relpath])
                else:
                    os.remove(target)
            except OSError:
                pass
    return changed


def digest(snapshot):
    return hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(snapshot.items()))).hexdigest()[:16]


# ------------------------------------------------------------ the student user
def reachable(path, entry):
    """Whether user ``entry`` (a pwd entry) can read ``path`` and every folder above it, by mode bits."""
    path = os.path.realpath(path)
    chain = [path]
    while os.path.dirname(chain[-1]) != chain[-1]:
        chain.append(os.path.dirname(chain[-1]))
    for i, part in enumerate(chain):
        try:
            info = os.stat(part)
        except OSError:
            return False
        need = 0o4 if i == 0 and not os.path.isdir(part) else 0o1
        if info.st_uid == entry.pw_uid:
            need <<= 6
        elif info.st_gid == entry.pw_gid:
            need <<= 3
        if not info.st_mode & need:
            return False
    return True


def writable(path, entry):
    """Whether user ``entry`` could write into the folder ``path`` (plant a module there), by mode bits."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if info.st_uid == entry.pw_uid:
        return bool(info.st_mode & 0o200)
    if info.st_gid == entry.pw_gid:
        return bool(info.st_mode & 0o020)
    return bool(info.st_mode & 0o002)


def choose_user(wanted):
    """(the user to run student code as or None, a line for the staff log)."""
    if wanted == "none":
        return None, "--user none: student code runs as the grader's own user"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None, "not root: student code runs as the grader's own user (Landlock is what guards the grader)"
    names = STUDENT_USERS if wanted == "auto" else (wanted,)
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        needed = [sys.executable, os.path.dirname(os.__file__)] + jail.site_folders()
        blocked = [p for p in needed if not reachable(p, entry)]
        if blocked:
            return None, (f"WARNING: cannot drop privileges to {name}: it cannot reach {', '.join(blocked)}; "
                          "student code runs as root (install Python where every user can read it)")
        planted = [p for p in needed[1:] if writable(p, entry)]
        if planted:
            return name, (f"student code runs as {name} (uid {entry.pw_uid}); WARNING: it can write into "
                          f"{', '.join(planted)}, on its Python's start-up path")
        return name, f"student code runs as {name} (uid {entry.pw_uid})"
    return None, f"WARNING: no user {' or '.join(names)} on this machine; student code runs as root"


def lay_out(work, user):
    """The grading folder and the student's scratch folder inside ``work``; (project, scratch)."""
    project, scratch = os.path.join(work, "project"), os.path.join(work, "scratch")
    os.makedirs(project, mode=0o755)
    os.makedirs(scratch, mode=0o700)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(scratch, entry.pw_uid, entry.pw_gid)
        os.chmod(work, 0o711)  # it may pass through, not list
    return project, scratch


def open_up(project):
    """Make the student's files readable (not writable) by the student user: root owns them."""
    for path, dirs, names in os.walk(project):
        for name in dirs:
            os.chmod(os.path.join(path, name), 0o755)
        for name in names:
            target = os.path.join(path, name)
            os.chmod(target, 0o444 if "autograder" in os.path.relpath(target, project).split(os.sep) else 0o644)
    os.chmod(project, 0o755)


# -------------------------------------------------------------- the submission
def find_archive(path):
    """The tar to unpack for ``path`` (a file, or a folder holding one .tar and no mytorch/), or None."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path) and not os.path.lexists(os.path.join(path, "mytorch")):
        tars = sorted(n for n in os.listdir(path) if n.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))
                      and os.path.isfile(os.path.join(path, n)))
        if "handin.tar" in tars:
            return os.path.join(path, "handin.tar")
        if len(tars) == 1:
            return os.path.join(path, tars[0])
    return None


def take_submission(path, folder):
    """Put the student's files into ``folder``; (notes, reason not to grade or None)."""
    archive = find_archive(path)
    try:
        if archive is not None:
            unpacked = submission.unpack_tar(archive, folder)
        elif os.path.isdir(path):
            unpacked = submission.copy_folder(path, folder)
        else:
            reason = f"No submission found at {path}: upload handin.tar, made by ./create_tarball.sh."
            return [reason], reason
    except submission.SubmissionRefused as refused:
        reason = f"SUBMISSION REFUSED: {refused}"
        return [reason], reason
    except Exception as error:  # noqa: BLE001  a file system surprise must still end in a score
        reason = (f"AUTOGRADER ERROR while taking the files out of the submission "
                  f"({type(error).__name__}: {error}); tell the course staff.")
        return [runner._safe(reason)], runner._safe(reason)
    notes = [runner._safe(line) for line in unpacked.notes()]  # file names are the student's
    if unpacked.missing:
        return notes, "\n".join(line for line in notes if line.startswith("MISSING"))
    return notes, None


# ------------------------------------------------------------------- grading
def run_args(args, folder):
    argv = ["--project", folder, "--timeout", str(args.timeout), "--secret-seed"]
    if args.platform == "gradescope":
        argv += ["--gradescope", args.results]
    return argv


def score_nothing(args, notes, reason, plot=None):
    """Every problem 0 with ``reason``; the report, the JSON line and results.json all the same."""
    runner._robust_streams()
    # Not runner.parse_args: after a full disk there may be no grading folder left to check.
    parsed = argparse.Namespace(gradescope=args.results if args.platform == "gradescope" else None)
    for line in notes:
        print(line)
    results = runner.not_graded(problems.PROBLEMS, reason)
    for result in results:
        print(runner.RULE)
        print(result.text())
    return runner.finish(parsed, problems.PROBLEMS, results, notes, plot)


def provisional(args):
    """Gradescope: a results.json of zeros before anything else, so that a score exists whatever happens."""
    if args.platform != "gradescope":
        return
    folder = os.path.dirname(os.path.abspath(args.results))
    os.makedirs(folder, exist_ok=True)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and args.results_default:
        # Gradescope's own ROOT/results (never a folder named with --results, which could be
        # /tmp): the student user can neither read nor write the results.
        os.chmod(folder, 0o700)
    reason = ("Grading did not finish (the time limit ran out, or the grader crashed): this is a "
              "provisional score of 0. Tell the course staff.")
    runner.write_gradescope(args.results, runner.not_graded(problems.PROBLEMS, reason), 0,
                            [reason])


def grade(args, work, user, notes_for_staff):
    """Lay out, take the submission, grade; the exit status."""
    project, scratch = lay_out(work, user)
    make_grading_folder(project, SNAPSHOT)
    source = args.handin if args.platform == "autolab" else args.submission
    notes, reason = take_submission(source, project)
    plot = runner.PlotCheck(os.path.join(project, "validation_accuracy.png"))
    open_up(project)
    jail.configure(user=user, scratch=scratch, strict=True, budget=args.budget)
    for line in notes_for_staff + jail.status():
        print(f"[staff] {line}")
    if reason is not None:
        return score_nothing(args, notes, reason, plot)
    # runner.main's steps, with the check of the grader's own files before the summary,
    # so that the JSON line stays the last line.
    runner._robust_streams()
    parsed = runner.parse_args(run_args(args, project))
    chosen = runner.select(parsed.only)
    for line in notes:
        print(line)
    results = runner.grade(parsed, chosen)
    report_tampering(os.path.join(project, "autograder", "hw1_autograder"))
    return runner.finish(parsed, chosen, results, notes, plot)


def report_tampering(copy=None):
    """Say (before the JSON line) if student code changed the grader: its files, or the grading folder's copy."""
    changed = tampered(SNAPSHOT)
    if changed:
        print(f"[staff] TAMPERED: these autograder files changed on disk during grading and were "
              f"restored: {', '.join(changed)}", flush=True)
    changed = tampered(SNAPSHOT, copy) if copy and os.path.isdir(copy) else []
    if changed:
        print(f"[staff] TAMPERED: student code changed the grading folder's copy of the autograder "
              f"(later problems may have run it): {', '.join(changed)}", flush=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    provisional(args)
    preload()
    user, line = choose_user(args.user)
    staff = [line, f"grader files: {len(SNAPSHOT)}, sha256 {digest(SNAPSHOT)}"]
    if args.keep:
        os.makedirs(args.keep)
        work = os.path.realpath(args.keep)
    else:
        work = tempfile.mkdtemp(prefix="hw1p1-grading-")
    try:
        try:
            status = grade(args, work, user, staff)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            shutil.rmtree(work, ignore_errors=True)  # what student code wrote goes first
            os.makedirs(work, exist_ok=True)
            reason = (f"AUTOGRADER ERROR: the grading machine ran out of disk space ({error.strerror}); "
                      "every problem scores 0 for now. Tell the course staff.")
            report_tampering()
            status = score_nothing(args, [reason], reason)
        return status
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# Read before anything else runs: the grading folders are written from this, and it is what
# the files on disk are compared with afterwards.
SNAPSHOT = snapshot_grader()

if __name__ == "__main__":
    sys.exit(main())
