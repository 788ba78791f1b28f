"""tapegrad: PyTorch-compatible reverse-mode autograd on a flat tape swept by Numba kernels.

`import tapegrad as torch` runs torch.autograd-style code.  Where things live:
  tensor.py    the Tensor class (ndops.py, views.py, ...: the n-d ops; docs/design.md)
  tape.py      the tape and buffer lifetimes
  ops.py       the op table (one declaration per op)     _kernels.py  Numba sweep (generated)
  engine.py    backward / grad entry points              grad_mode.py no_grad & co
  autograd/    Variable, backward, grad, functional      errors.py    PyTorch's messages
  viz.py       to_dot: graph pictures (torchviz's look)  summary.py   tape_summary()
"""
import builtins

from .dtypes import (dtype, float32, float64, int64, int32, int16, int8, uint8,
                     get_default_dtype, set_default_dtype,
                     promote_types, can_cast, finfo, iinfo)
from .dtypes import torch_result_type as result_type
from .dtypes import bool_ as bool  # noqa: A001  (torch.bool)
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .grad_mode import inference_mode, is_inference_mode_enabled
from .anomaly import is_anomaly_enabled, is_anomaly_check_nan_enabled, set_anomaly_enabled
from .tensor import Tensor, Size
from .creation import (tensor, as_tensor, asarray, scalar_tensor, from_numpy, zeros, ones, empty, full, zeros_like,
                       ones_like, empty_like, full_like, arange, linspace, eye, logspace,
                       tril_indices, triu_indices, empty_strided, empty_permuted, frombuffer)
from .creation import torch_range as range  # noqa: A004  (torch.range)
from .inplace_forms import *  # noqa: E402,F401,F403  (torch.sin_(x) & co)
from .windows import (hann_window, hamming_window, blackman_window, bartlett_window,  # noqa: E402
                      kaiser_window)
from .random import (rand, randn, rand_like, randn_like, manual_seed, seed, Generator,
                     default_generator, initial_seed, get_rng_state, set_rng_state, randint,
                     randint_like, randperm, multinomial)
from .draw_nodes import normal, bernoulli
from .samplers import poisson, binomial, _standard_gamma, _sample_dirichlet
from .devices import device, set_default_device, get_default_device
from .namespace import (FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor, pi, e,
                        inf, nan, ShortTensor, CharTensor, ByteTensor, set_default_tensor_type)
from .layouts import (layout, strided, memory_format, contiguous_format, preserve_format,
                      channels_last, channels_last_3d)
from .settings import (set_num_threads, get_num_threads, set_num_interop_threads,
                       get_num_interop_threads, use_deterministic_algorithms,
                       are_deterministic_algorithms_enabled,
                       is_deterministic_algorithms_warn_only_enabled,
                       set_deterministic_debug_mode, get_deterministic_debug_mode,
                       set_flush_denormal)
from . import accelerator, backends, cpu, cuda, distributed, func, multiprocessing, nn
from .mapping import vmap   # torch.vmap = torch.func.vmap (engineer surface12)
from .views import as_strided, cat, split, stack
from .structops import vstack as row_stack
from .ndops import matmul, bmm, where
from .ndops import atan2, hypot, logsumexp, softmax, log_softmax
from .ndops import arctan2
from . import inplace, tensor_methods  # noqa: F401  (they add Tensor's methods)
from . import node_api  # noqa: F401  (adds grad_fn's _saved_* fields and calls)
from . import arith  # noqa: F401  (add/sub with alpha; before the module functions)
from .arith import rsub
# structural / indexing / sort ops (#11, opsstruct); where(cond) alone is nonzero(as_tuple)
from . import structops  # noqa: F401  (adds Tensor's methods)
from .structops import (sort, argsort, msort, topk, kthvalue, median, flip, roll, repeat_interleave,
                        tile, index_select, gather, take, masked_select, diagonal, diag,
                        diag_embed, diagflat, trace, tril, triu, masked_fill, index_fill,
                        scatter_add, index_add, index_copy, nonzero, hstack, vstack, narrow,
                        movedim, unflatten, fliplr, flipud, block_diag, narrow_copy)
