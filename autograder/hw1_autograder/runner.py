#!/usr/bin/env python3
"""Local autograder for HW1P1, Problems 1.1-2.6: ``./grade.sh 1`` runs this.

Each problem runs in a fresh Python process (``harness.py``) with a time
limit, so a crash, hang, ``sys.exit`` or segfault in student code scores that
problem 0 and grading goes on. The child reports its checks over a private
file descriptor with a one-time token; whatever student code prints is
captured and shown, indented and trimmed, inside this report. The summary is
printed here only: its last line is always the Autolab JSON
``{"scores": {...}}``.

Usage: python3 autograder/hw1_autograder/runner.py [--only 2.4] [--timeout 60]
       [--jobs 1] [--seed 11785] [--verbose] [--gradescope results.json]
       [--project DIR]

``--project DIR`` grades another folder: it must hold ``mytorch/``, ``hw1/``
and its own ``autograder/hw1_autograder/`` (the harness that imports the
student code runs from there). ``grade_submission.py`` lays out such a
folder with a fresh copy of this autograder for every submission.

Exit status: 0 when grading ran to the end, whatever the score; non-zero
only when the autograder itself failed (bad options, or a problem's process
that broke before running any check, i.e. before any student code ran).
"""
import argparse
import collections
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.realpath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import problems  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TIMEOUT = 60.0
DEFAULT_SEED = 11785
RULE = "-" * 72
# How much of a child's output to keep and to show.
OUTPUT_BYTES = 64 * 1024
SHOWN_LINES_FAILED = 25
SHOWN_LINES_VERBOSE = 200


class Result:
    """The outcome of one problem: points, a one-line status, and the report text."""

    def __init__(self, problem, points, status, details, seconds):
        self.problem = problem
        self.points = points
        self.status = status
        self.details = details
        self.seconds = seconds
        self.grader_error = False

    @property
    def passed(self):
        return self.points == self.problem.points and self.status == "passed"

    def text(self):
        mark = "PASS" if self.passed else "FAIL"
        head = (f"[{mark}] {self.problem.name}: {self.points}/{self.problem.points} points"
                f" ({self.status}, {self.seconds:.1f} s)")
        return "\n".join([head] + self.details)


# -------------------------------------------------------------- one problem
def _child_env():
    env = dict(os.environ)
    # Small arrays: threads only cost start-up time, and one thread is deterministic.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def _kill_group(proc):
    """Kill the child and anything it started (its own process group)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover  (not POSIX)
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _dump_stack(proc, err, patience=2.0):
    """Ask a child that ran out of time to print its stack (faulthandler, on SIGUSR1) to ``err``."""
    if not hasattr(signal, "SIGUSR1"):
        return
    size = err.seek(0, os.SEEK_END)
    try:
        proc.send_signal(signal.SIGUSR1)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        grown = err.seek(0, os.SEEK_END)
        if grown > size:
            time.sleep(0.1)  # let it finish writing
            return


def _tail(stream, root):
    """The last OUTPUT_BYTES of a captured stream, as text with the project path ``root`` shortened."""
    stream.flush()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - OUTPUT_BYTES))
    text = stream.read().decode("utf-8", errors="replace")
    return text.replace(root + os.sep, "")


def _safe(line):
    """A line of student output, unable to move the cursor or fake a line of ours."""
    return "".join(c if c.isprintable() or c == "\t" else "?" for c in line)


def _indent_output(label, text, limit):
    lines = text.splitlines()
    if not lines:
        return []
    shown = lines[-limit:]
    more = f"its last {len(shown)} lines" if len(lines) > len(shown) else f"{len(lines)} lines"
    return [f"    {label} ({more}):"] + [f"      | {_safe(line)}" for line in shown]


def _where_stuck(stderr):
    """Student-file lines of the stack dump faulthandler wrote on a timeout or crash, innermost first."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip().startswith('File "') and ('"mytorch' in line or '"hw1' in line)]
    return lines[:6]


