"""PyTorch's error and warning texts, in one place (tests compare against torch's)."""
import os
import re
import sys
import warnings

import numpy as np

from . import dtypes as D
from .ops import NO_FORWARD_AD

BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")
# an op of an undefined (None) tensor: torch's dist(p=0) backward negates norm_backward's
# undefined gradient of `other`
UNDEFINED_SELF = ("Expected a proper Tensor but got None (or an undefined Tensor in C++) for "
                  "argument #0 'self'")
NOT_FLOAT_CREATE = "Only Tensors of floating point and complex dtype can require gradients"
NOT_FLOAT_SET = "only Tensors of floating point and complex dtype can require gradients"
NOT_FLOAT_SET_ = "only Tensors of floating point dtype can require gradients"
REQUIRES_GRAD_IN_TRANSFORM = (
    "You are attempting to call Tensor.requires_grad_() (or perhaps using "
    "torch.autograd.functional.* APIs) inside of a function being transformed by a functorch "
    "transform. This is unsupported, please attempt to use the functorch transforms (e.g. "
    "grad, vjp, jacrev, jacfwd, hessian) or call requires_grad_() outside of a function being "
    "transformed instead.")
NON_LEAF_FLAG_ON = "you can only change requires_grad flags of leaf variables."
NON_LEAF_FLAG = NON_LEAF_FLAG_ON + (
    " If you want to use a computed variable in a subgraph that doesn't require differentiation "
    "use var_no_grad = var.detach().")