from .structops import moveaxis, where_ as where  # noqa: F811
from .products import addmm, outer, ger, tensordot, kron, cross, einsum, inner
from .products import addmv, addmv_, addr, baddbmm, addbmm
from .scans import cummax, cummin, logcumsumexp
from .view_scatter import select_scatter, slice_scatter, diagonal_scatter, as_strided_scatter
from .integration import trapezoid, trapz, cumulative_trapezoid
from .distances import cdist
from .stft import stft, istft  # noqa: E402  (torch.stft: the real form; no complex dtypes)
from . import linalg  # noqa: E402  (torch.linalg)
from .composed import (absolute, swapaxes, swapdims, concat, concatenate,  # noqa: E402
                       atleast_1d, atleast_2d, atleast_3d, broadcast_to,
                       broadcast_tensors, broadcast_shapes, select, tensor_split, hsplit,
                       vsplit, dsplit, take_along_dim, diff, matrix_power, positive,
                       float_power, signbit, is_floating_point, is_signed, is_inference,
                       is_complex, is_distributed, is_storage,
                       is_nonzero, is_same_size,
                       ravel, column_stack, dstack, meshgrid, cartesian_prod, combinations, gradient,
                       vander, real, imag, conj, conj_physical, resolve_conj, resolve_neg,
                       is_conj, is_neg, polar, complex, view_as_complex, view_as_real)
from .correlation import cov, corrcoef  # noqa: E402
from .searching import (isin, bucketize, searchsorted, argwhere, bincount, histc, histogram,  # noqa: E402
                        histogramdd,
                        unravel_index, gcd, lcm, isreal, unique, unique_consecutive)
from .floordiv import floor_divide  # noqa: E402
from .orderstats import (quantile, nanquantile, nanmedian, mode, rot90,  # noqa: E402
                         pdist)
from .nn_toplevel import (cosine_similarity, pairwise_distance, dropout,  # noqa: E402
                          dropout_, alpha_dropout, alpha_dropout_, feature_dropout,
                          feature_dropout_, feature_alpha_dropout, feature_alpha_dropout_,
                          selu, selu_, celu, celu_, threshold, threshold_, relu_, conv1d,
                          conv_tbc, convolution,
                          conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                          pixel_shuffle, pixel_unshuffle, channel_shuffle, prelu, hardshrink,
                          bilinear, avg_pool1d, adaptive_avg_pool1d, max_pool1d, max_pool2d,
                          max_pool3d, layer_norm, group_norm, embedding, embedding_renorm_,
                          constant_pad_nd,
                          kl_div, cosine_embedding_loss, hinge_embedding_loss,
                          margin_ranking_loss, poisson_nll_loss, triplet_margin_loss,
                          binary_cross_entropy_with_logits, ctc_loss, batch_norm, instance_norm,
                          rms_norm, adaptive_max_pool1d, max_pool1d_with_indices,
                          norm_except_dim, frobenius_norm, nuclear_norm, grid_sampler,
                          grid_sampler_2d, grid_sampler_3d, native_layer_norm,
                          native_batch_norm, native_group_norm, native_dropout, rrelu, rrelu_,
                          embedding_bag, nonzero_static, rnn_tanh_cell, rnn_relu_cell,
                          gru_cell, lstm_cell, rnn_tanh, rnn_relu, gru, lstm)
from .namespace import (alias_copy, diagonal_copy, expand_copy, permute_copy,  # noqa: E402
                        select_copy, slice_copy, squeeze_copy, t_copy, transpose_copy,
                        unfold_copy, unsqueeze_copy, view_copy, split_copy,
                        split_with_sizes_copy, unbind_copy, fill, put, index_put_, adjoint,
                        get_device, typename, newaxis, get_float32_matmul_precision,
                        set_float32_matmul_precision, solve, lstsq, eig, symeig,
                        matrix_rank)
