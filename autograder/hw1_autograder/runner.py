#!/usr/bin/env python3
"""Local autograder for HW1P1, Problems 1.1-2.6: ``./grade.sh 1`` runs this.

The verdict is decided here, and student code never runs here. Each problem
gets a fresh Python process (``child.py``, run from the graded project's copy
of the autograder) that imports the student's code and, request by request,
does what the checks ask of the student's objects, answering with raw results
only (values, shapes, exception texts) over a private, bounded channel
(``remote.py``, ``wire.py``: no pickle). The checks themselves, and every
expected value and comparison, run in this process, which imported them from
its own folder before any student process started and never imports student
code; the child never learns the seed of the checks. So a crash, hang,
``sys.exit``, segfault or garbage on the channel scores that problem 0 and
grading goes on, and nothing student code does in its process can change a
verdict. Whatever student code prints is captured and shown, indented and
trimmed, inside this report. The summary is printed here only: its last line
is always the Autolab JSON ``{"scores": {...}}``.

Usage: python3 autograder/hw1_autograder/runner.py [--only 2.4] [--timeout 60]
       [--jobs 1] [--seed 11785] [--verbose] [--gradescope results.json]
       [--project DIR]

``--project DIR`` grades another folder: it must hold ``mytorch/``, ``hw1/``
and its own ``autograder/hw1_autograder/`` (the student's process runs its
``child.py``; the checks run from this runner's folder). ``grade_submission.py``
lays out such a folder with a fresh copy of this autograder for every
submission. A server passes a secret seed as ``main(seed=...)``, never on a
command line: the checks' inputs are then unknown in advance.

Exit status: 0 when grading ran to the end, whatever the score; non-zero
only when the autograder itself failed (bad options, or a problem's process
that broke before running any check, i.e. before any student code ran).
"""
import argparse
import collections
import hashlib
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

# The grader's own modules, from this folder, before any student process starts.
import harness  # noqa: E402
import jail  # noqa: E402
import problems  # noqa: E402
import remote  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TIMEOUT = 60.0
DEFAULT_SEED = 11785
RULE = "-" * 72
# How much of a child's output to keep and to show.
OUTPUT_BYTES = 64 * 1024
SHOWN_LINES_FAILED = 25
SHOWN_LINES_VERBOSE = 200
AUDIT_CHARS = 8000  # of the advisory audit note the child may add


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


