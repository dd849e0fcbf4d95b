"""The autograd engine: graph nodes, ``Function.apply`` and the backward pass.

The forward pass builds a graph of nodes (handout §0.1.4, Appendix A):

* ``AccumulateGrad(tensor)`` stands for a leaf that requires grad; its
  ``apply(grad)`` adds ``grad`` into ``tensor.grad``.
* ``BackwardFunction(cls)`` stands for one call of an operation ``cls``; its
  ``apply(grad)`` runs ``cls.backward`` and returns one gradient per input.
* ``None`` stands for a constant: a tensor that needs no gradient.

Each node lists its parents in ``next_functions``, in the order of the tensor
arguments of the forward call. ``backward(grad_fn, grad)`` walks that graph
from the output back to the leaves with a recursive depth-first search
(handout §0.1.5).
"""
# BEGIN REFERENCE ONLY
import sys
# END REFERENCE ONLY

import numpy as np

from mytorch import grad_mode
from mytorch.engine_machinery import (EVERY_INPUT, LEAVES_TURNED_OFF, SavedTensors, check_forward_result,
                                      check_gradients, check_saved_versions, without_turned_off_leaves)
from mytorch.grad_mode import is_grad_enabled, no_grad  # noqa: F401  (the engine's names, as in the handout)
from mytorch.tensor import Tensor
from mytorch.tensor_data import SHARING, grad_dtype, wrap
from mytorch.tensor_inplace import BUMPS


class ContextManager(SavedTensors):
    """The ``ctx`` passed to an operation's forward and backward: what forward leaves for backward.

    Not a Python context manager (there is no ``with ctx:``): the handout
    fixes the name; PyTorch calls it ``ctx`` too. The rule every operation follows:

    * An input Tensor that backward reads goes through
      ``ctx.save_for_backward(*tensors)`` and comes back as
      ``ctx.saved_tensors``. Saving records the tensor's version, so backward
      refuses it if it was changed in place since (an optimizer step).
    * Anything else is a plain attribute (``ctx.shape = a.shape``): shapes,
      axes, flags, non-Tensor arguments (an index, the labels of
      cross-entropy), and arrays the forward computed itself (``ctx.out``,
      ``ctx.xhat``, a softmax), which nothing outside the operation can
      change. Never the ``.data`` of an input Tensor: save the input instead.
      When backward needs the output's own array (Exp, ReLU), keep it with
      ``return ctx.save_output(Tensor(out))``, which stores it as ``ctx.out``
      and makes backward refuse it if the user changed the result in place.
    * ``ctx.needs_input_grad[i]`` says whether backward's i-th gradient (the
      i-th Tensor argument of forward) is wanted; backward may return None
      for one that is not, and skip computing it. Within a graph it is read
      from the node's parents (a constant has None); outside one (a forward
      and backward called directly) every gradient is wanted.

    In the graph, the ``BackwardFunction`` node is its own ctx, so
    ``next_functions``, ``function_name`` and ``input_shapes`` are taken.
    ``save_for_backward``, ``saved_tensors``, ``save_output`` and
    ``needs_input_grad`` are given, in ``engine_machinery.SavedTensors``.
    """


