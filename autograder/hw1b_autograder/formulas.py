"""Expected answers of the HW1 bonus, from NumPy formulas written here (never by calling mytorch).

A model is a list of layer specs, in order:
``("linear", in, out)``, ``("relu",)``, ``("dropout", p)``, ``("batchnorm", n)``.
``Model`` runs such a list forward and backward in float64, keeps the
parameters in the order ``Module.parameters()`` gives them (each Linear's
weight then bias, each BatchNorm's gamma then beta), and updates them with
Adam or SGD. Randomness replays NumPy's legacy generator (``RandomState``),
which gives what ``np.random.seed(s)`` then ``np.random.*`` calls give.
"""
import numpy as np

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


# ------------------------------------------------------- the course's contract
def linear_init(rs, n_in, n_out):
    """The initialisation contract: one ``rand(out, in)`` then one ``rand(out)``, each (u - 0.5) / in."""
    weight = (rs.rand(n_out, n_in) - 0.5) / n_in
    bias = (rs.rand(n_out) - 0.5) / n_in
    return weight, bias


def dropout_mask(rs, p, shape):
    """The mask rule: one ``binomial(1, 1 - p, size=shape)`` draw per training forward."""
    return rs.binomial(1, 1 - p, size=shape)


# ------------------------------------------------------------------ updates
def adam(param, grad, m, v, t, lr, betas, eps, bias_correction=True, eps_inside=False):
    """One Adam step from (m, v) after t - 1 steps: returns (new param, m, v).

    ``bias_correction=False`` and ``eps_inside=True`` give two common
    mistakes, so that a judge can name them.
    """
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat, v_hat = (m / (1 - beta1 ** t), v / (1 - beta2 ** t)) if bias_correction else (m, v)
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    return param - lr * m_hat / denom, m, v


def sgd(param, grad, velocity, lr, momentum):
    """One step of the handout's SGD: v = momentum v - lr g; param + v."""
    velocity = momentum * velocity - lr * grad
    return param + velocity, velocity


