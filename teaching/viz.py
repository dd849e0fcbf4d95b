"""Draw the computational graph behind a tensor (handout §0.1.4), as a PNG or as Graphviz DOT.

::

    from teaching import viz
    viz.draw_graph(e, "graph.png", names=locals())   # matplotlib only, no Graphviz needed
    print(viz.to_dot(e, names=locals()))              # paste into any Graphviz viewer

Boxes are the graph's nodes: ``AccumulateGrad`` for a leaf that requires
grad (blue), ``BackwardFunction(op)`` for an operation (orange), and
``Constant`` for an input that needs no gradient (grey; the graph stores
``None`` there, so only its shape is known). Each box shows its shape and,
once ``backward()`` has run, a leaf shows its ``.grad``; pass
``trace=`` (a finished ``teaching.trace``) to show the gradient each
operation received as well. Arrows go the way the data flowed in the
forward pass, from inputs (left) to the output (right), as in the handout's
figure; backward walks them in reverse.

A leaf used twice (``a`` in ``a * b + a``) gets one ``AccumulateGrad`` node
per use in the graph (each stores into the same ``a.grad``); the drawing
shows the tensor once, with an arrow to each use, as the handout does.
"""
from teaching._format import short
from mytorch.autograd_engine import AccumulateGrad
from mytorch.tensor import Tensor

_COLORS = {"leaf": "#cfe3ff", "op": "#ffe2b8", "constant": "#e8e8e8"}
_EDGE_COLORS = {"leaf": "#3b6fb6", "op": "#c27c0e", "constant": "#8a8a8a"}

# Layout units are inches at full size: the space between the boxes of
# neighbouring layers, the distance between rows of a layer, the margin.
_LAYER_GAP = 0.75
_ROW_GAP = 1.15
_MARGIN = 0.4
_PAD = 0.09  # between a label and its box
_FONT_SIZE = 9
# Limits that keep a big graph drawable: the longest side of the figure
# before it is scaled down, and the pixels of the PNG.
_MAX_INCHES = 320
_MAX_SIDE_PIXELS = 32000
_MAX_PIXELS = 16e6


class _Box:
    """One node of the picture."""

    def __init__(self, index, kind, lines, title=None, is_root=False):
        self.id = f"n{index}"
        self.kind = kind          # "leaf", "op" or "constant"
        self.title = title        # the user's name for it, if any (drawn bold)
        self.lines = lines        # the rest of the label
        self.is_root = is_root
        self.inputs = []          # boxes that feed it, in argument order
        self.consumers = []       # boxes it feeds
        self.depth = 0
        self.y = 0.0

    def label(self):
        return ([self.title] if self.title else []) + self.lines


