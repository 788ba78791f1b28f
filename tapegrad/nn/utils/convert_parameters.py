"""`parameters_to_vector` / `vector_to_parameters`: all parameters as one flat vector and
back (as torch's: the vector is differentiable; writing back replaces each `.data`)."""
from ...tensor import Tensor
from ...views import cat


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated into one vector (CatBackward0)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Slice `vec` into the parameters' shapes and make those slices their data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    k = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[k:k + n].view_as(p).data
        k += n
