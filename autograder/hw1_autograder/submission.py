"""Take a student's files out of a submission, safely and strictly.

A submission is ``handin.tar`` (what ``./create_tarball.sh`` packs; gzip,
bzip2 and xz compression are read too) or a folder holding the unpacked
files (Gradescope unpacks uploads itself). Only source is taken: the ``.py``
files under ``mytorch/`` and ``hw1/``, and ``validation_accuracy.png``.
Anything else at the top (an ``autograder/`` of the student's own,
``grade.sh``, notes) is left behind and named in ``Unpacked.ignored``;
anything else inside ``mytorch/`` and ``hw1/`` (compiled modules ``.so``,
``.pyd``, ``.pyc``, ``.pth`` files, data) is left behind and named in
``Unpacked.dropped``: nothing Python could load implicitly, nothing that
hides code from review, and the grader always runs its own clean copy.

The archive is read as a stream, once, and checked while it is read: it is
refused (``SubmissionRefused``, with a message saying why) when a member has
an absolute path or a ``..`` component, is a link pointing outside the
archive, a device file or FIFO, when it has more than MAX_MEMBERS members,
or when it unpacks to more than MAX_BYTES, counted on the decompressed
stream as it is read (a compression bomb stops at the limit). Members are
written with ``open()`` into a staging folder (never ``tarfile.extractall``)
that becomes the submission only when the whole archive passed: a refused
archive leaves nothing behind. Links are not followed or created.
"""
import bz2
import fnmatch
import gzip
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile

MAX_BYTES = 50 * 1024 * 1024
# A handout has some 30 files; create_tarball.sh packs a few dozen members.
MAX_MEMBERS = 2000
# Per member, what a tar stream holds beyond the data: a header, a PAX header, padding.
MEMBER_OVERHEAD = 3 * 512
SOURCE_SUFFIX = ".py"
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
    """What was taken from a submission: ``taken`` (file paths), ``ignored`` (top-level names),
    ``dropped`` (files in mytorch/ and hw1/ that are not source), ``missing``."""

    def __init__(self):
        self.taken = []
        self.ignored = []
        self.dropped = []
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
        if self.dropped:
            shown = ", ".join(self.dropped[:20]) + (f" and {len(self.dropped) - 20} more"
                                                    if len(self.dropped) > 20 else "")
            lines.append("Dropped (only .py source files are taken from mytorch/ and hw1/: no compiled "
                         "modules, .pth or data files): " + shown)
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
    """Whether a file at ``parts`` is one we take: the plot, or a .py source file in mytorch/ or hw1/."""
    if not parts:
        return False
    if len(parts) == 1 and parts[0] in TAKEN_FILES:
        return True
    if parts[0] not in TAKEN_DIRS or len(parts) < 2:
        return False
    return parts[-1].endswith(SOURCE_SUFFIX) and not never_shipped(parts)


def _note_ignored(result, parts):
    """Say why a file at ``parts`` was not taken: outside the taken folders, or not source."""
    if not parts:
        return
    top = parts[0] + ("/" if len(parts) > 1 else "")
    if top.rstrip("/") in TAKEN_DIRS:
        if len(parts) > 1:
            result.dropped.append("/".join(parts))
        return
    if top not in result.ignored:
        result.ignored.append(top)


class _Capped:
    """A read-only stream that refuses to give more than ``limit`` bytes (counted as they are read)."""

    def __init__(self, stream, limit, max_bytes):
        self.stream, self.limit, self.max_bytes, self.count = stream, limit, max_bytes, 0

    def read(self, size=-1):
        want = self.limit + 1 - self.count if size is None or size < 0 else min(size, self.limit + 1 - self.count)
        data = self.stream.read(max(want, 0))
        self.count += len(data)
        if self.count > self.limit:
            raise SubmissionRefused(
                f"the archive unpacks to more than {self.max_bytes // (1024 * 1024)} MB (stopped reading it "
                f"there); refusing the whole submission. Leave data files, plots other than "
                "validation_accuracy.png and virtualenvs out (./create_tarball.sh does).")
        return data


