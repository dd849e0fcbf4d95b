"""Named causes of common mistakes, recognised from what a check observed.

Every recognizer here is a pure function of plain data: NumPy arrays,
numbers, strings, and tracebacks as lists of ``(path, line, function)``
tuples (paths relative to the project). It returns the text of a hint, or
None when the observation does not fit the mistake. None of them imports or
touches student code, so they can run wherever the expected values are
computed (the parent of issue 19's probe/judge split) as well as in the
checks that call them today.

A recognizer only ever adds a sentence to a failing check's message: the
check has already failed on its own comparison, so a recognizer that does
not fire costs nothing, and one cannot make a check pass or fail.
"""
import re

import numpy as np

# Close enough to call two arrays the same value: the checks' own tolerance.
RTOL, ATOL = 1e-6, 1e-8

TENSOR_FILE = "mytorch/tensor.py"
ENGINE_FILE = "mytorch/autograd_engine.py"
FUNCTIONAL_FILE = "mytorch/nn/functional.py"
BATCHNORM_FILE = "mytorch/nn/batchnorm.py"


def _as_array(value):
    """``value`` as a float64 array, or None when it is not numbers."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def same(got, expected):
    """True when ``got`` has ``expected``'s shape and values (at the checks' tolerance)."""
    got, expected = _as_array(got), _as_array(expected)
    if got is None or expected is None or got.shape != expected.shape:
        return False
    return bool(np.allclose(got, expected, rtol=RTOL, atol=ATOL))


# ------------------------------------------------------- gradients of an operation
def swapped_gradients(op_name, got, expected):
    """Hint when ``op_name``'s backward returned the right gradients in the wrong order.

    ``got`` and ``expected`` are sequences of arrays, one per input of the
    operation, in the order of its forward's arguments.
    """
    if len(got) != 2 or len(expected) != 2:
        return None
    if same(got[0], expected[0]) and same(got[1], expected[1]):
        return None
    if not (same(got[0], expected[1]) and same(got[1], expected[0])):
        return None
    return (f"These are the right gradients in swapped order: {op_name}.backward ({FUNCTIONAL_FILE}) returned "
            "the gradient w.r.t. b first. Return one gradient per input of forward, in the order of forward's "
            "arguments: (gradient w.r.t. a, gradient w.r.t. b).")


# ------------------------------------------------------------------- cross entropy
def _log_softmax(logits):
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


def _cross_entropy_sum(logits, labels):
    n = logits.shape[0]
    return -_log_softmax(logits)[np.arange(n), labels].sum()


def _divisor_hint(what, divisor, n, c):
    causes = {
        "C": f"divided by C = {c}, the number of classes (logits.shape[1]), instead of N = {n}, the batch size",
        "1": f"not divided by N = {n}, the batch size: the handout's NLLLoss is the MEAN over the batch",
        "NC": f"divided by N * C = {n * c} (a mean over every logit), instead of N = {n}, the batch size",
    }
    return (f"Your {what} equals the right one {causes[divisor]} (Appendix B: NLLLoss = -sum of P[n, L_n] / N). "
            f"Look at the division in cross_entropy ({FUNCTIONAL_FILE}).")


def cross_entropy_divisor(got_loss, logits, labels):
    """Hint when a cross-entropy loss is the right sum divided by C, by N * C, or not divided at all."""
    logits, got = _as_array(logits), _as_array(got_loss)
    if logits is None or got is None or logits.ndim != 2 or got.size != 1:
        return None
    labels = np.asarray(labels, dtype=np.int64)
    n, c = logits.shape
    total = _cross_entropy_sum(logits, labels)
    got = got.reshape(())
    if same(got, total / n):
        return None
    for divisor, value in (("C", c), ("1", 1), ("NC", n * c)):
        if value != n and same(got, total / value):
            return _divisor_hint("loss", divisor, n, c)
    return None


def cross_entropy_grad_divisor(got_grad, logits, labels):
    """Hint when the gradient w.r.t. the logits is the right one scaled by N / C, N or 1 / C."""
    logits, got = _as_array(logits), _as_array(got_grad)
    if logits is None or got is None or got.shape != logits.shape or logits.ndim != 2:
        return None
    labels = np.asarray(labels, dtype=np.int64)
    n, c = logits.shape
    unscaled = np.exp(_log_softmax(logits))
    unscaled[np.arange(n), labels] -= 1.0
    if same(got, unscaled / n):
        return None
    for divisor, value in (("C", c), ("1", 1), ("NC", n * c)):
        if value != n and same(got, unscaled / value):
            return _divisor_hint("gradient w.r.t. the logits", divisor, n, c)
    return None


# -------------------------------------------------------------- BatchNorm statistics
def running_statistic(stat, got, previous, batch_mean, biased_var, unbiased_var, momentum=0.1):
    """Hint for a BatchNorm running statistic updated with a recognisable wrong rule.

    ``stat`` is "running_mean" or "running_var"; ``previous`` its value before
    this training step; the batch statistics are those of this step's input.
    """
    got, previous = _as_array(got), _as_array(previous)
    if got is None or previous is None:
        return None
    batch = {"running_mean": {"the batch mean": batch_mean},
             "running_var": {"the unbiased batch variance": unbiased_var,
                             "the biased batch variance (sum of squares / m)": biased_var}}.get(stat)
    if batch is None:
        return None
    right_value = next(iter(batch.values()))
    if same(got, (1 - momentum) * previous + momentum * right_value):
        return None
    for name, value in batch.items():
        value = _as_array(value)
        if value is None:
            continue
        if same(got, momentum * previous + (1 - momentum) * value):
            return (f"Your {stat} is {momentum:g} * (its old value) + {1 - momentum:g} * ({name}): the weights "
                    f"are reversed. The handout's alpha is NOT the momentum (eqs 8-9): alpha = 1 - momentum = "
                    f"{1 - momentum:g} weighs the OLD running value, so {stat} = (1 - momentum) * {stat} + "
                    f"momentum * (batch statistic). Look at BatchNorm1d.forward ({BATCHNORM_FILE}).")
        if value is not right_value and same(got, (1 - momentum) * previous + momentum * value):
            return (f"Your {stat} is a running average of {name}; it must average {next(iter(batch))} "
                    f"(handout eq 7 gives the unbiased variance for the running statistics, eq 5 the biased "
                    f"one for normalising). Look at BatchNorm1d.forward ({BATCHNORM_FILE}).")
        if same(got, value):
            return (f"Your {stat} is {name} itself: it must be a running average, {stat} = (1 - momentum) * "
                    f"{stat} + momentum * (batch statistic) (handout eqs 8-9), in BatchNorm1d.forward "
                    f"({BATCHNORM_FILE}).")
    return None


# ------------------------------------------------------------------------ crashes
_NUMBER_TYPES = r"(int|float|bool|numpy\.\w+)"
_NUMBER_HAS_NO = re.compile(rf"'{_NUMBER_TYPES}' object has no attribute '(\w+)'")
_NONE_RESULT = ("'NoneType' object is not iterable", "cannot unpack non-iterable NoneType object",
                "object of type 'NoneType' has no len()", "'NoneType' object is not subscriptable",
                "must support iteration")


def _where(frame):
    path, line, function = frame
    return f"{path}, line {line}, in {function}"


def _innermost(frames, path):
    for frame in reversed(frames):
        if frame[0] == path:
            return frame
    return None


def number_operand(kind, text, frames):
    """Hint when a Tensor operator handed a Python number to an operation that reads ``.data``."""
    match = _NUMBER_HAS_NO.search(text)
    if kind != "AttributeError" or not match:
        return None
    operators = [f for f in frames if f[0] == TENSOR_FILE and re.fullmatch(r"__\w+__", f[2])
                 and f[2] not in ("__init__", "__getattr__")]
    if not operators:
        return None
    frame = operators[-1]
    method = frame[2]
    return (f"A Python number ({match.group(1)}) reached an operation that reads .{match.group(2)}: "
            f"Tensor.{method} ({_where(frame)}) passes its other operand on as it is. Tensor <op> number is "
            "what your own code writes (x / batch_size, 1 - x, x * 0.5); wrap the number first, as the given "
            f"__add__ and __r{method[2:]} do: F.Op.apply(self, _operand(other, self, \"...\")), or Tensor(other) "
            "when it is not a Tensor.")


def dfs_past_a_leaf(kind, text, frames):
    """Hint when backward() treats a leaf's AccumulateGrad like an operation's node."""
    if kind != "TypeError" or not any(t in text for t in _NONE_RESULT):
        return None
    if not frames or frames[-1][0] != ENGINE_FILE or frames[-1][2] != "backward":
        return None
    return (f"In backward() ({_where(frames[-1])}): what grad_fn.apply returned is None because grad_fn is a "
            "leaf's AccumulateGrad: its apply stores the gradient in the leaf's .grad and returns nothing, and "
            "a leaf has no parents (handout §0.1.5 Step 4). Make it a base case of the DFS: "
            "if isinstance(grad_fn, AccumulateGrad): grad_fn.apply(grad_of_outputs); return.")


def apply_on_none(kind, text, frames):
    """Hint when backward() calls ``.apply`` on a None node (a constant, or a tensor no operation made)."""
    if kind != "AttributeError" or "'NoneType' object has no attribute 'apply'" not in text:
        return None
    where = f" ({_where(frames[-1])})" if frames else ""
    return (f"Hint: backward(){where} called .apply on None. A node is None for a constant (its entry in "
            "next_functions, handout Appendix A.1), which gets no gradient (§0.1.5), and a tensor no "
            "operation has made (a leaf that requires grad but was never used in an operation) has grad_fn "
            f"None too. backward() in {ENGINE_FILE} must not call .apply on it: skip None parents, or "
            "return at once when grad_fn is None.")


def crash_site(frames):
    """Where in the student's own files an error was raised, as text, or None (raised elsewhere)."""
    return _where(frames[-1]) if frames else None


