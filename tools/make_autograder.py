#!/usr/bin/env python3
"""Package the HW1P1 autograder for Autolab and Gradescope (course staff only).

    python3 tools/make_autograder.py OUT_DIR [--force] [--numpy 2.2.6] [--matplotlib 3.10.9]

writes into OUT_DIR:

- ``autograde.tar`` and ``autograde-Makefile`` for Autolab. The Makefile's
  default target unpacks ``autograde.tar`` and grades ``handin.tar`` with
  ``grade_submission.py autolab``; its last line of output is the scores JSON.
- ``autograder.zip`` for Gradescope: ``setup.sh`` (Python with pinned NumPy
  and Matplotlib in ``/autograder/venv``; no PyTorch), ``run_autograder``
  (grades ``/autograder/submission``, writes ``/autograder/results/results.json``),
  ``requirements.txt`` and the autograder.

Both hold only the grader, ``autograder/hw1_autograder/`` (its code, no data
files, no caches): nothing of ``mytorch/`` or ``hw1/``. The tool refuses to
build if a file it would ship opens a solution region (the marker
tools/make_handout.py cuts).
"""
import argparse
import importlib.util
import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADER = "autograder/hw1_autograder"
# Spelled in two parts so that this file, which ships in the handout, holds no marker itself.
SOLUTION_MARKER = "# BEGIN " + "SOLUTION"
# Pinned for Gradescope's Ubuntu images: both support Python 3.10-3.13.
NUMPY = "2.2.6"
MATPLOTLIB = "3.10.9"
# A fixed timestamp, so building twice from the same tree gives the same archives.
EPOCH = 1_700_000_000

MAKEFILE = """\
# Autolab: grade handin.tar with the HW1P1 autograder (written by tools/make_autograder.py).
# Autolab puts handin.tar, autograde.tar and this Makefile in one folder and runs `make`;
# the last line of output is the scores JSON {"scores": {...}}.
# The autograder's own failures are reported inside the output (AUTOGRADER ERROR), not as a
# make error, so that nothing is printed after the JSON line.
# TIMEOUT is the time limit per problem in seconds; BUDGET the time for the whole grading: problems
# still running when it is spent score 0 and the JSON line is printed. Keep BUDGET at least 10 s below
# the assessment's own autograding timeout (Autolab's default is 180 s). Honest grading takes ~3 s.
# The grader is started with -I (isolated): nothing in the environment or the user's site folder
# changes what it imports.
PYTHON ?= python3
TIMEOUT ?= 60
BUDGET ?= 170

all:
\t@tar -xf autograde.tar
\t@$(PYTHON) -I autograder/hw1_autograder/grade_submission.py autolab handin.tar --timeout $(TIMEOUT) \\
\t\t--budget $(BUDGET) || true

clean:
\trm -rf autograder

.PHONY: all clean
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image:
# a Python virtualenv with the pinned NumPy and Matplotlib (no PyTorch), and the
# unprivileged account student code runs as (grade_submission.py --user).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
id -u hw1student >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \\
    --shell /usr/sbin/nologin hw1student
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --no-cache-dir -r /autograder/source/requirements.txt
/autograder/venv/bin/python -c "import numpy, matplotlib; \\
print('numpy', numpy.__version__, 'matplotlib', matplotlib.__version__)"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this (copied to /autograder/run_autograder) for every submission.
# HW1_AUTOGRADER_ROOT moves the whole layout (submission/, results/, source/) elsewhere,
# for testing on your own machine; PYTHON picks the interpreter.
ROOT="${HW1_AUTOGRADER_ROOT:-/autograder}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/venv/bin/python" ]; then PYTHON="$ROOT/venv/bin/python"; else PYTHON=python3; fi
fi
cd "$ROOT" || exit 1
# -I: isolated (no PYTHON* variables, no user site). Student code runs as hw1student (setup.sh).
exec "$PYTHON" -I "$ROOT/source/autograder/hw1_autograder/grade_submission.py" gradescope --root "$ROOT" "$@"
"""


def _submission_module():
    """The grader's submission.py, which reads never_shipped.txt and matches paths against it."""
    spec = importlib.util.spec_from_file_location("hw1_submission", ROOT / GRADER / "submission.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grader_files(root=ROOT):
    """The autograder's files to ship, as sorted "/"-separated paths relative to ``root``."""
    files = []
    submission = _submission_module()
    skipped = submission.NEVER_SHIPPED + ("*.png",)  # plots are the student's, not the grader's
    for folder, dirs, names in os.walk(root / GRADER):
        dirs[:] = sorted(d for d in dirs if not submission.never_shipped([d], skipped))
        for name in names:
            if not submission.never_shipped([name], skipped):
                files.append((Path(folder) / name).relative_to(root).as_posix())
    files.sort()
    for path in files:
        if SOLUTION_MARKER in (root / path).read_text(errors="replace"):
            raise SystemExit(f"make_autograder.py: {path} holds a '{SOLUTION_MARKER}' region; "
                             "solution code must never ship in the autograder")
    return files


def _tar_add(tar, name, data, mode):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, EPOCH
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _mode(path):
    return 0o755 if os.access(path, os.X_OK) else 0o644


def write_autolab(out, files, root=ROOT):
    with tarfile.open(out / "autograde.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            _tar_add(tar, path, (root / path).read_bytes(), _mode(root / path))
    (out / "autograde-Makefile").write_text(MAKEFILE)


def _zip_add(archive, name, data, mode):
    info = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
    info.external_attr = (0o100000 | mode) << 16  # a regular file with its Unix mode
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_gradescope(out, files, numpy_version, matplotlib_version, root=ROOT):
    requirements = f"numpy=={numpy_version}\nmatplotlib=={matplotlib_version}\n"
    with zipfile.ZipFile(out / "autograder.zip", "w") as archive:
        _zip_add(archive, "setup.sh", SETUP_SH, 0o755)
        _zip_add(archive, "run_autograder", RUN_AUTOGRADER, 0o755)
        _zip_add(archive, "requirements.txt", requirements, 0o644)
        for path in files:
            _zip_add(archive, path, (root / path).read_bytes(), _mode(root / path))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make_autograder.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="OUT_DIR", help="folder to write the packages into")
    parser.add_argument("--force", action="store_true", help="overwrite packages already in OUT_DIR")
    parser.add_argument("--numpy", default=NUMPY, help=f"NumPy version for Gradescope (default {NUMPY})")
    parser.add_argument("--matplotlib", default=MATPLOTLIB,
                        help=f"Matplotlib version for Gradescope (default {MATPLOTLIB})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"OUT_DIR {out} is a file, not a folder")
    outputs = ("autograde.tar", "autograde-Makefile", "autograder.zip")
    existing = [name for name in outputs if (out / name).exists()]
    if existing and not args.force:
        parser.error(f"{out} already holds {', '.join(existing)}; use --force to overwrite")
    files = grader_files()
    out.mkdir(parents=True, exist_ok=True)
    write_autolab(out, files)
    write_gradescope(out, files, args.numpy, args.matplotlib)
    print(f"Wrote to {out.resolve()}:")
    print("  Autolab:    autograde.tar, autograde-Makefile (upload both in the assessment's autograder settings)")
    print(f"  Gradescope: autograder.zip (setup.sh installs numpy=={args.numpy}, matplotlib=={args.matplotlib})")
    print(f"  {len(files)} autograder files in each: " + ", ".join(p[len(GRADER) + 1:] for p in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