DETACH_VIEW = (
    "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel "
    "(DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP "
    "buckets, and hence detach_() cannot be called on these gradients. To fix this error, please "
    "refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
# torch's handle_view_on_rebase: an in-place change, with grad mode on, of a view made with
# grad mode off (or of a view made of one): the prefix is VIEW_MADE, or VIEW_OF_VIEW_MADE for
# inference tensors (made in an inference_mode block) used outside one
INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")
INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details.")
INFERENCE_REQUIRES_GRAD = ("Setting requires_grad=True on inference tensor outside "
                           "InferenceMode is not allowed.")
INFERENCE_VERSION = "Inference tensors do not track version counter."
# a view that has a grad_fn of its own
VIEW_MADE = "A view was created in"
VIEW_OF_VIEW_MADE = "Output {nr} of {name} is a view of a view which was created in"
NO_GRAD_VIEW_INPLACE = (
    "{prefix} no_grad mode and is being modified inplace with grad mode enabled. Given that "
    "this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't "
    "want the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
INFERENCE_VIEW_INPLACE = (
    "{prefix} inference mode and is being modified inplace in normal mode. Given that this use "
    "case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving "
    "both the view and the inplace either both inside the inference_mode block (if you don't "
    "want the inplace to be tracked) or both outside (if you want the inplace to be tracked).")
# an in-place change with grad mode on of a view made in grad mode by an op that returns
# several views (unbind, split, chunk; torch's CreationMeta MULTI_OUTPUT_NODE), or of a view
# of one: the prefix is MULTI_VIEW_OUTPUT where the view has a grad_fn, else MULTI_VIEW_NO_FN
MULTI_VIEW_OUTPUT = "Output {nr} of {name} is a view and is being modified inplace."
# (the prefix where such a view is used after its base, or another view of it, changed)
MULTI_VIEW_REBASED = ("Output {nr} of {name} is a view and its base or another view of its "
                      "base has been modified inplace.")
# (a view made with grad mode off, or a piece of a multi-output view op of a tensor without
# grad, used after its base changed in place with grad mode on: tape.INVALID_VIEWS)
NO_GRAD_VIEW_REBASED = ("A view was created in no_grad mode and its base or another view of its "
                        "base has been modified inplace with grad mode enabled.")
NO_GRAD_VIEW_FORBIDDEN = (
    " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked).")
MULTI_VIEW_NO_FN = ("A view was created in no_grad mode and is being modified inplace with grad "
                    "mode enabled.")
MULTI_OUTPUT_VIEW_INPLACE = (
    "{prefix} This view is the output of a function that returns multiple views. Such "
    "functions do not allow the output views to be modified inplace. You should replace the "
    "inplace operation by an out-of-place one.")
CUSTOM_FUNCTION_VIEW_INPLACE = (
    "{prefix} This view was created inside a custom Function (or because an input was returned "
    "as-is) and the autograd logic to handle view+inplace would override the custom backward "
    "associated with the custom Function, leading to incorrect gradients. This behavior is "
    "forbidden. You can fix this by cloning the output of the custom Function.")
# torch's assert_no_internal_overlap: an in-place write into a tensor whose elements share
# memory (an expand's view)
INTERNAL_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation.")
# torch's assert_no_partial_overlap / assert_no_overlap: an in-place write whose input shares
# memory with the written tensor (tapegrad/overlap.py)
PARTIAL_OVERLAP = (
    "unsupported operation: some elements of the input tensor and the written-to tensor refer "
    "to a single memory location. Please clone() the tensor before performing the operation.")
SEQUENCE_INDEX = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed "
    "in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error or "
    "a different result")
OVERLAP_ERROR = ("unsupported operation: more than one element of the written-to tensor refers "
                 "to a single memory location. Please clone() the tensor before performing the "
                 "operation.")
IMPLICIT_SCALAR = "grad can be implicitly created only for scalar outputs"
NO_GRAD_FN = "element {} of tensors does not require grad and does not have a grad_fn"
SHAPE_MISMATCH = ("Mismatch in shape: grad_output[{i}] has a shape of {g} and output[{j}] has a "
                  "shape of {o}.")
# (torch's message shows the gradient's shape past its first two dims: sic)
BATCHED_SHAPE_MISMATCH = (
    "If `is_grads_batched=True`, we interpret the first dimension of each grad_output as the "
    "batch dimension. The sizes of the remaining dimensions are expected to match the shape of "
    "corresponding output, but a mismatch was detected: grad_output[{i}] has a shape of {g} and "
    "output[{j}] has a shape of {o}. If you only want some tensors in `grad_output` to be "
    "considered batched, consider using vmap.")
GRAD_INPUT_NO_GRAD = "One of the differentiated Tensors does not require grad"


def no_forward_ad(op):
    """torch's error where forward AD (func.jvp, jacfwd, hessian) meets an op that has no
    forward derivative (igamma, special_zeta)."""
    return NotImplementedError(NO_FORWARD_AD.format(op))


UNUSED = ("The differentiated Tensor at index {} appears to not have been used in the graph. "
          "Set allow_unused=True if this is the desired behavior.")
NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")
DEEPCOPY_NON_LEAF = (
    "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at "
    "the moment.  If you were attempting to deepcopy a module, this may be because of a "
    "torch.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001")
LEAF_WILL_EXECUTE = ("A leaf node was passed to _will_engine_execute_node but we are currently "
                     "running autograd.grad(). This is currently not supported.")
CREATE_GRAPH_CYCLE = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
    "creating the graph to avoid this. If you have to use this function, make sure to reset the "
    ".grad fields of your parameters to None after use to break the cycle and avoid the leak.")
RETAIN_NO_GRAD = "can't retain_grad on Tensor that has requires_grad=False"
NUMPY_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
ITEM_MANY = "a Tensor with {} elements cannot be converted to Scalar"
VOLATILE = "volatile was removed and now has no effect. Use `with tapegrad.no_grad():` instead."


def short_node_name(name):
    """A node's name as torch's messages spell it: MulBackward0 -> Mul, SqueezeBackward1 ->
    Squeeze1."""
    return re.sub(r"Backward(\d*)$", lambda m: "" if m.group(1) in ("", "0") else m.group(1),
                  name)


def not_1d(op, a, b):
    """torch's RuntimeError for matmul / linear of a 0-d operand."""
    return RuntimeError(f"both arguments to {op} need to be at least 1D, but they are "
                        f"{a.dim()}D and {b.dim()}D")


