"""Module: the base class of every layer and model (handout Part 2)."""
import collections
import collections.abc
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

    def __setattr__(self, name, value):
        # As PyTorch: a parameter is replaced only by a parameter (or None), else parameters()
        # would silently drop it and the optimizer never train what forward uses.
        old = self.__dict__.get(name)
        if (isinstance(old, Tensor) and old.is_parameter and value is not None
                and not (isinstance(value, Tensor) and value.is_parameter)):
            raise TypeError(_not_a_parameter(self, name, value))
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        if "is_train" not in self.__dict__:
            raise RuntimeError(_not_initialised(self))
        if args and type(args[0]) is not Tensor and isinstance(args[0], (np.ndarray, list)):
            _refuse_array_input(self, args[0])
        return self.forward(*args, **kwargs)

    @property
    def training(self):
        """PyTorch's name of ``is_train``: True in training mode; assigning it sets ``is_train``."""
        return self.is_train

    @training.setter
    def training(self, mode):
        self.is_train = bool(mode)

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

    def children(self):
        """The modules directly inside this one (attributes, lists and tuples), each once, in order."""
        found, seen = [], set()
        for value in self.__dict__.values():
            for item in _flatten(value) if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, Module) and id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
        return found

    def parameters(self):
        """Every parameter of this module and its submodules, each once, in definition order.

        Parameters are the Tensors with ``is_parameter=True`` held in
        attributes, directly or in lists/tuples (of modules or tensors). The
        attributes are walked in the order they were first assigned, going
        into each submodule where it stands, so the order is the same on
        every run. Returns a list that is also an iterator, so both ``list``
        habits (``len``, indexing) and PyTorch's ``next(model.parameters())`` work.
        """
        return _Parameters(t for _, t in self.named_parameters())

    # ------------------------------------ state: buffers, state_dict, zero_grad
    # Attributes whose names state_dict() leaves out of its keys: Sequential
    # sets ("layers",), so its keys are "0.weight", "1.bias", ... as in PyTorch.
    _unnamed_attributes = ()

    def register_buffer(self, name, tensor):
        """Store ``tensor`` (a Tensor that is not a parameter) as attribute ``name``, and in ``state_dict()``.

        Buffers are state that is saved and loaded with the model but not
        trained, such as BatchNorm1d's running statistics. The attribute may
        be rebound to a new Tensor later; the name stays registered.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"register_buffer: name must be an attribute name (str), got {name!r}")
        if not isinstance(tensor, Tensor) or tensor.is_parameter:
            kind = "a parameter" if isinstance(tensor, Tensor) else type(tensor).__name__
            raise TypeError(f"register_buffer({name!r}): expected a Tensor that is not a parameter, got {kind}")
        setattr(self, name, tensor)
        buffers = self.__dict__.get("_buffer_names", ())
        if name not in buffers:
            self._buffer_names = buffers + (name,)

    def named_parameters(self):
        """``(name, parameter)`` pairs, in the order of ``parameters()``, named as in ``state_dict()``."""
        return [(name, t) for name, t in _named_state(self) if t.is_parameter]

    def named_buffers(self):
        """``(name, buffer)`` pairs of every registered buffer, named as in ``state_dict()``."""
        return [(name, t) for name, t in _named_state(self) if not t.is_parameter]

    def state_dict(self):
        """An OrderedDict of every parameter and buffer: name -> copy of its data (an ndarray).

        Names join attribute names with dots, as PyTorch does: ``"weight"``,
        ``"bn.running_mean"``, ``"blocks.0.bias"`` for a list attribute, and
        ``"0.weight"`` for the first layer of a Sequential. The arrays are
        copies (PyTorch returns tensors sharing the data), so training on does
        not change a saved state. A module or tensor reached twice is listed once.
        """
        return collections.OrderedDict((name, t.data.copy()) for name, t in _named_state(self))

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` (name -> ndarray or Tensor) into this module's parameters and buffers, in place.

        The tensors keep their identity (an optimizer holding them sees the
        new values). Every entry must match the shape and dtype of its
        tensor; with ``strict`` (the default), the keys must be exactly those
        of ``self.state_dict()``. Any problem raises one RuntimeError naming
        every bad key, before anything is copied. Returns a named tuple
        ``(missing_keys, unexpected_keys)``, as PyTorch does.
        """
        owner = type(self).__name__
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"{owner}.load_state_dict: expected a dict of name -> array (from state_dict() "
                            f"or mytorch.load), got {type(state_dict).__name__}")
        own = collections.OrderedDict(_named_state(self))
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        arrays = {}
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = value.data if isinstance(value, Tensor) else value
            if not isinstance(array, np.ndarray):
                problems.append(f"{name!r} is a {type(value).__name__}, expected an ndarray or a Tensor")
            elif array.shape != tensor.shape:
                problems.append(f"{name!r} has shape {array.shape}, the model's has shape {tensor.shape}")
            elif array.dtype != tensor.dtype:
                problems.append(f"{name!r} has dtype {array.dtype}, the model's has dtype {tensor.dtype} "
                                f"(convert one of them, e.g. array.astype(np.{tensor.dtype}))")
            else:
                arrays[name] = array
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {owner}: " + "; ".join(problems))
        for name, array in arrays.items():
            np.copyto(own[name].data, array)
            own[name]._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    def zero_grad(self, set_to_none=True):
        """Forget the gradient of every parameter: ``grad = None`` (PyTorch 2.x's default), or zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data.fill(0)

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


class _Parameters(list):
    """The list ``parameters()`` returns; ``next()`` on it also works, as on PyTorch's generator."""

    _next = 0

    def __next__(self):
        if self._next >= len(self):
            raise StopIteration
        self._next += 1
        return self[self._next - 1]


