"""A model student solution of HW1P1, written the handout's way (staff only; never in the kit).

``REGIONS`` maps ``"path::Owner"`` (a file of the kit and the function whose
stub to replace, as ``tools/make_handout.py --check`` names them) to the code
a student would write there, unindented. ``fill.py`` puts it into a freshly
generated kit. The style is the handout's, not the reference's:

* ``backward`` is the recursive depth-first search of §0.1.5;
* Linear, BatchNorm1d and cross-entropy are composed from elementary
  operations (MatMul, Sum, Pow, Exp, Neg, written here; Add, Transpose, Log
  given), so autograd derives their gradients;
* ``SGD.step`` is a plain loop body, with momentum kept in ``self.momentums``.

``VARIANTS`` holds alternative bodies of some regions: ``stored-leaf-nodes``
is Appendix A's wording taken literally, each leaf's ``AccumulateGrad``
created once and stored in ``leaf.grad_fn``.
"""

REGIONS = {
    # ---------------------------------------------------------------- Part 1.1
    "mytorch/nn/functional.py::Sub.forward": """
ctx.a_shape, ctx.b_shape = a.shape, b.shape
return Tensor(a.data - b.data)
""",
    "mytorch/nn/functional.py::Sub.backward": """
g = grad_output.data
return Tensor(unbroadcast(g, ctx.a_shape)), Tensor(unbroadcast(-g, ctx.b_shape))
""",
    "mytorch/nn/functional.py::Mul.forward": """
ctx.save_for_backward(a, b)
return Tensor(a.data * b.data)
""",
    "mytorch/nn/functional.py::Mul.backward": """
a, b = ctx.saved_tensors
g = grad_output.data
return Tensor(unbroadcast(g * b.data, a.shape)), Tensor(unbroadcast(g * a.data, b.shape))
""",
    "mytorch/nn/functional.py::Div.forward": """
ctx.save_for_backward(a, b)
return Tensor(a.data / b.data)
""",
    "mytorch/nn/functional.py::Div.backward": """
a, b = ctx.saved_tensors
g = grad_output.data
grad_a = g / b.data
grad_b = -g * a.data / (b.data * b.data)
return Tensor(unbroadcast(grad_a, a.shape)), Tensor(unbroadcast(grad_b, b.shape))
""",
    "mytorch/tensor.py::Tensor.__sub__": """
return F.Sub.apply(self, _operand(other, self, "-"))
""",
    "mytorch/tensor.py::Tensor.__mul__": """
return F.Mul.apply(self, _operand(other, self, "*"))
""",
    "mytorch/tensor.py::Tensor.__truediv__": """
return F.Div.apply(self, _operand(other, self, "/"))
""",
    # ---------------------------------------------------------------- Part 1.2
    "mytorch/autograd_engine.py::Function.apply": """
for arg in args:
    if not isinstance(arg, Tensor):
        continue
    if arg.requires_grad and arg.is_leaf:
        backward_function.next_functions.append(AccumulateGrad(arg))
    elif arg.requires_grad:
        backward_function.next_functions.append(arg.grad_fn)
    else:
        backward_function.next_functions.append(None)
if any(isinstance(arg, Tensor) and arg.requires_grad for arg in args):
    output.requires_grad = True
    output.is_leaf = False
    output.grad_fn = backward_function
""",
    "mytorch/tensor.py::Tensor.backward": """
node = self.grad_fn if self.grad_fn is not None else autograd_engine.AccumulateGrad(self)
autograd_engine.backward(node, Tensor(np.ones(self.shape)))
""",
    "mytorch/autograd_engine.py::backward": """
if grad_fn is None:  # a constant: nothing to do
    return
if isinstance(grad_fn, AccumulateGrad):  # a leaf: store (accumulate), no parents
    grad_fn.apply(grad_of_outputs)
    return
grads = grad_fn.apply(grad_of_outputs)
for parent, grad in zip(grad_fn.next_functions, grads):
    if parent is not None and grad is not None:
        backward(parent, grad)
""",
    # ------------------------------------------------- elementary operations for Part 2
    "mytorch/nn/functional.py::unbroadcast": """
while grad.ndim > len(shape):  # axes broadcasting added in front
    grad = grad.sum(axis=0)
for axis, size in enumerate(shape):  # axes of length 1 that were stretched
    if size == 1 and grad.shape[axis] != 1:
        grad = grad.sum(axis=axis, keepdims=True)
return grad
""",
    "mytorch/nn/functional.py::MatMul.forward": """
ctx.save_for_backward(a, b)
return Tensor(a.data @ b.data)
""",
    "mytorch/nn/functional.py::MatMul.backward": """
a, b = ctx.saved_tensors
g = grad_output.data
return Tensor(g @ b.data.T), Tensor(a.data.T @ g)
""",
    "mytorch/nn/functional.py::Sum.forward": """
ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
return Tensor(np.sum(a.data, axis=axis, keepdims=keepdims))
""",
    "mytorch/nn/functional.py::Sum.backward": """
g = grad_output.data
if ctx.axis is not None and not ctx.keepdims:
    g = np.expand_dims(g, ctx.axis)
return (Tensor(np.broadcast_to(g, ctx.shape).copy()),)
""",
    "mytorch/nn/functional.py::Pow.forward": """
ctx.save_for_backward(a)
ctx.exponent = exponent
return Tensor(a.data ** exponent)
""",
    "mytorch/nn/functional.py::Pow.backward": """
(a,) = ctx.saved_tensors
p = ctx.exponent
return (Tensor(grad_output.data * p * a.data ** (p - 1)),)
""",
    "mytorch/nn/functional.py::Exp.forward": """
ctx.out = np.exp(a.data)
return Tensor(ctx.out)
""",
    "mytorch/nn/functional.py::Exp.backward": """
return (Tensor(grad_output.data * ctx.out),)
""",
    "mytorch/nn/functional.py::Neg.forward": """
return Tensor(-a.data)
""",
    "mytorch/nn/functional.py::Neg.backward": """
return (Tensor(-grad_output.data),)
""",
    # ---------------------------------------------------------------- Part 2
    "mytorch/nn/sequential.py::Sequential.forward": """
for layer in self.layers:
    x = layer(x)
return x
""",
    "mytorch/nn/linear.py::Linear.forward": """
return x @ self.weight.T() + self.bias
""",
    "mytorch/nn/functional.py::ReLU.forward": """
ctx.save_for_backward(a)
return Tensor(np.maximum(a.data, 0))
""",
    "mytorch/nn/functional.py::ReLU.backward": """
(a,) = ctx.saved_tensors
return (Tensor(grad_output.data * (a.data > 0)),)
""",
    "mytorch/nn/activations.py::ReLU.forward": """
return F.ReLU.apply(x)
""",
    "mytorch/optim/sgd.py::SGD.step": """
velocity *= self.momentum
velocity -= self.lr * param.grad.data
param.data += velocity
""",
    "mytorch/nn/batchnorm.py::BatchNorm1d.forward": """
if self.is_train:
    m = x.shape[0]
    mean = x.sum(axis=0) / m                          # eq. 3
    centered = x - mean
    var = (centered * centered).sum(axis=0) / m       # eq. 4, biased: normalises the batch
    x_hat = centered / (var + self.eps) ** 0.5        # eq. 5
    unbiased = var.data * m / (m - 1)                 # eq. 7, for the running estimate
    a = 1 - self.momentum                             # the handout's alpha
    self.running_mean.data = a * self.running_mean.data + self.momentum * mean.data
    self.running_var.data = a * self.running_var.data + self.momentum * unbiased
else:
    x_hat = (x - self.running_mean) / (self.running_var + self.eps) ** 0.5
return self.gamma * x_hat + self.beta                 # eq. 6
""",
    "mytorch/nn/functional.py::cross_entropy": """
batch, classes = predicted.shape
# LogSumExp trick (Appendix B.1): the row maxima are a constant shift.
row_max = Tensor(predicted.data.max(axis=1, keepdims=True))
shifted = predicted - row_max
log_sum_exp = shifted.exp().sum(axis=1, keepdims=True).log()
log_softmax = shifted - log_sum_exp
one_hot = Tensor(np.eye(classes)[labels])
return -(log_softmax * one_hot).sum() / batch
""",
    # ---------------------------------------------------------------- Part 3
    "hw1/mnist.py::mnist": """
model = Sequential(Linear(784, 20), BatchNorm1d(20), ReLU(), Linear(20, 10))
criterion = CrossEntropyLoss()
optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
return train(model, optimizer, criterion, train_x, train_y, val_x, val_y, progress=progress)
""",
    "hw1/mnist.py::train": """
val_accuracies = []
for epoch in range(num_epochs):
    order = np.random.permutation(len(train_x))
    num_batches = (len(order) + BATCH_SIZE - 1) // BATCH_SIZE
    for i in range(num_batches):
        rows = order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
        model.train()
        optimizer.zero_grad()
        loss = criterion(model(Tensor(train_x[rows])), Tensor(train_y[rows]))
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(epoch=epoch + 1, num_epochs=num_epochs, batch=i + 1,
                     num_batches=num_batches, loss=float(loss.data))
        if i % 100 == 0:
            val_accuracies.append(validate(model, val_x, val_y))
return val_accuracies
""",
    "hw1/mnist.py::validate": """
model.eval()
num_correct = 0
with no_grad():
    for start in range(0, len(val_x), BATCH_SIZE):
        out = model(Tensor(val_x[start:start + BATCH_SIZE]))
        batch_preds = np.argmax(out.data, axis=1)
        num_correct += int((batch_preds == val_y[start:start + BATCH_SIZE]).sum())
return num_correct / len(val_x)
""",
}