def _without_our_frames(stderr):
    """stderr without the autograder's own frames and faulthandler's module list."""
    return "\n".join(line for line in stderr.splitlines()
                     if not line.strip().startswith(('File "autograder', "Extension modules:")))


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_problem(problem, index, args):
    """Run one problem in a child process; return its Result."""
    token = secrets.token_hex(16)
    seed = args.seed + index
    start = time.monotonic()
    with tempfile.TemporaryFile() as channel, tempfile.TemporaryFile() as out, \
            tempfile.TemporaryFile() as err:
        channel.write(token.encode())
        channel.flush()
        channel.seek(0)
        fd = channel.fileno()
        command = [sys.executable, harness_of(args.project), problem.id, str(fd), str(seed), str(args.timeout)]
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                pass_fds=(fd,), cwd=args.project, env=_child_env(),
                                start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _dump_stack(proc, err)
            _kill_group(proc)
            proc.wait()
        finally:
            _kill_group(proc)  # grandchildren, if student code started any
        seconds = time.monotonic() - start
        channel.seek(0)
        raw = channel.read(10 * 1024 * 1024)
        stdout, stderr = _tail(out, args.project), _tail(err, args.project)
    checks, running = _read_channel(raw, token, problem)
    outcome = _Outcome(proc.returncode, timed_out, stdout, stderr, seconds)
    return _interpret(problem, args, None if timed_out else checks, running, outcome)


def _read_channel(raw, token, problem):
    """(the checks' reports or None, the name of the last check that started or None)."""
    report, running = None, None
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("token") != token:
            continue  # not from the harness
        if "running" in message:
            running = str(message["running"])
        elif message.get("problem") == problem.id:
            report = message.get("checks")
    if not isinstance(report, list) or len(report) != len(problem.checks()):
        report = None
    return report, running


class _Outcome(collections.namedtuple("_Outcome", "returncode timed_out stdout stderr seconds")):
    """How a problem's process ended: its exit code, whether it timed out, its output, its run time."""


def _interpret(problem, args, checks, running, outcome):
    """The Result of one problem from its checks' reports (None if they did not finish) and its process."""
    if checks is None and running is None:
        return _harness_failed(problem, outcome)
    if checks is None:
        return _unfinished(problem, args, running, outcome)
    return _finished(problem, args, checks, outcome)


def _harness_failed(problem, outcome):
    # Not one check started: the harness itself could not run (a broken
    # Python environment or autograder), before any student code.
    details = ["    AUTOGRADER ERROR: the problem's process failed before running any check."]
    details += _indent_output("stderr", outcome.stderr, SHOWN_LINES_FAILED)
    result = Result(problem, 0, "autograder error", details, outcome.seconds)
    result.grader_error = True
    return result


def _unfinished(problem, args, running, outcome):
    """A problem whose checks did not all report: timed out, crashed or exited; scores 0."""
    returncode = outcome.returncode
    if outcome.timed_out:
        status = f"timed out after {args.timeout:g} s"
        hint = "is there an endless loop, or Python loops where NumPy would do?"
    elif returncode is not None and returncode < 0:
        status = f"killed by signal {_signal_name(-returncode)}"
        hint = "the Python process crashed."
    else:
        status = f"exited with code {returncode} without reporting"
        hint = "did your code call os._exit, or end the interpreter another way?"
    details = [f"    The checks did not finish: {hint}"]
    if running:
        details.append(f"    It happened during the check: {_safe(running)}")
    stuck = _where_stuck(outcome.stderr)
    if stuck:
        details.append("    Where your code was at the time:")
        details += [f"      {line}" for line in stuck]
    details += _indent_output("your code's output (stdout)", outcome.stdout, SHOWN_LINES_FAILED)
    details += _indent_output("stderr", _without_our_frames(outcome.stderr), SHOWN_LINES_FAILED)
    return Result(problem, 0, status, details, outcome.seconds)


def _finished(problem, args, checks, outcome):
    """A problem whose checks all reported: full points if every one passed."""
    # A note (a 0-point check, harness.note) is shown when it has something to say, and never scores.
    scored = [c for c in checks if not c.get("note")]
    failed = [c for c in scored if not c.get("passed")]
    status = "passed" if not failed else f"{len(failed)} of {len(scored)} checks failed"
    details, previous = [], None
    for check in checks:
        if check.get("passed") and not (failed or args.verbose):
            continue
        mark = "ok  " if check.get("passed") else "FAIL"
        if check.get("note"):
            mark = "ok  " if check.get("passed") else "note"
            details.append(f"    {mark}  (0 points, not in the handout) {_safe(str(check.get('name')))}")
        else:
            details.append(f"    {mark}  {_safe(str(check.get('name')))}")
        message = str(check.get("message") or "").replace(args.project + os.sep, "")
        if message and message == previous:
            details.append("            (the same error as above)")
            continue
        previous = message or previous
        for line in message.splitlines():
            details.append(f"            {_safe(line)}")
    if failed or args.verbose:
        limit = SHOWN_LINES_VERBOSE if args.verbose else SHOWN_LINES_FAILED
        details += _indent_output("your code printed (stdout)", outcome.stdout, limit)
        details += _indent_output("stderr", outcome.stderr, limit)
    else:
        printed = len(outcome.stdout.splitlines()) + len(outcome.stderr.splitlines())
        if printed:
            details.append(f"    (your code printed {printed} lines; --verbose shows them)")
    return Result(problem, problem.points if not failed else 0, status, details, outcome.seconds)