def crash(kind, text, frames):
    """The named cause of an exception raised by student code, or None.

    ``kind`` is the exception's type name, ``text`` its message, ``frames``
    the traceback's frames in the student's files, outermost first.
    """
    for recognise in (number_operand, dfs_past_a_leaf, apply_on_none):
        hint = recognise(kind, text, frames)
        if hint:
            return hint
    return None


# ------------------------------------------------------------------ Part 3 (MNIST)
MNIST_FILE = "hw1/mnist.py"
CHANCE_LOSS = float(np.log(10))  # the cross entropy of a uniform guess over 10 digits


def _first_bad(losses):
    """Index of the first NaN or infinite loss, or None."""
    bad = np.flatnonzero(~np.isfinite(losses))
    return int(bad[0]) if bad.size else None


def _blow_up_cause(steps, zero_grads, lr):
    if steps and zero_grads == 0:
        return (f"optimizer.zero_grad() was never called ({steps} optimizer.step() calls): gradients add up "
                "(+=) across backward passes (§0.1.6), so every step used the sum of all past gradients. Call "
                f"optimizer.zero_grad() before each loss.backward() in train() ({MNIST_FILE}, handout §3.2 "
                "pseudocode).")
    if steps and zero_grads < steps // 2:
        return (f"optimizer.zero_grad() ran {zero_grads} times for {steps} optimizer.step() calls: call it once "
                f"per batch, before loss.backward(), in train() ({MNIST_FILE}).")
    lr_text = f" (lr={lr:g})" if isinstance(lr, (int, float)) else ""
    return (f"zero_grad() ran once per step, so the likely cause is a learning rate too large{lr_text} for this "
            f"network: try a smaller one where mnist() ({MNIST_FILE}) builds the SGD optimizer.")


