"""Narrate a backward pass step by step, as the handout does in §0.1.5.

::

    a = Tensor(1., requires_grad=True); b = Tensor(2.); c = Tensor(3., requires_grad=True)
    d = a * b + a
    e = (d + c) + 3
    with teaching.trace(names=locals()):
        e.backward()

prints::

    Step 1: e.backward() seeds de/de = 1 and passes it to Add#1 (e)
    Step 2: Add#1 (e) receives 1 and its Add.backward returns:
              input 0: 1 -> passed to Add#2
              input 1: 1 -> skipped, a constant of shape ()
    ...
    Step 8: AccumulateGrad of a receives 2: a.grad: 1 -> 3

The step numbers follow the order in which the engine visits the nodes.
An engine that orders the nodes first visits them in the handout's order
(Steps 1-8 of §0.1.5: ``c`` before ``d``, ``a`` before ``Mul``). A recursive DFS that
visits each node's parents in the order of ``next_functions`` reaches ``d``
before ``c``, so the same steps come in another order; as the handout's
footnote 5 says, the order of the parents does not matter, and the
gradients are the same.

The trace does not change the engine. For the duration of the ``with``
block it wraps three methods: ``Tensor.backward`` (Step 1, the seed),
``BackwardFunction.apply`` (one step per operation node) and
``AccumulateGrad.apply`` (one step per gradient stored). Whatever engine
calls them, ours or the one you wrote, gets narrated; the methods are put
back on exit, also when the backward pass raises.
"""
import sys
from dataclasses import dataclass, field
from typing import Any, List, Optional

import numpy as np

from teaching._format import short
from mytorch.autograd_engine import AccumulateGrad, BackwardFunction
from mytorch.tensor import Tensor


@dataclass
class TraceEvent:
    """One step of the narration.

    ``kind`` is ``"seed"`` (``Tensor.backward`` called), ``"node"`` (an
    operation's backward ran) or ``"accumulate"`` (a leaf stored a
    gradient). ``node`` is the graph node (None for a seed), ``label`` its
    readable name, ``grad`` the gradient it received (an ndarray copy).
    For ``"node"``: ``passed`` holds one ``(input_index, parent_label,
    gradient or None, what_happened)`` per tensor input, ``what_happened``
    being ``"passed"``, ``"constant"`` or ``"none"``. For ``"accumulate"``:
    ``before`` and ``after`` are copies of ``variable.grad`` (None if unset).
    """

    step: int
    kind: str
    node: Any
    label: str
    grad: Optional[np.ndarray]
    passed: List[tuple] = field(default_factory=list)
    before: Optional[np.ndarray] = None
    after: Optional[np.ndarray] = None
    lines: List[str] = field(default_factory=list)