def child_seed(seed, label):
    """A seed for the student's process, derived from the checks' seed so that it cannot be told back."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class Child:
    """A started student process, waiting for its first request: its pipes and captured output."""

    def __init__(self, args):
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        request_read, self.request_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        try:
            command = [sys.executable, child_of(args.project), str(request_read), str(reply_write)]
            # jail.py: limits, isolated Python, scrubbed environment, unprivileged user where possible.
            self.proc = jail.start_command(command, self.out, self.err, (request_read, reply_write), args.project,
                                           timeout=args.timeout)
        finally:
            os.close(request_read)
            os.close(reply_write)

    def close(self):
        for fd in (self.request_write, self.reply_read):
            os.close(fd)
        self.out.close()
        self.err.close()


def run_problem(problem, index, args, checks=None, child=None):
    """Run one problem's checks here against a child process running the student's code; its Result.

    ``child``: a ``Child`` started in advance (its start-up then overlaps the
    previous problem); by default one is started now. The time limit is the
    time spent waiting for the child's answers (the checks' own computing
    here is not the student's), counted from now either way.
    """
    checks = problem.checks() if checks is None else checks
    seed = args.seed + index
    start = time.monotonic()
    child = Child(args) if child is None else child
    connection = remote.Connection(child.request_write, child.reply_read, jail.problem_timeout(args.timeout),
                                   jail.clamp_deadline(start + 2 * args.timeout + 30))
    context = harness.Context(seed, connection)
    reports, started = None, False
    try:
        connection.handshake()
        connection.request("legacy_seed", child_seed(seed, f"legacy {problem.id}"))
        started = True
        reports = harness.run_checks(checks, context)
        if context.stopped is None:
            _add_audit(problem, args, reports, connection, seed)
    except remote.ChannelError as error:
        context.stopped = error
    finally:
        timed_out = isinstance(context.stopped, remote.ChildTimeout)
        try:
            _end_child(child.proc, connection, child.err, timed_out)
            seconds = time.monotonic() - start
            stdout, stderr = _tail(child.out, args.project), _tail(child.err, args.project)
        finally:
            child.close()
    outcome = _Outcome(child.proc.returncode, timed_out, stdout, stderr, seconds)
    if not started:
        return _harness_failed(problem, outcome)
    if context.stopped is not None:
        return _unfinished(problem, args, context.running, outcome, context.stopped)
    return _finished(problem, args, reports, outcome)


def _end_child(proc, connection, err, timed_out):
    """Stop the child (asking first, unless it ran out of time) and everything it started."""
    if timed_out:
        _dump_stack(proc, err)
    else:
        connection.close()
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
    jail.reap(proc)  # everything student code started: process group, setsid daemons, its user's
    connection.close()


def _add_audit(problem, args, reports, connection, seed):
    """When a Part 2 problem failed, ask the child for the audit of the student's operations (text only).

    The audit never changes a score; it adds to the first failed check's
    message. Its seed is derived from the checks' seed (which the child never
    learns), and it gets what is left of the problem's time limit, at most 5 s.
    """
    failed = [r for r in reports if not r["passed"] and not r["note"]]
    if not failed or not problem.id.startswith("2"):
        return
    budget = min(5.0, args.timeout - connection.waited - 3.0)
    if budget <= 0.5:
        return
    try:
        reply = connection.request("audit", child_seed(seed, f"audit {problem.id}"), budget,
                                   failed[0].get("where"), deadline=time.monotonic() + budget + 2.0)
    except remote.RemoteError:
        return
    except remote.ChannelError:
        return  # the checks all reported: the problem's result stands without the note
    if type(reply) is not list or len(reply) != 2 or type(reply[0]) is not bool or type(reply[1]) is not str:
        return
    found, note = reply
    if not found and problem.id in harness.OPTIMIZER_PROBLEMS:
        return  # the optimizer's own message says it all
    if note:
        failed[0]["message"] = (failed[0]["message"] + "\n" + note[:AUDIT_CHARS]).strip()


class _Outcome(collections.namedtuple("_Outcome", "returncode timed_out stdout stderr seconds")):
    """How a problem's process ended: its exit code, whether it timed out, its output, its run time."""


def _harness_failed(problem, outcome):
    # Not one check started: the harness itself could not run (a broken
    # Python environment or autograder), before any student code.
    details = ["    AUTOGRADER ERROR: the problem's process failed before running any check."]
    details += _indent_output("stderr", outcome.stderr, SHOWN_LINES_FAILED)
    result = Result(problem, 0, "autograder error", details, outcome.seconds)
    result.grader_error = True
    return result


def _unfinished(problem, args, running, outcome, stopped=None):
    """A problem whose checks did not all report: timed out, crashed, exited or broke the channel; scores 0."""
    returncode = outcome.returncode
    if isinstance(stopped, remote.ChannelBroken):
        status = "broke the grader's channel"
        hint = (f"the process running your code sent the grader something it does not accept ({_safe(str(stopped))}). "
                "Does your code write to file descriptors it did not open?")
    elif outcome.timed_out:
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
def child_of(project):
    """The program of a problem's student process on ``project``: the copy inside that project."""
    return os.path.join(project, "autograder", "hw1_autograder", "child.py")


def load_checks(chosen):
    """{problem id: its checks}, imported now from this runner's folder, before any student process starts."""
    return {p.id: p.checks() for p in chosen}


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
            # A bad argument: exit status 2, as for every other bad option.
            print(f"runner.py: error: --only {word!r} matches no problem; the problems are: {known}",
                  file=sys.stderr)
            raise SystemExit(2)
        chosen += [p for p in hits if p not in chosen]
    return [p for p in problems.PROBLEMS if p in chosen]


