"""viz: drawing the computational graph (PNG with matplotlib) and its Graphviz DOT text."""
import io
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from mytorch import Tensor
from teaching.tracing import trace
from teaching.examples import handout_graph
from teaching.viz import _graph, _layout, draw_graph, to_dot

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def dot_nodes(dot):
    """id -> label of every node line in DOT text."""
    return dict(re.findall(r'^  (n\d+) \[label="([^"]*)"', dot, flags=re.M))


def dot_edges(dot):
    return re.findall(r"^  (n\d+) -> (n\d+)", dot, flags=re.M)


def read_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    return matplotlib.image.imread(str(path))


# ------------------------------------------------------------------ DOT
def test_to_dot_of_the_handout_graph():
    t = handout_graph()
    dot = to_dot(t["e"], names=t)
    assert dot.startswith("digraph mytorch {") and dot.rstrip().endswith("}")
    nodes, edges = dot_nodes(dot), dot_edges(dot)
    # a, b (constant), c, 3 (constant), Mul, the Add making d, d + c, e
    assert len(nodes) == 8 and len(edges) == 8
    labels = sorted(nodes.values())
    assert labels == sorted([
        "a\\nAccumulateGrad\\nshape ()", "c\\nAccumulateGrad\\nshape ()",
        "Constant\\nshape ()", "Constant\\nshape ()",
        "BackwardFunction(Mul)\\nshape ()", "d\\nBackwardFunction(Add)\\nshape ()",
        "BackwardFunction(Add)\\nshape ()", "e\\nBackwardFunction(Add)\\nshape ()"])
    by_label = {label.split("\\n")[0]: node for node, label in nodes.items()}
    mul = by_label["BackwardFunction(Mul)"]
    # Arrows follow the forward pass: inputs -> operation -> ... -> e.
    assert (by_label["a"], mul) in edges and (by_label["a"], by_label["d"]) in edges
    assert (mul, by_label["d"]) in edges and (by_label["c"], by_label["e"]) not in edges
    assert nodes["n0"].startswith("e\\n") and "penwidth=2" in dot.split("\n")[3]
    assert all(end != by_label["a"] for _, end in edges)  # a leaf has no inputs


def test_to_dot_shows_gradients_after_backward_and_with_a_trace():
    t = handout_graph()
    with trace(names=t, stream=io.StringIO()) as steps:
        t["e"].backward()
    labels = dot_nodes(to_dot(t["e"], names=t, trace=steps)).values()
    assert "a\\nAccumulateGrad\\nshape ()\\ngrad 3" in labels
    assert "c\\nAccumulateGrad\\nshape ()\\ngrad 1" in labels
    assert "BackwardFunction(Mul)\\nshape ()\\nreceived 1" in labels
    # Without the trace only the stored gradients show.
    assert not any("received" in label for label in dot_nodes(to_dot(t["e"])).values())


def test_to_dot_shapes_of_constants_and_intermediate_results():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 4)))
    y = (x @ w).sum(axis=0)
    labels = set(dot_nodes(to_dot(y)).values())
    assert labels == {"BackwardFunction(Sum)\\nshape (4,)", "BackwardFunction(MatMul)\\nshape (2, 4)",
                      "AccumulateGrad\\nshape (2, 3)", "Constant\\nshape (3, 4)"}


def test_to_dot_one_box_per_leaf_one_arrow_per_use():
    x = Tensor([1.0, 2.0], requires_grad=True)
    dot = to_dot(x + x)
    assert len(dot_nodes(dot)) == 2
    assert dot_edges(dot) == [("n1", "n0"), ("n1", "n0")]


def test_to_dot_ids_are_unique_and_quotes_escaped():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 2 + x
    dot = to_dot(y, names={'say "hi"': x})
    ids = re.findall(r"^  (n\d+) \[", dot, flags=re.M)
    assert len(ids) == len(set(ids)) == 50 * 3 + 1  # Mul, Constant 2, Add per round; x once
    assert 'say \\"hi\\"' in dot


