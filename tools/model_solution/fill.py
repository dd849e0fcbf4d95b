#!/usr/bin/env python3
"""Fill the model student solution (solution.py beside this file) into a generated kit.

    python3 tools/make_handout.py /tmp/kit
    python3 tools/model_solution/fill.py /tmp/kit [--variant stored-leaf-nodes] [--only 1.1]
    cd /tmp/kit && ./grade.sh 1          # 100/110

    python3 tools/make_handout.py --homework 1b /tmp/kit1b
    python3 tools/model_solution/fill.py --homework 1b /tmp/kit1b

A later homework's kit (``--homework``, as tools/make_handout.py names them)
gets HW1P1's model solution (students bring their own HW1P1 code) and the
homework's own, ``<slug>/solution.py`` beside this file (hw1b/ for the HW1
bonus), whose ``REGIONS`` has the same shape.

Each stub of the kit (the ``raise NotImplementedError(...)`` line, or the
to-do comments of a ``(TODO)`` region) is found by its exact text, which
``tools/make_handout.py`` computes from this reference, and replaced by the
model solution's code for that ``path::Owner``. ``--only 1.1`` fills Part 1.1
(Sub, Mul, Div and their operators), ``--only 1`` Parts 1.1 and 1.2, and
they leave every other stub. Every
non-optional stub must have a model solution (else an error); a stub found
zero or several times is an error; nothing is written unless all succeed.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


make_handout = _load("make_handout", ROOT / "tools" / "make_handout.py")
solution = _load("model_solution", HERE / "solution.py")


class FillError(Exception):
    """The kit does not hold the stubs this reference would make; the message says which."""


def homework_solution(homework):
    """``REGIONS`` of a later homework's model solution (``<slug>/solution.py``); {} for HW1P1."""
    homework = make_handout.homework_id(homework)
    if homework == make_handout.BASE:
        return {}
    slug = make_handout.HOMEWORKS[homework].slug
    path = HERE / slug / "solution.py"
    if not path.is_file():
        raise FillError(f"{path}: missing; {make_handout.HOMEWORKS[homework].title} has no model solution yet")
    return _load(f"model_solution_{slug}", path).REGIONS


def bodies(variant=None, only=None, homework=make_handout.BASE, own=True):
    """``{"path::Owner": code}`` of the model solution, with ``variant``'s replacements.

    A later ``homework`` adds its own model solution (unless ``own`` is False:
    HW1P1's only); ``only`` keeps just one part of HW1P1's.
    """
    chosen = dict(solution.REGIONS)
    if variant is not None:
        if variant not in solution.VARIANTS:
            raise FillError(f"unknown variant {variant!r}; known: {', '.join(solution.VARIANTS)}")
        chosen.update(solution.VARIANTS[variant])
    parts = {"1.1": solution.PART_1_1, "1": solution.PART_1}
    if only is not None:
        if only not in parts:
            raise FillError(f"unknown part {only!r}; known: {', '.join(parts)}")
        chosen = {k: v for k, v in chosen.items() if k in parts[only]}
    later = homework_solution(homework) if own else {}
    clash = sorted(set(later) & set(chosen))
    if clash:
        raise FillError(f"the homework's model solution names HW1P1's regions: {', '.join(clash)}")
    return {**chosen, **later}


def fill(kit, variant=None, only=None, root=ROOT, homework=make_handout.BASE, own=True):
    """Replace the stubs of ``kit`` (``homework``'s) by the model solution; return the keys filled.

    ``own`` False fills HW1P1's stubs only, leaving the homework's own.
    """
    kit, root = Path(kit), Path(root)
    chosen = bodies(variant, only, homework, own)
    _, regions, _ = make_handout.plan(root, homework)
    known = {f"{path}::{r.owner}" for path, rs in regions.items() for r in rs}
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise FillError(f"the model solution names regions the reference lacks: {', '.join(unknown)}")
    new_texts, filled = {}, []
    for path, found in regions.items():
        target = kit / path
        if not target.is_file():
            raise FillError(f"{target}: missing; is {kit} a kit made by tools/make_handout.py?")
        text = target.read_text(encoding="utf-8")
        for region in found:
            key = f"{path}::{region.owner}"
            if key not in chosen:
                if only is None and not region.optional and (own or region.homework == make_handout.BASE):
                    raise FillError(f"the model solution has no code for {key}")
                continue
            stub = region.stub()
            count = text.count(stub)
            if count != 1:
                raise FillError(f"{target}: the stub of {region.owner} occurs {count} times, expected once")
            code = "".join(region.indent + line + "\n" if line.strip() else "\n"
                           for line in chosen[key].strip("\n").splitlines())
            text = text.replace(stub, code)
            filled.append(key)
        new_texts[target] = text
    for target, text in new_texts.items():
        target.write_text(text, encoding="utf-8")
    return filled


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fill.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("kit", metavar="KIT", help="a folder written by tools/make_handout.py")
    parser.add_argument("--homework", default=make_handout.BASE, metavar="ID",
                        help="the kit's homework, as given to tools/make_handout.py --homework (default "
                             f"{make_handout.BASE}, HW1P1): fills HW1P1's model solution and the homework's")
    parser.add_argument("--variant", choices=sorted(solution.VARIANTS),
                        help="alternative bodies of some regions (see solution.VARIANTS)")
    parser.add_argument("--only", choices=["1.1", "1"],
                        help="fill only this part's stubs: 1.1 (Sub, Mul, Div and their operators) or 1 (1.1 and 1.2)")
    args = parser.parse_args(argv)
    if not Path(args.kit).is_dir():
        parser.error(f"KIT {args.kit} is not a folder (make one with tools/make_handout.py)")
    try:
        filled = fill(args.kit, args.variant, args.only, homework=args.homework)
    except (FillError, make_handout.HandoutError) as err:
        print(f"fill.py: {err}", file=sys.stderr)
        return 1
    print(f"Filled {len(filled)} stubs of {Path(args.kit).resolve()} with the model solution"
          + (f" ({args.variant})" if args.variant else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
