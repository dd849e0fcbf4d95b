#!/usr/bin/env python3
"""Generate the student starter code (the handout folder) from this reference.

    python3 tools/make_handout.py OUT_DIR [--force] [--allow-uncommitted] [--homework ID]
    python3 tools/make_handout.py --check [--homework ID]

One kit per homework of the course (HOMEWORKS below): HW1P1's by default
(``--homework 1``), or ``1b`` (the HW1 bonus), ``2`` (HW2P1), ``3`` (HW3P1).
A later homework's kit holds HW1P1's files, their student regions still
stubs (students bring their own HW1P1 code; no earlier solution ships), plus
the homework's own files (its library files, its folder, its grader folder),
stubbed; never another homework's. Code a later homework adds inside one of
HW1P1's files sits between whole lines ``# BEGIN HOMEWORK <id>`` and
``# END HOMEWORK <id>``: its solution regions are that homework's, its kit
ships the block without the marker lines, and every other kit leaves it out.

The reference marks the code students write with comment lines::

    def forward(ctx, a, b):
        # BEGIN SOLUTION
        ...
        # END SOLUTION

Each region becomes one line at the region's indentation,
``raise NotImplementedError("Sub.forward: your code here; see handout
§1.1.1 Subtract")``, so the starter code imports, the freebies work, and
the autograder scores every unfinished problem 0. The elementary
operations the handout leaves to the student's choice (OPTIONAL) say
"optional: you may need this for handout §2.x" instead.

A region opened with ``# BEGIN SOLUTION (TODO)`` does not raise: it becomes
its kit lines (the comment lines inside it starting with ``#| ``) as plain
comments, for code whose given surroundings must keep working before the
student writes it (``Function.apply``: the given code runs the forward).

Code only the reference has (what goes beyond the handout) sits between
whole lines ``# BEGIN REFERENCE ONLY`` and ``# END REFERENCE ONLY`` in
Python and TOML files; the kit leaves such blocks out, markers included.
Everything else (docstrings, comments, freebies, autograder, scripts,
README) is copied unchanged, with its file mode.

The markers are validated before anything is written: a region must sit
inside a function body, open and close at the same indentation, hold code,
and not nest; a (TODO) region needs kit lines; reference-only blocks are
balanced, do not nest, hold no region and lie in none; homework blocks
pair with the same known id, do not nest or meet a reference-only block, lie
in HW1P1's files only, and hold whole regions; the copy of every file in
each kit must parse; the regions a later homework's problems.py names
(``Problem.regions``, which also give its stubs' hints) must exist. --check
validates every homework's kit. Any violation is an error naming the file and
line, and no handout is produced.

Files copied: those git tracks, in a git checkout (the tool stops, listing
them, when files under the shipped folders are untracked or differ from the
last commit; --allow-uncommitted ships the tracked files as they are in the
working tree, untracked ones never), else every file found walking the
tree; either way skipping caches, virtualenvs, build metadata and
generated data (autograder/hw1_autograder/never_shipped.txt). Never copied:
DROPPED below (the reference's own test suite and CI, which test solution
internals, its benchmarks, and tools/, which is staff only: this tool, the
model student solution, the grader packager).
Markdown files lose their blocks between ``<!-- BEGIN REFERENCE ONLY -->``
and ``<!-- END REFERENCE ONLY -->`` lines (what only the reference's
developers run).
"""
import argparse
import ast
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
# A region opened with this marker does not become a raise: its kit lines
# (comment lines starting with TODO_PREFIX) become the stub, as plain
# comments. For code whose given surroundings must keep working before the
# student fills the region in (Function.apply runs the forward in given code).
BEGIN_TODO = "# BEGIN SOLUTION (TODO)"
TODO_PREFIX = "#| "

# Whole-line markers around code (or TOML) that only the reference has: the
# block, markers included, is left out of the kit. Blocks do not nest, hold
# no solution region and lie in no solution region.
REF_BEGIN = "# BEGIN REFERENCE ONLY"
REF_END = "# END REFERENCE ONLY"
REF_SUFFIXES = (".py", ".toml")

# Project paths (relative, "/"-separated) left out of the handout; a
# trailing "/" drops a whole folder.
DROPPED = (
    "tests/",   # the reference's test suite: it tests the solutions
    ".ci/",     # the reference's CI, which runs that suite
    "tools/",   # staff only: this tool, the model student solution, the grader packager
    "bench/",   # the reference's speed benchmarks
    "CONTRIBUTING.md",  # how to extend the reference: its tests, tools and solution regions
)


@dataclass(frozen=True)
class Homework:
    """One homework of the course (course/CONTRACT.md) and what its kit adds to HW1P1's files."""
    id: str        # the --homework name
    title: str     # as the course names it, in stubs and messages
    slug: str      # its folder name: tools/model_solution/<slug>/
    files: tuple   # its own project paths ("/"-suffixed: a folder); HW1P1 owns every other file
    grader: str    # its grader folder (plain data: problems.py may name its regions' tasks)


