"""Sequential: layers applied one after another (handout §2.1)."""
import numbers

from mytorch.nn.module import Module


class Sequential(Module):
    """``Sequential(layer1, layer2, ...)`` applies each layer to the output of the one before.

    The layers are kept, in order, in the tuple ``layers``; their parameters
    are the parameters of the Sequential.
    """

    # state_dict() names the layers "0", "1", ... as PyTorch does, not "layers.0".
    _unnamed_attributes = ("layers",)

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
        """``model[i]`` is layer i (negative counts from the end); ``model[i:j]`` a Sequential of those layers."""
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential indices must be integers or slices, got {type(index).__name__}")
        if not -len(self.layers) <= index < len(self.layers):
            raise IndexError(f"Sequential: index {index} is out of range for {len(self.layers)} layer(s)")
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