class AccumulateGrad:
    """Graph node of a leaf tensor that requires grad: stores what reaches it.

    ``variable`` is the tensor; ``next_functions`` is always empty, since a
    leaf has no parents.
    """

    __slots__ = ("variable", "__weakref__")
    function_name = "AccumulateGrad"

    def __init__(self, tensor):
        self.variable = tensor

    @property
    def next_functions(self):
        # A new empty list each time: a leaf has no parents, and no node
        # needs to carry a list of its own for that.
        return []

    def apply(self, arg):
        """Add the gradient ``arg`` (a Tensor shaped like ``variable``) to ``variable.grad``."""
        variable = self.variable
        grad = arg.data if isinstance(arg, Tensor) else np.asarray(arg)
        if grad.shape != variable.data.shape:
            raise ValueError(
                f"AccumulateGrad: gradient of shape {grad.shape} reached a tensor of shape "
                f"{variable.data.shape}; the operation that produced it must return a gradient "
                "shaped like its input")
        if variable._grad is None:  # (underneath the grad property, which checks users' assignments)
            dtype = grad_dtype(variable.data)
            # BEGIN REFERENCE ONLY
            # Keep the incoming gradient itself when nothing else can see it (copying a weight's
            # gradient is a large share of a small step): it is writable, neither the array nor
            # the Tensor has references beyond those of this backward pass (nothing saved or kept
            # by a ctx, not grad_output, not another gradient), and it owns its memory or views
            # an array nothing else references (the transposed product LinearFunction returns).
            # Decided from reference counts, so no operation can get it wrong.
            array_refs, tensor_refs = _getrefcount(grad), _getrefcount(arg)
            base = grad.base
            base_refs = 0 if base is None else _getrefcount(base)
            if (array_refs <= _UNSHARED_REFS[0] and tensor_refs <= _UNSHARED_REFS[1] and type(arg) is Tensor
                    and (base is None or (base_refs <= _UNSHARED_REFS[2] and base.base is None))
                    and grad.dtype == dtype and grad.flags.writeable):
                variable._grad = arg
                return
            if _UNSHARED_REFS[0] == 0:  # measuring (see _count_unshared_refs)
                variable.grad = Tensor(np.array(grad, dtype=dtype))
                variable.grad._refs_seen = array_refs, tensor_refs, base_refs
                return
            # END REFERENCE ONLY
            # The incoming array may be shared with another input (Add
            # hands the same gradient to both) or be a view: copy it.
            variable._grad = wrap(np.array(grad, dtype=dtype))
        else:
            variable.grad.data += grad

    def __repr__(self):
        return f"<AccumulateGrad of tensor {tuple(self.variable.shape)}>"


class BackwardFunction(ContextManager):
    """Graph node of one operation call; ``apply`` runs that operation's backward.

    ``ctx`` is what the forward saved, ``next_functions`` the parent nodes (one
    per tensor argument of forward), ``function_name`` the operation's name.
    """

    # Shapes of the tensor arguments of forward, recorded by Function.apply,
    # so that a backward returning a wrongly shaped gradient is caught here,
    # at the operation that made it. None until then (a class default: one store less per op).
    input_shapes = None

    def __init__(self, cls):
        self._forward_cls = cls
        self.next_functions = []

    @property
    def function_name(self):
        # Derived when asked (error messages, viz), not stored: this node is made for every op.
        return self._forward_cls.__name__

    @property
    def needs_input_grad(self):
        # Derived when backward asks, from the parents Function.apply linked (None: a constant),
        # not stored for every op: one bool per tensor argument of forward, like the gradients.
        parents = self.next_functions
        if not parents:  # not linked into a graph: as outside one
            return EVERY_INPUT
        return tuple([parent is not None for parent in parents])

    @property
    def ctx(self):
        # The node is its own ctx, as in PyTorch: one object less per op for the cyclic GC
        # to traverse. A property, not an attribute: self.ctx = self would be a reference cycle.
        return self

    def apply(self, *args):
        """Return the gradients w.r.t. the forward's tensor inputs, as a tuple.

        Refuses, as PyTorch does, when a tensor the forward saved has been
        changed in place since (an optimizer step, ``+=`` under no_grad): the
        gradient would mix old and new values.
        """
        if (self.saved_versions or self.saved_output) and self.saved_bumps != BUMPS[0]:
            check_saved_versions(self)  # something changed in place since the forward: what backward reads?
        SHARING[0] += 1  # the gradients are new arrays: Tensor() wraps them uncopied
        try:
            grads = self._forward_cls.backward(self, *args)  # the node is its own ctx
        finally:
            SHARING[0] -= 1
        if self.input_shapes is not None:  # built by Function.apply: check against its inputs
            grads = check_gradients(self, grads)  # one per input, shaped like it, or a message
        if LEAVES_TURNED_OFF[0]:
            grads = without_turned_off_leaves(self, grads)
        return grads

    def __repr__(self):
        return f"<BackwardFunction {self.function_name}>"


