#!/usr/bin/env bash
# Local autograders of HW1P1 (handout §0.3). Works from any directory.
#   ./grade.sh 1 [options]   Problems 1.1-2.6 (options: --only 2.4, --timeout 60, --verbose, ...;
#                            ./grade.sh 1 --help lists them)
#   ./grade.sh m [options]   Problem 3: train on MNIST and plot validation_accuracy.png
# The Python it runs: $PYTHON if set; else the active virtual environment's; else this
# folder's .venv if there is one (so it works without activating it); else python3.
cd "$(dirname "$0")" || exit 1

usage() {
    echo "usage: ./grade.sh 1 [--only PROBLEM] [--timeout SECONDS] [--verbose] [--gradescope PATH]"
    echo "       ./grade.sh m [--train-size N] [--plot PATH] [--seed S]"
    echo "  1  autograde Problems 1.1-2.6 (100 of the 110 points); ./grade.sh 1 --help for every option"
    echo "  m  train on MNIST and plot validation_accuracy.png (Problem 3, graded by hand);"
    echo "     ./grade.sh m --help for every option"
    echo "Runs \$PYTHON if set, else the active virtual environment's python3, else ./.venv's, else python3."
}

refuse() {
    echo "grade.sh: $1 (./grade.sh --help for usage)" >&2
    exit 2
}

case "${1:-}" in
    1) script=autograder/hw1_autograder/runner.py ;;
    m) script=autograder/hw1_autograder/test_mnist.py ;;
    -h|--help) usage; exit 0 ;;
    "") refuse "which autograder? give 1 (Problems 1.1-2.6) or m (MNIST)" ;;
    *) refuse "unknown autograder '$1'; expected 1 or m" ;;
esac
shift

if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    if [ -z "${VIRTUAL_ENV:-}" ]; then
        for candidate in .venv/bin/python .venv/Scripts/python.exe; do
            if [ -x "$candidate" ]; then PYTHON=$candidate; break; fi
        done
    fi
fi
setup='python3 -m venv .venv && .venv/bin/python -m pip install -e .   (README.md, "Set up")'
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "grade.sh: no Python found ($PYTHON); install Python 3, then set up: $setup" >&2
    exit 1
fi
if ! "$PYTHON" -c "import numpy" >/dev/null 2>&1; then
    echo "grade.sh: NumPy is not installed for $PYTHON; set up first: $setup" >&2
    exit 1
fi
exec "$PYTHON" "$script" "$@"
