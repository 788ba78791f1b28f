"""`parameters_to_vector` / `vector_to_parameters`: all parameters as one flat vector and
back (as torch's: the vector is differentiable; writing back replaces each `.data`)."""
from ..._signals import COMMIT
from ...namespace import typename
from ...tensor import Tensor
from ...views import cat


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated into one vector (CatBackward0).  Each is
    flattened with view(-1), as torch's: a parameter whose strides no flat view can
    describe (e.g. a transpose) raises."""
    vec = []
    for param in parameters:
        _check_param_device(param)
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Slice `vec` into the parameters' shapes and make those slices their data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {typename(vec)}")
    k = 0
    slices = []     # (all made first: a short vec changes no parameter, torch sets the first)
    for p in parameters:
        _check_param_device(p)
        n = p.numel()
        slices.append((p, vec[k:k + n].view_as(p).data))
        k += n
    with COMMIT:    # (nor does a Ctrl-C)
        for p, data in slices:
            p.data = data


def _check_param_device(param):
    """torch's _check_param_device: every parameter on one device.  All are on the CPU here;
    reading `.device` is its first use of the parameter (a non-tensor raises there)."""
    param.device