class Function:
    """Base class of every differentiable operation (see ``nn/functional.py``).

    Subclasses define two static methods:

    * ``forward(ctx, *args)`` computes the output Tensor from the inputs
      (Tensors, and plain values such as a shape or an axis);
    * ``backward(ctx, grad_output)`` returns a tuple with one gradient
      (Tensor, or None) per Tensor argument of forward, in order.

    User code calls ``Op.apply(*args)``, never ``forward`` directly, so that
    the graph gets built.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must define a static backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args):
        """Run ``cls.forward`` on ``args`` and link its output into the graph (handout Appendix A)."""
        backward_function = BackwardFunction(cls)
        SHARING[0] += 1  # the result is a new array: Tensor() wraps it uncopied
        try:
            output = cls.forward(backward_function.ctx, *args)
        finally:
            SHARING[0] -= 1
        check_forward_result(cls, output, args)  # a new Tensor, or a message naming the operation

        # BEGIN SOLUTION (TODO)
        #| The forward has run and `output` holds its value; what is left is to
        #| link `output` into the graph (handout §1.2, §0.1.4 and Appendix A):
        #|
        #| 1. For each argument in `args` that is a Tensor, append its parent node
        #|    to backward_function.next_functions, in the order of the arguments:
        #|    - requires_grad and is_leaf:      an AccumulateGrad for that tensor;
        #|    - requires_grad and not is_leaf:  the tensor's own grad_fn;
        #|    - requires_grad False (constant): None.
        #|    Arguments that are not Tensors (a shape, an axis) get no entry.
        #| 2. If any of those Tensors requires grad, so does `output`: set its
        #|    requires_grad to True and its is_leaf to False,
        #| 3. and store the node on it: output.grad_fn = backward_function.
        #|    A result of constants only stays a constant: grad_fn None (Appendix
        #|    A.1's third kind of node), as in PyTorch.
        #|
        #| Until you write this, operations still return correct values (Part
        #| 1.1 is graded before 1.2), but no graph is built.
        # One parent node per tensor argument (handout Appendix A.1):
        # AccumulateGrad for a leaf that needs a gradient, the tensor's own
        # node for an intermediate result, None for a constant.
        requires_grad = False
        parents = backward_function.next_functions
        for arg in args:
            if isinstance(arg, Tensor):
                if arg.requires_grad:
                    if not arg.is_leaf and arg.grad_fn is None:
                        # Its gradient would have nowhere to go.
                        raise ValueError(
                            f"{cls.__name__}: an input of shape {arg.shape} has is_leaf=False but no "
                            "grad_fn; only operations make non-leaf tensors, create inputs with is_leaf=True")
                    requires_grad = True
                    parents.append(AccumulateGrad(arg) if arg.is_leaf else arg.grad_fn)
                else:
                    parents.append(None)
        if requires_grad:
            output.requires_grad = True
            output.is_leaf = False
            output.grad_fn = backward_function
        # END SOLUTION

        if output._requires_grad:  # (underneath the property: this runs for every op)
            if not grad_mode._grad_enabled:
                # Inside no_grad(), whatever was linked above, the result is a constant.
                # (The flag is set underneath its property, which refuses, as PyTorch does,
                # to turn a user's graph result into a constant.)
                output._requires_grad = False
                output.is_leaf = True
                output.grad_fn = None
            else:  # recorded so that a backward returning a wrongly shaped gradient is caught
                # A tuple, not a list: holding only shapes, the cyclic GC stops tracking it (deep graphs).
                backward_function.input_shapes = tuple([arg.data.shape for arg in args if isinstance(arg, Tensor)])
        return output


# BEGIN REFERENCE ONLY
def topological_sort(grad_fn, leaves=True):
    """Every node reachable from ``grad_fn``, each once, each before its parents.

    This is the handout's reverse-order DFS, done with an explicit stack so
    that a graph of any depth fits under Python's recursion limit: a node is
    emitted after all of its parents (post-order), and the reversed list puts
    every consumer before what it consumes. ``leaves=False`` leaves out the
    ``AccumulateGrad`` parents (``backward`` applies those at once).
    """
    order = []
    visited = {grad_fn}
    # Two parallel stacks, the nodes and how many parents of each were looked at, rather than one
    # of (node, iterator) pairs: ints are not tracked by the cyclic GC, and on a deep graph it
    # would traverse two more objects per node, again and again.
    stack, looked_at = [grad_fn], [0]
    while stack:
        node = stack[-1]
        parents = node.next_functions
        i = looked_at[-1]
        while i < len(parents):
            parent = parents[i]
            i += 1
            if parent is not None and parent not in visited:
                if isinstance(parent, AccumulateGrad):
                    if leaves:
                        visited.add(parent)
                        order.append(parent)  # a leaf has no parents: it is complete at once
                    continue
                visited.add(parent)
                looked_at[-1] = i
                stack.append(parent)
                looked_at.append(0)
                break
        else:  # every parent is done: the node is complete
            stack.pop()
            looked_at.pop()
            order.append(node)
    order.reverse()
    return order
# END REFERENCE ONLY


def backward(grad_fn, grad_of_outputs):
    """Back-propagate ``grad_of_outputs`` (a Tensor) from node ``grad_fn`` to the leaves.

    The recursive depth-first search of handout §0.1.5: call
    ``grad_fn.apply(grad_of_outputs)``. For a ``BackwardFunction`` that
    returns one gradient per parent in ``grad_fn.next_functions``; recurse
    into each parent with its gradient. The base cases: a parent that is
    None (a constant) gets nothing, and an ``AccumulateGrad`` (a leaf) stores
    what it receives, adding it to what it already has (§0.1.6), and has no
    parents to recurse into.
    """
    # BEGIN SOLUTION
    # The reference does not recurse: a recursive DFS runs a node once per
    # path that reaches it (2^60 times for `x = x + x` repeated 60 times)
    # and overflows Python's stack on deep graphs. It orders the nodes once
    # (topological_sort) and runs each node once, with the sum of everything
    # its consumers passed it: linear time, any depth, the same gradients.
    if isinstance(grad_fn, AccumulateGrad):  # backward() from a leaf: store, nothing more
        grad_fn.apply(grad_of_outputs)
        return
    pending = {grad_fn: grad_of_outputs}  # node -> sum of the gradients it has received
    for node in topological_sort(grad_fn, leaves=False):
        grad = pending.pop(node, None)
        if grad is None:  # every path to this node carried no gradient
            continue
        for parent, parent_grad in zip(node.next_functions, node.apply(grad)):
            if parent is None or parent_grad is None:
                continue  # constants get no gradient
            if isinstance(parent, AccumulateGrad):
                # A leaf: store at once (adding up in .grad); it passes nothing on.
                parent.apply(parent_grad)
            elif parent in pending:
                # A new array: the one already pending may be shared with another node.
                pending[parent] = Tensor(pending[parent].data + parent_grad.data)
            else:
                pending[parent] = parent_grad
    # END SOLUTION


# BEGIN REFERENCE ONLY
class _ReturnsAFreshGradient(Function):
    @staticmethod
    def forward(ctx, a):
        return Tensor(a.data.copy())

    @staticmethod
    def backward(ctx, grad_output):
        return (Tensor(np.ones((1, 1)).T),)  # a view of an array nothing else holds


def _count_unshared_refs():
    """The reference counts (array, Tensor, base array of a view) ``AccumulateGrad.apply`` sees for a private gradient.

    Measured through ``backward`` on this interpreter rather than assumed: a
    Python or an engine that holds more references only makes the leaves
    copy more often, never keep a shared array.
    """
    leaf = Tensor(np.zeros((1, 1)), requires_grad=True)
    try:
        backward(_ReturnsAFreshGradient.apply(leaf).grad_fn, Tensor(np.ones((1, 1))))
        return leaf.grad._refs_seen
    except Exception:  # an engine under construction (a grader test replaces it): always copy
        return -1, -1, -1


_getrefcount = sys.getrefcount  # one global lookup, not two: AccumulateGrad.apply runs for every leaf
# (0, 0, 0) while measuring: then every gradient is copied.
_UNSHARED_REFS = (0, 0, 0)
_UNSHARED_REFS = _count_unshared_refs()
# END REFERENCE ONLY


# What `from <this module> import *` gives (the course's graders star-import
# it after binding names of their own, such as nn and F): the classes and
# functions defined here (and no_grad, the engine's switch, kept in grad_mode.py),
# never the modules or other names this file imports.
__all__ = [_name for _name, _value in list(globals().items())
           if not _name.startswith("_") and getattr(_value, "__module__", None) == __name__]
__all__ += ["no_grad", "is_grad_enabled"]
