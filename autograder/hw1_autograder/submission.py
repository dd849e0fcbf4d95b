"""Take a student's files out of a submission, safely and strictly.

A submission is ``handin.tar`` (what ``./create_tarball.sh`` packs) or a
folder holding the unpacked files (Gradescope unpacks uploads itself). Only
``mytorch/``, ``hw1/`` and ``validation_accuracy.png`` are taken; anything
else (an ``autograder/`` of the student's own, ``grade.sh``, notes) is left
behind and named in ``Unpacked.ignored``, so the grader always runs its own
clean copy.

The whole archive is checked before one byte is written. It is refused
(``SubmissionRefused``, with a message saying why) when a member has an
absolute path or a ``..`` component, is a link pointing outside the archive,
a device file or FIFO, or when the members add up to more than MAX_BYTES.
Members are then written one by one with ``open()`` under the destination
(never ``tarfile.extractall``), so nothing lands outside it whatever the
archive holds. Links inside the taken folders are not followed or created.
"""
import fnmatch
import os
import posixpath
import shutil
import stat
import tarfile

MAX_BYTES = 50 * 1024 * 1024
TAKEN_DIRS = ("mytorch", "hw1")
TAKEN_FILES = ("validation_accuracy.png",)
NEVER_SHIPPED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "never_shipped.txt")


def read_never_shipped(path=NEVER_SHIPPED_FILE):
    """The glob patterns of never_shipped.txt: caches, environments, data; never taken, copied or packed."""
    with open(path, encoding="utf-8") as file:
        return tuple(line.strip() for line in file if line.strip() and not line.lstrip().startswith("#"))


NEVER_SHIPPED = read_never_shipped()


def never_shipped(parts, patterns=NEVER_SHIPPED):
    """Whether a path, split into its ``parts``, has a part that never_shipped.txt names."""
    return any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in patterns)


class SubmissionRefused(Exception):
    """The submission cannot be graded as it is; the message says why, for the student."""


class Unpacked:
    """What was taken from a submission: ``taken`` (file paths), ``ignored`` (top-level names), ``missing``."""

    def __init__(self):
        self.taken = []
        self.ignored = []
        self.skipped_links = []

    @property
    def missing(self):
        """The required folders with no file taken from them."""
        return [d for d in TAKEN_DIRS if not any(p.startswith(d + "/") for p in self.taken)]

    @property
    def has_plot(self):
        return "validation_accuracy.png" in self.taken

    def notes(self):
        """Lines for the report: what was ignored and why, what is missing."""
        lines = []
        if self.ignored:
            lines.append("Ignored (only mytorch/, hw1/ and validation_accuracy.png are graded; the "
                         "autograder uses its own copy of everything else): " + ", ".join(self.ignored))
        if self.skipped_links:
            lines.append("Links are not unpacked: " + ", ".join(self.skipped_links))
        for name in self.missing:
            lines.append(f"MISSING: the submission has no {name}/ folder with files at its top level; "
                         "every problem scores 0. Make handin.tar with ./create_tarball.sh from your "
                         "handout folder.")
        return lines


def _clean_name(name, what):
    """The member's path as "/"-separated parts, or SubmissionRefused if it could escape."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise SubmissionRefused(f"{what} {name!r} has an absolute path; refusing the whole submission "
                                "(paths must be relative, like mytorch/tensor.py)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SubmissionRefused(f"{what} {name!r} has a '..' component, which would point outside "
                                "the grading folder; refusing the whole submission")
    return parts


def _inside(parts, target):
    """Whether a link at ``parts`` pointing to ``target`` stays inside the archive's root."""
    if target.startswith("/"):
        return False
    resolved = posixpath.normpath(posixpath.join(*(parts[:-1] or ["."]), target))
    return not (resolved == ".." or resolved.startswith("../"))


def _taken(parts):
    """Whether a member at ``parts`` is one we take (not counting skipped caches)."""
    if not parts:
        return False
    if len(parts) == 1 and parts[0] in TAKEN_FILES:
        return True
    if parts[0] not in TAKEN_DIRS or len(parts) < 2:
        return False
    return not never_shipped(parts)


def _note_ignored(result, parts):
    if not parts:
        return
    top = parts[0] + ("/" if len(parts) > 1 else "")
    if top.rstrip("/") in TAKEN_DIRS or top in result.ignored:
        return
    result.ignored.append(top)


