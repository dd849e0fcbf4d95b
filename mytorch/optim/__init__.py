"""Optimizers."""
from mytorch.optim.optimizer import Optimizer
from mytorch.optim.sgd import SGD

__all__ = ["Optimizer", "SGD"]
