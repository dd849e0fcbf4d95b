"""autograder/hw1_autograder/submission.py: what is taken from a submission, and what is refused."""
import gzip
import importlib.util
import io
import os
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "hw1_submission", ROOT / "autograder" / "hw1_autograder" / "submission.py")
submission = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(submission)


def tar_of(path, entries, mode="w"):
    """A tar at ``path``: entries are name -> bytes (a file) or ("link"/"sym", target) or "dir"."""
    with tarfile.open(path, mode) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            data = None
            if content == "dir":
                info.type = tarfile.DIRTYPE
            elif isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "sym" else tarfile.LNKTYPE
                info.linkname = content[1]
            else:
                data = content
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def test_takes_only_mytorch_hw1_and_the_plot(tmp_path):
    archive = tar_of(tmp_path / "h.tar", {
        "./mytorch/": "dir", "./mytorch/tensor.py": b"x = 1\n", "mytorch/__pycache__/tensor.pyc": b"junk",
        "hw1/mnist.py": b"y = 2\n", "hw1/old.pyc": b"junk", "validation_accuracy.png": b"png",
        "autograder/hw1_autograder/runner.py": b"evil", "grade.sh": b"evil", "notes.txt": b"hi"})
    dest = tmp_path / "dest"
    dest.mkdir()
    result = submission.unpack_tar(str(archive), str(dest))
    assert files_under(dest) == ["hw1/mnist.py", "mytorch/tensor.py", "validation_accuracy.png"]
    assert (dest / "mytorch" / "tensor.py").read_bytes() == b"x = 1\n"
    assert result.missing == [] and result.has_plot
    assert result.ignored == ["autograder/", "grade.sh", "notes.txt"]
    assert "Ignored" in result.notes()[0] and "autograder/, grade.sh, notes.txt" in result.notes()[0]


def test_compressed_archives_are_read(tmp_path):
    archive = tar_of(tmp_path / "h.tar.gz", {"mytorch/a.py": b"", "hw1/b.py": b""}, mode="w:gz")
    result = submission.unpack_tar(str(archive), str(tmp_path))
    assert result.missing == [] and not result.has_plot


def test_links_inside_the_submission_are_not_unpacked(tmp_path):
    archive = tar_of(tmp_path / "h.tar", {"mytorch/a.py": b"a", "mytorch/b.py": ("sym", "a.py"),
                                          "hw1/c.py": ("link", "mytorch/a.py")})
    dest = tmp_path / "dest"
    result = submission.unpack_tar(str(archive), str(dest))
    assert files_under(dest) == ["mytorch/a.py"]
    assert result.skipped_links == ["mytorch/b.py", "hw1/c.py"]
    assert result.missing == ["hw1"]
    assert any(line.startswith("MISSING: the submission has no hw1/") for line in result.notes())


@pytest.mark.parametrize("entries, message", [
    ({"C:/evil.py": b""}, "has an absolute path"),
    ({"mytorch/x/../../../evil.py": b""}, "has a '..' component"),
    ({"mytorch/up": ("sym", "../../evil")}, "is a symbolic link to '../../evil'"),
    ({"hw1/abs": ("link", "/etc/passwd")}, "is a hard link to '/etc/passwd'"),
])
def test_unsafe_members_refuse_the_whole_archive(tmp_path, entries, message):
    archive = tar_of(tmp_path / "h.tar", dict({"mytorch/a.py": b"a", "hw1/b.py": b"b"}, **entries))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(submission.SubmissionRefused, match=message.replace("(", r"\(")):
        submission.unpack_tar(str(archive), str(dest))
    assert files_under(dest) == []  # checked whole before anything is written


def test_size_limit_counts_every_member(tmp_path):
    archive = tar_of(tmp_path / "h.tar", {"mytorch/a.py": b"a" * 600, "data.bin": b"d" * 600})
    with pytest.raises(submission.SubmissionRefused, match=r"more than 0 MB \(at member 'data.bin', 600 bytes\)"):
        submission.unpack_tar(str(archive), str(tmp_path / "dest"), max_bytes=1000)


def test_a_nested_handout_folder_gets_a_hint(tmp_path):
    archive = tar_of(tmp_path / "h.tar", {"handout/mytorch/a.py": b"", "handout/hw1/b.py": b""})
    result = submission.unpack_tar(str(archive), str(tmp_path / "dest"))
    assert result.missing == ["mytorch", "hw1"]
    assert "found handout/mytorch/ one folder down" in " ".join(result.notes())


def test_unpacked_folder_with_the_same_rules(tmp_path):
    upload = tmp_path / "upload"
    (upload / "mytorch" / "__pycache__").mkdir(parents=True)
    (upload / "hw1").mkdir()
    (upload / "mytorch" / "a.py").write_text("a")
    (upload / "mytorch" / "__pycache__" / "a.pyc").write_text("junk")
    (upload / "hw1" / "b.py").write_text("b")
    (upload / "grade.sh").write_text("evil")
    os.symlink("a.py", upload / "mytorch" / "inside.py")
    dest = tmp_path / "dest"
    result = submission.copy_folder(str(upload), str(dest))
    assert files_under(dest) == ["hw1/b.py", "mytorch/a.py"]
    assert result.ignored == ["grade.sh"] and result.skipped_links == ["mytorch/inside.py"]
    os.symlink("/etc", upload / "hw1" / "out")
    with pytest.raises(submission.SubmissionRefused, match="'hw1/out' is a symbolic link to '/etc'"):
        submission.copy_folder(str(upload), str(tmp_path / "dest2"))
    os.remove(upload / "hw1" / "out")
    os.mkfifo(upload / "hw1" / "pipe")
    with pytest.raises(submission.SubmissionRefused, match="'hw1/pipe' is a device file, FIFO or socket"):
        submission.copy_folder(str(upload), str(tmp_path / "dest3"))
    os.remove(upload / "hw1" / "pipe")
    with pytest.raises(submission.SubmissionRefused, match="holds more than"):
        submission.copy_folder(str(upload), str(tmp_path / "dest4"), max_bytes=1)