def mnist_loss_blow_up(losses, steps, zero_grads, lr):
    """Hint when the training loss turned NaN/inf or grew without bound; ``losses`` in batch order."""
    losses = np.asarray(losses, dtype=np.float64).ravel()
    if losses.size < 2:
        return None
    bad = _first_bad(losses)
    if bad is not None:
        return (f"The training loss became {losses[bad]} at batch {bad + 1} (it was {losses[0]:.4g} at batch 1). "
                + _blow_up_cause(steps, zero_grads, lr))
    window = max(1, losses.size // 10)
    start, end = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    if end > max(2 * start, CHANCE_LOSS + 1.0):
        return (f"The training loss grew from {start:.4g} (first batches) to {end:.4g} (last batches), peaking at "
                f"{float(np.max(losses)):.4g}: training diverged. " + _blow_up_cause(steps, zero_grads, lr))
    return None


def mnist_out_of_step(losses, final_accuracy, steps):
    """Hint when the accuracy stays near chance with the loss near ln 10: labels not those of the images."""
    losses = np.asarray(losses, dtype=np.float64).ravel()
    if losses.size < 10 or final_accuracy is None or final_accuracy >= 0.2 or _first_bad(losses) is not None:
        return None
    late = float(np.mean(losses[-max(5, losses.size // 5):]))
    if abs(late - CHANCE_LOSS) > 0.15:
        return None
    if steps == 0:
        return (f"The final accuracy is {final_accuracy:.3f} (chance: 0.1) and the loss stays at {late:.3f}, "
                f"ln 10: optimizer.step() was never called, so nothing was learned. Call it after "
                f"loss.backward() in train() ({MNIST_FILE}).")
    return (f"The final accuracy is {final_accuracy:.3f} (chance: 0.1) and the training loss stays at {late:.3f}, "
            f"ln 10 = {CHANCE_LOSS:.3f}, what a uniform guess scores: the network learns nothing, so most likely "
            f"each batch's labels are not those of its images. In train() ({MNIST_FILE}), shuffle ONE index "
            "array per epoch and take the rows of both train_x and train_y with it (order = "
            "np.random.permutation(n); train_x[order], train_y[order]); shuffling images and labels separately "
            "pairs every image with a random label.")


def mnist_validate_in_training_mode(batches_in_training_mode, batches):
    """Hint when validate() ran the model with some layer in training mode."""
    if not batches or not batches_in_training_mode:
        return None
    return (f"validate() ({MNIST_FILE}) ran {batches_in_training_mode} of its {batches} forward passes with the "
            "model in training mode: BatchNorm1d then normalises with the validation batch's own statistics and "
            "updates its running statistics with validation data. Call model.eval() at the start of validate() "
            "(handout §3.3 pseudocode: model.activate_eval_mode()); train() switches back with model.train().")


def mnist_requires_grad(inputs_requiring_grad, labels_requiring_grad, batches):
    """Hint when a training batch's input or label tensor was gradient enabled (handout §3.2 note 3)."""
    which = [name for name, count in (("input", inputs_requiring_grad), ("label", labels_requiring_grad)) if count]
    if not which:
        return None
    counts = " and ".join(f"{name} tensors of {count} of {batches} batches"
                          for name, count in (("the input", inputs_requiring_grad),
                                              ("the label", labels_requiring_grad)) if count)
    return (f"{counts[0].upper() + counts[1:]} required grad. The handout asks that input/label tensors are NOT "
            "gradient enabled (§3.2): in train() (" + MNIST_FILE + ") create them as Tensor(batch) and leave "
            "requires_grad False; gradients of the data are never used, and computing them costs time.")


def mnist_run(record):
    """Every Part 3 hint for one training run, as a list of texts.

    ``record`` holds plain data: ``losses`` (training loss per batch, in
    order), ``final_accuracy``, ``steps`` and ``zero_grads`` (optimizer calls),
    ``lr``, ``validate_batches`` and ``validate_train_mode`` (forward passes
    inside validate(), and how many of them in training mode),
    ``train_batches``, ``inputs_requiring_grad``, ``labels_requiring_grad``.
    """
    get = record.get
    hints = [
        mnist_loss_blow_up(get("losses", []), get("steps", 0), get("zero_grads", 0), get("lr")),
        mnist_out_of_step(get("losses", []), get("final_accuracy"), get("steps", 0)),
        mnist_validate_in_training_mode(get("validate_train_mode", 0), get("validate_batches", 0)),
        mnist_requires_grad(get("inputs_requiring_grad", 0), get("labels_requiring_grad", 0),
                            get("train_batches", 0)),
    ]
    return [hint for hint in hints if hint]