def secret_seed():
    """A per-run seed drawn here, in the grading process: in no argument, variable or file of its own."""
    return secrets.randbelow(2 ** 31 - 1000)


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
    parser.add_argument("--secret-seed", action="store_true",
                        help="draw the seed at random in this process, never shown (the server packages "
                             "do: values computed at home from the kit's fixed seed do not match)")
    parser.add_argument("--verbose", action="store_true",
                        help="show every check and everything your code printed")
    parser.add_argument("--gradescope", metavar="PATH",
                        help="also write Gradescope results (JSON) to PATH")
    parser.add_argument("--project", metavar="DIR", default=PROJECT_ROOT,
                        help="grade the project in DIR (with mytorch/, hw1/ and its own "
                             "autograder/hw1_autograder/) instead of the one this runner sits in")
    args = parser.parse_args(argv)
    if args.secret_seed:
        args.seed = secret_seed()
    args.project = os.path.realpath(args.project)
    if not os.path.isfile(child_of(args.project)):
        parser.error(f"--project {args.project}: no autograder/hw1_autograder/child.py there; "
                     "the folder graded needs its own copy of the autograder")
    if not 0 < args.timeout < float("inf"):
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if not 0 <= args.seed < 2**32 - len(problems.PROBLEMS):
        parser.error(f"--seed must be an integer from 0 to {2**32 - 1 - len(problems.PROBLEMS)}, got {args.seed}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return args


def _robust_streams():
    for stream in (sys.stdout, sys.stderr):
        # A console that cannot show a character must not crash the grader.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv=None, notes=(), plot=None, seed=None):
    """Grade, print the report, and end with the Autolab JSON line; the exit status.

    ``notes`` (lines about the submission) are printed first and go into the
    Gradescope output; ``plot`` (a ``PlotCheck``) adds the MNIST plot as a
    0-point test there. ``seed`` (an int) replaces ``--seed``: a server's
    secret, made in its own process, never shown on a command line.
    """
    _robust_streams()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if seed is not None:
        args.seed = int(seed)
    chosen = select(args.only)
    for line in notes:
        print(line)
    results = grade(args, chosen)
    return finish(args, chosen, results, notes, plot)


def grade(args, chosen):
    """Run the ``chosen`` problems on ``args.project``, printing each result as it comes; the Results."""
    index = {p.id: i for i, p in enumerate(problems.PROBLEMS)}
    checks = load_checks(chosen)
    count = f"{len(chosen)} problem" + ("" if len(chosen) == 1 else "s")
    print(f"Grading {args.project} ({count}, time limit {args.timeout:g} s each)", flush=True)
    results = []

    def show(result):
        results.append(result)
        print(RULE)
        print(capped(result.text(), REPORT_CHARS), flush=True)

    if args.jobs == 1:
        # One at a time, each problem's process started while the one before is graded.
        upcoming = Child(args) if chosen else None
        for k, problem in enumerate(chosen):
            child, upcoming = upcoming, (Child(args) if k + 1 < len(chosen) else None)
            show(run_problem(problem, index[problem.id], args, checks[problem.id], child))
        return results
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_problem, p, index[p.id], args, checks[p.id]) for p in chosen]
        for future in futures:  # in problem order, each as soon as it is done
            show(future.result())
    return results


# The most of one problem's report printed or put into results.json (a flood of messages
# must neither hide the score line nor make a results.json of hundreds of MB).
REPORT_CHARS = 64 * 1024