# ------------------------------------------------------------------ losses
def cross_entropy(logits, labels):
    """Mean cross-entropy of ``logits`` (N, C) against integer ``labels`` (N,), and its gradient."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_softmax[np.arange(n), labels].mean()
    grad = np.exp(log_softmax)
    grad[np.arange(n), labels] -= 1
    return loss, grad / n


# ------------------------------------------------------------------ layers
def batchnorm_forward(z, gamma, beta, running_mean, running_var, training, momentum=BN_MOMENTUM,
                      momentum_reversed=False, unbiased_running=True):
    """BatchNorm1d's output and new running statistics (unchanged in eval), plus what backward needs.

    Training normalises with the biased batch variance and updates the running
    variance with the unbiased one, ``momentum`` weighting the new batch. The
    two flags give common mistakes (momentum weighting the old statistics; the
    biased variance kept), so that a judge can name them.
    """
    if not training:
        return (gamma * (z - running_mean) / np.sqrt(running_var + BN_EPS) + beta,
                running_mean, running_var, None)
    n = z.shape[0]
    mean = z.mean(axis=0)
    var = ((z - mean) ** 2).mean(axis=0)
    batch_var = var * n / (n - 1) if unbiased_running else var
    keep, new = (momentum, 1 - momentum) if momentum_reversed else (1 - momentum, momentum)
    running_mean = keep * running_mean + new * mean
    running_var = keep * running_var + new * batch_var
    inv_std = 1.0 / np.sqrt(var + BN_EPS)
    x_hat = (z - mean) * inv_std
    return gamma * x_hat + beta, running_mean, running_var, (x_hat, inv_std)


def batchnorm_backward(cache, gamma, grad_out):
    """(dz, dgamma, dbeta) of training-mode BatchNorm, through the batch statistics."""
    x_hat, inv_std = cache
    n = x_hat.shape[0]
    dx_hat = grad_out * gamma
    dz = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dz, (grad_out * x_hat).sum(axis=0), grad_out.sum(axis=0)


class Model:
    """A NumPy twin of ``Sequential(*layers)`` built from ``spec`` (see the module docstring).

    Args:
        spec: the layer specs.
        rs: a ``np.random.RandomState`` replaying the student's global generator
            (initial Linear weights, then dropout masks), or None.
        params: initial parameters in ``parameters()`` order, instead of
            drawing them from ``rs``.
        mistakes: flags passed to the formulas, to name a student's mistake.
    """

    def __init__(self, spec, rs=None, params=None, **mistakes):
        self.spec, self.rs, self.mistakes = list(spec), rs, mistakes
        self.params, self.running = [], {}
        for i, layer in enumerate(self.spec):
            if layer[0] == "linear" and params is None:
                self.params += list(linear_init(rs, layer[1], layer[2]))
            elif layer[0] == "batchnorm":
                if params is None:
                    self.params += [np.ones(layer[1]), np.zeros(layer[1])]
                self.running[i] = (np.zeros(layer[1]), np.ones(layer[1]))
        if params is not None:
            self.params = [np.array(p, dtype=np.float64) for p in params]
        self.masks = []

    def _slots(self):
        """(layer index, index of its first parameter) for the layers that have parameters."""
        slots, k = {}, 0
        for i, layer in enumerate(self.spec):
            if layer[0] in ("linear", "batchnorm"):
                slots[i] = k
                k += 2
        return slots

    def forward(self, x, training):
        """The output for ``x``; draws one dropout mask per Dropout layer when training."""
        slots, self.cache, self.masks = self._slots(), [], []
        for i, layer in enumerate(self.spec):
            kind = layer[0]
            self.cache.append(x)
            if kind == "linear":
                w, b = self.params[slots[i]], self.params[slots[i] + 1]
                x = x @ w.T + b
            elif kind == "relu":
                x = np.where(x > 0, x, 0.0)
            elif kind == "dropout" and training:
                x = x * self._dropout_factor(layer[1], x.shape)
                self.cache[-1] = self.masks[-1]
            elif kind == "batchnorm":
                gamma, beta = self.params[slots[i]], self.params[slots[i] + 1]
                rm, rv = self.running[i]
                x, rm, rv, bn_cache = batchnorm_forward(
                    x, gamma, beta, rm, rv, training,
                    momentum_reversed=self.mistakes.get("momentum_reversed", False),
                    unbiased_running=self.mistakes.get("unbiased_running", True))
                self.running[i] = (rm, rv)
                self.cache[-1] = (self.cache[-1], bn_cache)
        return x

    def _dropout_factor(self, p, shape):
        """The scaled mask x is multiplied by: mask / (1 - p), with the mask drawn by the contract's rule.

        Mistake flags: ``dropout_unscaled`` (no 1 / (1 - p)), ``dropout_keep_p``
        (p taken as the keep probability), ``dropout_draws`` = (draws per forward,
        which one is used).
        """
        draws, used = self.mistakes.get("dropout_draws", (1, 0))
        keep = p if self.mistakes.get("dropout_keep_p") else 1 - p
        masks = [dropout_mask(self.rs, 1 - keep, shape) for _ in range(draws)]
        scale = 1.0 if self.mistakes.get("dropout_unscaled") else (1 / keep if keep > 0 else 0.0)
        self.masks.append(masks[used] * scale)
        return self.masks[-1]

    def backward(self, grad):
        """Gradients after the last (training) forward: (d input, [d param in parameters() order])."""
        slots, grads = self._slots(), [None] * len(self.params)
        for i in range(len(self.spec) - 1, -1, -1):
            kind, saved = self.spec[i][0], self.cache[i]
            if kind == "linear":
                w = self.params[slots[i]]
                grads[slots[i]], grads[slots[i] + 1] = grad.T @ saved, grad.sum(axis=0)
                grad = grad @ w
            elif kind == "relu":
                grad = np.where(saved > 0, grad, 0.0)
            elif kind == "dropout":
                grad = grad * saved
            elif kind == "batchnorm":
                gamma = self.params[slots[i]]
                grad, grads[slots[i]], grads[slots[i] + 1] = batchnorm_backward(saved[1], gamma, grad)
        return grad, grads

    def running_stats(self):
        """[(running_mean, running_var)] of each BatchNorm layer, in order."""
        return [self.running[i] for i in sorted(self.running)]