# The course's homeworks, in course order. A homework's kit holds HW1P1's
# files (its student regions still stubs: students bring their own code) and
# the homework's own files; never another homework's. Code a later homework
# adds inside an HW1P1 file sits between whole lines
# "# BEGIN HOMEWORK <id>" and "# END HOMEWORK <id>": that homework's kit
# ships it (markers left out, its regions stubbed), every other kit leaves it
# out, markers included (as a reference-only block).
BASE = "1"
HOMEWORKS = {hw.id: hw for hw in (
    Homework("1", "HW1P1", "hw1p1", (), "autograder/hw1_autograder/"),
    Homework("1b", "HW1 bonus", "hw1b",
             ("mytorch/optim/adam.py", "mytorch/nn/dropout.py", "autograder/hw1b_autograder/"),
             "autograder/hw1b_autograder/"),
    Homework("2", "HW2P1", "hw2p1", ("mytorch/nn/conv.py", "hw2/", "autograder/hw2p1_autograder/"),
             "autograder/hw2p1_autograder/"),
    Homework("3", "HW3P1", "hw3p1",
             ("mytorch/nn/util.py", "mytorch/nn/rnn.py", "mytorch/nn/gru.py", "autograder/hw3p1_autograder/"),
             "autograder/hw3p1_autograder/"),
)}
HW_BEGIN = "# BEGIN HOMEWORK"
HW_END = "# END HOMEWORK"

# Never part of a handout, tracked or not: what never_shipped.txt (in the
# autograder's folder) names, and what ./grade.sh m, create_tarball.sh and the
# grader write for the student.
SKIPPED_FILES = {"validation_accuracy.png", "handin.tar", "results.json"}

# Files that may mention the markers in prose or examples.
DOC_SUFFIXES = (".md", ".txt", ".rst")

# Markdown between these lines speaks of the reference only (its test
# suite, benchmarks, CI, this tool) and is cut from the handout's copy.
DOC_BEGIN = "<!-- BEGIN REFERENCE ONLY -->"
DOC_END = "<!-- END REFERENCE ONLY -->"

def _load_grader_module(name, folder="autograder/hw1_autograder"):
    """A module of a grader folder by file: plain data and the standard library only."""
    path = Path(__file__).resolve().parents[1] / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{Path(folder).name}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PROBLEMS = _load_grader_module("problems")  # the problem table
_SUBMISSION = _load_grader_module("submission")  # reads never_shipped.txt

# The handout section behind each region, looked up by file and then by
# "Class.method", "Class" or "function", then "*" (the whole file). The
# problem table holds it, next to each problem's points and checks; the
# handout names what to write in §1-§3, and the operations it leaves to the
# student (Neg, Pow, Exp, Sum, MatMul) point at the section that first needs them.
SECTIONS = _PROBLEMS.handout_sections()

# Those optional elementary operations, by file: their stubs say so.
OPTIONAL = {path: set(ops) for path, ops in _PROBLEMS.OPTIONAL_OPERATIONS.items()}


class HandoutError(Exception):
    """The reference cannot become a handout (bad markers, bad OUT_DIR); the message says why."""


@dataclass
class Region:
    """One ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region; lines are 1-based, markers included."""
    path: str        # relative to the project, "/"-separated
    begin: int       # line of the BEGIN marker
    end: int         # line of the END marker
    indent: str      # the markers' indentation, which the stub takes
    owner: str       # qualified name of the enclosing function, e.g. "Sub.forward"
    section: "str | None"  # handout section for the hint; None if SECTIONS has none
    todo: tuple = ()  # a (TODO) region: its kit lines, prefix removed, relative indentation kept
    homework: str = BASE  # the homework whose task it is (HOMEWORKS): its file's, or its block's

    @property
    def optional(self):
        """True for an elementary operation the student may choose to write (see OPTIONAL)."""
        return self.owner.split(".")[0] in OPTIONAL.get(self.path, ())

    def stub(self):
        """The text that replaces the region (lines with their newlines)."""
        if self.todo:
            return "".join(f"{self.indent}{line}".rstrip() + "\n" for line in self.todo)
        title = HOMEWORKS[self.homework].title
        if self.homework != BASE and self.section:
            hint = f"{self.owner}: your code here; see the {title} handout: {self.section}"
        elif self.homework != BASE:
            hint = f"{self.owner} in {self.path}: your code here; see the {title} handout"
        elif self.section and self.optional:
            hint = (f"{self.owner}: optional: you may need this for handout {self.section}; "
                    "your code here")
        elif self.section:
            hint = f"{self.owner}: your code here; see handout {self.section}"
        else:
            hint = f"{self.owner} in {self.path}: your code here; see the handout"
        hint = hint.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.indent}raise NotImplementedError("{hint}")\n'