def _graph(tensor, names=None, trace=None):
    """The boxes and edges ``(from_box, to_box, input_index)`` of the graph that produced ``tensor``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz: expected the Tensor whose graph to draw, got {type(tensor).__name__}")
    builder = _GraphBuilder(names, trace)
    builder.walk(builder.root(tensor))
    return builder.boxes, builder.edges


class _GraphBuilder:
    """Collects the boxes and edges of one graph: one box per leaf tensor, per node, per constant."""

    def __init__(self, names, trace):
        self.tensor_names, self.node_names = _names(names)
        self.received = trace.gradients_received() if trace is not None else {}
        self.boxes, self.edges, self.by_key = [], [], {}

    def leaf_box(self, variable, is_root=False):
        key = ("leaf", id(variable))
        if key not in self.by_key:
            lines = ["AccumulateGrad", f"shape {variable.shape}"]
            if variable.grad is not None:
                lines.append(f"grad {short(variable.grad)}")
            self.by_key[key] = self._add("leaf", lines, self.tensor_names.get(id(variable)), is_root)
        return self.by_key[key]

    def constant_box(self, shape, title=None, is_root=False):
        lines = ["Constant"] + ([f"shape {shape}"] if shape is not None else [])
        return self._add("constant", lines, title, is_root)

    def op_box(self, node, shape, is_root=False):
        lines = [f"BackwardFunction({node.function_name})"]
        if shape is not None:
            lines.append(f"shape {shape}")
        if node in self.received:
            lines.append(f"received {short(self.received[node])}")
        self.by_key[node] = self._add("op", lines, self.node_names.get(id(node)), is_root)
        return self.by_key[node]

    def _add(self, kind, lines, title, is_root):
        box = _Box(len(self.boxes), kind, lines, title, is_root)
        self.boxes.append(box)
        return box

    def root(self, tensor):
        """Draw the box of ``tensor`` itself; return the nodes left to explore."""
        if not tensor.is_leaf:  # a solution may keep a leaf's AccumulateGrad in its grad_fn
            self.op_box(tensor.grad_fn, tensor.shape, is_root=True)
            return [tensor.grad_fn]
        if tensor.requires_grad:
            self.leaf_box(tensor, is_root=True)
        else:
            self.constant_box(tensor.shape, self.tensor_names.get(id(tensor)), is_root=True)
        return []

    def walk(self, stack):
        """Explore every node reachable from ``stack``, input 0 first."""
        while stack:  # an explicit stack: graphs may be deeper than the recursion limit
            node = stack.pop()
            box = self.by_key[node]
            shapes = getattr(node, "input_shapes", None) or []
            new = []
            for k, parent in enumerate(node.next_functions):
                parent_box = self._parent_box(parent, shapes[k] if k < len(shapes) else None, new)
                self.edges.append((parent_box, box, k))
                parent_box.consumers.append(box)
                box.inputs.append(parent_box)
            stack.extend(reversed(new))  # input 0 explored first

    def _parent_box(self, parent, shape, new):
        """The box of one input of a node; an operation seen for the first time is appended to ``new``."""
        if parent is None:
            return self.constant_box(shape)
        if isinstance(parent, AccumulateGrad):
            return self.leaf_box(parent.variable)
        if parent in self.by_key:
            return self.by_key[parent]
        new.append(parent)
        # An operation's output shape is known from the input it became.
        return self.op_box(parent, shape)


def _names(names):
    """Maps id(tensor) -> name and id(node) -> name from a dict such as ``locals()``."""
    tensor_names, node_names = {}, {}
    for name, value in (names or {}).items():
        if isinstance(value, Tensor) and not name.startswith("_"):
            tensor_names.setdefault(id(value), name)
            if value.grad_fn is not None:
                node_names.setdefault(id(value.grad_fn), name)
    return tensor_names, node_names


# ------------------------------------------------------------------- layout
def _layout(boxes):
    """Give each box a layer (``depth``, left to right) and a height ``y`` within it.

    An operation sits one layer right of its deepest input (the longest path
    from the inputs); a leaf or constant sits just left of its first
    consumer, so that ``c`` in ``(d + c)`` appears next to that addition.
    Then a few sweeps move each box towards the mean height of its
    neighbours (fewer crossings, shorter arrows) while keeping boxes of a
    layer at least one row apart.
    """
    ops = [b for b in boxes if b.kind == "op"]
    for box in _inputs_first(ops):
        box.depth = 1 + max((i.depth for i in box.inputs if i.kind == "op"), default=0)
    for box in boxes:
        if box.kind != "op":
            box.depth = min((c.depth for c in box.consumers), default=1) - 1
    layers = {}
    for box in boxes:  # creation order: a good first guess of the order within a layer
        layers.setdefault(box.depth, []).append(box)
    columns = [layers[d] for d in sorted(layers)]
    for column in columns:
        for i, box in enumerate(column):
            box.y = i - (len(column) - 1) / 2
    for sweep in range(8):
        for column in (columns if sweep % 2 else reversed(columns)):
            _settle(column)
    return columns


def _inputs_first(ops):
    """The operation boxes ordered so that each comes after its operation inputs (Kahn's algorithm)."""
    waiting = {id(b): sum(1 for i in b.inputs if i.kind == "op") for b in ops}
    ready = [b for b in ops if waiting[id(b)] == 0]
    order = []
    while ready:
        box = ready.pop()
        order.append(box)
        for consumer in box.consumers:
            waiting[id(consumer)] -= 1
            if waiting[id(consumer)] == 0:
                ready.append(consumer)
    return order


def _settle(column):
    """Move the boxes of one layer towards their neighbours' mean height, one row apart at least."""
    wanted = []
    for box in column:
        neighbours = box.inputs + box.consumers
        wanted.append(sum(n.y for n in neighbours) / len(neighbours) if neighbours else box.y)
    order = sorted(range(len(column)), key=lambda i: (wanted[i], column[i].y))
    column[:] = [column[i] for i in order]
    wanted = [wanted[i] for i in order]
    placed = []
    for w in wanted:
        placed.append(w if not placed else max(w, placed[-1] + 1))
    shift = sum(w - p for w, p in zip(wanted, placed)) / len(placed)
    for box, p in zip(column, placed):
        box.y = p + shift


# ------------------------------------------------------------------ drawing
def draw_graph(tensor, path=None, names=None, trace=None, title=None):
    """Draw the graph that produced ``tensor`` and save it as a PNG at ``path``.

    Args:
        tensor: the result whose graph to draw (e.g. the loss).
        path: where to write the PNG; None to only return the figure.
        names: dict name -> Tensor (``names=locals()`` works) to label
            leaves and results with your variable names.
        trace: a ``teaching.trace`` that watched a backward pass: each
            operation box then shows the gradient it received.
        title: a title written above the graph.

    Returns:
        The matplotlib ``Figure`` (shown inline in a notebook).
    """
    # Imported here: matplotlib takes a while to load, and only drawing needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    boxes, edges = _graph(tensor, names, trace)
    columns = _layout(boxes)
    figure = Figure(dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()

    artists, halves = _measure_labels(figure, axes, boxes)
    centers = _place(columns, halves)

    header = 0.45 if title else 0.0
    x_range = (min(centers[b.id][0] - halves[b.id][0] for b in boxes) - _MARGIN,
               max(centers[b.id][0] + halves[b.id][0] for b in boxes) + _MARGIN)
    y_range = (min(centers[b.id][1] - halves[b.id][1] for b in boxes) - _MARGIN,
               max(centers[b.id][1] + halves[b.id][1] for b in boxes) + _MARGIN + header)
    width, height = x_range[1] - x_range[0], y_range[1] - y_range[0]
    # A big graph becomes a scaled-down copy, within what a PNG viewer can open.
    scale = min(1.0, _MAX_INCHES / width, _MAX_INCHES / height)
    dpi = min(100, _MAX_SIDE_PIXELS / (width * scale), _MAX_SIDE_PIXELS / (height * scale),
              (_MAX_PIXELS / (width * height * scale * scale)) ** 0.5)
    figure.set_size_inches(width * scale, height * scale)
    figure.set_dpi(dpi)
    axes.set_xlim(*x_range)  # data units: full-size inches, the same along x and y
    axes.set_ylim(*y_range)
    if title:
        axes.text(0.5, 1 - 0.15 / height, title, transform=axes.transAxes, ha="center", va="top",
                  fontsize=_FONT_SIZE * 1.3 * scale, fontweight="bold")

    _draw_boxes(axes, boxes, centers, halves, artists, scale)
    _draw_arrows(axes, edges, centers, halves, scale)
    if path is not None:
        # Fast compression: a big graph's PNG has many pixels and the default level is slow.
        figure.savefig(path, dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 3})
    return figure


def _measure_labels(figure, axes, boxes):
    """Each box's text artist, and its half-sizes (inches at full size) so that it fits its label."""
    # Measured at full size, so that each layer is as wide as its widest box
    # and arrows stop at the edges.
    renderer = figure.canvas.get_renderer()
    sizes, artists, halves = {}, {}, {}
    for box in boxes:
        text = "\n".join(box.lines)
        if box.title:  # the user's name for it, in bold
            text = "$\\mathbf{" + box.title.replace("_", "\\_") + "}$\n" + text
        artist = axes.text(0, 0, text, ha="center", va="center", fontsize=_FONT_SIZE,
                           linespacing=1.3, zorder=3)
        if text not in sizes:  # many boxes share a label ("Constant", "shape (2, 3)")
            extent = artist.get_window_extent(renderer)
            sizes[text] = (extent.width / figure.dpi, extent.height / figure.dpi)
        artists[box.id] = artist
        halves[box.id] = (sizes[text][0] / 2 + _PAD, sizes[text][1] / 2 + _PAD)
    return artists, halves


def _place(columns, halves):
    """The centre (x, y) of each box, in full-size inches: layers left to right, row 0 on top."""
    row_gap = max(_ROW_GAP, 2 * max(h for _, h in halves.values()) + 0.25)
    centers, x, previous = {}, 0.0, None
    for column in columns:
        half = max(halves[b.id][0] for b in column)
        if previous is not None:
            x += previous + _LAYER_GAP + half
        previous = half
        for box in column:
            centers[box.id] = (x, -box.y * row_gap)
    return centers


def _draw_boxes(axes, boxes, centers, halves, artists, scale):
    """The rounded frames, coloured by kind (the output's frame bold), with their labels moved in."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import FancyBboxPatch

    frames, faces, edge_colors, widths = [], [], [], []
    for box in boxes:
        (x, y), half = centers[box.id], halves[box.id]
        artists[box.id].set_position((x, y))
        if scale < 1:
            artists[box.id].set_fontsize(_FONT_SIZE * scale)
        frames.append(FancyBboxPatch((x - half[0], y - half[1]), 2 * half[0], 2 * half[1],
                                     boxstyle="round,pad=0,rounding_size=0.06"))
        faces.append(_COLORS[box.kind])
        edge_colors.append("black" if box.is_root else _EDGE_COLORS[box.kind])
        widths.append((2.2 if box.is_root else 1.0) * max(scale, 0.3))
    axes.add_collection(PatchCollection(frames, facecolors=faces, edgecolors=edge_colors,
                                        linewidths=widths, zorder=2))



def _draw_arrows(axes, edges, centers, halves, scale):
    """One arrow per edge, from the edge of the input's box to the edge of its consumer's."""
    from matplotlib.collections import LineCollection, PolyCollection

    lines, heads, repeats = [], [], {}
    head_length, head_width = 0.11, 0.045
    for start, end, _ in edges:
        count = repeats[(start.id, end.id)] = repeats.get((start.id, end.id), -1) + 1
        (sx, sy), (ex, ey) = centers[start.id], centers[end.id]
        dx, dy = ex - sx, ey - sy
        length = (dx * dx + dy * dy) ** 0.5
        ux, uy = dx / length, dy / length
        # a second arrow between the same two boxes (x + x) runs beside the first
        offset = 0.07 * ((count + 1) // 2) * (-1) ** count
        sx, sy, ex, ey = sx - uy * offset, sy + ux * offset, ex - uy * offset, ey + ux * offset
        a = _exit_distance(ux, uy, halves[start.id])
        b = _exit_distance(ux, uy, halves[end.id])
        x0, y0 = sx + ux * a, sy + uy * a
        x1, y1 = ex - ux * b, ey - uy * b
        base_x, base_y = x1 - ux * head_length, y1 - uy * head_length
        lines.append([(x0, y0), (base_x, base_y)])
        heads.append([(x1, y1), (base_x - uy * head_width, base_y + ux * head_width),
                      (base_x + uy * head_width, base_y - ux * head_width)])
    line_width = 1.1 * max(scale, 0.3)
    axes.add_collection(LineCollection(lines, colors="#444444", linewidths=line_width, zorder=1))
    axes.add_collection(PolyCollection(heads, facecolors="#444444", edgecolors="#444444",
                                       linewidths=line_width * 0.5, zorder=1))


def _exit_distance(ux, uy, half):
    """How far from a box's centre a ray in direction (ux, uy) leaves the box of half-sizes ``half``."""
    limits = []
    if ux:
        limits.append(half[0] / abs(ux))
    if uy:
        limits.append(half[1] / abs(uy))
    return min(limits)


def to_dot(tensor, names=None, trace=None):
    """The graph that produced ``tensor`` as Graphviz DOT text (a ``digraph``).

    Same nodes, labels and arrow direction as ``draw_graph``; node ids are
    ``n0``, ``n1``, ... with ``n0`` the output. Render it with
    ``dot -Tpng graph.dot -o graph.png`` or any online Graphviz viewer.
    """
    boxes, edges = _graph(tensor, names, trace)
    out = ["digraph mytorch {", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']
    for box in boxes:
        label = "\\n".join(_dot_escape(line) for line in box.label())
        extra = ", penwidth=2" if box.is_root else ""
        out.append(f'  {box.id} [label="{label}", fillcolor="{_COLORS[box.kind]}"{extra}];')
    for start, end, k in edges:
        out.append(f'  {start.id} -> {end.id} [tooltip="input {k}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')
