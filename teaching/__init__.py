"""Teaching tools for MyTorch: look inside a graph and check gradients while you learn.

Not part of the library (``mytorch`` never imports this package) and not handed
in (``create_tarball.sh`` packs ``mytorch/``, ``hw1/`` and the plot only)::

    from teaching import gradcheck, trace, viz, handout_graph

- ``gradcheck(fn, *inputs)``: autograd's gradients against finite differences.
- ``trace(names=...)``: narrates a backward pass step by step (handout §0.1.5).
- ``viz.draw_graph`` / ``viz.to_dot``: pictures of a graph (handout §0.1.4);
  matplotlib is loaded only when a graph is drawn.
- ``handout_graph()``: the tensors of the handout's example graph.
- ``python3 teaching/draw_handout_graph.py``: that example as two PNG files.
"""
from teaching import viz  # noqa: F401
from teaching.examples import handout_graph  # noqa: F401
from teaching.gradcheck import GradcheckError, gradcheck  # noqa: F401
from teaching.tracing import trace  # noqa: F401

__all__ = ["gradcheck", "GradcheckError", "trace", "viz", "handout_graph"]