def homework_sections(homework):
    """{path: {owner: task}} of a later homework, from its grader's problems.py (``Problem.regions``)."""
    if homework == BASE:
        return SECTIONS
    if homework not in _HOMEWORK_SECTIONS:
        folder = HOMEWORKS[homework].grader.rstrip("/")
        table = {}
        if (Path(__file__).resolve().parents[1] / folder / "problems.py").is_file():
            for problem in _load_grader_module("problems", folder).PROBLEMS:
                for path, owners in (getattr(problem, "regions", None) or {}).items():
                    table.setdefault(path, {}).update(owners)
        _HOMEWORK_SECTIONS[homework] = table
    return _HOMEWORK_SECTIONS[homework]


_HOMEWORK_SECTIONS = {}


def section_for(path, owner, homework=BASE):
    """The handout section (a later homework: its task) for a region of ``owner`` in ``path``, or None."""
    table = homework_sections(homework).get(path, {})
    parts = owner.split(".")
    # Most specific first: "Class.method", then "Class", then the whole file.
    for key in [".".join(parts[:n]) for n in range(len(parts), 0, -1)] + ["*"]:
        if key in table:
            return table[key]
    return None


# ---------------------------------------------------------------- finding regions
def _functions(tree):
    """(qualified name, def line, last line, column) of every function in ``tree``."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child.lineno, child.end_lineno, child.col_offset))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _comments_and_string_lines(source, path):
    """The comment tokens (line, column, text), and the lines inside multi-line strings."""
    comments, in_strings, fstring_starts = [], set(), []
    # Python 3.12+ splits f-strings into FSTRING_START ... FSTRING_END tokens.
    fstring_start, fstring_end = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments.append((tok.start[0], tok.start[1], tok.string.rstrip()))
            elif tok.type == tokenize.STRING:
                in_strings.update(range(tok.start[0] + 1, tok.end[0] + 1))
            elif tok.type == fstring_start:
                fstring_starts.append(tok.start[0])
            elif tok.type == fstring_end:
                in_strings.update(range(fstring_starts.pop() + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError) as err:
        raise HandoutError(f"{path}: cannot tokenize the file ({err})") from None
    return comments, in_strings


def find_regions(source, path):
    """Every solution region of the Python ``source`` of file ``path``, validated.

    Raises HandoutError listing every problem (one per line, as
    ``path:line: what is wrong``) if the markers are malformed, unbalanced,
    nested, outside a function body, or would leave code that does not parse.
    """
    try:
        tree = ast.parse(source, path)
    except SyntaxError as err:
        raise HandoutError(f"{path}:{err.lineno}: the reference does not parse: {err.msg}") from None
    lines = source.splitlines()
    comments, in_strings = _comments_and_string_lines(source, path)
    errors = []
    regions = _pair_markers(path, lines, comments, in_strings, _functions(tree), errors)
    stray = [n for n, line in enumerate(lines, 1) if line.strip().startswith(TODO_PREFIX.strip())
             and not any(r.todo and r.begin < n < r.end for r in regions)
             and n not in in_strings]
    errors += [f"{path}:{n}: a {TODO_PREFIX.strip()!r} kit line outside a {BEGIN_TODO!r} region "
               "would ship as is" for n in stray]
    blocks = reference_only_blocks(source, path, errors)
    for region in regions:
        for b, e in blocks:
            if b <= region.end and region.begin <= e:
                errors.append(f"{path}:{b}: the reference-only block {b}-{e} overlaps the solution region "
                              f"{region.begin}-{region.end}; keep them apart")
    hw_blocks = homework_blocks(source, path, errors)
    for b, e, homework in hw_blocks:
        for rb, re_ in blocks:
            if rb <= e and b <= re_:
                errors.append(f"{path}:{b}: the block of homework {homework} ({b}-{e}) overlaps the "
                              f"reference-only block {rb}-{re_}; keep them apart")
    for region in regions:
        region.homework = homework_of(path)
        for b, e, homework in hw_blocks:
            if b < region.begin and region.end < e:
                region.homework = homework
            elif b <= region.end and region.begin <= e:
                errors.append(f"{path}:{region.begin}: the solution region {region.begin}-{region.end} "
                              f"straddles a marker of the homework {homework} block {b}-{e}; put it "
                              "wholly inside or outside")
        region.section = section_for(path, region.owner, region.homework)
    if errors:
        raise HandoutError("\n".join(errors))
    _check_kit_parses(source, path, regions, blocks, hw_blocks)
    return regions


def homework_of(relpath):
    """The id of the homework whose files (HOMEWORKS) hold ``relpath``; HW1P1's (BASE) for all others."""
    return next((hw.id for hw in HOMEWORKS.values() if _matches(relpath, hw.files)), BASE)