from .errors import set_warn_always, is_warn_always_enabled, type_name as _type_name  # noqa: E402
from .native_args import (arg_error as _arg_error, given as _given,  # noqa: E402
                          missing_input as _missing_input, MISSING as _MISSING,
                          renamed as _renamed, as_native as _as_native,
                          missing_first as _missing_first)
from . import out_arg as _out_arg  # noqa: E402  (torch's out= keyword)
from .numpy_names import rename as _numpy_rename  # noqa: E402  (axis=, keepdims=)
from .numpy_names import operand_renamed as _operand_renamed  # noqa: E402  (x=, x2=)
from .numpy_names import function_params as _function_params  # noqa: E402
# (torch's top-level linear algebra, named torch_* in linalg.py: torch.linalg has none of them)
from .linalg import torch_det as det, torch_inverse as inverse, torch_logdet as logdet  # noqa: E402
from .linalg import torch_orgqr as orgqr, torch_slogdet as slogdet  # noqa: E402
from .linalg import torch_geqrf as geqrf, torch_ormqr as ormqr  # noqa: E402  (LAPACK's QR, its Q)
from .linalg import (torch_svd as svd, torch_cholesky as cholesky,  # noqa: E402
                     torch_pinverse as pinverse, torch_matrix_exp as matrix_exp, torch_qr as qr,
                     torch_chain_matmul as chain_matmul,
                     torch_triangular_solve as triangular_solve,
                     torch_cholesky_solve as cholesky_solve,
                     torch_cholesky_inverse as cholesky_inverse, torch_lu as lu,
                     torch_lu_unpack as lu_unpack, torch_lu_solve as lu_solve)
from .composed import linalg_matrix_power as _linalg_matrix_power  # noqa: E402
from . import _native_names  # noqa: E402
linalg.matrix_power = _linalg_matrix_power   # (composed.py is above linalg)
_linalg_matrix_power.__module__ = _native_names.__name__   # (as linalg's others: for pickle)
from .lowrank import svd_lowrank, pca_lowrank  # noqa: E402
from . import autograd, return_types
from .replay import (record, load_tape, Recorded, BranchChanged, TracingError,
                     TapeFormatError)
from .compiler import compile                                         # noqa: A004
from . import jit                          # torch.jit: is_scripting, ignore, unused ...
from . import profiler                     # torch.profiler: record_function labels
from ._format import set_printoptions
from . import viz                        # to_dot: pictures of the backward graph
from .summary import tape_summary
from . import optim                      # optimizers and lr schedulers (engineer optim, #12)
from . import amp                        # torch.amp: autocast, GradScaler
from .amp import (autocast, is_autocast_enabled, get_autocast_dtype,
                  is_autocast_cache_enabled, GradScaler)
from . import utils                      # torch.utils.checkpoint, torch.utils.data
from .utils.dlpack import from_dlpack  # noqa: E402
from . import quasirandom                # torch.quasirandom.SobolEngine

float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16
from . import version                    # torch.version: cuda None, as a CPU build
from .version import __version__


