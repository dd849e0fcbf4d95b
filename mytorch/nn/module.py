"""Module: the base class of every layer and model (handout Part 2)."""
import numbers

import numpy as np

from mytorch.tensor import Tensor


class Module:
    """Base class of layers and models.

    A subclass calls ``super().__init__()`` first in its ``__init__``, stores
    its parameters (Tensors with ``is_parameter=True``) and sub-layers as
    attributes, and defines ``forward``. Calling the module runs ``forward``.

    Attributes:
        is_train: True in training mode (the default), False after ``eval()``;
            layers such as BatchNorm1d behave differently in the two modes.
    """

    def __init__(self):
        self.is_train = True

    def __getattr__(self, name):
        # Only called when normal lookup fails: say why ``is_train`` is
        # missing instead of leaving a bare AttributeError in some forward.
        if name == "is_train":
            raise AttributeError(_not_initialised(self))
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __call__(self, *args, **kwargs):
        if "is_train" not in self.__dict__:
            raise RuntimeError(_not_initialised(self))
        return self.forward(*args, **kwargs)

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    # ---------------------------------------------------------------- modes
    def train(self, mode=True):
        """Put this module and every submodule in training mode (``mode=False``: eval); returns self."""
        for module in self.modules():
            module.is_train = bool(mode)
        return self

    def eval(self):
        """Put this module and every submodule in evaluation mode; returns self."""
        return self.train(False)

    # ------------------------------------------------------------ traversal
    def modules(self):
        """This module and every module inside it, each once, in definition order."""
        return _walk(self, Module)

    def parameters(self):
        """Every parameter of this module and its submodules, each once, in definition order.

        Parameters are the Tensors with ``is_parameter=True`` held in
        attributes, directly or in lists/tuples (of modules or tensors). The
        attributes are walked in the order they were first assigned, going
        into each submodule where it stands, so the order is the same on
        every run. Returns a list (PyTorch returns an iterator; both iterate).
        """
        return [item for item in _walk(self, (Module, Tensor)) if isinstance(item, Tensor) and item.is_parameter]

    # --------------------------------------------------------------- dtypes
    def to(self, dtype):
        """Convert every parameter and tensor attribute (running statistics too) to float ``dtype``; returns self.

        In place, as PyTorch's ``Module.to``: each tensor stays the same
        object (an optimizer made before keeps training it), with its data
        (and gradient, if any) converted.
        """
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: {dtype!r} is not a NumPy dtype (e.g. np.float32)") from None
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: a model converts to a float dtype, got {dtype}")
        for tensor in _walk(self, (Module, Tensor)):
            if isinstance(tensor, Tensor) and tensor.data.dtype.kind == "f" and tensor.data.dtype != dtype:
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dtype)
                tensor._bump_version()
        return self

    def float(self):
        """``to(np.float32)``."""
        return self.to(np.float32)

    def double(self):
        """``to(np.float64)``."""
        return self.to(np.float64)

    # -------------------------------------------------------------- display
    def extra_repr(self):
        """The text between the parentheses of ``repr(module)``; subclasses override it."""
        return ""

    def __repr__(self):
        children = []
        for name, value in self.__dict__.items():
            if isinstance(value, Module):
                children.append((name, value))
            elif isinstance(value, (list, tuple)):
                children += [(f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, Module)]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _walk(root, kinds):
    """``root``, then every object of ``kinds`` reachable through attributes and lists/tuples.

    Depth first, in attribute order, each object once (a layer used twice
    has its parameters trained once).
    """
    found = []
    _visit(root, kinds, set(), found)
    return found


# Plain functions rather than closures inside _walk: two closures that call
# each other form a reference cycle, which would keep every walk's lists
# alive until the cyclic garbage collector runs.
def _visit(module, kinds, seen, found):
    if "is_train" not in module.__dict__:
        raise RuntimeError(_not_initialised(module))
    seen.add(id(module))
    found.append(module)
    for value in module.__dict__.values():
        if isinstance(value, (list, tuple)):
            for item in _flatten(value):
                _consider(item, kinds, seen, found)
        elif isinstance(value, kinds):
            _consider(value, kinds, seen, found)


def _consider(value, kinds, seen, found):
    if id(value) in seen:
        return
    if isinstance(value, Module):
        _visit(value, kinds, seen, found)
    elif isinstance(value, kinds):
        seen.add(id(value))
        found.append(value)


def _flatten(values):
    """The items of a list or tuple, and of the lists and tuples inside it."""
    for item in values:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _not_initialised(module):
    name = type(module).__name__
    return (f"{name} was not initialised as a Module: {name}.__init__ must call "
            "super().__init__() before anything else")


def check_size(layer, name, value):
    """Refuse a layer size (``in_features``, ``num_features``, ...) that is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