def homework_blocks(text, path, errors):
    """[(first, last, homework id)]: the 1-based marker lines of each HW_BEGIN <id> ... HW_END <id> block.

    Problems (a malformed marker or unknown id, unpaired or nested markers, a
    block in a file that is not HW1P1's) are appended to ``errors``.
    """
    blocks, start, later = [], None, ", ".join(h for h in HOMEWORKS if h != BASE)
    for n, line in enumerate(text.splitlines(), 1):
        marker = line.strip()
        words = marker.lstrip("#").split()
        if not marker.startswith("#") or len(words) < 2 or words[0].upper() not in ("BEGIN", "END") \
                or words[1].upper() != "HOMEWORK":
            continue
        where = f"{path}:{n}"
        homework = words[2] if len(words) == 3 else None
        begins = marker.startswith(HW_BEGIN + " ")
        if homework not in HOMEWORKS or homework == BASE or marker != f"{HW_BEGIN if begins else HW_END} {homework}":
            errors.append(f"{where}: malformed marker {marker!r}; write exactly '{HW_BEGIN} <id>' or "
                          f"'{HW_END} <id>', the id one of {later}")
        elif begins and start is not None:
            errors.append(f"{where}: {marker!r} inside the block opened at line {start[0]} (these blocks "
                          "cannot nest)")
        elif begins:
            start = (n, homework)
        elif start is None:
            errors.append(f"{where}: {marker!r} without a '{HW_BEGIN} {homework}' before it")
        elif start[1] != homework:
            errors.append(f"{where}: {marker!r} closes the block of homework {start[1]} opened at line {start[0]}")
            start = None
        else:
            blocks.append((start[0], n, homework))
            start = None
    if start is not None:
        errors.append(f"{path}:{start[0]}: '{HW_BEGIN} {start[1]}' is never closed by '{HW_END} {start[1]}'")
    owner = homework_of(path)
    if blocks and owner != BASE:
        errors.append(f"{path}:{blocks[0][0]}: a homework block in a file of homework {owner}: only HW1P1's "
                      "files hold blocks of later homeworks (the whole file is already that homework's)")
    return blocks


def kit_text(source, regions, blocks, hw_blocks, homework):
    """(text, regions it stubs): ``source`` in ``homework``'s kit.

    Reference-only blocks are left out, and so are the blocks of every other
    homework; ``homework``'s own blocks lose only their marker lines.
    """
    cut = list(blocks)
    for b, e, owner in hw_blocks:
        cut += [(b, b), (e, e)] if owner == homework else [(b, e)]
    shipped = [r for r in regions if not any(b <= r.begin <= e for b, e in cut)]
    return kit_source(source, shipped, cut), shipped


def _is_solution_marker(text):
    """True for a comment that reads like a BEGIN/END SOLUTION marker, well formed or not."""
    word = text.lstrip("#").split()
    return len(word) >= 2 and word[0].upper() in ("BEGIN", "END") and word[1].upper().startswith("SOLUTION")


def _pair_markers(path, lines, comments, in_strings, functions, errors):
    """The regions the marker comments delimit; each misplaced marker appends one line to ``errors``."""
    regions, open_at = [], None  # open_at: (line, indent, is_todo) of the BEGIN awaiting its END
    for line_no, col, text in comments:
        if not _is_solution_marker(text):
            continue
        where = f"{path}:{line_no}"
        if text not in (BEGIN, BEGIN_TODO, END):
            errors.append(f"{where}: malformed marker {text!r}; write exactly {BEGIN!r} "
                          f"(or {BEGIN_TODO!r}) or {END!r}")
            continue
        if lines[line_no - 1][:col].strip():
            errors.append(f"{where}: {text!r} follows code on the same line; put the marker on a line of its own")
            continue
        indent = lines[line_no - 1][:col]
        if text in (BEGIN, BEGIN_TODO):
            if open_at is not None:
                errors.append(f"{where}: nested region: {text!r} while the region opened on line "
                              f"{open_at[0]} is still open (regions cannot nest)")
                continue
            open_at = (line_no, indent, text == BEGIN_TODO)
            continue
        if open_at is None:
            errors.append(f"{where}: {END!r} without a {BEGIN!r} before it")
            continue
        region = _close_region(path, lines, in_strings, functions, open_at, line_no, indent, errors)
        open_at = None
        if region:
            regions.append(region)
    if open_at is not None:
        errors.append(f"{path}:{open_at[0]}: {BEGIN!r} is never closed by an {END!r}")
    return regions


def _close_region(path, lines, in_strings, functions, open_at, end, indent, errors):
    """The Region from the BEGIN ``open_at`` to the END on line ``end``, or None after appending to ``errors``."""
    begin, begin_indent, is_todo = open_at
    if indent != begin_indent:
        errors.append(f"{path}:{end}: {END!r} is indented {len(indent)} columns but its {BEGIN!r} "
                      f"(line {begin}) {len(begin_indent)}; a region must close at the indentation it opened")
        return None
    problem = _region_problem(lines, in_strings, functions, begin, end, indent)
    todo = ()
    if not problem:
        todo, problem = _todo_lines(lines, begin, end, indent, is_todo)
    if problem:
        errors.append(f"{path}:{begin}: {problem}")
        return None
    owner = _owner(functions, begin, indent)
    return Region(path, begin, end, indent, owner, section_for(path, owner), todo)


