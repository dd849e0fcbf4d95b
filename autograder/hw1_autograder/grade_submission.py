#!/usr/bin/env python3
"""Grade one student submission the way a course server does (Autolab or Gradescope).

    python3 autograder/hw1_autograder/grade_submission.py autolab handin.tar
    python3 autograder/hw1_autograder/grade_submission.py gradescope [--root /autograder]

For every submission: a fresh grading folder gets a clean copy of this
autograder, then only the student's ``mytorch/``, ``hw1/`` and
``validation_accuracy.png`` (``submission.py`` checks the archive first and
refuses unsafe ones), and ``runner.py --project`` grades that folder, each
problem in its own process with the results on a private channel.

- ``autolab``: prints the report; its last line is ``{"scores": {...}}``.
- ``gradescope``: the same report, and ``results.json`` per Gradescope's
  specification. The submission is ``ROOT/submission`` (a ``handin.tar`` in
  it, or the files themselves), the results go to
  ``ROOT/results/results.json``; ROOT is ``/autograder`` unless
  ``--root`` or the environment variable ``HW1_AUTOGRADER_ROOT`` says otherwise.

A refused, empty, corrupt or incomplete submission scores 0 on every problem
with the reason in the report, and the JSON line / results.json is still
written. The exit status is non-zero only when the autograder itself failed.
"""
import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import problems  # noqa: E402
import runner  # noqa: E402
import submission  # noqa: E402

DEFAULT_ROOT = "/autograder"
ROOT_VARIABLE = "HW1_AUTOGRADER_ROOT"
# What of this folder a grading folder needs: the code, not data or caches
# (never_shipped.txt), nor a plot (the submission's is copied in separately).
NOT_COPIED = submission.NEVER_SHIPPED + ("*.png",)


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
    for sub in (autolab, gradescope):
        sub.add_argument("--timeout", type=float, default=runner.DEFAULT_TIMEOUT, metavar="SECONDS",
                         help=f"time limit per problem (default {runner.DEFAULT_TIMEOUT:g})")
        sub.add_argument("--keep", metavar="DIR",
                         help="grade in DIR (created; must not exist) and keep it, to look at afterwards")
    args = parser.parse_args(argv)
    if args.platform == "gradescope":
        args.submission = args.submission or os.path.join(args.root, "submission")
        args.results = args.results or os.path.join(args.root, "results", "results.json")
    return args


def make_grading_folder(folder):
    """Fill the empty ``folder`` with a clean copy of this autograder."""
    shutil.copytree(HERE, os.path.join(folder, "autograder", "hw1_autograder"),
                    ignore=shutil.ignore_patterns(*NOT_COPIED))


def find_archive(path):
    """The tar to unpack for ``path`` (a file, or a folder holding one .tar and no mytorch/), or None."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path) and not os.path.lexists(os.path.join(path, "mytorch")):
        tars = sorted(n for n in os.listdir(path) if n.endswith(".tar") and
                      os.path.isfile(os.path.join(path, n)))
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


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    source = args.handin if args.platform == "autolab" else args.submission
    if args.keep:
        os.makedirs(args.keep)
        folder = os.path.realpath(args.keep)
    else:
        folder = tempfile.mkdtemp(prefix="hw1p1-grading-")
    try:
        make_grading_folder(folder)
        notes, reason = take_submission(source, folder)
        plot = runner.PlotCheck(os.path.join(folder, "validation_accuracy.png"))
        argv = ["--project", folder, "--timeout", str(args.timeout)]
        if args.platform == "gradescope":
            argv += ["--gradescope", args.results]
        if reason is None:
            return runner.main(argv, notes=notes, plot=plot)
        # Nothing to grade: every problem scores 0, with the reason, and the JSON is still written.
        runner._robust_streams()
        run_args = runner.parse_args(argv)
        for line in notes:
            print(line)
        results = runner.not_graded(problems.PROBLEMS, reason)
        for result in results:
            print(runner.RULE)
            print(result.text())
        return runner.finish(run_args, problems.PROBLEMS, results, notes, plot)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
