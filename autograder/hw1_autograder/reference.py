"""Expected answers, from NumPy formulas written here (never by calling mytorch).

Each function follows the handout's equations directly, in float64, and
returns plain arrays. Gradients are the analytic ones; the project's tests
check them against finite differences and against PyTorch.
"""
import numpy as np


# ------------------------------------------------------------------- layers
def linear(x, weight, bias):
    """Linear(x) = x W^T + b (handout §2.1). x (N, in), W (out, in), b (out,) -> (N, out)."""
    return x @ weight.T + bias


def linear_backward(x, weight, grad_out):
    """Gradients (dx, dW, db) of Linear for the upstream gradient ``grad_out`` (N, out)."""
    return grad_out @ weight, grad_out.T @ x, grad_out.sum(axis=0)


def relu(z):
    """ReLU(z) = z if z > 0 else 0 (handout §2.2)."""
    return np.where(z > 0, z, 0.0)


def relu_grad(z):
    """ReLU'(z) = 1 if z > 0 else 0; the derivative at 0 is 0 (handout §2.2)."""
    return (z > 0).astype(np.float64)


def batchnorm_train(x, gamma, beta, eps=1e-5):
    """Training-mode BatchNorm (handout §2.4 eqs 3-7) of x (N, C).

    Returns (y, batch mean, biased batch variance, unbiased batch variance).
    """
    m = x.shape[0]
    mean = x.sum(axis=0) / m
    var = ((x - mean) ** 2).sum(axis=0) / m
    unbiased = ((x - mean) ** 2).sum(axis=0) / (m - 1)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, mean, var, unbiased


def batchnorm_train_backward(x, gamma, grad_out, eps=1e-5):
    """Gradients (dx, dgamma, dbeta) of training-mode BatchNorm, batch statistics included."""
    m = x.shape[0]
    mean = x.mean(axis=0)
    inv_std = 1.0 / np.sqrt(((x - mean) ** 2).mean(axis=0) + eps)
    x_hat = (x - mean) * inv_std
    dgamma = (grad_out * x_hat).sum(axis=0)
    dbeta = grad_out.sum(axis=0)
    # d x_hat flows to x directly and through the batch mean and variance.
    dx_hat = grad_out * gamma
    dx = inv_std / m * (m * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


def batchnorm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Eval-mode BatchNorm: normalise with the running statistics."""
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta


def update_running(running, batch_value, momentum=0.1):
    """E[x] = alpha E[x] + (1 - alpha) batch value, with alpha = 1 - momentum (handout eqs 8-9)."""
    return (1 - momentum) * running + momentum * batch_value


def log_softmax(logits):
    """LogSoftmax of each row, with the LogSumExp trick (handout Appendix B.1)."""
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def cross_entropy(logits, labels):
    """NLLLoss(LogSoftmax(logits), labels), the mean over the batch (Appendix B)."""
    n = logits.shape[0]
    return -log_softmax(logits)[np.arange(n), labels].sum() / n


def cross_entropy_grad(logits, labels):
    """d loss / d logits = (softmax - one_hot(labels)) / N (Appendix B.2)."""
    n = logits.shape[0]
    grad = np.exp(log_softmax(logits))
    grad[np.arange(n), labels] -= 1.0
    return grad / n


# ---------------------------------------------------------------- optimizer
def sgd_step(param, grad, lr, momentum=0.0, velocity=None):
    """One SGD update (handout §2.3 and §2.6); returns (new param, new velocity).

    Momentum: v = beta v - lr grad; W = W + v. Without momentum: W = W - lr grad.
    """
    if velocity is None:
        velocity = np.zeros_like(param)
    velocity = momentum * velocity - lr * grad
    return param + velocity, velocity


# ------------------------------------------------------------------- models
class MLP:
    """A NumPy twin of a small Sequential model, for checking training steps.

    ``layers`` is a list of ("linear", W, b), ("relu",) and
    ("batchnorm", gamma, beta, running_mean, running_var) entries, all
    float64 arrays owned by this object. ``forward`` keeps what ``backward``
    needs; ``step`` applies SGD to every parameter.
    """

    def __init__(self, layers, eps=1e-5, bn_momentum=0.1):
        self.layers = [[item.copy() if isinstance(item, np.ndarray) else item for item in layer]
                       for layer in layers]
        self.eps = eps
        self.bn_momentum = bn_momentum
        self.velocity = {}
        # {layer index: the statistics of the last training batch and the running ones before it}
        self.batch_stats = {}

    def forward(self, x, train):
        self._inputs = []
        for layer in self.layers:
            self._inputs.append(x)
            kind = layer[0]
            if kind == "linear":
                x = linear(x, layer[1], layer[2])
            elif kind == "relu":
                x = relu(x)
            elif train:  # batchnorm, training: batch statistics, then update the running ones
                x, mean, var, unbiased = batchnorm_train(x, layer[1], layer[2], self.eps)
                # What the running statistics were made from, to name a wrong update rule.
                self.batch_stats[len(self._inputs) - 1] = {"previous_mean": layer[3], "previous_var": layer[4],
                                                           "mean": mean, "var": var, "unbiased": unbiased}
                layer[3] = update_running(layer[3], mean, self.bn_momentum)
                layer[4] = update_running(layer[4], unbiased, self.bn_momentum)
            else:
                x = batchnorm_eval(x, layer[1], layer[2], layer[3], layer[4], self.eps)
        return x

    def backward(self, grad_out):
        """Gradients of every parameter, as {(layer index, slot): array}, after a training forward."""
        grads = {}
        for i in reversed(range(len(self.layers))):
            layer, x = self.layers[i], self._inputs[i]
            if layer[0] == "linear":
                grad_out, grads[i, 1], grads[i, 2] = linear_backward(x, layer[1], grad_out)
            elif layer[0] == "relu":
                grad_out = grad_out * relu_grad(x)
            else:
                grad_out, grads[i, 1], grads[i, 2] = batchnorm_train_backward(x, layer[1], grad_out, self.eps)
        return grads

    def step(self, grads, lr, momentum=0.0):
        for key, grad in grads.items():
            i, slot = key
            self.layers[i][slot], self.velocity[key] = sgd_step(
                self.layers[i][slot], grad, lr, momentum, self.velocity.get(key))
