"""The Python snippets of README.md and CONTRIBUTING.md run as written.

A snippet is an indented or fenced code block that parses as Python (shell
commands, listings and error messages do not). The snippets of one file run
in order in one namespace, as a reader typing them into one session would,
in a scratch folder (some write pictures or model files). A snippet that
needs data or the network is marked on the line before it with
``<!-- not run by tests/test_docs.py: REASON -->``; the mark must name a reason.
"""
import ast
import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md")
SKIP_MARK = re.compile(r"<!-- not run by tests/test_docs\.py: (.+?) -->")


def code_blocks(text):
    """(first line number, code, skip reason or None) of every code block of a Markdown text."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        line = lines[i]
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = SKIP_MARK.search(previous)
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append((i + 2, "\n".join(lines[i + 1:end]), mark and mark.group(1)))
            i = end + 1
        elif line.startswith("    ") and line.strip() and not previous.startswith(("- ", "* ", "|")) \
                and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = [raw[4:] for raw in lines[i:end]]
            blocks.append((i + 1, "\n".join(body).rstrip(), mark and mark.group(1)))
            i = end
        else:
            i += 1
    return blocks


def python_snippets(name):
    found = []
    for line, code, skip in code_blocks((ROOT / name).read_text()):
        try:
            ast.parse(code)
        except SyntaxError:
            continue  # a shell command, a listing or an error message
        if re.fullmatch(r"[\w./-]+", code.strip()):
            continue  # a bare word or path parses as a name
        found.append((line, code, skip))
    return found


def test_the_readme_has_python_snippets_and_every_skip_names_its_reason():
    snippets = python_snippets("README.md")
    assert len(snippets) >= 4
    for name in DOCS:
        for _, _, skip in python_snippets(name):
            assert skip is None or len(skip.split()) >= 2, skip


@pytest.mark.parametrize("name", DOCS)
def test_every_python_snippet_runs_as_written(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    # The snippets are run from the project folder, where hw2/ (the course's HW2P1 folder, imported
    # with hw2/ itself on the path) sits; here a link stands in for it, and no stale import of it counts.
    (tmp_path / "hw2").symlink_to(ROOT / "hw2")
    for module in ("hw2", "mlp_scan"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    namespace = {"__name__": "__readme__"}
    for line, code, skip in python_snippets(name):
        if skip:
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"{name}:{line}", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - the report names the snippet
            pytest.fail(f"{name}, the snippet at line {line} fails: {type(err).__name__}: {err}\n{code}")