def test_to_dot_of_a_leaf_and_of_a_constant():
    x = Tensor([1.0], requires_grad=True)
    assert list(dot_nodes(to_dot(x, names={"x": x})).values()) == ["x\\nAccumulateGrad\\nshape (1,)"]
    assert list(dot_nodes(to_dot(Tensor(2.0))).values()) == ["Constant\\nshape ()"]


def test_to_dot_of_a_deep_graph_needs_no_recursion():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y + 1.0
    assert len(dot_edges(to_dot(y))) == 6000


def test_to_dot_refuses_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="viz: expected the Tensor whose graph to draw, got ndarray"):
        to_dot(np.ones(3))


# --------------------------------------------------------------- layout
def test_layout_puts_inputs_left_of_what_consumes_them():
    t = handout_graph()
    boxes, edges = _graph(t["e"], names=t)
    _layout(boxes)
    assert all(start.depth < end.depth for start, end, _ in edges)
    depth = {box.title or box.lines[0]: box.depth for box in boxes}
    # The handout's picture: a, b | Mul | d | c, d + c | 3, e
    assert depth["a"] == 0 and depth["BackwardFunction(Mul)"] == 1 and depth["d"] == 2
    assert depth["c"] == 2 and depth["e"] == 4
    for column in {}.fromkeys(box.depth for box in boxes):
        ys = sorted(box.y for box in boxes if box.depth == column)
        assert all(b - a >= 1 - 1e-9 for a, b in zip(ys, ys[1:]))  # boxes of a layer do not overlap


# -------------------------------------------------------------- drawing
def test_draw_graph_writes_the_handout_example_as_png(tmp_path):
    t = handout_graph()
    path = tmp_path / "handout_graph.png"
    figure = draw_graph(t["e"], path, names=t, title="handout §0.1.4")
    image = read_png(path)
    height, width = image.shape[:2]
    assert width > 2 * height > 200  # drawn left to right
    assert figure.get_size_inches()[0] * figure.dpi == pytest.approx(width, abs=2)


def test_draw_graph_after_backward_with_a_trace(tmp_path):
    t = handout_graph()
    with trace(names=t, stream=io.StringIO()) as steps:
        t["e"].backward()
    read_png_path = tmp_path / "after.png"
    draw_graph(t["e"], read_png_path, names={"x_1": t["a"]}, trace=steps)
    assert read_png(read_png_path).shape[2] in (3, 4)


def test_draw_graph_without_a_path_returns_the_figure_only(tmp_path):
    figure = draw_graph(Tensor([1.0, 2.0], requires_grad=True) * 2)
    assert figure.axes and not list(tmp_path.iterdir())


def test_draw_graph_renders_a_300_node_graph(tmp_path, rng):
    x = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    w = Tensor(rng.normal(size=(3, 3)), requires_grad=True)
    y = x
    for _ in range(60):  # seven boxes a round: MatMul, Add, Exp, Mul, Sub and two constants
        y = (y @ w + 0.1).exp() * 0.5 - x
    loss = y.sum()
    loss.backward()
    boxes, _ = _graph(loss)
    assert len(boxes) >= 300
    path = tmp_path / "big.png"
    figure = draw_graph(loss, path)
    image = read_png(path)
    assert image.shape[1] > image.shape[0]
    assert max(image.shape[:2]) <= 32000 and image.shape[0] * image.shape[1] <= 16.5e6
    assert figure.dpi <= 100


def test_importing_mytorch_or_the_teaching_tools_does_not_load_matplotlib():
    # The autograder imports mytorch in every test process: drawing must not slow that down.
    code = "import sys, mytorch, teaching, teaching.viz; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_viz_is_exported_by_the_teaching_package():
    import mytorch
    import teaching
    assert teaching.viz.draw_graph is draw_graph and "viz" in teaching.__all__
    assert not hasattr(mytorch, "viz")  # the library does not depend on its teaching tools


def test_the_handout_graph_script_writes_both_pictures_and_narrates(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "teaching" / "draw_handout_graph.py"), str(tmp_path)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("handout_graph.png", "handout_graph_backward.png"):
        read_png(tmp_path / name)
    assert "Step 8: AccumulateGrad of a receives 2: a.grad: 1 -> 3" in result.stdout