def _check_kit_parses(source, path, regions, blocks, hw_blocks=()):
    """Raise HandoutError if the stubbed file, or a kit's copy (HW1P1's, or that of a homework with a
    block here), does not parse."""
    stubbed = stub_source(source, regions)
    try:
        ast.parse(stubbed, path)
    except SyntaxError as err:
        raise HandoutError(f"{path}:{err.lineno}: after replacing the solution regions the file does "
                           f"not parse ({err.msg}); check the markers around that line") from None
    for homework in sorted({BASE} | {h for _, _, h in hw_blocks}):
        if not (blocks or hw_blocks):
            break
        try:
            ast.parse(kit_text(source, regions, blocks, hw_blocks, homework)[0], path)
        except SyntaxError as err:
            kit = "" if homework == BASE else f" in the {HOMEWORKS[homework].title} kit"
            raise HandoutError(f"{path}: without its reference-only blocks{kit} the file does not parse "
                               f"({err.msg}, line {err.lineno} of the kit's copy); check the "
                               f"{REF_BEGIN!r} and {HW_BEGIN!r} markers") from None


def _todo_lines(lines, begin, end, indent, is_todo):
    """The kit lines of a (TODO) region (prefix removed), and a problem with them or None."""
    if not is_todo:
        return (), None
    todo = []
    for n in range(begin + 1, end):
        line = lines[n - 1]
        stripped = line.strip()
        if stripped == TODO_PREFIX.strip() or stripped.startswith(TODO_PREFIX):
            if not line.startswith(indent):
                return (), f"kit line {n} is indented less than its region's markers"
            rest = line[len(indent):]
            extra = rest[:len(rest) - len(rest.lstrip())]
            todo.append("# " + extra + stripped[len(TODO_PREFIX):] if stripped != TODO_PREFIX.strip() else "#")
    if not todo:
        return (), (f"region {begin}-{end} opens with {BEGIN_TODO!r} but has no kit lines "
                    f"(comment lines starting with {TODO_PREFIX!r}) to become its stub")
    return tuple(todo), None


def marked_blocks(text, begin, end):
    """(blocks, problems): the (first, last) 1-based lines of each ``begin`` ... ``end`` block of
    whole-line markers, and (line, what is wrong) for unpaired or nested markers."""
    blocks, problems, start = [], [], None
    for n, line in enumerate(text.splitlines(), 1):
        marker = line.strip()
        if marker == begin:
            if start is not None:
                problems.append((n, f"{begin!r} inside the block opened at line {start} (these blocks cannot nest)"))
            else:
                start = n
        elif marker == end:
            if start is None:
                problems.append((n, f"{end!r} without a {begin!r} before it"))
            else:
                blocks.append((start, n))
                start = None
    if start is not None:
        problems.append((start, f"{begin!r} is never closed by {end!r}"))
    return blocks, problems


def reference_only_blocks(text, path, errors):
    """(first, last) 1-based marker lines of each REF_BEGIN ... REF_END block; problems go to ``errors``."""
    blocks, problems = marked_blocks(text, REF_BEGIN, REF_END)
    inside = {n: b for b, e in blocks for n in range(b + 1, e)}
    for n, line in enumerate(text.splitlines(), 1):
        marker = line.strip()
        if marker.lstrip("#").strip().upper().startswith(("BEGIN REFERENCE", "END REFERENCE")) \
                and marker not in (REF_BEGIN, REF_END):
            problems.append((n, f"malformed marker {marker!r}; write exactly {REF_BEGIN!r} or {REF_END!r}"))
        elif n in inside and marker in (BEGIN, BEGIN_TODO, END):
            problems.append((n, f"solution marker inside the reference-only block opened at line {inside[n]}; "
                                "that block never reaches the kit, so it needs no solution region"))
    errors += [f"{path}:{n}: {what}" for n, what in sorted(problems)]
    return blocks


def kit_source(source, regions, blocks):
    """``source`` as the kit has it: regions replaced by their stubs, reference-only blocks left out."""
    lines = source.splitlines(keepends=True)
    cut = {n for b, e in blocks for n in range(b, e + 1)}
    starts = {r.begin: r for r in regions}
    ends = {n for r in regions for n in range(r.begin, r.end + 1)}
    out, after_cut = [], False
    for n, line in enumerate(lines, 1):
        if n in cut:
            after_cut = True
            continue
        if after_cut and not line.strip():
            # The blank lines around a cut block: keep no more than two in a row.
            trailing = len(out) - next((i + 1 for i in range(len(out) - 1, -1, -1) if out[i].strip()), 0)
            if trailing >= 2:
                continue
        else:
            after_cut = False
        if n in starts:
            out.append(starts[n].stub())
        elif n not in ends:
            out.append(line)
    return "".join(out)


