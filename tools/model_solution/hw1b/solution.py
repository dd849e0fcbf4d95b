"""A model student solution of the HW1 bonus, written the handout's way (staff only; never in a kit).

``REGIONS`` maps ``"path::Owner"`` (as ``tools/make_handout.py --homework 1b
--check`` names the regions) to the code a student writes there, unindented;
``fill.py --homework 1b`` puts it, together with HW1P1's model solution
(students bring their own HW1P1 code), into a fresh bonus kit.

The style is a student's: Adam's update is the course's five formulas on
NumPy arrays, one parameter at a time (the given loop around the region
counts each parameter's steps); Dropout draws its one mask with the
contract's ``np.random.binomial`` call and keeps it, scaled, for backward.
BatchNorm is HW1P1's region, filled by HW1P1's model solution.
"""

REGIONS = {
    # The given loop has set beta1, beta2 (self.betas), this parameter's m and v
    # (zeros at first) and its step count t (from 1).
    "mytorch/optim/adam.py::Adam.step": """
g = param.grad.data
m[:] = beta1 * m + (1 - beta1) * g
v[:] = beta2 * v + (1 - beta2) * g ** 2
m_hat = m / (1 - beta1 ** t)
v_hat = v / (1 - beta2 ** t)
param.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
""",
    "mytorch/nn/dropout.py::DropoutFunction.forward": """
mask = np.random.binomial(1, 1 - p, size=x.shape)
ctx.mask = mask / (1 - p)
return Tensor(x.data * ctx.mask)
""",
    "mytorch/nn/dropout.py::DropoutFunction.backward": """
return (Tensor(grad_output.data * ctx.mask),)
""",
}