def capped(text, limit):
    """``text`` cut to at most ``limit`` characters, keeping its start and end, saying what was cut."""
    if len(text) <= limit:
        return text
    keep = (limit - 80) // 2
    return f"{text[:keep]}\n... ({len(text) - 2 * keep} characters cut) ...\n{text[-keep:]}"


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
    """Whether the submission holds a plausible PNG ``validation_accuracy.png`` (Problem 3, graded by hand).

    ``flag`` says what is wrong with it for staff (None when it looks like a plot): missing, not a
    PNG, or a size no matplotlib plot has.
    """

    MIN_BYTES, MAX_BYTES = 1024, 10 * 1024 * 1024
    MIN_SIDE, MAX_SIDE = 100, 10000

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as handle:
                head = handle.read(24)
            size = os.path.getsize(path)
        except OSError:
            head, size = None, 0
        self.present = head is not None
        self.is_png = head is not None and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
        width = int.from_bytes(head[16:20], "big") if self.is_png else 0
        height = int.from_bytes(head[20:24], "big") if self.is_png else 0
        self.flag = None
        if not self.present:
            self.flag = "missing"
            self.summary = ("validation_accuracy.png is MISSING: Problem 3 (MNIST) cannot be graded. "
                            "Run ./grade.sh m, then ./create_tarball.sh, and submit again.")
        elif not self.is_png:
            self.flag = "not a PNG"
            self.summary = f"validation_accuracy.png ({size} bytes) is not a PNG image; staff will look at it."
        elif not (self.MIN_BYTES <= size <= self.MAX_BYTES and self.MIN_SIDE <= width <= self.MAX_SIDE
                  and self.MIN_SIDE <= height <= self.MAX_SIDE):
            self.flag = "implausible size"
            self.summary = (f"validation_accuracy.png is a PNG of {width}x{height} pixels and {size} bytes, "
                            "not the size of a plot ./grade.sh m makes; staff will look at it.")
        else:
            self.summary = (f"validation_accuracy.png submitted ({width}x{height}, {size} bytes); course staff "
                            f"grade Problem 3 ({problems.MNIST_POINTS} points) by hand from it.")


# Gradescope's visibility values: "hidden", "after_due_date", "after_published", "visible".
GRADESCOPE_VISIBILITY = "visible"


def plot_test(plot):
    """Problem 3's entry in results.json: no score and no status (Gradescope would show a 0-point
    test as "passed"), so it reads as submitted and graded by staff; "failed" only when flagged."""
    test = {"name": f"3 MNIST ({problems.MNIST_POINTS} points): validation_accuracy.png, graded by staff",
            "output": plot.summary, "visibility": GRADESCOPE_VISIBILITY}
    if plot.flag:
        test["name"] += f" [FLAGGED: {plot.flag}]"
        test["status"] = "failed"
    return test


def write_gradescope(path, results, total, notes=(), plot=None):
    """Gradescope's results.json: the total, one test per problem, and the MNIST plot as a 0-point test.

    Fields as in Gradescope's autograder specification: top-level ``score``,
    ``output``, ``visibility``, ``stdout_visibility`` (the raw log stays with
    staff: everything a student needs is in ``output`` and the tests) and
    ``tests``, each with ``name``, ``score``, ``max_score``, ``status``,
    ``output`` and ``visibility``.
    """
    tests = [{"name": r.problem.name, "score": r.points, "max_score": r.problem.points,
              "status": "passed" if r.passed else "failed", "output": capped(r.text(), REPORT_CHARS),
              "visibility": GRADESCOPE_VISIBILITY} for r in results]
    if plot is not None:
        tests.append(plot_test(plot))
    full = problems.TOTAL_POINTS - problems.MNIST_POINTS
    output = list(notes) + [f"Autograded score: {total}/{full} (Problems 1.1-2.6). Problem 3 "
                            f"(MNIST, {problems.MNIST_POINTS} points) is graded by hand."]
    report = {"score": total, "output": capped("\n".join(output), REPORT_CHARS),
              "visibility": GRADESCOPE_VISIBILITY, "stdout_visibility": "hidden", "tests": tests}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Written whole then renamed, so a reader never sees half a file.
    scratch = path + ".partial"
    with open(scratch, "w") as handle:
        json.dump(report, handle, indent=2)
    os.replace(scratch, path)


if __name__ == "__main__":
    sys.exit(main())