def unpack_tar(archive, dest, max_bytes=MAX_BYTES):
    """Check ``archive`` whole, then write its mytorch/, hw1/ and plot under ``dest``; return Unpacked."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            plan = _check_members(members, max_bytes)
            result = Unpacked()
            for member, parts in plan:
                if not _taken(parts):
                    _note_ignored(result, parts)
                    continue
                if member.issym() or member.islnk():
                    result.skipped_links.append("/".join(parts))
                    continue
                if member.isdir():
                    continue
                target = os.path.join(dest, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                source = tar.extractfile(member)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                result.taken.append("/".join(parts))
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        size = os.path.getsize(archive) if os.path.exists(archive) else 0
        raise SubmissionRefused(
            f"{os.path.basename(archive)} ({size} bytes) is not a readable tar archive ({error}). "
            "Make it with ./create_tarball.sh and upload the handin.tar it writes.") from None
    _hint_nested(result, members)
    return result


def _check_members(members, max_bytes):
    """[(member, parts)] for every member, or SubmissionRefused for the first unsafe one."""
    plan, total = [], 0
    for member in members:
        what = "archive member"
        parts = _clean_name(member.name, what)
        shown = "/".join(parts)
        if member.issym() or member.islnk():
            target = member.linkname
            inside = _inside(parts, target) if member.issym() else (
                not target.startswith("/") and ".." not in target.replace("\\", "/").split("/"))
            if not inside:
                kind = "symbolic link" if member.issym() else "hard link"
                raise SubmissionRefused(f"{what} {shown!r} is a {kind} to {target!r}, outside the "
                                        "submission; refusing the whole submission")
        elif member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise SubmissionRefused(f"{what} {shown!r} is a device file or FIFO; refusing the whole "
                                    "submission (only regular files and folders are allowed)")
        elif not (member.isfile() or member.isdir()):
            raise SubmissionRefused(f"{what} {shown!r} is not a regular file or folder; refusing the "
                                    "whole submission")
        total += max(member.size, 0)
        if total > max_bytes:
            raise SubmissionRefused(
                f"the archive unpacks to more than {max_bytes // (1024 * 1024)} MB (at member {shown!r}, "
                f"{member.size} bytes); refusing the whole submission. Leave data files, plots other "
                "than validation_accuracy.png and virtualenvs out (./create_tarball.sh does).")
        plan.append((member, parts))
    return plan


def _hint_nested(result, members):
    """If mytorch/ is missing at the top but sits one folder down, say so."""
    if "mytorch" not in result.missing:
        return
    for member in members:
        parts = member.name.replace("\\", "/").strip("/").split("/")
        if len(parts) >= 2 and parts[1] == "mytorch":
            result.ignored.append(f"(found {parts[0]}/mytorch/ one folder down: pack from inside the "
                                  "handout folder, with ./create_tarball.sh)")
            return


def copy_folder(folder, dest, max_bytes=MAX_BYTES):
    """Take mytorch/, hw1/ and the plot from an unpacked submission ``folder``, with the same rules."""
    result, total = Unpacked(), 0
    for name in sorted(os.listdir(folder)):
        if name not in TAKEN_DIRS + TAKEN_FILES:
            result.ignored.append(name + ("/" if os.path.isdir(os.path.join(folder, name)) else ""))
    plan = []
    for name in TAKEN_DIRS + TAKEN_FILES:
        top = os.path.join(folder, name)
        if not os.path.lexists(top):
            continue
        walk = [(top, [name])]
        while walk:
            path, parts = walk.pop()
            info = os.lstat(path)
            shown = "/".join(parts)
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(path)
                if not _inside(parts, target):
                    raise SubmissionRefused(f"submitted file {shown!r} is a symbolic link to {target!r}, "
                                            "outside the submission; refusing the whole submission")
                result.skipped_links.append(shown)
            elif stat.S_ISDIR(info.st_mode):
                for child in sorted(os.listdir(path)):
                    walk.append((os.path.join(path, child), parts + [child]))
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > max_bytes:
                    raise SubmissionRefused(
                        f"the submission holds more than {max_bytes // (1024 * 1024)} MB (at {shown!r}, "
                        f"{info.st_size} bytes); refusing the whole submission")
                if _taken(parts):
                    plan.append((path, parts))
            else:
                raise SubmissionRefused(f"submitted file {shown!r} is a device file, FIFO or socket; "
                                        "refusing the whole submission")
    for path, parts in plan:
        target = os.path.join(dest, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        result.taken.append("/".join(parts))
    return result