# ------------------------------------------------------------ source only
def test_only_source_is_taken_and_the_rest_is_named(tmp_path):
    archive = tar_of(tmp_path / "h.tar", {
        "mytorch/tensor.py": b"x = 1\n", "mytorch/tensor.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
        "mytorch/nn/functional.pyd": b"MZ", "mytorch/evil.pth": b"import os\n", "hw1/mnist.py": b"y = 2\n",
        "hw1/weights.bin": b"data", "hw1/old.pyc": b"junk", "validation_accuracy.png": b"png"})
    result = submission.unpack_tar(str(archive), str(tmp_path / "dest"))
    assert files_under(tmp_path / "dest") == ["hw1/mnist.py", "mytorch/tensor.py", "validation_accuracy.png"]
    assert result.dropped == ["mytorch/tensor.cpython-311-x86_64-linux-gnu.so", "mytorch/nn/functional.pyd",
                              "mytorch/evil.pth", "hw1/weights.bin", "hw1/old.pyc"]
    [line] = [n for n in result.notes() if n.startswith("Dropped")]
    assert "only .py source files" in line and "mytorch/evil.pth" in line


def test_an_uploaded_folder_keeps_only_source_too(tmp_path):
    upload = tmp_path / "upload"
    (upload / "mytorch").mkdir(parents=True)
    (upload / "hw1").mkdir()
    (upload / "mytorch" / "tensor.py").write_text("x = 1\n")
    (upload / "mytorch" / "tensor.so").write_bytes(b"\x7fELF")
    (upload / "hw1" / "mnist.py").write_text("y = 2\n")
    result = submission.copy_folder(str(upload), str(tmp_path / "dest"))
    assert files_under(tmp_path / "dest") == ["hw1/mnist.py", "mytorch/tensor.py"]
    assert result.dropped == ["mytorch/tensor.so"]
    for i in range(30):
        (upload / "hw1" / f"m{i}.py").write_text("")
    with pytest.raises(submission.SubmissionRefused, match="more than 20 files and folders"):
        submission.copy_folder(str(upload), str(tmp_path / "dest2"), max_members=20)


# ------------------------------------------------------- bombs, checked while read
class _Counting(submission._Capped):
    """_Capped that remembers the most it was asked to give, across instances."""
    most = 0

    def read(self, size=-1):
        try:
            return super().read(size)
        finally:
            _Counting.most = max(_Counting.most, self.count)


@pytest.fixture
def counting(monkeypatch):
    _Counting.most = 0
    monkeypatch.setattr(submission, "_Capped", _Counting)
    return _Counting


@pytest.mark.parametrize("compression", ["bz2", "gz", "xz"])
def test_a_compression_bomb_stops_at_the_limit(tmp_path, counting, compression):
    """50 MB of zeros in a few KB: refused from its header, having decompressed next to nothing."""
    archive = tmp_path / f"bomb.tar.{compression}"
    fast = {"preset": 0} if compression == "xz" else {"compresslevel": 1}
    with tarfile.open(archive, f"w:{compression}", **fast) as tar:
        tar.addfile(tarfile.TarInfo("mytorch/a.py"), io.BytesIO(b""))
        info = tarfile.TarInfo("mytorch/zeros.py")
        info.size = 50 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert archive.stat().st_size < 300_000
    with pytest.raises(submission.SubmissionRefused, match=r"more than 5 MB \(at member 'mytorch/zeros.py'"):
        submission.unpack_tar(str(archive), str(tmp_path / "dest"), max_bytes=5 * 1024 * 1024)
    assert counting.most < 64 * 1024
    assert not (tmp_path / "dest" / "mytorch").exists()


def test_a_header_bomb_stops_at_the_limit(tmp_path, counting):
    """A 50 MB PAX header (tarfile reads headers whole): the stream itself is capped."""
    archive = tmp_path / "bomb.tar.bz2"
    with tarfile.open(archive, "w:bz2", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
        info = tarfile.TarInfo("mytorch/a.py")
        info.pax_headers = {"comment": "x" * (50 * 1024 * 1024)}
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(submission.SubmissionRefused, match="more than 5 MB \\(stopped reading it there\\)"):
        submission.unpack_tar(str(archive), str(tmp_path / "dest"), max_bytes=5 * 1024 * 1024, max_members=100)
    limit = 5 * 1024 * 1024 + 100 * submission.MEMBER_OVERHEAD + 20 * 512
    assert counting.most == limit + 1


def test_an_archive_of_300000_members_is_refused_at_the_member_limit(tmp_path, counting):
    archive = tmp_path / "many.tar.gz"
    header = tarfile.TarInfo("hw1/empty.py").tobuf(format=tarfile.USTAR_FORMAT)
    with gzip.open(archive, "wb", compresslevel=1) as out:
        out.write(header * 300_000 + bytes(1024))
    with pytest.raises(submission.SubmissionRefused, match=f"more than {submission.MAX_MEMBERS} members"):
        submission.unpack_tar(str(archive), str(tmp_path / "dest"))
    assert counting.most <= (submission.MAX_MEMBERS + 2) * 512 + 64 * 1024