def _not_a_parameter(module, name, value):
    kind = "Tensor (is_parameter=False)" if isinstance(value, Tensor) else type(value).__name__
    return (f"{type(module).__name__}.{name} = {kind}: {name} is a parameter, and the new value is not, "
            "so parameters() would leave it out and the optimizer would never train it (PyTorch refuses "
            f"this too). Assign Tensor(array, requires_grad=True, is_parameter=True), or set the values "
            f"of the parameter itself: layer.{name}.data = array")


def _refuse_array_input(module, value):
    raise TypeError(f"{type(module).__name__}: input must be a Tensor, got {type(value).__name__}; "
                    "wrap it with Tensor(x): layer(Tensor(x))")


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _named_state(root):
    """``(name, tensor)`` for every parameter and buffer under ``root``, in definition order, each once."""
    found = []
    _visit_named(root, "", set(), found)
    return found


def _visit_named(module, prefix, seen, found):
    if "is_train" not in module.__dict__:
        raise RuntimeError(_not_initialised(module))
    seen.add(id(module))
    buffers = module.__dict__.get("_buffer_names", ())
    for attr, value in module.__dict__.items():
        name = prefix if attr in module._unnamed_attributes else f"{prefix}{attr}."
        if isinstance(value, (list, tuple)):
            _visit_named_items(value, name, seen, found)
        elif isinstance(value, Module):
            if id(value) not in seen:
                _visit_named(value, name, seen, found)
        elif isinstance(value, Tensor) and (value.is_parameter or attr in buffers) and id(value) not in seen:
            seen.add(id(value))
            found.append((name[:-1], value))


def _visit_named_items(values, prefix, seen, found):
    """Parameters and modules held in a list or tuple attribute: named by position."""
    for i, value in enumerate(values):
        if isinstance(value, (list, tuple)):
            _visit_named_items(value, f"{prefix}{i}.", seen, found)
        elif isinstance(value, Module):
            if id(value) not in seen:
                _visit_named(value, f"{prefix}{i}.", seen, found)
        elif isinstance(value, Tensor) and value.is_parameter and id(value) not in seen:
            seen.add(id(value))
            found.append((f"{prefix}{i}", value))


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