def addmm_dtypes(input, mat1, mat2):
    """torch's RuntimeError for addmm (and linear with a bias) of operands whose dtypes
    differ (input checked against mat2 first, then mat1), or None."""
    for name, t in (("self", input), ("mat1", mat1)):
        if t.dtype is not mat2.dtype:
            return RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                                f"{t.dtype.legacy} and {mat2.dtype.legacy}")
    return None


def broadcast_mismatch(*shapes):
    """torch's message for shapes that do not broadcast (folded left to right, compared from
    the last dimension, as torch's infer_size), or None when they do."""
    cur = tuple(shapes[0])
    for s in shapes[1:]:
        s = tuple(s)
        nd = max(len(cur), len(s))
        a = (1,) * (nd - len(cur)) + cur
        b = (1,) * (nd - len(s)) + s
        for d in range(nd - 1, -1, -1):
            if a[d] != b[d] and a[d] != 1 and b[d] != 1:
                return (f"The size of tensor a ({a[d]}) must match the size of tensor b ({b[d]}) "
                        f"at non-singleton dimension {d}")
        cur = tuple(max(x, y) for x, y in zip(a, b))
    return None


T_NOT_2D = ("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
            "deprecated and it will throw an error in a future release. Consider `x.mT` to "
            "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to "
            "reverse the dimensions of a tensor.")
