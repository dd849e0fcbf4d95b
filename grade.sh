#!/usr/bin/env bash
# Local autograders of HW1P1 (handout §0.3). Works from any directory.
#   ./grade.sh 1 [options]   Problems 1.1-2.6 (options: --only 2.4, --timeout 60, --verbose, ...;
#                            ./grade.sh 1 --help lists them)
#   ./grade.sh m             Problem 3: train on MNIST and plot validation_accuracy.png
# PYTHON=/path/to/python ./grade.sh 1 picks the interpreter (default python3).
cd "$(dirname "$0")" || exit 1
PYTHON="${PYTHON:-python3}"

usage() {
    echo "usage: ./grade.sh 1 [--only PROBLEM] [--timeout SECONDS] [--verbose] [--gradescope PATH]" >&2
    echo "       ./grade.sh m" >&2
    echo "  1  autograde Problems 1.1-2.6 (100 of the 110 points)" >&2
    echo "  m  train on MNIST and plot validation_accuracy.png (Problem 3, graded by hand)" >&2
}

case "${1:-}" in
    1) shift; exec "$PYTHON" autograder/hw1_autograder/runner.py "$@" ;;
    m) shift; exec "$PYTHON" autograder/hw1_autograder/test_mnist.py "$@" ;;
    "") echo "grade.sh: which autograder? give 1 or m" >&2; usage; exit 2 ;;
    *) echo "grade.sh: unknown autograder '$1'; expected 1 or m" >&2; usage; exit 2 ;;
esac
