"""The expected values of HW3P1, in plain NumPy (the grader's own formulas; no mytorch, no torch).

Packed layout, the RNN and GRU cells (forward and hand-derived backward),
and both run over a packed batch. Shapes: x (B, I), h (B, H), weights
(H, I) / (H, H), biases (H,); packed data (sum of lengths, F).
"""
import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---------------------------------------------------------------- packing
def sorted_order(lengths):
    """Original indices by length, longest first, stable on ties."""
    return np.argsort(-np.asarray(lengths), kind="stable")


def batch_sizes_of(lengths):
    """How many sequences run at each step."""
    lengths = np.asarray(lengths)
    return np.array([int((lengths > t).sum()) for t in range(int(lengths.max()))])


def packed_rows(lengths, order=None):
    """(sequence index, step) of each packed row, time-major; ``order`` the sorted order to use."""
    lengths = np.asarray(lengths)
    order = sorted_order(lengths) if order is None else order
    return [(int(i), t) for t in range(int(lengths.max())) for i in order if lengths[i] > t]


def pack(arrays, order=None):
    """The packed data of ``arrays`` (a list of (L_i, F))."""
    lengths = [len(a) for a in arrays]
    return np.stack([arrays[i][t] for i, t in packed_rows(lengths, order)])


def add_packed_fields(batch):
    """Add the packed form of ``batch["arrays"]`` to ``batch``: packed, sorted_indices, batch_sizes."""
    lengths = [len(a) for a in batch["arrays"]]
    batch["packed"] = pack(batch["arrays"])
    batch["sorted_indices"] = sorted_order(lengths)
    batch["batch_sizes"] = batch_sizes_of(lengths)
    return batch


def unpack_grad(lengths, packed_grad):
    """Split a gradient of the packed data back into one (L_i, F) array per sequence (original order)."""
    grads = [np.zeros((n,) + packed_grad.shape[1:]) for n in lengths]
    for row, (i, t) in enumerate(packed_rows(lengths)):
        grads[i][t] = packed_grad[row]
    return grads


# ---------------------------------------------------------------- the cells
def rnn_cell(p, x, h):
    """tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"])


def rnn_cell_backward(p, x, h, out, g):
    """Gradients of sum(g * rnn_cell(p, x, h)): (dx, dh, {parameter: gradient})."""
    da = g * (1 - out * out)
    grads = {"weight_ih": da.T @ x, "weight_hh": da.T @ h, "bias_ih": da.sum(0), "bias_hh": da.sum(0)}
    return da @ p["weight_ih"], da @ p["weight_hh"], grads


def gru_cell(p, x, h, mistake=None):
    """PyTorch's GRUCell; returns (h', saved values for backward).

    ``mistake`` computes a known wrong variant, to recognise it in a student's
    values: "bias_hn outside the reset gate", "z and 1 - z swapped".
    """
    r = sigmoid(x @ p["weight_ir"].T + p["bias_ir"] + h @ p["weight_hr"].T + p["bias_hr"])
    z = sigmoid(x @ p["weight_iz"].T + p["bias_iz"] + h @ p["weight_hz"].T + p["bias_hz"])
    hn = h @ p["weight_hn"].T + p["bias_hn"]
    if mistake == "bias_hn outside the reset gate":
        n = np.tanh(x @ p["weight_in"].T + p["bias_in"] + r * (h @ p["weight_hn"].T) + p["bias_hn"])
    else:
        n = np.tanh(x @ p["weight_in"].T + p["bias_in"] + r * hn)
    if mistake == "z and 1 - z swapped":
        return z * n + (1 - z) * h, None
    return (1 - z) * n + z * h, (r, z, n, hn)


def gru_cell_backward(p, x, h, saved, g):
    """Gradients of sum(g * gru_cell(p, x, h)): (dx, dh, {parameter: gradient})."""
    r, z, n, hn = saved
    dn, dz, dh = g * (1 - z), g * (h - n), g * z
    da_n = dn * (1 - n * n)
    dhn = da_n * r
    da_r = da_n * hn * r * (1 - r)
    da_z = dz * z * (1 - z)
    grads = {}
    dx = np.zeros_like(x)
    for gate, da_i, da_h in (("r", da_r, da_r), ("z", da_z, da_z), ("n", da_n, dhn)):
        grads[f"weight_i{gate}"], grads[f"bias_i{gate}"] = da_i.T @ x, da_i.sum(0)
        grads[f"weight_h{gate}"], grads[f"bias_h{gate}"] = da_h.T @ h, da_h.sum(0)
        dx = dx + da_i @ p[f"weight_i{gate}"]
        dh = dh + da_h @ p[f"weight_h{gate}"]
    return dx, dh, grads


# ---------------------------------------------------------------- over a packed batch
def run_packed(cell, p, data, batch_sizes, hidden_size):
    """Run ``cell`` (rnn_cell, or gru_cell's first output) over packed ``data``.

    Returns (packed output, h_final in sorted order, per-step (x, h_prev, out, saved)).
    """
    h = np.zeros((int(batch_sizes[0]), hidden_size))
    outputs, steps, final = [], [], np.zeros_like(h)
    start = 0
    for t, b in enumerate(batch_sizes):
        x, h_prev = data[start:start + b], h[:b]
        result = cell(p, x, h_prev)
        out, saved = result if isinstance(result, tuple) else (result, None)
        outputs.append(out)
        steps.append((x, h_prev, out, saved))
        final[:b] = out  # rows still running hold their latest state
        h, start = out, start + b
    return np.concatenate(outputs), final, steps


def rnn_packed_backward(p, batch_sizes, steps, g_out, g_final):
    """Gradients of sum(g_out * packed output) + sum(g_final * h_final) of the packed RNN.

    Returns (gradient of the packed data, {parameter: gradient}).
    """
    grads = {name: np.zeros_like(value) for name, value in p.items()}
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    d_data = np.zeros((int(offsets[-1]), steps[0][0].shape[1]))
    carried = np.zeros((0, g_final.shape[1]))
    for t in range(len(batch_sizes) - 1, -1, -1):
        b = int(batch_sizes[t])
        nxt = int(batch_sizes[t + 1]) if t + 1 < len(batch_sizes) else 0
        g = g_out[offsets[t]:offsets[t + 1]].copy()
        g[:nxt] += carried
        g[nxt:b] += g_final[nxt:b]  # sequences whose last step is t
        x, h_prev, out, _ = steps[t]
        dx, dh, step_grads = rnn_cell_backward(p, x, h_prev, out, g)
        d_data[offsets[t]:offsets[t + 1]] = dx
        for name, value in step_grads.items():
            grads[name] += value
        carried = dh
    return d_data, grads