T_0D = "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."
# (torch's other transposes of a 0-d tensor: the identity, with a warning once)
TRANSPOSE_0D = {"mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity "
                      "in these cases.",
                "mH": "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
                "H": "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                "adjoint": "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."}
NEGATIVE_DIM = "Trying to create tensor with negative dimension {d}: [{shape}]"
ONE_ELEMENT = "only one element tensors can be converted to Python scalars"
# torch.tensor(t) / t.new_tensor(t) of a tensor t (torch warns every time)
COPY_CONSTRUCT = ("To copy construct from a tensor, it is recommended to use "
                  "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                  ".requires_grad_(True), rather than {}(sourceTensor).")
# float()/complex() of a tensor that requires grad, in grad mode (torch warns once)
SCALAR_OF_GRAD = ("Converting a tensor with requires_grad=True to a scalar may lead to "
                  "unexpected behavior.\nConsider using tensor.detach() first.")
EXPECTED_TENSOR = "{fn}(): argument '{arg}' (position {pos}) must be Tensor, not {got}"
DEVICE_STRING = ("Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, "
                 "fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type "
                 "at start of device string: {}")
GRAD_DTYPE = ("attempting to assign a gradient with dtype '{got}' to a tensor with grad_dtype "
              "'{want}'. The gradient must match the tensor's grad_dtype (defaults to the "
              "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific "
              "dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
              "dtypes of a tensor and its gradient may break downstream systems that assume they "
              "match.")

# torch's C++ argument parser, for a single argument of a type no overload takes
VIEW_ARGS = ("view() received an invalid combination of arguments - got ({got}), but expected "
             "one of:\n * (torch.dtype dtype)\n      didn't match because some of the arguments "
             "have invalid types: (!{got}!)\n * (tuple of ints size)\n      didn't match because "
             "some of the arguments have invalid types: (!{got}!)\n")
SUM_ARGS = ("sum() received an invalid combination of arguments - got ({got}), but expected one "
            "of:\n * (*, torch.dtype dtype = None)\n * (tuple of ints dim, bool keepdim = False, "
            "*, torch.dtype dtype = None)\n")


class TracingError(RuntimeError):
    """Strict recording refused to turn a traced value into a Python value."""


# An in-place change of a traced tensor that the recording tape has no entry for (tape.py,
# copyslices.py): torch changes the value and keeps the tensor's history
UNRECORDED_CHANGE = (
    "tapegrad.record: an in-place change of a traced tensor that the tape does not record "
    "(under no_grad or inference_mode, or through a detach()ed alias): a replay would not "
    "make it again; make it with grad mode on, on a clone, or outside the recorded function")


class NotAnOperand(TypeError):
    """An operand of an arithmetic op that is no tensor, number or array: Python's operators
    return NotImplemented for it (the other operand's method is tried then, as with torch's,
    which turn the TypeError of their arguments into NotImplemented); the methods raise."""


class InvalidBackend(RuntimeError):
    """`compile` was given a backend name torch.compile does not know (torch's
    `torch._dynamo.exc.InvalidBackend`)."""


# ---- error-message builders (moved from tensor.py) ------------------------------------
# C++ type names torch uses in some messages
_C_TYPE = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
           "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool",
           "uint16": "short unsigned int", "uint32": "unsigned int",
           "uint64": "long unsigned int"}


def subclass_not_supported(cls):
    """The error for an instance of a user's subclass of Tensor: torch's ops return instances
    of it (its __torch_function__), tapegrad's would return plain tensors."""
    return NotImplementedError(
        f"tapegrad: subclasses of Tensor ({cls.__name__}) are not supported: torch's ops "
        f"return {cls.__name__} instances (through __torch_function__), tapegrad's would "
        f"return plain tensors; keep a plain Tensor (or wrap one in an object of your own)")


def tensor_or_number(fname, other, name="other"):
    """torch's TypeError of a method taking `(Tensor other)` or `(Number other)`, given
    neither (`t.eq(obj)`, `t.pow(obj)`)."""
    got = type_name(other)
    why = f"      didn't match because some of the arguments have invalid types: (!{got}!)\n"
    return TypeError(f"{fname}() received an invalid combination of arguments - got ({got}), "
                     f"but expected one of:\n * (Tensor {name})\n{why} * (Number {name})\n{why}")


def type_name(v):
    """v's type as torch's "must be Tensor, not X" names it (CPython's tp_name): bare for
    builtins and classes defined in Python, with the module for C types ("numpy.ndarray")."""
    tp = type(v)
    if tp.__module__ == "builtins" or tp.__flags__ & _HEAP_TYPE:
        return tp.__name__
    return f"{tp.__module__}.{tp.__name__}"


_HEAP_TYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def arg_type_name(v):
    """A Python argument's type as torch's argument parser names it ("int", "numpy.bool",
    "Tensor", "torch.dtype")."""
    tp = type(v)
    top = tp.__module__.split(".")[0]
    if tp.__module__ == "builtins" or tp.__name__ == "Tensor" and top == "tapegrad":
        return tp.__name__
    if tp.__name__ == "Generator" and top == "tapegrad":   # (torch's is a C class, of torch._C)
        return "torch._C.Generator"
    # (torch's parser names its own classes torch.dtype, torch.device: as its signatures do)
    return f"{'torch' if top == 'tapegrad' else top}.{tp.__name__}"


def parser_arg_desc(v):
    """An argument as torch's parser describes it in its "invalid types" line: a list or
    tuple with its elements' types ("list of [int, str]", "tuple of (float, int)")."""
    if type(v) is list:
        return f"list of [{', '.join(arg_type_name(x) for x in v)}]"
    if type(v) is tuple:
        return f"tuple of ({', '.join(arg_type_name(x) for x in v)})"
    return arg_type_name(v)


_TO_SIGNATURES = "".join(
    f" * ({first}bool non_blocking = False, bool copy = False, *, torch.memory_format "
    f"memory_format = None)\n" for first in (
        "torch.device device = None, torch.dtype dtype = None, ", "torch.dtype dtype, ",
        "Tensor tensor, "))


def got_args(args, kwargs):
    """The arguments as torch's "invalid combination of arguments - got (...)" lists them:
    the keywords in torch's order (kwargs_order)."""
    got = ", ".join(arg_type_name(a) for a in args)
    kw = [f"{k}={arg_type_name(kwargs[k])}" for k in kwargs_order(kwargs)]
    if kw:
        got = f"{got}, {', '.join(kw)}" if got else "".join(f"{k}, " for k in kw)
    return got


_MASK = (1 << 64) - 1
_MUL = 0xc6a4a7935bd1e995


def _shift_mix(v):
    return v ^ (v >> 47)


def _std_hash(key):
    """libstdc++'s std::hash<std::string> of `key` (std::_Hash_bytes, 64-bit, its seed)."""
    b = key.encode()
    n, whole = len(b), len(b) & ~7
    h = 0xc70f6907 ^ (n * _MUL & _MASK)
    for i in range(0, whole, 8):
        h = (h ^ _shift_mix(int.from_bytes(b[i:i + 8], "little") * _MUL & _MASK) * _MUL
             & _MASK) * _MUL & _MASK
    if n & 7:
        h = (h ^ int.from_bytes(b[whole:], "little")) * _MUL & _MASK
    return _shift_mix(_shift_mix(h) * _MUL & _MASK)


# libstdc++'s bucket counts past its first, 13 (its __prime_list from there; a table grows to
# the first of them at least twice its count, on the insert that would pass one key a bucket)
_BUCKET_COUNTS = (
    13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109,
    113, 127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337,
    359, 383, 409, 439, 467, 503, 541, 577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193,
    1289, 1381, 1493, 1613, 1741, 1879, 2029, 2179, 2357, 2549, 2753, 2971, 3209, 3469, 3739,
    4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123, 8783, 9497, 10273, 11113, 12011,
    12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267, 28411, 30727, 33223)


def kwargs_order(kwargs):
    """The keywords of a call (in the order given) as torch's parser lists them in its
    messages: it keeps them in a std::unordered_map, whose libstdc++ iteration order this
    replays: one list, a key whose bucket has none going first, one whose bucket has keys
    first among them; 13 buckets up to 13 keys, then a rehash (29, 59, 127... buckets) that
    moves the keys, in the list's order, by the same rule."""
    hashes = {k: _std_hash(k) for k in kwargs}
    order, buckets, count = [], [], 13

    def insert(k):
        b = hashes[k] % count
        i = buckets.index(b) if b in buckets else 0
        order.insert(i, k)
        buckets.insert(i, b)

    for k in kwargs:
        if len(order) == count:   # (its load factor 1: the table grows before this insert)
            count = next(p for p in _BUCKET_COUNTS if p >= 2 * count)
            moved, order[:], buckets[:] = list(order), [], []
            for m in moved:
                insert(m)
        insert(k)
    return order


def to_args(args, kwargs):
    """torch's TypeError of Tensor.to / Module.to given arguments none of its signatures
    takes (a dtype= that is no dtype, a non_blocking= or copy= that is no bool)."""
    return TypeError(f"to() received an invalid combination of arguments - got "
                     f"({got_args(args, kwargs)}), but expected one of:\n{_TO_SIGNATURES}")


def mask_value_args(fname, value, function=False):
    """torch's TypeError of masked_fill(_) given a value that is no tensor or number (the
    method's, or with `function` torch.masked_fill's, which lists the input too)."""
    lead, arg = ("Tensor, ", "Tensor input, ") if function else ("", "")
    why = (f"      didn't match because some of the arguments have invalid types: "
           f"({lead}Tensor, !{parser_arg_desc(value)}!)\n")
    return TypeError(f"{fname}() received an invalid combination of arguments - got ({lead}"
                     f"Tensor, {arg_type_name(value)}), but expected one of:\n"
                     f" * ({arg}Tensor mask, Tensor value)\n{why}"
                     f" * ({arg}Tensor mask, Number value)\n{why}")


def _tname_legacy(t):
    return f"tapegrad.{t._dtype.legacy}Tensor"


def checked_type_name(dtype):
    """A tensor type as torch's argument checks and saved-tensor version check name it: its
    Python name (torch.FloatTensor), but a bool tensor CPUBoolType (the table of C++-to-Python
    names has no entry for bool)."""
    return "CPUBoolType" if dtype.legacy == "Bool" else f"tapegrad.{dtype.legacy}Tensor"


def _check_broadcast(*shapes):
    """Raise torch's error for operand shapes that do not broadcast (called where numpy
    failed, so the success path pays nothing; and where a Python number takes torch's order
    of checks, shapes first: a 0-d shape broadcasts against any, so only two distinct other
    shapes need broadcast_mismatch's fold, ~3 us of a where(c, x, 0.0))."""
    if len({s for s in shapes if len(s)}) > 1:
        msg = broadcast_mismatch(*shapes)
        if msg:
            raise RuntimeError(msg)


def scalar_text(v):
    """A number as torch's messages print a Scalar (C++'s stream: %g for a double)."""
    return str(v) if isinstance(v, int) else "%g" % v


def _cast_error(src, dst):
    """torch's error for an in-place result whose dtype cannot go into the tensor."""
    return RuntimeError(f"result type {src.legacy} can't be cast to the desired output type "
                        f"{dst.legacy}")


def check_promotion(x, other, true_divide=False):
    """torch's check of an in-place arithmetic op on a bool or integer tensor x, before any
    other: the broadcast shape must be x's, the promoted result type (of a true division: a floating one) must cast into x's
    dtype (bool_t += 2, int_t.add_(float64 tensor) raise, naming the result type)."""
    if isinstance(getattr(other, "dtype", None), D.dtype) and tuple(other.shape) != x.shape:
        # (torch checks the output's shape first: a 0-d x with an n-d other)
        try:
            shape = np.broadcast_shapes(x.shape, tuple(other.shape))
        except ValueError:
            shape = None    # (the op's own broadcast error)
        if shape is not None and shape != x.shape:
            raise _inplace_shape_error(x.shape, shape)
    if x._dtype.is_floating_point or not (
            isinstance(other, (bool, int, float)) or isinstance(getattr(other, "dtype", None),
                                                                D.dtype)):
        return
    D.check_uint64_operands(x, other)
    result = D.torch_result_type(x, other)
    if true_divide and not result.is_floating_point:
        result = D.get_default_dtype()
    if not D.can_cast(result, x._dtype):
        raise _cast_error(result, x._dtype)


def _inplace_shape_error(shape, broadcast):
    return RuntimeError(f"output with shape [{', '.join(map(str, shape))}] doesn't match the "
                        f"broadcast shape [{', '.join(map(str, broadcast))}]")


def _setitem_shape_error(value, target, dt, advanced):
    """torch's error when a value of shape `value` cannot fill x[key] of shape `target`."""
    if advanced:
        # (index_put_ expands the value to the indexed shape: broadcasting one way only)
        if len(value) <= len(target) and all(
                a == 1 or a == b for a, b in zip(value[::-1], target[::-1])):
            return None
        v, t = ", ".join(map(str, value)), ", ".join(map(str, target))
        return RuntimeError(f"shape mismatch: value tensor of shape [{v}] cannot be "
                            f"broadcast to indexing result of shape [{t}]")
    return expand_error(value, target, dt)


def expand_error(value, target, dt):
    """torch's error of expand(target) of a tensor of shape `value` and dtype dt, or None."""
    v, t = ", ".join(map(str, value)), ", ".join(map(str, target))
    if len(value) > len(target):
        return RuntimeError(f"expand(tapegrad.{dt.legacy}Tensor{{[{v}]}}, size=[{t}]): the number "
                            f"of sizes provided ({len(target)}) must be greater or equal to the "
                            f"number of dimensions in the tensor ({len(value)})")
    for i in range(1, len(value) + 1):
        if value[-i] != 1 and value[-i] != target[-i]:
            return RuntimeError(f"The expanded size of the tensor ({target[-i]}) must match the "
                                f"existing size ({value[-i]}) at non-singleton dimension "
                                f"{len(target) - i}.  Target sizes: [{t}].  Tensor sizes: [{v}]")
    return None


def bad_slice_step(step):
    """torch's error for a slice step it does not index with (a zero or negative one)."""
    return ValueError("slice step cannot be zero" if step == 0 else
                      "step must be greater than zero")


def _tname(dt):
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}[dt.name]