def _owner(functions, begin, indent):
    """The innermost function whose body holds a region opening on line ``begin``."""
    inside = [f for f in functions if f[1] < begin <= f[2] and f[3] < len(indent)]
    return max(inside, key=lambda f: f[1])[0] if inside else None


def _region_problem(lines, in_strings, functions, begin, end, indent):
    """Why the region between marker lines ``begin`` and ``end`` cannot become a stub, or None."""
    code = [n for n in range(begin + 1, end) if lines[n - 1].strip() and n not in in_strings
            and not lines[n - 1].strip().startswith("#")]
    if not code:
        return f"region {begin}-{end} holds no code; remove its markers"
    if _owner(functions, begin, indent) is None:
        return (f"region {begin}-{end} is not inside a function body (it is at module or class level); "
                "the stub would raise when the module is imported")
    for n in code:
        if not lines[n - 1].startswith(indent):
            return (f"line {n} of region {begin}-{end} is indented less than its markers; "
                    "a region must lie within one block")
    return None


def stub_source(source, regions):
    """``source`` with each of ``regions`` (from ``find_regions``) replaced by its stub line."""
    return kit_source(source, regions, ())


# ---------------------------------------------------------------- the project's files
def _skipped(relpath):
    parts = relpath.split("/")
    return _SUBMISSION.never_shipped(parts) or parts[-1] in SKIPPED_FILES


def _matches(relpath, patterns):
    """True if ``relpath`` is one of ``patterns`` or lies in one of its "/"-suffixed folders."""
    return any(relpath.startswith(d) if d.endswith("/") else relpath == d for d in patterns)


def _dropped(relpath, homework=BASE):
    """True if ``relpath`` is left out of ``homework``'s kit: DROPPED, or another homework's file."""
    return _matches(relpath, DROPPED) or homework_of(relpath) not in (BASE, homework)


def homework_id(name):
    """The HOMEWORKS id of ``name`` (an id or a slug: "1b", "hw1b"); HandoutError if none."""
    for hw in HOMEWORKS.values():
        if name in (hw.id, hw.slug):
            return hw.id
    raise HandoutError(f"unknown homework {name!r}; known: "
                       + ", ".join(f"{hw.id} ({hw.title})" for hw in HOMEWORKS.values()))


def _git(root, *args):
    """The NUL-separated output of ``git args`` in ``root``, as a list, or None when git cannot say."""
    if not (Path(root) / ".git").exists() or not shutil.which("git"):
        return None
    run = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
    if run.returncode != 0:
        return None
    return [n for n in run.stdout.decode().split("\0") if n]


def project_files(root):
    """The project's files to consider (relative "/"-separated paths, sorted), before DROPPED.

    In a git checkout: the files git tracks, only (a staff member's scratch
    file, or a picture a README snippet wrote, is never a student's). Otherwise:
    a walk of the tree. Either way, what never_shipped.txt names and
    SKIPPED_FILES never ship.
    """
    root = Path(root)
    names = _git(root, "ls-files", "-z", "--cached")
    if names is None:
        names = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not _SUBMISSION.never_shipped([d]))
            rel = Path(folder).relative_to(root)
            names += [(rel / f).as_posix() for f in files]
    # A tracked file deleted in the working tree is not part of the project any more.
    return sorted({n for n in names if not _skipped(n) and (root / n).is_file()})


def plan(root, homework=BASE):
    """What ``homework``'s kit holds: (files, {path: regions}, {path: stubbed source}); validates its markers.

    Raises HandoutError naming every bad region in every file, and for a
    later homework that has no file in the project.
    """
    root = Path(root)
    homework = homework_id(homework)
    everything = project_files(root)
    files = [f for f in everything if not _dropped(f, homework)]
    if homework != BASE and not any(homework_of(f) == homework for f in everything):
        hw = HOMEWORKS[homework]
        raise HandoutError(f"{hw.title} (homework {homework}) has none of its files in {root}: "
                           + ", ".join(hw.files))
    regions, stubbed, errors = {}, {}, []
    for rel in files:
        if rel.endswith(".md"):
            try:
                text = (root / rel).read_text(encoding="utf-8")
                if DOC_BEGIN in text or DOC_END in text:
                    stubbed[rel] = strip_reference_only(text, rel)
            except (UnicodeDecodeError, HandoutError) as err:
                errors.append(str(err) if isinstance(err, HandoutError) else f"{rel}: not UTF-8 text")
            continue
        if rel.endswith(REF_SUFFIXES) and not rel.endswith(".py"):
            errors += _markers_outside_python(root, rel)
            try:
                text = (root / rel).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                errors.append(f"{rel}: not UTF-8 text")
                continue
            blocks = reference_only_blocks(text, rel, errors)
            if blocks:
                stubbed[rel] = kit_source(text, (), blocks)
            continue
        if not rel.endswith(".py"):
            errors += _markers_outside_python(root, rel)
            continue
        try:
            source = (root / rel).read_text(encoding="utf-8")
            found = find_regions(source, rel)
            blocks = reference_only_blocks(source, rel, [])  # find_regions reported their problems
            hw_blocks = homework_blocks(source, rel, [])
        except UnicodeDecodeError as err:
            errors.append(f"{rel}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8")
            continue
        except HandoutError as err:
            errors.append(str(err))
            continue
        text, shipped = kit_text(source, found, blocks, hw_blocks, homework)
        if shipped:
            regions[rel] = shipped
        if found or blocks or hw_blocks:
            stubbed[rel] = text
    errors += _unknown_tasks(homework, regions)
    if errors:
        raise HandoutError("\n".join(errors))
    return files, regions, stubbed


