"""The autograd engine's given machinery (the handout never shows it).

Used by ``mytorch/autograd_engine.py``: how a ctx stores the tensors an
operation saves, with their versions (``SavedTensors``, the base class of
``ContextManager``), and what ``BackwardFunction.apply`` checks before and
after running an operation's backward (saved tensors changed in place since
the forward, gradients of the wrong number or shape, leaves whose
``requires_grad`` was turned off), each with a message naming the operation.
"""
from mytorch.tensor import Tensor
from mytorch.tensor_inplace import BUMPS


class SavedTensors:
    """``save_for_backward``, ``saved_tensors`` and ``save_output`` of a ctx (see ``ContextManager``)."""

    # The saved tensors live in the ctx's own attributes, the first two one each
    # (what nearly every operation saves), and ``saved_tensors`` builds the tuple
    # when backward asks: no tuple kept per op for the cyclic GC to traverse on a
    # deep graph. Class defaults until the first save: nothing stored when none.
    _saved_count = 0
    _saved_first = _saved_second = None
    _saved_rest = ()
    # The version of each saved tensor when it was saved, and the count of
    # in-place changes anywhere at the first save (see BackwardFunction.apply).
    saved_versions = ()
    saved_bumps = 0
    # (version counter, version) of the output when backward reads its array (see save_output).
    saved_output = None

    def save_for_backward(self, *args):
        versions = self.saved_versions
        if not versions:
            self.saved_bumps = BUMPS[0]
        for arg in args:
            if not isinstance(arg, Tensor):
                raise TypeError(
                    f"save_for_backward takes Tensors, got {type(arg).__name__}; "
                    "store other values as attributes of ctx (ctx.name = value)")
            vc = arg._vc
            versions += (0 if vc is None else vc[0],)
        self.saved_versions = versions  # only ints: the GC stops tracking this tuple
        count = self._saved_count
        for arg in args:
            if count == 0:
                self._saved_first = arg
            elif count == 1:
                self._saved_second = arg
            else:
                self._saved_rest += (arg,)
            count += 1
        self._saved_count = count

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, in order, as a tuple (as in PyTorch)."""
        count = self._saved_count
        if count == 2:
            return (self._saved_first, self._saved_second)
        if count == 1:
            return (self._saved_first,)
        if count == 0:
            return ()
        return (self._saved_first, self._saved_second) + self._saved_rest

    def save_output(self, output):
        """Keep the array of ``output``, the Tensor forward returns, as ``ctx.out``; return ``output``.

        For an operation whose backward reads its own result (``exp``'s
        gradient is ``exp``): ``return ctx.save_output(Tensor(out))``. Backward
        then refuses, as for a saved input, an output changed in place since.
        Only its array and version counter are kept, not the Tensor: the
        output points back at this node (``grad_fn``), a reference cycle.
        """
        self.out = output.data
        vc = output._vc
        if vc is None:
            vc = output._vc = [0]  # version 0, in a counter the output's views will share
        if not self.saved_versions:
            self.saved_bumps = BUMPS[0]
        self.saved_output = (vc, vc[0])
        return output

    @property
    def needs_input_grad(self):
        # Outside a graph (forward and backward called directly): every gradient is wanted.
        return EVERY_INPUT


class _EveryInput:
    """``needs_input_grad`` of a ctx outside any graph: True at every index."""

    def __getitem__(self, index):
        return True

    def __repr__(self):
        return "<every input needs its gradient>"


EVERY_INPUT = _EveryInput()



# True once a leaf's requires_grad was set to False (after it may have entered a graph).
LEAVES_TURNED_OFF = [False]


def note_leaf_turned_off():
    LEAVES_TURNED_OFF[0] = True


def without_turned_off_leaves(node, grads):
    """``grads`` with None for each leaf parent whose requires_grad was turned off since the forward.

    As in PyTorch, such a leaf gets no gradient from a graph built before.
    """
    if not isinstance(grads, (tuple, list)):
        return grads
    for i, parent in enumerate(node.next_functions):
        # A new tuple only where a gradient is dropped: this runs for every node.
        if (i < len(grads) and grads[i] is not None and isinstance(parent, autograd_engine.AccumulateGrad)
                and not parent.variable.requires_grad):
            grads = tuple(grads[:i]) + (None,) + tuple(grads[i + 1:])
    return grads


def check_saved_versions(node):
    """Refuse, as PyTorch does, to run ``node``'s backward if what it saved was changed in place since.

    The gradient would mix old and new values (an optimizer step between a
    forward and its backward, ``+=`` under no_grad).
    """
    for tensor, version in zip(node.saved_tensors, node.saved_versions):
        if tensor._vc is not None and tensor._vc[0] != version:
            _raise_stale(node, tensor, version)
    if node.saved_output is not None and node.saved_output[0][0] != node.saved_output[1]:
        _raise_stale_output(node)


def _raise_stale(node, tensor, version):
    vc = tensor._vc
    raise RuntimeError(
        f"{node.function_name}.backward: one of the variables needed for gradient computation "
        f"has been modified by an inplace operation (as PyTorch says): a tensor of shape "
        f"{tensor.shape} saved by {node.function_name} is at version {vc[0]}; expected version "
        f"{version}. This graph was built before that change (e.g. before optimizer.step()): "
        "run the forward pass again for a new graph, and don't carry a result that requires "
        "grad from one step to the next (total = total + loss.item(), not + loss)")


def _raise_stale_output(node):
    vc, version = node.saved_output
    raise RuntimeError(
        f"{node.function_name}.backward: one of the variables needed for gradient computation "
        f"has been modified by an inplace operation (as PyTorch says): the result of "
        f"{node.function_name}, which its backward reads, is at version {vc[0]}; expected version "
        f"{version}. Change a copy (y = y + 1, or y.detach().copy()) instead of the result itself, "
        "or run the forward pass again after the change")


def check_forward_result(cls, output, args):
    """Refuse what ``cls.forward`` returned unless it is a new Tensor."""
    if not isinstance(output, Tensor):
        raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(output).__name__}")
    for arg in args:
        if arg is output:
            # Linking it into the graph would turn that input into its own child.
            raise ValueError(
                f"{cls.__name__}.forward returned one of its input tensors; return a new Tensor "
                "(e.g. Tensor(a.data))")


def check_gradients(node, grads):
    """``grads``, what ``node``'s backward returned, if it is one Tensor (or None) per input shaped like it.

    The usual case with as little work as possible (this runs for every
    node); anything else goes to ``check_backward_result``, which names what is wrong.
    """
    shapes = node.input_shapes
    if type(grads) is not tuple or len(grads) != len(shapes):
        return check_backward_result(node, grads)
    for grad, shape in zip(grads, shapes):
        if grad is not None and (type(grad) is not Tensor or grad.data.shape != shape):
            return check_backward_result(node, grads)
    return grads


def check_backward_result(node, grads):
    """Validate what ``node``'s backward returned; name the operation if it is wrong."""
    shapes = node.input_shapes
    name = node.function_name
    expected = len(node.next_functions)
    if isinstance(grads, (Tensor, type(None))) and expected == 1:
        grads = (grads,)
    if not isinstance(grads, (tuple, list)):
        raise TypeError(f"{name}.backward must return a tuple of Tensors, got {type(grads).__name__}")
    if len(grads) != expected:
        raise ValueError(
            f"{name}.backward returned {len(grads)} gradient(s), but {name}.forward took "
            f"{expected} tensor input(s): return one gradient (or None) per tensor input")
    for i, grad in enumerate(grads):
        if grad is None:
            continue
        if not isinstance(grad, Tensor):
            raise TypeError(
                f"{name}.backward returned a {type(grad).__name__} for input {i}; "
                "wrap gradients in Tensor(...)")
        if grad.data.shape != shapes[i]:
            raise ValueError(
                f"{name}.backward returned a gradient of shape {grad.data.shape} for input {i}, "
                f"whose shape is {shapes[i]}")
    return grads


# Imported last: the engine imports this module before it defines AccumulateGrad.
from mytorch import autograd_engine  # noqa: E402