_WARNED = set()
_WARN_ALWAYS = [False]


def set_warn_always(b):
    """torch.set_warn_always: with True, warn_once's warnings are given every time."""
    if not isinstance(b, bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    _WARN_ALWAYS[0] = b


def is_warn_always_enabled():
    """torch.is_warn_always_enabled: whether set_warn_always(True) is in effect."""
    return _WARN_ALWAYS[0]


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel():
    """The warnings.warn stacklevel, for the function calling this, of the first frame outside
    tapegrad: torch's warnings point at the user's line, whatever wrappers (out=, decorators)
    tapegrad's own call went through."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn_once(message, key=None):
    """A UserWarning given once per process, as torch's TORCH_WARN_ONCE (pointing at the
    user's line); every time after set_warn_always(True).  `key`: one warning for all the
    messages of one call site (default: once per message)."""
    key = message if key is None else key
    if _WARN_ALWAYS[0] or key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())


def deprecated_overload(name, old, new):
    """torch's UserWarning for a deprecated signature its argument parser still takes
    (`add_(Number alpha, Tensor other)`): given once per process for all of them, as the
    parser's one TORCH_WARN_ONCE; every time after set_warn_always(True)."""
    if _WARN_ALWAYS[0] or _DEPRECATED_OVERLOAD not in _WARNED:
        _WARNED.add(_DEPRECATED_OVERLOAD)
        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}({old})\nConsider "
                      f"using one of the following signatures instead:\n\t{name}({new})",
                      UserWarning, stacklevel=user_stacklevel())