def _open_stream(archive):
    """The archive's bytes, decompressed as they are read (gzip, bzip2, xz or none, by magic number)."""
    with open(archive, "rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(archive, "rb")
    return open(archive, "rb")


def unpack_tar(archive, dest, max_bytes=MAX_BYTES, max_members=MAX_MEMBERS):
    """Read ``archive`` once, checking as it goes; its source files and plot end up under ``dest``.

    Returns Unpacked; raises SubmissionRefused (and leaves ``dest`` as it was) for an unsafe,
    oversized or unreadable archive.
    """
    os.makedirs(dest, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".unpacking-", dir=dest)
    names = []
    try:
        result = _unpack_stream(archive, staging, names, max_bytes, max_members)
        for top in os.listdir(staging):
            os.replace(os.path.join(staging, top), os.path.join(dest, top))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _hint_nested(result, names)
    return result


def _unpack_stream(archive, staging, names, max_bytes, max_members):
    result, total = Unpacked(), 0
    limit = max_bytes + max_members * MEMBER_OVERHEAD + 20 * 512   # data, headers, end blocks
    try:
        with _open_stream(archive) as raw:
            with tarfile.open(fileobj=_Capped(raw, limit, max_bytes), mode="r|") as tar:
                for member in tar:
                    names.append(member.name)
                    if len(names) > max_members:
                        raise SubmissionRefused(
                            f"the archive has more than {max_members} members; refusing the whole submission "
                            "(a handout has a few dozen files: make handin.tar with ./create_tarball.sh)")
                    parts = _check_member(member)
                    total += max(member.size, 0)
                    if total > max_bytes:
                        raise SubmissionRefused(
                            f"the archive unpacks to more than {max_bytes // (1024 * 1024)} MB (at member "
                            f"{'/'.join(parts)!r}, {member.size} bytes); refusing the whole submission. Leave "
                            "data files, plots other than validation_accuracy.png and virtualenvs out "
                            "(./create_tarball.sh does).")
                    _take_member(tar, member, parts, staging, result)
    except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError) as error:
        size = os.path.getsize(archive) if os.path.exists(archive) else 0
        raise SubmissionRefused(
            f"{os.path.basename(archive)} ({size} bytes) is not a readable tar archive ({error}). "
            "Make it with ./create_tarball.sh and upload the handin.tar it writes.") from None
    return result


def _take_member(tar, member, parts, staging, result):
    """Write one checked member under ``staging`` if it is taken; note it otherwise."""
    if member.isdir():
        return
    if not _taken(parts):
        _note_ignored(result, parts)
        return
    if member.issym() or member.islnk():
        result.skipped_links.append("/".join(parts))
        return
    target = os.path.join(staging, *parts)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    source = tar.extractfile(member)
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    result.taken.append("/".join(parts))


def _check_member(member):
    """The member's path as parts, or SubmissionRefused if it is unsafe."""
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
    return parts


def _hint_nested(result, names):
    """If mytorch/ is missing at the top but sits one folder down, say so."""
    if "mytorch" not in result.missing:
        return
    for name in names:
        parts = name.replace("\\", "/").strip("/").split("/")
        if len(parts) >= 2 and parts[1] == "mytorch":
            result.ignored.append(f"(found {parts[0]}/mytorch/ one folder down: pack from inside the "
                                  "handout folder, with ./create_tarball.sh)")
            return


def copy_folder(folder, dest, max_bytes=MAX_BYTES, max_members=MAX_MEMBERS):
    """Take the source files and the plot from an unpacked submission ``folder``, with the same rules."""
    result, total, seen = Unpacked(), 0, 0
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
            seen += 1
            if seen > max_members:
                raise SubmissionRefused(f"the submission holds more than {max_members} files and folders; "
                                        "refusing the whole submission")
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
                    _note_ignored(result, parts)
            else:
                raise SubmissionRefused(f"submitted file {shown!r} is a device file, FIFO or socket; "
                                        "refusing the whole submission")
    for path, parts in plan:
        target = os.path.join(dest, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        result.taken.append("/".join(parts))
    return result
