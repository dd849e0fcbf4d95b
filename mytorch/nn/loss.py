"""Loss layers."""
from mytorch.nn import functional as F
from mytorch.nn.module import Module

# Star-imported by the course's graders: export the layers only, not F.
__all__ = ["CrossEntropyLoss"]


class CrossEntropyLoss(Module):
    """Mean cross-entropy of logits (batch, classes) against class indices (batch,).

    ``CrossEntropyLoss()(predicted, target)`` returns a 0-d Tensor; see
    ``functional.cross_entropy`` (handout §2.5, Appendix B).
    """

    def forward(self, predicted, target):
        return F.cross_entropy(predicted, target)
