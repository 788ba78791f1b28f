"""`gradcheck`: compare analytical gradients with central finite differences (float64)."""
import warnings

import numpy as np

from ..tensor import Tensor
from ..creation import empty, from_numpy
from ..dtypes import float64
from .api import grad


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when a gradient does not match (raise_exception=True)."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def numerical_jacobian(fn, inputs, eps=1e-6):
    """One array per (output, input): shape out.numel() x inp.numel().  Evaluated with grad
    mode on: `fn` may itself differentiate (gradgradcheck's vjp does)."""
    base = _outputs(fn, inputs)
    jac = [[np.zeros((o.numel(), x.numel())) for x in inputs] for o in base]
    for j, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        # indexed in place: reshape(-1) of a non-contiguous input would perturb a copy
        arr = x._materialize()
        for k, at in enumerate(np.ndindex(arr.shape)):
            orig = arr[at]
            arr[at] = orig + eps
            x._lserial = 0  # changed in place: the next use records the new value
            plus = [o._array().astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            arr[at] = orig - eps
            x._lserial = 0
            minus = [o._array().astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            arr[at] = orig
            x._lserial = 0
            for i in range(len(base)):
                jac[i][j][:, k] = (plus[i] - minus[i]) / (2 * eps)
    return jac


def analytical_jacobian(fn, inputs):
    outs = _outputs(fn, inputs)
    diff = [x for x in inputs if x.requires_grad]
    jac = [[np.zeros((o.numel(), x.numel())) for x in inputs] for o in outs]
    for i, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            seed = np.zeros(o.numel())
            seed[r] = 1.0
            gs = grad(o, diff, grad_outputs=from_numpy(seed.reshape(o.shape).astype(o.dtype.np)),
                      retain_graph=True, allow_unused=True)
            it = iter(gs)
            for j, x in enumerate(inputs):
                if x.requires_grad:
                    g = next(it)
                    if g is not None:
                        jac[i][j][r, :] = g._array().reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """True when analytical and numerical Jacobians agree (inputs should be float64)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_inputs(inputs)
    num = numerical_jacobian(func, inputs, eps)
    ana = analytical_jacobian(func, inputs)
    for i, (nrow, arow) in enumerate(zip(num, ana)):
        for j, (n, a) in enumerate(zip(nrow, arow)):
            if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=True):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {i} with respect to input {j},\n"
                        f"numerical:{from_numpy(n)}\nanalytical:{from_numpy(a)}\n")
                return False
    return True


def _check_inputs(inputs):
    """torch's checks of gradcheck's inputs: one must require grad; a warning for each that
    does and is not double precision (finite differences at eps=1e-6 need it)."""
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    if not any(x.requires_grad for x in tensors):
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for k, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype.itemsize < 8:
            warnings.warn(f"Input #{k} requires gradient and is not a double precision floating "
                          f"point or complex. This check will likely fail if all the inputs are "
                          f"not of double precision floating point or complex. ", stacklevel=3)


def _random_grad_output(o):
    """gradgradcheck's grad_output for output o, as torch's: uniform in [-1, 1) from the
    global generator (testing.make_tensor's draw), for the outputs that require grad only
    (the others get zeros, which their vjp ignores)."""
    t = empty(o.shape, dtype=o.dtype if o.dtype.is_floating_point else float64)
    if o.requires_grad:
        t.uniform_(-1.0, 1.0)
    else:
        t.zero_()
    return t.requires_grad_()


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_):
    """Check second derivatives: gradcheck of the function that maps (inputs, grad_outputs) to
    the vector-Jacobian product of `func`, computed with create_graph=True (as torch does)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = tuple(_random_grad_output(o) for o in outs)
    grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)
    n = len(inputs)

    def vjp(*args):
        xs, vs = args[:n], args[n:]
        diff = [x for x in xs if x.requires_grad]
        pairs = [(o, v) for o, v in zip(_outputs(func, xs), vs) if o.requires_grad]
        if not pairs:  # func does not depend on its inputs: all derivatives are zero
            return tuple(x.detach() * 0.0 for x in diff)
        gs = grad([o for o, _ in pairs], diff, grad_outputs=[v for _, v in pairs],
                  create_graph=True, allow_unused=True, materialize_grads=True)
        return tuple(gs)

    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
