"""Draw the handout's example graph (§0.1.4) and narrate its backward pass (§0.1.5).

    python3 teaching/draw_handout_graph.py [OUT_DIR]

Builds ``d = a * b + a; e = (d + c) + 3`` with ``a = 1``, ``b = 2``,
``c = 3`` (``a`` and ``c`` require grad), writes OUT_DIR/handout_graph.png
(the forward graph), prints the backward pass step by step, and writes
OUT_DIR/handout_graph_backward.png (the same graph with the gradients).
OUT_DIR defaults to the current directory.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from teaching import handout_graph, trace, viz  # noqa: E402  (after the path set-up above)


def main(out_dir="."):
    os.makedirs(out_dir, exist_ok=True)
    tensors = handout_graph()
    forward_png = os.path.join(out_dir, "handout_graph.png")
    viz.draw_graph(tensors["e"], forward_png, names=tensors,
                   title="d = a * b + a;  e = (d + c) + 3   (handout §0.1.4)")
    print(f"wrote {forward_png}")
    with trace(names=tensors) as steps:
        tensors["e"].backward()
    backward_png = os.path.join(out_dir, "handout_graph_backward.png")
    viz.draw_graph(tensors["e"], backward_png, names=tensors, trace=steps,
                   title="after e.backward(): gradients received and stored   (handout §0.1.5)")
    print(f"wrote {backward_png}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="draw_handout_graph.py",
        description="Draw the handout's example graph (§0.1.4) as handout_graph.png and "
                    "handout_graph_backward.png, and narrate its backward pass (§0.1.5).")
    parser.add_argument("out_dir", nargs="?", default=".", metavar="OUT_DIR",
                        help="folder for the two PNG files (default: the current folder; created if missing)")
    args = parser.parse_args(argv)
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        parser.error(f"OUT_DIR {args.out_dir} is a file, not a folder")
    return args


if __name__ == "__main__":
    main(parse_args().out_dir)
