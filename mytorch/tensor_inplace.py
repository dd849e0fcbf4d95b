"""In-place changes of a Tensor and its version counter (given code, inherited by Tensor).

As in PyTorch, every in-place change MyTorch makes to a tensor's data (the
operators ``+= -= *= /= @=``, ``t[i] = v``, ``fill_``, ``zero_``, an
optimizer's step, ``Module.to``) bumps the tensor's version;
``save_for_backward`` records the versions of what it saves, and backward
refuses a saved tensor changed since. A change made by writing into
``t.data`` directly is not seen (as in PyTorch).

MyTorch records no in-place operation in a graph, so with gradients on, an
in-place change of a tensor that requires grad (or with an operand that
does) is refused rather than losing its gradient; under ``no_grad()`` (an
optimizer update, a custom initialisation) it is allowed, as in PyTorch.
"""
import numpy as np

from mytorch import grad_mode
from mytorch.tensor_data import is_number, operand

# How many in-place changes (of any tensor) there have been: while it stays
# unchanged between a forward and its backward, no saved tensor can be stale,
# and backward skips the per-tensor version check.
BUMPS = [0]


def share_version(source, view):
    """Give ``view`` (a tensor on ``source``'s memory) the version counter of ``source``."""
    vc = source._vc
    if vc is None:
        vc = source._vc = [0]
    view._vc = vc


def inplace_refusal(tensor, symbol, op):
    """Why ``tensor <symbol> ...`` is refused with gradients on, and what to write instead."""
    if tensor.requires_grad and tensor.is_leaf:
        return (f"{symbol} on a leaf Tensor that requires grad (shape {tensor.shape}): PyTorch refuses "
                "this too (\"a leaf Variable that requires grad is being used in an in-place "
                "operation\"). To update a parameter, do it under no_grad() "
                f"(with no_grad(): p {symbol} ...); for a new tensor, write x = x {op} y")
    return (f"{symbol} with a tensor that is part of a graph (shape {tensor.shape}): MyTorch does not "
            "record in-place operations, so the gradient would be lost; write x = x "
            f"{op} y for a new tensor (or, to accumulate a plain number, total {symbol} loss.item())")


def check_method_allowed(tensor, name):
    """Refuse the in-place method ``name`` (``fill_``, ``zero_``, ...) on a tensor in a graph, with grad on."""
    if tensor.requires_grad and grad_mode.is_grad_enabled():
        if tensor.is_leaf:
            raise RuntimeError(
                f"{name}() on a leaf Tensor that requires grad (shape {tensor.shape}): PyTorch refuses "
                "this too (\"a leaf Variable that requires grad is being used in an in-place "
                f"operation\"). To set a parameter's values, call it under no_grad() (with no_grad(): "
                f"p.{name}(...)), or assign p.data = array")
        raise RuntimeError(
            f"{name}() on a tensor that is part of a graph (shape {tensor.shape}, result of "
            f"{tensor.grad_fn.function_name}): MyTorch does not record in-place operations, so the "
            "gradient would be lost; build a new tensor instead (e.g. Tensor.zeros(*t.shape))")
    if not tensor.data.flags.writeable:
        raise ValueError(f"{name}(): this tensor's data (shape {tensor.shape}) is a read-only array")


