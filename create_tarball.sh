#!/usr/bin/env bash
# Pack handin.tar for Autolab (handout §0.3.4): mytorch/, hw1/ and validation_accuracy.png,
# without what autograder/hw1_autograder/never_shipped.txt names (caches, data files,
# virtualenvs, version control). Works from any directory.
set -euo pipefail
cd "$(dirname "$0")"

case "${1:-}" in
    -h|--help)
        echo "usage: ./create_tarball.sh"
        echo "Packs handin.tar in this folder with mytorch/, hw1/ and validation_accuracy.png (make it with"
        echo "./grade.sh m) for Autolab. Takes no arguments; needs tar, not Python."
        exit 0 ;;
    "") ;;
    *) echo "create_tarball.sh: takes no arguments, got '$1' (./create_tarball.sh --help for usage)" >&2
       exit 2 ;;
esac

for dir in mytorch hw1; do
    if [ ! -d "$dir" ]; then
        echo "create_tarball.sh: $dir/ is missing; run this script from a complete handout folder" >&2
        exit 1
    fi
done

files=(mytorch hw1)
if [ -f validation_accuracy.png ]; then
    files+=(validation_accuracy.png)
else
    {
        echo "**********************************************************************"
        echo "WARNING: validation_accuracy.png is missing, so Problem 3 (MNIST, 10"
        echo "points) cannot be graded. Run ./grade.sh m to make it, then run"
        echo "./create_tarball.sh again. Packing the rest anyway."
        echo "**********************************************************************"
    } >&2
fi

rm -f handin.tar
# Caches, environments and data never ship: the one list the Python tools read too.
never_shipped=autograder/hw1_autograder/never_shipped.txt
if [ ! -f "$never_shipped" ]; then
    echo "create_tarball.sh: $never_shipped is missing; run this script from a complete handout folder" >&2
    exit 1
fi
tar --exclude-from=<(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$never_shipped") \
    -cf handin.tar "${files[@]}"

echo "Wrote $(pwd)/handin.tar with:"
tar -tf handin.tar | grep -v '/$' | sed 's/^/  /'
