"""The handout's example graph (§0.1.4), built once for the sandbox, the drawing tool and the tests."""
from mytorch.tensor import Tensor


def handout_graph():
    """The tensors of the handout's example graph, as a dict name -> Tensor.

    ``a = 1`` and ``c = 3`` require grad, ``b = 2`` does not;
    ``d = a * b + a`` and ``e = (d + c) + 3``. After ``e.backward()``,
    ``a.grad`` is 3 and ``c.grad`` is 1.
    """
    a = Tensor(1., requires_grad=True)
    b = Tensor(2.)
    c = Tensor(3., requires_grad=True)
    d = a * b + a
    e = (d + c) + 3
    return {"a": a, "b": b, "c": c, "d": d, "e": e}