def _fn(name):
    method = getattr(Tensor, name)
    takes_out = name in _out_arg.OUT_NAMES
    numbers = name in arith.NUMBER_INPUT
    # (the method's parameters under the function's names, for numpy's aliases of them)
    params = _function_params(method, name)
    no_out = _out_arg.NO_OUT   # (an explicit out=None is given, to torch's parser)

    # (out= taken here, where torch gives it: no second wrapper frame on the hot path; from
    # the keywords, not as a parameter: torch's messages list it where the call gave it)
    def f(input=_MISSING, *args, **kwargs):
        given, out = kwargs, no_out
        if kwargs and "out" in kwargs:
            kwargs = dict(kwargs)
            out = kwargs.pop("out")
        if input is _MISSING and kwargs:   # (numpy's x= / a= / x1= for input; x2= for other)
            renamed = _operand_renamed(params, 0, kwargs)
            if renamed:
                return f(*args, **_out_arg.placed(renamed, given))
        if not isinstance(input, Tensor) and numbers and (args or "other" in kwargs):
            # (torch.add(2.0, y): a number as torch's parser wraps it, or as it was)
            input = arith.number_input(input, args[0] if args else kwargs["other"],
                                       "div" in name and kwargs.get("rounding_mode") is None)
        if not isinstance(input, Tensor):
            err = _arg_error(name, False, _given(input) + args, _out_arg.placed(kwargs, given))
            if err is None and input is _MISSING:
                err = _missing_input(name, method)
            raise err or TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, "
                                   f"not {_type_name(input)}")
        if out is not no_out:
            if kwargs:
                _numpy_rename(method, kwargs)
            if not takes_out:
                raise TypeError(f"{name}() got an unexpected keyword argument 'out'")
            given = _out_arg.placed(kwargs, given)   # (numpy's names renamed)
            if out is None:
                _out_arg.given_none(name, (input,) + args, given)
                return f(input, *args, **kwargs)
            try:
                return _out_arg.call(name, method, (input,) + args, kwargs, out, given)
            except TypeError:   # (the method's complaint, counted from its first argument:
                # torch's parser's, out= among the keywords; free unless raised)
                err = _arg_error(name, False, (input,) + args, given)
                if err is None:
                    raise
                raise err from None
        try:
            if kwargs:   # (the method as numpy_names wraps it: reshape(x, shape=), dim/axis)
                return getattr(Tensor, name)(input, *args, **kwargs)
            return method(input, *args)
        except TypeError as exc:   # (not `e`: the module's torch.e)
            renamed = kwargs and _operand_renamed(params, 1 + len(args), kwargs)
            if renamed:
                return f(input, *args, **_out_arg.placed(renamed, given))
            # (the method's own complaint names it and counts from its first argument: the
            # function's, where torch's parser refuses the arguments; free when none is raised;
            # the method's name where it is not the function's: an alias's target, or
            # "Tensor.split" of a method torch writes in Python)
            err = _arg_error(name, False, (input,) + args, kwargs) or _as_native(
                _missing_first(_renamed(exc, method.__qualname__, name), method,
                               (input,) + args, kwargs))
            if err is exc:
                raise
            raise err from None
    if name in _ONE_SIZE:
        spread = f

        def f(input=_MISSING, *args, **kwargs):
            if len(args) > 1:   # (the method's spread sizes: torch's function refuses them)
                raise _arg_error(name, False, (input,) + args, kwargs)
            return spread(input, *args, **kwargs)
    f._out_arg = takes_out
    f.__name__ = name
    f.__doc__ = f"tapegrad.{name}(input, ...) == input.{name}(...)"
    return f


# the functions whose sizes or dims are one argument, where their methods also take them
# spread (x.permute(1, 0), torch.permute(x, (1, 0)))
_ONE_SIZE = ("permute", "reshape", "squeeze", "count_nonzero")


for _name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg",
              "negative", "reciprocal", "square", "sum", "mean", "reshape", "transpose", "t",
              "unsqueeze", "squeeze", "flatten", "permute", "clone", "mm", "mv", "dot",
              "detach", "numel", "add", "sub", "mul", "div", "pow", "subtract", "multiply",
              "divide", "true_divide", "max", "min", "chunk", "unbind",
              "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk"):
    globals()[_name] = _fn(_name)


def pow(input, exponent):  # noqa: A001
    """input ** exponent; either may be a Python number."""
    if isinstance(input, Tensor):
        return input.pow(exponent)
    r = exponent.__rpow__(input)
    if r is NotImplemented:
        raise TypeError(f"pow(): argument 'self' (position 1) must be Number, not "
                        f"{_type_name(input)}")
    return r


