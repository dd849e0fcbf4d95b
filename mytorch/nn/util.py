"""Packed sequences (HW3P1): a batch of sequences of different lengths in one time-major tensor.

``pack_sequence`` turns B sequences (L_i, F) into a ``PackedSequence``:

* ``data`` (sum of L_i, F): for each time step t, row t of every sequence
  still running at t, longest sequence first. A recurrent layer reads the
  rows of step t as one batch, which only shrinks as sequences end.
* ``sorted_indices`` (B,): the sequences' original indices, longest first
  (ties keep their original order).
* ``batch_sizes`` (max L_i,): how many sequences are still running at each step.

Both index fields are plain int ndarrays; ``data`` is built from
differentiable operations (cat and indexing), so gradients flow back to the
sequences. ``unpack_sequence`` gives the sequences back in their original
order, also differentiably. As ``torch.nn.utils.rnn.pack_sequence(...,
enforce_sorted=False)`` and ``unpack_sequence``.
"""
import numpy as np

from mytorch.tensor import Tensor, cat

__all__ = ["PackedSequence", "pack_sequence", "unpack_sequence"]


class PackedSequence:
    """The packed form of a batch of sequences (see the module docstring).

    Attributes:
        data: Tensor (sum of lengths, *features), time-major, longest first at each step.
        sorted_indices: int ndarray (B,), original index of each sorted position.
        batch_sizes: int ndarray (max length,), sequences running at each step.
    """

    def __init__(self, data, sorted_indices, batch_sizes):
        if not isinstance(data, Tensor):
            raise TypeError(f"PackedSequence: data must be a Tensor, got {type(data).__name__}")
        sorted_indices = np.asarray(sorted_indices)
        batch_sizes = np.asarray(batch_sizes)
        for name, value in (("sorted_indices", sorted_indices), ("batch_sizes", batch_sizes)):
            if value.ndim != 1 or value.dtype.kind not in "iu":
                raise TypeError(f"PackedSequence: {name} must be a 1-D int array, got {value.dtype} "
                                f"of shape {value.shape}")
        if data.data.ndim == 0 or batch_sizes.sum() != data.shape[0]:
            raise ValueError(f"PackedSequence: data has shape {data.shape}, but batch_sizes add up to "
                             f"{batch_sizes.sum()} rows")
        self.data = data
        self.sorted_indices = sorted_indices
        self.batch_sizes = batch_sizes

    def __iter__(self):
        # data, sorted_indices, batch_sizes = packed (as a named tuple would)
        return iter((self.data, self.sorted_indices, self.batch_sizes))

    def __repr__(self):
        return (f"PackedSequence(data={self.data!r}, sorted_indices={self.sorted_indices!r}, "
                f"batch_sizes={self.batch_sizes!r})")


def check_packed(where, packed):
    """Refuse what has not the three fields of a packed sequence (any object with them is accepted)."""
    if not all(hasattr(packed, field) for field in ("data", "sorted_indices", "batch_sizes")):
        raise TypeError(f"{where}: expected a PackedSequence (from pack_sequence), with fields data, "
                        f"sorted_indices and batch_sizes; got {type(packed).__name__}")


def _check_sequences(sequences):
    """Refuse what is not a non-empty list of Tensors (L_i >= 1, *features) with equal features."""
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise TypeError("pack_sequence: expected a non-empty list of Tensors of shape (L_i, features), "
                        f"got {type(sequences).__name__}")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pack_sequence: sequences[{i}] is a {type(s).__name__}, expected a Tensor")
        if s.data.ndim == 0 or s.shape[0] == 0:
            raise ValueError(f"pack_sequence: sequences[{i}] has shape {s.shape}; each sequence needs "
                             "at least one time step, shape (L_i >= 1, features)")
        if s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(f"pack_sequence: sequences[{i}] has shape {s.shape}, sequences[0] has "
                             f"{sequences[0].shape}; the feature axes must match")


def pack_sequence(sequences):
    """Pack a list of B Tensors (L_i, F), in any order of lengths, into a ``PackedSequence``.

    ``sorted_indices`` orders the sequences by length, longest first, stably
    (ties keep the caller's order); ``data`` holds, step by step, row t of
    each sequence still running. Differentiable w.r.t. every sequence.
    """
    _check_sequences(sequences)
    # BEGIN SOLUTION
    lengths = np.array([s.shape[0] for s in sequences])
    sorted_indices = np.argsort(-lengths, kind="stable")
    steps = np.arange(lengths.max())
    batch_sizes = (lengths[None, :] > steps[:, None]).sum(axis=1)
    # The sorted sequences one after the other, then one gather puts their
    # rows in time-major order: two graph nodes, whatever the lengths.
    stacked = cat([sequences[i] for i in sorted_indices], dim=0)
    starts = np.concatenate([[0], np.cumsum(lengths[sorted_indices])[:-1]])
    order = np.concatenate([starts[:b] + t for t, b in enumerate(batch_sizes)])
    return PackedSequence(stacked[order], sorted_indices, batch_sizes)
    # END SOLUTION


def unpack_sequence(packed):
    """The list of sequences (L_i, F) in the original order of ``pack_sequence``'s input, differentiably."""
    check_packed("unpack_sequence", packed)
    # BEGIN SOLUTION
    batch_sizes = np.asarray(packed.batch_sizes)
    lengths = (batch_sizes[None, :] > np.arange(batch_sizes[0])[:, None]).sum(axis=1)  # of each sorted position
    step_starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    # Row t of the sequence at sorted position k is packed row step_starts[t] + k:
    # one gather groups each sequence's rows, then a slice per sequence.
    order = np.concatenate([step_starts[:n] + k for k, n in enumerate(lengths)])
    grouped = packed.data[order]
    ends = np.cumsum(lengths)
    sequences = [None] * len(lengths)
    for k, original in enumerate(packed.sorted_indices):
        sequences[original] = grouped[int(ends[k] - lengths[k]):int(ends[k])]
    return sequences
    # END SOLUTION