class trace:
    """Context manager that prints each step of every backward pass run inside it.

    Args:
        names: a dict name -> Tensor (``names=locals()`` is handy): leaves
            and results get these names instead of ``leaf#k`` or ``Add#k``.
            Entries that are not Tensors or whose name starts with ``_`` are
            ignored.
        stream: where to print (default ``sys.stdout``); pass an
            ``io.StringIO()`` to print nothing.

    Attributes: ``events`` (a list of ``TraceEvent``), ``lines`` (the printed
    lines) and ``text`` (them joined). ``gradients_received()`` gives each
    node's total incoming gradient, which ``viz.draw_graph(..., trace=t)``
    can show. Traces do not nest.
    """

    _active = None  # the trace in progress, if any

    def __init__(self, names=None, stream=None):
        self._stream = stream
        self._tensor_names = {}  # id(tensor) -> (tensor, name); the tensor keeps the id valid
        for name, value in (names or {}).items():
            if isinstance(value, Tensor) and not name.startswith("_") and id(value) not in self._tensor_names:
                self._tensor_names[id(value)] = (value, name)
        self.events = []
        self.lines = []
        self._labels = {}       # graph node or id(leaf tensor) -> label
        self._leaf_keep = []    # unnamed leaves we labelled, kept alive so their ids stay unique
        self._counts = {}       # op name -> how many nodes of it have been labelled
        self._originals = None

    # ------------------------------------------------------------ the context
    def __enter__(self):
        if trace._active is not None:
            raise RuntimeError("teaching.trace(): a trace is already active; traces cannot be nested")
        seed_original = Tensor.__dict__["backward"]
        node_original = BackwardFunction.__dict__["apply"]
        leaf_original = AccumulateGrad.__dict__["apply"]
        self._originals = [(Tensor, "backward", seed_original), (BackwardFunction, "apply", node_original),
                           (AccumulateGrad, "apply", leaf_original)]
        tracer = self

        def backward(tensor, *args, **kwargs):
            if tensor.requires_grad:  # otherwise backward() refuses, and there is no step to tell
                tracer._seed(tensor)
            return seed_original(tensor, *args, **kwargs)

        def node_apply(node, *grads):
            return tracer._node(node, grads, node_original)

        def leaf_apply(node, grad):
            return tracer._accumulate(node, grad, leaf_original)

        trace._active = self
        Tensor.backward = backward
        BackwardFunction.apply = node_apply
        AccumulateGrad.apply = leaf_apply
        return self

    def __exit__(self, *exc_info):
        for cls, name, method in self._originals:
            setattr(cls, name, method)
        trace._active = None
        return False

    @property
    def text(self):
        """Everything printed so far, one step line after another."""
        return "\n".join(self.lines)

    def gradients_received(self):
        """A dict graph node -> sum of the gradients it received (ndarray)."""
        totals = {}
        for event in self.events:
            if event.node is not None and event.grad is not None:
                key = event.node
                totals[key] = event.grad if key not in totals else totals[key] + event.grad
        return totals

    # ---------------------------------------------------------------- steps
    def _seed(self, tensor):
        step = len(self.events) + 1
        ones = np.ones(tensor.shape)
        name = self._tensor_name(tensor)
        if not tensor.is_leaf:  # a solution may keep a leaf's AccumulateGrad in its grad_fn
            target = self._op_label(tensor.grad_fn)
        else:
            target = f"the AccumulateGrad of {self._leaf_label(tensor)}"
        if name is not None:
            line = f"Step {step}: {name}.backward() seeds d{name}/d{name} = {short(ones)} and passes it to {target}"
        else:
            line = (f"Step {step}: backward() on a tensor of shape {tensor.shape} seeds its gradient "
                    f"w.r.t. itself, {short(ones)}, and passes it to {target}")
        self._record(TraceEvent(step, "seed", None, name or "output", ones), [line])

    def _node(self, node, grads, original):
        step = len(self.events) + 1
        grad = _copy(grads[0]) if len(grads) == 1 else None
        label = self._op_label(node)
        given = short(grad) if len(grads) == 1 else "(" + ", ".join(short(_copy(g)) for g in grads) + ")"
        header = f"Step {step}: {label} receives {given}"
        try:
            result = original(node, *grads)
        except BaseException as err:
            self._record(TraceEvent(step, "node", node, label, grad),
                         [f"{header}; {node.function_name}.backward raised {type(err).__name__}: {err}"])
            raise
        results = result if isinstance(result, (tuple, list)) else (result,)
        lines = [f"{header} and its {node.function_name}.backward returns:"]
        event = TraceEvent(step, "node", node, label, grad)
        shapes = getattr(node, "input_shapes", None)
        for k, parent in enumerate(node.next_functions):
            value = results[k] if k < len(results) else None
            given = _copy(value)
            if parent is None:
                shape = f" of shape {shapes[k]}" if shapes is not None and k < len(shapes) else ""
                what, target = "constant", None
                if value is None:
                    lines.append(f"          input {k}: None (a constant{shape})")
                else:
                    lines.append(f"          input {k}: {short(given)} -> skipped, a constant{shape}")
            else:
                target = self._parent_label(parent)
                if value is None:
                    what = "none"
                    lines.append(f"          input {k}: None -> nothing for {target}")
                else:
                    what = "passed"
                    lines.append(f"          input {k}: {short(given)} -> passed to {target}")
            event.passed.append((k, target, given, what))
        self._record(event, lines)
        return result

    def _accumulate(self, node, grad, original):
        step = len(self.events) + 1
        variable = node.variable
        name = self._leaf_label(variable)
        received = _copy(grad)
        before = _copy(variable.grad)
        result = original(node, grad)
        after = _copy(variable.grad)
        line = (f"Step {step}: AccumulateGrad of {name} receives {short(received)}: "
                f"{self._leaf_label(variable, with_shape=False)}.grad: {short(before)} -> {short(after)}")
        self._record(TraceEvent(step, "accumulate", node, name, received, before=before, after=after), [line])
        return result

    def _record(self, event, lines):
        event.lines = lines
        self.events.append(event)
        stream = self._stream if self._stream is not None else sys.stdout
        for line in lines:
            self.lines.append(line)
            print(line, file=stream)

    # ----------------------------------------------------------------- names
    def _tensor_name(self, tensor):
        entry = self._tensor_names.get(id(tensor))
        return entry[1] if entry is not None and entry[0] is tensor else None

    def _op_label(self, node):
        """``Add#2``, or ``Add#3 (d)`` for the node of a named tensor; fixed at first mention."""
        if node not in self._labels:
            name = node.function_name
            self._counts[name] = self._counts.get(name, 0) + 1
            label = f"{name}#{self._counts[name]}"
            for tensor, tensor_name in self._tensor_names.values():
                if tensor.grad_fn is node:
                    label += f" ({tensor_name})"
                    break
            self._labels[node] = label
        return self._labels[node]

    def _leaf_label(self, tensor, with_shape=True):
        """The leaf's name if given, else ``leaf#k (shape S)`` (or ``leaf#k``)."""
        name = self._tensor_name(tensor)
        if name is not None:
            return name
        key = id(tensor)
        if key not in self._labels:
            self._leaf_keep.append(tensor)
            self._labels[key] = f"leaf#{len(self._leaf_keep)}"
        return self._labels[key] + (f" (shape {tensor.shape})" if with_shape else "")

    def _parent_label(self, parent):
        if isinstance(parent, AccumulateGrad):
            return self._leaf_label(parent.variable)
        return self._op_label(parent)


def _copy(value):
    """An ndarray copy of a gradient (Tensor, array or number), or None."""
    if value is None:
        return None
    return np.array(getattr(value, "data", value), dtype=float, copy=True)