# ---------------------------------------------------------------- the run
def harness_of(project):
    """The harness that runs a problem on ``project``: the copy inside that project."""
    return os.path.join(project, "autograder", "hw1_autograder", "harness.py")


def select(only):
    """The problems named by ``--only`` (ids, id prefixes like 1.1, or words of names)."""
    if not only:
        return list(problems.PROBLEMS)
    chosen = []
    for word in (w.strip() for part in only for w in part.split(",")):
        if not word:
            continue
        by_name = any(c.isalpha() for c in word)  # "batchnorm"; "1.2" is an id, not part of "1.1.2 ..."
        hits = [p for p in problems.PROBLEMS
                if p.id == word or p.id.startswith(word + ".") or (by_name and word.lower() in p.name.lower())]
        if not hits:
            known = ", ".join(f"{p.id} ({p.name})" for p in problems.PROBLEMS)
            raise SystemExit(f"runner.py: --only {word!r} matches no problem; the problems are: {known}")
        chosen += [p for p in hits if p not in chosen]
    return [p for p in problems.PROBLEMS if p in chosen]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="runner.py", description="Local autograder for HW1P1 (Problems 1.1-2.6).")
    parser.add_argument("--only", action="append", metavar="PROBLEM",
                        help="grade only these problems: ids (2.4), prefixes (1.1) or names (batchnorm); "
                             "repeat or separate with commas")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"time limit per problem (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="grade N problems at a time (default 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of the random shapes and values (default {DEFAULT_SEED})")
    parser.add_argument("--verbose", action="store_true",
                        help="show every check and everything your code printed")
    parser.add_argument("--gradescope", metavar="PATH",
                        help="also write Gradescope results (JSON) to PATH")
    parser.add_argument("--project", metavar="DIR", default=PROJECT_ROOT,
                        help="grade the project in DIR (with mytorch/, hw1/ and its own "
                             "autograder/hw1_autograder/) instead of the one this runner sits in")
    args = parser.parse_args(argv)
    args.project = os.path.realpath(args.project)
    if not os.path.isfile(harness_of(args.project)):
        parser.error(f"--project {args.project}: no autograder/hw1_autograder/harness.py there; "
                     "the folder graded needs its own copy of the autograder")
    if not args.timeout > 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return args


def _robust_streams():
    for stream in (sys.stdout, sys.stderr):
        # A console that cannot show a character must not crash the grader.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv=None, notes=(), plot=None):
    """Grade, print the report, and end with the Autolab JSON line; the exit status.

    ``notes`` (lines about the submission) are printed first and go into the
    Gradescope output; ``plot`` (a ``PlotCheck``) adds the MNIST plot as a
    0-point test there.
    """
    _robust_streams()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chosen = select(args.only)
    for line in notes:
        print(line)
    results = grade(args, chosen)
    return finish(args, chosen, results, notes, plot)


def grade(args, chosen):
    """Run the ``chosen`` problems on ``args.project``, printing each result as it comes; the Results."""
    index = {p.id: i for i, p in enumerate(problems.PROBLEMS)}
    print(f"Grading {args.project} ({len(chosen)} problems, time limit {args.timeout:g} s each)", flush=True)
    results = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_problem, p, index[p.id], args) for p in chosen]
        for future in futures:  # in problem order, each as soon as it is done
            result = future.result()
            results.append(result)
            print(RULE)
            print(result.text(), flush=True)
    return results


def not_graded(chosen, reason):
    """Zero Results for problems that could not be graded at all (e.g. a refused submission)."""
    return [Result(p, 0, "not graded", [f"    {_safe(line)}" for line in reason.splitlines()], 0.0)
            for p in chosen]