def _unknown_tasks(homework, regions):
    """Errors for the owners a later homework's problems.py names in ``regions`` but no region of it has."""
    if homework == BASE:
        return []
    errors = []
    for path, owners in homework_sections(homework).items():
        found = [r.owner for r in regions.get(path, ()) if r.homework == homework]
        for owner in owners:
            if not any(o == owner or o.startswith(owner + ".") for o in found):
                errors.append(f"{HOMEWORKS[homework].grader}problems.py names a region {owner!r} in {path}, "
                              f"but {path} has no solution region of {HOMEWORKS[homework].title} there")
    return errors


def strip_reference_only(text, rel):
    """``text`` (Markdown) without its DOC_BEGIN ... DOC_END blocks, marker lines included."""
    blocks, problems = marked_blocks(text, DOC_BEGIN, DOC_END)
    if problems:
        raise HandoutError("\n".join(f"{rel}:{n}: {what}" for n, what in sorted(problems)))
    cut = {n for b, e in blocks for n in range(b, e + 1)}
    return "".join(line for n, line in enumerate(text.splitlines(keepends=True), 1) if n not in cut)


def _markers_outside_python(root, rel):
    """Marker lines in a non-Python file would ship their solution: errors for them.

    Documentation (Markdown, text) may show the markers; it holds no solution.
    """
    if rel.endswith(DOC_SUFFIXES):
        return []
    data = (root / rel).read_bytes()
    if b"SOLUTION" not in data:
        return []
    return [f"{rel}:{n}: solution markers only work in Python (.py) files; this region would ship as is"
            for n, line in enumerate(data.decode(errors="replace").splitlines(), 1)
            if line.strip() in (BEGIN, END)]