def is_tensor(obj):
    """Whether obj is a tapegrad Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"numel(): argument 'input' (position 1) must be Tensor, not "
                        f"{_type_name(input)}")
    return input.numel()


# ---- #11 elementwise math, reductions, logical ops (tapegrad/mathops.py) ----
from . import mathops as _mathops  # noqa: E402
for _name, _f in _mathops.MODULE_FUNCTIONS.items():
    globals()[_name] = _f if _f is not None else _fn(_name)
del _name, _f
_remainder_of_tensor = globals()["remainder"]   # (the Tensor-first form, made above)


def remainder(input, other, *, out=_out_arg.NO_OUT):
    """input % other (the sign of other); input may be a Python number (torch's
    remainder.Scalar_Tensor)."""
    if out is _out_arg.NO_OUT and isinstance(input, (builtins.int, builtins.float)) and \
            isinstance(other, Tensor):
        return other.__rmod__(input)
    return _remainder_of_tensor(input, other, out=out)
from .paired import var_mean, std_mean, aminmax  # noqa: E402  (one node, two outputs)
from . import bitwise as _bitwise  # noqa: E402  (& | ^ ~ << >>, bitwise_*)
for _name, _f in _bitwise.MODULE_FUNCTIONS.items():
    globals()[_name] = _f
del _name, _f
from . import special  # noqa: E402  (torch.special)
from .special import (torch_xlogy as xlogy, torch_sinc as sinc,  # noqa: E402
                      torch_logit as logit, _mvlgamma as mvlgamma,
                      torch_igamma as igamma, torch_igammac as igammac)
from .scatter_reduce import scatter, scatter_reduce, index_reduce  # noqa: E402,F811
from .inplace_more import (nextafter, masked_scatter, index_put,  # noqa: E402
                           copysign)  # (and Tensor's t_, eq_, index_put_...)

from . import _methods_by_name  # noqa: E402,F401  (where pickle finds Tensor's methods)
from .native_args import name_as_torch as _name_as_torch  # noqa: E402
_name_as_torch(globals(), Tensor, _methods_by_name.__name__)  # before out_arg's wrappers
_out_arg.apply(globals())  # out= on the functions torch gives it (after every export)
from . import numpy_names as _numpy_names  # noqa: E402
_numpy_names.apply(globals(), Tensor)     # axis= / keepdims= as torch's parser takes them
# x= / a= / x1= for input, x2= for other (not on torch's functions written in Python)
_wrapped = {id(f): w for f, w in
            _numpy_names.apply_operand_names(globals(), top_level=True).items()}
for _name, _f in list(vars(nn.functional).items()):   # (F.pdist is torch.pdist, as torch's)
    if id(_f) in _wrapped:
        setattr(nn.functional, _name, _wrapped[id(_f)])
del _wrapped, _name, _f
from .tensor import read_only_as_torch as _read_only_as_torch  # noqa: E402
_read_only_as_torch(Tensor)   # (x.shape = ... refused in torch's words)

# Loaded on first use (as attributes, by import statements): distributions' 40 families,
# save/load (tapegrad/serialization.py), testing, signal, fft and utils.data (tapegrad/utils) are ~40
# modules that a program needs only when it uses them.  name -> (module, its attribute or
# None for the module)
_ON_FIRST_USE = {"distributions": ("distributions", None), "testing": ("testing", None),
                 "serialization": ("serialization", None), "save": ("serialization", "save"),
                 "load": ("serialization", "load"), "signal": ("signal", None),
                 "fft": ("fft", None), "__future__": ("__future__", None)}


# torch's dtypes tapegrad does not have: the AttributeError says so (no stand-in dtype)
_ABSENT_DTYPES = ("float16", "half", "bfloat16")
_ABSENT_COMPLEX = ("complex32", "chalf", "complex64", "cfloat", "complex128", "cdouble")


def __getattr__(name):
    place = _ON_FIRST_USE.get(name)
    if place is None:
        if name in _ABSENT_DTYPES:
            raise AttributeError(
                f"module {__name__!r} has no attribute {name!r}: tapegrad has no float16 or "
                "bfloat16 dtype (it computes in float32 and float64; drop autocast's dtype= "
                "argument, or pass enabled=False)")
        if name in _ABSENT_COMPLEX:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}: tapegrad has "
                                 "no complex dtypes (it computes in float32 and float64)")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    module = importlib.import_module(f"{__name__}.{place[0]}")
    return module if place[1] is None else getattr(module, place[1])


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))
