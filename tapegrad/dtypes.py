"""dtypes (`tapegrad.float32` ...) and PyTorch's type promotion."""
import numpy as np

from . import _format


class dtype:
    """A tensor element type, as `torch.dtype` (`tapegrad.float32`, ...)."""
    __slots__ = ("name", "np", "is_floating_point", "itemsize", "_rank", "is_complex", "is_signed",
                 "legacy")

    def __init__(self, name, npdt, floating, rank, legacy):
        self.name = name
        self.legacy = legacy  # torch's scalar-type name: FloatTensor, "result type Float ..."
        self.np = np.dtype(npdt)
        self.is_floating_point = floating
        self.is_complex = False
        self.is_signed = name != "bool"
        self.itemsize = self.np.itemsize
        self._rank = rank  # kind category for promotion: 0 bool, 1 int, 2 float

    def __repr__(self):
        return "tapegrad." + self.name

    def __reduce__(self):
        # pickled as this module's global of that name (bool's is bool_: `bool` is the builtin)
        return "bool_" if self.name == "bool" else self.name


bool_ = dtype("bool", np.bool_, False, 0, "Bool")
int64 = dtype("int64", np.int64, False, 1, "Long")
int32 = dtype("int32", np.int32, False, 1, "Int")
float32 = dtype("float32", np.float32, True, 2, "Float")
float64 = dtype("float64", np.float64, True, 2, "Double")
ALL = (bool_, int32, int64, float32, float64)
BY_NP = {d.np: d for d in ALL}

_default = [float32]


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d):
    """Set the floating dtype used for Python floats (float32 or float64)."""
    if d not in (float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d
    _format._default_dtype_name = d.name


def from_numpy_dtype(npdt):
    d = BY_NP.get(np.dtype(npdt))
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type numpy.{np.dtype(npdt).name}. The only "
                        "supported types are: float64, float32, int64, int32 and bool.")
    return d


def _promote_same_category(x, y):
    if x is y:
        return x
    if x._rank != y._rank:
        return x if x._rank > y._rank else y
    return x if x.itemsize >= y.itemsize else y


def scalar_dtype(v):
    if isinstance(v, bool):
        return bool_
    if isinstance(v, int):
        return int64
    return get_default_dtype()


def result_type(a, b):
    """PyTorch's promotion of two operands, each (dtype, category) with category
    2 = tensor with dims, 1 = zero-dim tensor, 0 = Python number."""
    (da, ca), (db, cb) = a, b
    if ca == cb:
        if ca == 0:
            r = _promote_same_category(da, db)
            return get_default_dtype() if r._rank == 2 else r
        return _promote_same_category(da, db)
    hi, lo = ((da, ca), (db, cb)) if ca > cb else ((db, cb), (da, ca))
    if lo[0]._rank > hi[0]._rank:
        # a lower category wins only by a higher kind; a Python float takes the default dtype
        return get_default_dtype() if lo[1] == 0 and lo[0]._rank == 2 else lo[0]
    return hi[0]
