"""HW2P1's CNN: three 1-D convolutions with Tanh, ReLU and Sigmoid, then a Linear layer.

For inputs (batch, 24, 60): the convolutions give widths 56, 26 and 13, so
the flattened features number 14 * 13 = 182, and the output is (batch, 10).

Run from the project folder with hw2/ on the path (``import hw2``).
"""
from mytorch.nn.activations import ReLU, Sigmoid, Tanh
from mytorch.nn.conv import Conv1d, Flatten
from mytorch.nn.linear import Linear
from mytorch.nn.module import Module
from mytorch.nn.sequential import Sequential


class CNN(Module):
    """The homework's CNN; its eight layers are the Sequential ``layers``.

    Conv1d(24, 56, 5, 1) -> Tanh -> Conv1d(56, 28, 6, 2) -> ReLU ->
    Conv1d(28, 14, 2, 2) -> Sigmoid -> Flatten -> Linear(182, 10).
    Shapes: input (batch, 24, 60) -> output (batch, 10).
    """

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = Sequential(
            Conv1d(24, 56, 5, 1), Tanh(),
            Conv1d(56, 28, 6, 2), ReLU(),
            Conv1d(28, 14, 2, 2), Sigmoid(),
            Flatten(),
            Linear(14 * 13, 10),
        )
        # END SOLUTION

    def forward(self, x):
        """``x`` (batch, 24, 60) -> (batch, 10)."""
        return self.layers(x)