_DEPRECATED_OVERLOAD = object()


def tensor_scalar(name, arg, t):
    """Tensor `t` given for a Scalar parameter (alpha, value), as torch's parser reads one: a
    0-d tensor that does not require grad is its value (`.item()`: a tensor lr in an update
    `p.add_(g, alpha=-lr)`); any other tensor is a TypeError."""
    if t.dim() != 0 or t.requires_grad:
        raise TypeError(f"{name}(): argument '{arg}' must be Number, not Tensor")
    return t.item()


def alpha_first(name, alpha, other):
    """(other, alpha) of torch's deprecated `name(Number alpha, Tensor other)` (the caller
    has checked that `other` is a tensor), after its warning; an `alpha` that is not a
    number is a TypeError."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"{name}(): argument 'alpha' must be Number, not Tensor")
    deprecated_overload(name, "Number alpha, Tensor other", "Tensor other, *, Number alpha = 1")
    return other, alpha


def value_first(name, value, tensor1, tensor2):
    """(tensor1, tensor2, value) of torch's deprecated `name(Number value, Tensor tensor1,
    Tensor tensor2)` (addcmul, addcdiv; the caller has checked the tensors), after its
    warning; a `value` that is not a number is a TypeError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}(): argument 'value' must be Number, not "
                        f"{type(value).__name__}")
    deprecated_overload(name, "Number value, Tensor tensor1, Tensor tensor2",
                        "Tensor tensor1, Tensor tensor2, *, Number value = 1")
    return tensor1, tensor2, value


# ---- bool operands of `-` (torch's sub_check and neg's check) ---------------------------------
SUB_BOOL = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
SUB_TWO_BOOLS = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                 "the `^` or `logical_xor()` operator instead.")
NEG_BOOL = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead.")


def _is_bool(v):
    return isinstance(v, bool) or getattr(getattr(v, "_dtype", None), "name", None) == "bool"


def check_sub(x, y):
    """torch's sub_check: RuntimeError when an operand of a subtraction is a bool tensor or a
    Python bool (torch wraps it as one), before anything is computed."""
    bx, by = _is_bool(x), _is_bool(y)
    if bx or by:
        raise RuntimeError(SUB_TWO_BOOLS if bx and by else SUB_BOOL)
