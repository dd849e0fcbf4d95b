"""autograder/hw1_autograder/submission.py: what is taken from a submission, and what is refused."""
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