class InPlaceMixin:
    """The in-place operators and the version counter of a Tensor."""

    # The version counter: None until the first in-place change, then a
    # one-element list, shared by the tensors that view the same memory
    # (detach(), T(), reshape(), basic indexing).
    _vc = None

    @property
    def _version(self):
        """How many in-place changes MyTorch has made to this tensor's data."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self):
        """Record one in-place change of ``data`` (call it after changing it)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1
        BUMPS[0] += 1

    def __iadd__(self, other):
        return self._inplace(other, np.add, "+=", "+")

    def __isub__(self, other):
        return self._inplace(other, np.subtract, "-=", "-")

    def __imul__(self, other):
        return self._inplace(other, np.multiply, "*=", "*")

    def __itruediv__(self, other):
        return self._inplace(other, np.true_divide, "/=", "/")

    def __imatmul__(self, other):
        return self._inplace(other, np.matmul, "@=", "@")

    def _inplace(self, other, ufunc, symbol, op):
        """``self <symbol> other``: write the result into ``self.data``; returns self.

        Allowed under ``no_grad()`` and on tensors outside every graph, like
        PyTorch. MyTorch does not record in-place operations in a graph, so
        with gradients on, a tensor that requires grad (or an operand that
        does) is refused rather than losing its gradient.
        """
        other_requires = isinstance(other, _tensor.Tensor) and other.requires_grad
        if grad_mode.is_grad_enabled() and (self.requires_grad or other_requires):
            raise RuntimeError(inplace_refusal(self, symbol, op))
        if isinstance(other, _tensor.Tensor):
            value = other.data
        elif op != "@" and is_number(other):
            value = other
        else:
            operand(other, self, symbol, scalars=op != "@")  # raises the operand error
        data = self.data
        if not data.flags.writeable:
            raise ValueError(f"{symbol}: this tensor's data (shape {self.shape}) is a read-only array; "
                             f"write t = t {op} other for a new tensor")
        try:
            if op == "@":
                result = data @ value
                if result.shape != data.shape:
                    raise ValueError
                np.copyto(data, result, casting="same_kind")
            else:
                ufunc(data, value, out=data, casting="same_kind")
        except TypeError:  # NumPy's UFuncTypeError: the result's dtype does not fit
            result_dtype = np.result_type(data, value) if op != "/" else np.result_type(data, value, 1.0)
            raise TypeError(
                f"{symbol}: the result type {result_dtype} can't be cast to this tensor's dtype "
                f"{data.dtype} (PyTorch refuses too); write t = t {op} other for a new tensor, or "
                "convert first with t.double()") from None
        except ValueError:
            other_shape = np.shape(value)
            raise ValueError(
                f"{symbol}: the result of Tensor {self.shape} {op} {other_shape} would not have this "
                f"tensor's shape {self.shape}; an in-place operation cannot change the shape "
                f"(write t = t {op} other for a new tensor)") from None
        except OverflowError:  # a Python int out of an integer dtype's range (NumPy 2)
            raise OverflowError(
                f"{symbol}: the number {value!r} does not fit this tensor's dtype {data.dtype} (PyTorch "
                "refuses it too); convert first, e.g. t = t.to(np.int64)") from None
        self._bump_version()
        return self

    def zero_(self):
        """Set every element to 0, in place; returns self (refused in a graph, as ``fill_``)."""
        check_method_allowed(self, "zero_")
        return self.fill_(0)

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of a normal distribution (from ``np.random``), in place; returns self."""
        check_method_allowed(self, "normal_")
        self.data[...] = np.random.normal(mean, std, self.data.shape)
        self._bump_version()
        return self

    def uniform_(self, a=0.0, b=1.0):
        """Fill with samples of a uniform distribution on [a, b) (from ``np.random``), in place; returns self."""
        check_method_allowed(self, "uniform_")
        self.data[...] = np.random.uniform(a, b, self.data.shape)
        self._bump_version()
        return self

    def copy_(self, src):
        """Copy ``src``'s values (a Tensor, broadcast) into this tensor, in place; returns self."""
        check_method_allowed(self, "copy_")
        if not isinstance(src, _tensor.Tensor):
            raise TypeError(f"copy_(src): src must be a Tensor, got {type(src).__name__}")
        if src.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("copy_(src): src requires grad, but the copy is not recorded in a graph; "
                               "copy src.detach(), or call it under no_grad()")
        np.copyto(self.data, src.data, casting="same_kind")
        self._bump_version()
        return self


# Imported last: tensor.py imports this module before it defines Tensor.
from mytorch import tensor as _tensor  # noqa: E402