def _check_out_dir(root, out, force):
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents:
        raise HandoutError(f"OUT_DIR {out} is inside the project {root}; choose a folder outside it")
    if out in root.parents:
        raise HandoutError(f"OUT_DIR {out} contains the project {root}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise HandoutError(f"OUT_DIR {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise HandoutError(f"OUT_DIR {out} is not empty; give --force to replace its contents")
    return out


def uncommitted(root, homework=BASE):
    """The files under the shipped folders that differ from git's last commit: ["path (what)", ...].

    Untracked files (not ignored) and tracked ones modified, added, deleted
    or renamed since the last commit; what is never shipped anyway does not
    count. Empty outside a git checkout.
    """
    entries = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
    if entries is None:
        return []
    found = []
    for entry in entries:
        code, rel = entry[:2], entry[3:]
        if _dropped(rel, homework) or _skipped(rel):
            continue
        what = "untracked" if code == "??" else "modified" if "M" in code else \
            "deleted" if "D" in code else "added, not committed" if "A" in code else "changed"
        found.append(f"{rel} ({what})")
    return found


def make_handout(root, out, force=False, allow_uncommitted=False, homework=BASE):
    """Write the kit of ``homework`` (an id of HOMEWORKS; HW1P1's by default) for the project at
    ``root`` into ``out``; return (files, regions).

    Validates every marker before writing anything; with ``force``, a
    non-empty ``out`` has its contents replaced. In a git checkout, stops
    (listing them) when files under the shipped folders are untracked or
    differ from the last commit, unless ``allow_uncommitted``: then the
    tracked files ship as they are in the working tree, untracked ones never.
    """
    root = Path(root)
    homework = homework_id(homework)
    out = _check_out_dir(root, out, force)
    stray = [] if allow_uncommitted else uncommitted(root, homework)
    if stray:
        raise HandoutError("the working tree differs from the last commit under the folders the kit ships:\n  "
                           + "\n  ".join(stray) + "\ncommit, stash or remove them (untracked files never "
                           "ship), or give --allow-uncommitted to ship the tracked files as they are now")
    files, regions, stubbed = plan(root, homework)
    if out.is_dir():
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for rel in files:
        src, dest = root / rel, out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel in stubbed:
            dest.write_text(stubbed[rel], encoding="utf-8")
            shutil.copymode(src, dest)
        else:
            shutil.copy2(src, dest)
    return files, regions


# ---------------------------------------------------------------- command line
def _print_check(root, homework=BASE):
    """--check: validate the kit of every homework the project has; list ``homework``'s regions, per file."""
    everything = project_files(root)
    for hw in HOMEWORKS:
        if hw != BASE and any(homework_of(f) == hw for f in everything):
            plan(root, hw)
    files, regions, _ = plan(root, homework)
    width = max((len(r.owner) for rs in regions.values() for r in rs), default=0)
    total = unmapped = 0
    for rel, found in regions.items():
        print(f"{rel}: {len(found)} region{'s' if len(found) != 1 else ''}")
        for r in found:
            where = f"lines {r.begin}-{r.end}"
            section = r.section or "(no handout section in SECTIONS: the hint names the file)"
            if r.homework != BASE:
                section = f"{HOMEWORKS[r.homework].title}: {r.section or '(no task in its problems.py)'}"
            print(f"  {where:<16}{r.owner:<{width}}  {section}")
            unmapped += r.section is None
        total += len(found)
    print(f"Total: {total} solution regions in {len(regions)} of {len(files)} files"
          + (f"; {unmapped} without a handout section" if unmapped else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="make_handout.py",
        description="Generate the student starter code from this reference: copy the project into "
                    f"OUT_DIR, replacing every '{BEGIN}' ... '{END}' region (always inside a function body) "
                    "with a line that raises NotImplementedError and names the handout section to read "
                    f"('{BEGIN_TODO}' regions become their '{TODO_PREFIX.strip()}' kit lines, as comments), and "
                    f"leaving out every '{REF_BEGIN}' ... '{REF_END}' block (Python, TOML). "
                    "Everything else is copied unchanged with its file mode; the reference's test suite "
                    f"and CI and this tool are left out ({', '.join(DROPPED)}). Markers are validated "
                    "first: an unbalanced, nested, empty or module/class-level region is an error naming "
                    "the file and line, and nothing is written. --homework picks the kit: HW1P1's by "
                    "default, or a later homework's (its own files, plus HW1P1's with their student "
                    f"regions still stubs; code of that homework in HW1P1's files sits between "
                    f"'{HW_BEGIN} <id>' and '{HW_END} <id>' lines, left out of every other kit).",
        epilog="Exit status: 0 done, 1 bad markers or OUT_DIR, 2 bad usage. "
               "Example: python3 tools/make_handout.py /tmp/hw1p1_handout && "
               "cd /tmp/hw1p1_handout && ./grade.sh 1   (scores 0/110; only the Addition freebie passes). "
               "python3 tools/make_handout.py --homework 1b /tmp/hw1b_handout   (the HW1 bonus's kit)")
    parser.add_argument("out_dir", nargs="?", metavar="OUT_DIR",
                        help="folder to write the handout into, outside the project; created if missing")
    parser.add_argument("--force", action="store_true",
                        help="replace the contents of a non-empty OUT_DIR")
    parser.add_argument("--allow-uncommitted", action="store_true",
                        help="in a git checkout whose shipped folders hold untracked or modified files: "
                             "ship the tracked files as they are in the working tree (untracked files "
                             "never ship) instead of stopping")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: validate the markers and list the regions of each file "
                             "(lines, function, handout section), with counts")
    parser.add_argument("--homework", default=BASE, metavar="ID",
                        help="whose kit: " + ", ".join(f"{hw.id} ({hw.title})" for hw in HOMEWORKS.values())
                             + f"; default {BASE}. --check validates every homework's kit and lists this one's")
    parser.add_argument("--source", metavar="DIR", default=str(Path(__file__).resolve().parents[1]),
                        help="the reference project to read (default: the one holding this tool)")
    args = parser.parse_args(argv)
    if args.check == (args.out_dir is not None):
        parser.error("give OUT_DIR to generate the handout, or --check to list the regions (not both)")
    source = Path(args.source)
    if not source.is_dir():
        parser.error(f"--source {source} is not a folder")
    try:
        homework = homework_id(args.homework)
        if args.check:
            _print_check(source, homework)
            return 0
        files, regions = make_handout(source, args.out_dir, args.force, args.allow_uncommitted, homework)
    except HandoutError as err:
        for line in str(err).splitlines():
            print(f"make_handout.py: {line}", file=sys.stderr)
        print("make_handout.py: no handout written", file=sys.stderr)
        return 1
    count = sum(len(r) for r in regions.values())
    others = [f for hw in HOMEWORKS.values() if hw.id not in (BASE, homework) for f in hw.files]
    kit = "" if homework == BASE else f" ({HOMEWORKS[homework].title}'s kit)"
    print(f"Wrote {len(files)} files{kit} to {Path(args.out_dir).resolve()}: {count} solution regions "
          f"replaced by stubs in {len(regions)} files; left out {', '.join(DROPPED + tuple(others))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
