"""Neural-network building blocks: operations (functional) and layers."""
from mytorch.nn import functional  # noqa: F401