# Tensor.backward word for word from the handout (§0.1.5 Step 1): the gradient of
# the tensor w.r.t. itself, handed to the engine with the tensor's own node.
# On a leaf no operation has used, grad_fn is None and the DFS returns at once.
_FAITHFUL_BACKWARD = """
autograd_engine.backward(self.grad_fn, Tensor.ones(self.shape))
"""

VARIANTS = {
    # Appendix A: "during Function.apply(), we're creating and storing these
    # nodes in (Tensor.grad_fn)": a leaf keeps its AccumulateGrad in grad_fn.
    "stored-leaf-nodes": {
        "mytorch/autograd_engine.py::Function.apply": """
for arg in args:
    if not isinstance(arg, Tensor):
        continue
    if arg.requires_grad and arg.is_leaf:
        if arg.grad_fn is None:
            arg.grad_fn = AccumulateGrad(arg)
        backward_function.next_functions.append(arg.grad_fn)
    elif arg.requires_grad:
        backward_function.next_functions.append(arg.grad_fn)
    else:
        backward_function.next_functions.append(None)
if any(isinstance(arg, Tensor) and arg.requires_grad for arg in args):
    output.requires_grad = True
    output.is_leaf = False
    output.grad_fn = backward_function
""",
        "mytorch/tensor.py::Tensor.backward": """
if self.grad_fn is None:  # a leaf no operation has used yet
    self.grad_fn = autograd_engine.AccumulateGrad(self)
autograd_engine.backward(self.grad_fn, Tensor(np.ones(self.shape)))
""",
    },
    # The handout's Tensor.backward and DFS, each leaf's node made anew by every operation.
    "faithful-backward": {"mytorch/tensor.py::Tensor.backward": _FAITHFUL_BACKWARD},
}
# The handout's Tensor.backward with Appendix A's stored leaf nodes.
VARIANTS["faithful-backward-stored-leaf-nodes"] = dict(
    VARIANTS["stored-leaf-nodes"], **{"mytorch/tensor.py::Tensor.backward": _FAITHFUL_BACKWARD})

# The regions of Part 1.1 only: a kit with just these filled in (fill.py --only 1.1).
PART_1_1 = tuple(key for key in REGIONS
                 if key.split("::")[1].split(".")[0] in ("Sub", "Mul", "Div")
                 or key.endswith(("Tensor.__sub__", "Tensor.__mul__", "Tensor.__truediv__")))

# Part 1 (1.1 and 1.2): a kit with only these filled in (fill.py --only 1).
PART_1 = PART_1_1 + ("mytorch/autograd_engine.py::Function.apply", "mytorch/tensor.py::Tensor.backward",
                     "mytorch/autograd_engine.py::backward")