def finish(args, chosen, results, notes=(), plot=None):
    """Print the summary, write the Gradescope file if asked, and print the JSON line last."""
    total = sum(r.points for r in results)
    print("=" * 72)
    print("Summary")
    width = max(len(p.name) for p in problems.PROBLEMS)
    for r in results:
        print(f"  {r.problem.name:<{width}}  {r.points:>2}/{r.problem.points:<2}  {r.status}")
    print(f"  {'3 MNIST':<{width}}   -/{problems.MNIST_POINTS:<2}  graded by hand from validation_accuracy.png "
          "(make it with ./grade.sh m)")
    if plot is not None:
        print(f"  Plot: {plot.summary}")
    if args.gradescope:
        write_gradescope(args.gradescope, results, total, notes, plot)
        print(f"Gradescope results written to {args.gradescope}")
    graded = "" if len(chosen) == len(problems.PROBLEMS) else \
        f" (only {', '.join(p.id for p in chosen)} graded in this run)"
    full = problems.TOTAL_POINTS - problems.MNIST_POINTS
    print(f"Total score: {total}/{problems.TOTAL_POINTS}{graded}")
    print(f"Problem 3 (MNIST, {problems.MNIST_POINTS} points) is not autograded: "
          f"{full}/{problems.TOTAL_POINTS} is a full score here.")
    broken = [r.problem.id for r in results if r.grader_error]
    if broken:
        # Said before the JSON line, which stays last even where stderr and stdout are merged.
        print(f"runner.py: the autograder itself failed on problem(s) {', '.join(broken)}; "
              "these scores are not valid (see AUTOGRADER ERROR above)", file=sys.stderr, flush=True)
    print(json.dumps({"scores": {r.problem.name: r.points for r in results}}), flush=True)
    return 1 if broken else 0


class PlotCheck:
    """Whether the submission holds a PNG ``validation_accuracy.png`` (Problem 3, graded by hand)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as handle:
                head = handle.read(8)
            size = os.path.getsize(path)
        except OSError:
            head, size = None, 0
        self.present = head is not None
        self.is_png = head == b"\x89PNG\r\n\x1a\n"
        if not self.present:
            self.summary = ("validation_accuracy.png is MISSING: Problem 3 (MNIST) cannot be graded. "
                            "Run ./grade.sh m, then ./create_tarball.sh, and submit again.")
        elif not self.is_png:
            self.summary = f"validation_accuracy.png ({size} bytes) is not a PNG image; staff will look at it."
        else:
            self.summary = (f"validation_accuracy.png submitted ({size} bytes); course staff grade "
                            f"Problem 3 ({problems.MNIST_POINTS} points) by hand from it.")


# Gradescope's visibility values: "hidden", "after_due_date", "after_published", "visible".
GRADESCOPE_VISIBILITY = "visible"


def write_gradescope(path, results, total, notes=(), plot=None):
    """Gradescope's results.json: the total, one test per problem, and the MNIST plot as a 0-point test.

    Fields as in Gradescope's autograder specification: top-level ``score``,
    ``output``, ``visibility``, ``stdout_visibility`` (the raw log stays with
    staff: everything a student needs is in ``output`` and the tests) and
    ``tests``, each with ``name``, ``score``, ``max_score``, ``status``,
    ``output`` and ``visibility``.
    """
    tests = [{"name": r.problem.name, "score": r.points, "max_score": r.problem.points,
              "status": "passed" if r.passed else "failed", "output": r.text(),
              "visibility": GRADESCOPE_VISIBILITY} for r in results]
    if plot is not None:
        tests.append({"name": f"3 MNIST (validation_accuracy.png, {problems.MNIST_POINTS} points graded by hand)",
                      "score": 0, "max_score": 0, "status": "passed" if plot.is_png else "failed",
                      "output": plot.summary, "visibility": GRADESCOPE_VISIBILITY})
    full = problems.TOTAL_POINTS - problems.MNIST_POINTS
    output = list(notes) + [f"Autograded score: {total}/{full} (Problems 1.1-2.6). Problem 3 "
                            f"(MNIST, {problems.MNIST_POINTS} points) is graded by hand."]
    report = {"score": total, "output": "\n".join(output), "visibility": GRADESCOPE_VISIBILITY,
              "stdout_visibility": "hidden", "tests": tests}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Written whole then renamed, so a reader never sees half a file.
    scratch = path + ".partial"
    with open(scratch, "w") as handle:
        json.dump(report, handle, indent=2)
    os.replace(scratch, path)


if __name__ == "__main__":
    sys.exit(main())
