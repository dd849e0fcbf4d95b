"""Sequential: layers applied one after another (handout §2.1)."""
from mytorch.nn.module import Module


class Sequential(Module):
    """``Sequential(layer1, layer2, ...)`` applies each layer to the output of the one before.

    The layers are kept, in order, in the tuple ``layers``; their parameters
    are the parameters of the Sequential.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                hint = "; pass the layers as separate arguments: Sequential(*layers)" \
                    if isinstance(layer, (list, tuple)) else ""
                raise TypeError(
                    f"Sequential: layer {i} is a {type(layer).__name__}, expected a Module{hint}")
        self.layers = layers

    def forward(self, x):
        """Pass ``x`` through every layer in order and return the last output."""
        # BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x)
        return x
        # END SOLUTION

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
