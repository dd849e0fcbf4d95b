"""Save and load state dicts as ``.npz`` files, never with pickle.

``torch.save`` pickles, and unpickling a file can run any code in it. MyTorch
stores only what a model's state is made of: named numeric arrays, in NumPy's
``.npz`` format (a zip of ``.npy`` files), and refuses to unpickle anything
when loading. A model is saved as its ``state_dict()`` and restored by
building it again and calling ``load_state_dict``::

    mytorch.save(model.state_dict(), "model.npz")
    model = make_model()
    model.load_state_dict(mytorch.load("model.npz"))
"""
import collections
import collections.abc
import os
import zipfile

import numpy as np

from mytorch.nn.module import Module
from mytorch.tensor import Tensor

_NUMERIC_KINDS = "biuf"


def save(obj, f):
    """Write ``obj``, a dict of name -> ndarray or Tensor (a ``state_dict()``), to ``f``.

    ``f`` is a path (written exactly there: no ``.npz`` is appended) or a
    binary file object. The file is an ``.npz`` archive that ``np.load``
    reads too.
    """
    if isinstance(obj, Module):
        raise TypeError(
            "save: MyTorch saves a state dict, not a module (that would need pickle); write "
            "mytorch.save(model.state_dict(), path), then rebuild the model and call "
            "model.load_state_dict(mytorch.load(path))")
    if not isinstance(obj, collections.abc.Mapping):
        raise TypeError(f"save: expected a dict of name -> array (model.state_dict()), got {type(obj).__name__}")
    arrays = []
    for name, value in obj.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save: keys must be non-empty strings, got {name!r}")
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray) or array.dtype.kind not in _NUMERIC_KINDS:
            what = f"an array of dtype {array.dtype}" if isinstance(array, np.ndarray) else type(value).__name__
            raise TypeError(f"save: {name!r} is {what}; only numeric ndarrays and Tensors can be saved")
        arrays.append((name, array))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            _write_npz(file, arrays)
    else:
        _write_npz(f, arrays)


def _write_npz(file, arrays):
    # What np.savez writes, but with the names as given: np.savez would
    # reject a key named "file" and append ".npz" to a path without it.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays:
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def load(f):
    """Read what ``save`` wrote: an OrderedDict of name -> ndarray, in the saved order.

    Never unpickles: a file holding pickled data (such as one written by
    ``torch.save`` or with object arrays) is refused with a ValueError.
    """
    where = f"load({os.fspath(f)!r})" if isinstance(f, (str, os.PathLike)) else "load"
    try:
        archive = np.load(f, allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{where}: not a file written by mytorch.save ({err}); MyTorch never unpickles "
                         "files, since unpickling can run any code") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: this is a single .npy array, not a file written by mytorch.save "
                         "(an .npz archive of named arrays)")
    with archive:
        others = [name for name in archive.zip.namelist() if not name.endswith(".npy")]
        if others:  # e.g. torch.save's zip, which holds a pickle
            raise ValueError(f"{where}: not a file written by mytorch.save: it holds {others[0]!r}, not only "
                             ".npy arrays (a file from torch.save? MyTorch never unpickles files, since "
                             "unpickling can run any code)")
        try:
            state = collections.OrderedDict((name, archive[name]) for name in archive.files)
        except ValueError as err:
            raise ValueError(f"{where}: the file holds pickled (object) arrays, which MyTorch refuses "
                             f"to load since unpickling can run any code ({err})") from None
    return state
