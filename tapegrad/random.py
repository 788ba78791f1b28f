"""Random numbers as torch draws them on the CPU: `Generator` (torch's interface over torch's
mt19937 engine, tapegrad/mt19937.py), the default generator behind `manual_seed`/`seed`, and
the sampling functions `rand`, `randn`, `randint`, `normal`, `randperm` and the `_like` forms,
each taking `generator=` as torch.  The same seed gives torch's numbers: the draws consume the
engine as torch's CPU kernels do (uniform here, normal in normal_draws.py, integers,
permutations, Bernoulli masks and multinomial in discrete_draws.py, gamma, Poisson, binomial
and Dirichlet in gamma_draws.py)."""
import contextlib
import math
import os
import weakref

import numpy as np

from . import aligned, devices as _device, discrete_draws, dtypes as D, errors, layouts, \
    normal_draws
from .creation import _factory_options, _fast_options, _flag, _leaf, _pin_memory_arg
from .exact import fma32, fma64
from .mt19937 import MT19937, STATE_BYTES
from .native_args import arg_error, check_type, MISSING, overloads, parsed, takes, Unbound
from .tensor import _bool_arg, _int_arg, _int_list, _is_int_arg, _plain_size, _size_args, Tensor

# torch's seed of a new Generator (default_rng_seed_val); its default generator is seeded
# from the OS at start-up
DEFAULT_SEED = 67280421310721
_F32_DTYPE, _F64_DTYPE = np.dtype(np.float32), np.dtype(np.float64)


def _seed_value(seed, fn):
    """seed as torch's generators take it: an integer in [-2**63, 2**64) (negative ones
    wrapped to 64 bits)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise RuntimeError(f"{fn} expected a long, but got {type(seed).__name__}")
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed & ((1 << 64) - 1)


_LIVE = weakref.WeakSet()   # every Generator alive (draw_state)


class Generator:
    """A random number generator, as `torch.Generator`: `manual_seed(s)` (returns itself),
    `seed()`, `initial_seed()`, `get_state()`/`set_state()` (torch's 5056-byte state, so
    states move between torch and tapegrad).  A new generator starts at torch's default
    seed, 67280421310721."""
    __module__ = "tapegrad"

    def __init__(self, device="cpu"):
        self.device = _device.check(device)
        self._engine = MT19937(DEFAULT_SEED)
        _LIVE.add(self)

    def __repr__(self):
        return f"<tapegrad._C.Generator object at {id(self):#x}>"    # (torch's repr)

    def manual_seed(self, seed):
        self._engine.reseed(_seed_value(seed, "manual_seed"))
        return self

    def seed(self):
        """Re-seed from the OS's entropy; returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self._engine.reseed(seed)
        return seed

    def clone_state(self):
        """A new generator in this one's state (its seed too)."""
        twin = Generator()
        twin._engine = self._engine.copy()
        return twin

    def initial_seed(self):
        return self._engine.seed

    def get_offset(self):
        """A Philox generator's offset: torch's CPU generator (mt19937) refuses."""
        raise RuntimeError("CPU Generator does not use offset")

    def set_offset(self, offset):
        raise RuntimeError("CPU Generator does not use offset")

    def get_state(self):
        """The generator's state: torch's, a uint8 tensor of 5056 bytes (`set_state` restores
        it; torch's generators take it too)."""
        raw = np.frombuffer(self._engine.state_bytes(), np.uint8).copy()
        return _leaf(raw, D.uint8, False)

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not D.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = np.ascontiguousarray(new_state._array()).reshape(-1)
        if raw.size != STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_BYTES} but "
                               f"found the input RNG state size to be {raw.size}")
        self._engine.set_state_bytes(raw.tobytes())
        return self

    # -- draws, as torch's CPU kernels make them (n elements, in memory order) ------------------
    def _uniform(self, n, np_dtype, low=0.0, high=1.0):
        """torch's uniform_(low, high) of n elements: 24 random bits per float32 (one word),
        53 per float64 (random64), then x * (high - low) + low with one rounding."""
        eng = self._engine
        # (a Tensor dtype's `.np`, a builtin dtype, by identity: np.dtype() and == ~0.5 us)
        f64 = np_dtype is _F64_DTYPE or np_dtype is not _F32_DTYPE and \
            np.dtype(np_dtype) == np.float64
        x = eng.uniform_f64(n) if f64 else eng.uniform_f32(n)
        if low == 0 and high == 1:   # (then so are the rounded bounds below: ~2 us a draw)
            return x
        if f64:
            low, span = float(low), float(high) - float(low)
        else:
            low = np.float32(low)
            span = np.float32(np.float32(high) - low)
        if low == 0 and span == 1:
            return x
        return (fma32 if x.dtype == np.float32 else fma64)(x, span, low)

    def _normal(self, n, np_dtype, mean=0.0, std=1.0, contiguous=True):
        # (np_dtype as the callers give it, a dtype or a scalar type: normal() takes either)
        return normal_draws.normal(self._engine, n, np_dtype, mean, std, contiguous)

    def _snapshot(self):
        """A copy of the engine, for `_restore` (internal save/restore: no tensor made)."""
        return self._engine.copy()

    def _restore(self, snapshot):
        self._engine = snapshot.copy()

    def _fingerprint(self):
        """Changes whenever a draw or a reseed changes the generator."""
        eng = self._engine
        return (eng.words_state(), eng.seed, eng.next_double_normal, eng.next_float_normal)


check_type("torch.Generator", Generator)   # (what the factories' generator= takes)


def _new_default():
    gen = Generator()
    gen.seed()
    return gen


default_generator = _new_default()


def draw_state():
    """The live generators' fingerprints (the default one's and every torch.Generator's): a
    draw or a reseed changes them (record and compile compare them around the function they
    trace)."""
    return {id(g): g._fingerprint() for g in list(_LIVE)}


def drew_since(before):
    """Whether a generator alive at `before` (a draw_state()) drew or was reseeded since (one
    made since is not counted: its draws start from its own seed)."""
    now = draw_state()
    return any(now.get(key) != fp for key, fp in before.items())


def manual_seed(seed):
    """Seed the default generator (the same seed gives torch's numbers); returns it."""
    return default_generator.manual_seed(int(seed))


def seed():
    """Seed the default generator from the OS's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (restore it with `set_rng_state`)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default generator's state from `get_rng_state()`."""
    if not isinstance(new_state, Tensor):
        raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """Run the block with the default generator's state saved and restored after (as
    torch.random.fork_rng; tapegrad has only the CPU generator)."""
    if not enabled:
        yield
        return
    state = default_generator._snapshot()
    try:
        yield
    finally:
        default_generator._restore(state)


def generator_of(generator, fn):
    """The generator a sampling function `fn` uses: `generator`, or the default one."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"{fn}(): argument 'generator' must be torch.Generator, not "
                        f"{type(generator).__name__}")
    return generator


def fill_memory_order(arr, values):
    """Write the 1-d `values` into `arr` in the order of its memory (as torch's serial
    kernels visit a strided tensor): along its axes sorted by decreasing stride."""
    if arr.flags.c_contiguous:
        arr.reshape(-1)[...] = values
        return
    axes = sorted(range(arr.ndim), key=lambda a: -abs(arr.strides[a]))
    view = arr.transpose(axes)
    view[...] = values.reshape(view.shape)


def arranged_like(arr, values):
    """`values` (draws, in the order made; any shape of arr's size) where torch's
    `empty_like(x)` filled by a serial kernel holds them, arr being x's array: empty_like
    keeps the order of x's strides (x's own strides if x is dense), and the kernel fills
    memory in order, so a transposed or permuted x gets the draws in its memory order."""
    values = np.asarray(values)
    if arr.flags.c_contiguous:
        return values.reshape(arr.shape)
    out = layouts.empty_preserving(arr, values.dtype)   # (torch's empty_like(preserve))
    fill_memory_order(out, values.reshape(-1))
    return out


def _sizes(size, kw, fn, requires_grad=False):
    """rand's / randn's shape from `size` spread or given as size= in kw; Unbound where none
    of their forms takes the call (no size, a keyword they do not take, a size given twice,
    an int requires_grad): out_arg's wrapper words it by their forms as torch's parser
    does."""
    if not size and "size" not in kw or len(kw) > ("size" in kw) or kw and size or \
            not _flag(requires_grad):
        raise Unbound(fn)
    if kw:
        size = (kw["size"],)
    return _size_args(size, fn)


def _like_args(fn, input, requires_grad, layout, memory_format, pin_memory):
    # (a *_like draw's input and options as torch's parser takes them, else its error by the
    # draw's forms: parsed)
    if not isinstance(input, Tensor) or not _flag(requires_grad):
        raise Unbound(fn)
    layouts.check(fn, len(input._shape), layout, memory_format)
    _pin_memory_arg(fn, pin_memory)


def _float_dtype(dtype, fn, name=None):
    """dtype= of a float draw (kernel `fn`'s error for another dtype); `name`: the function,
    whose TypeError a dtype= that is no dtype raises."""
    if dtype is not None:
        dtype = D.as_dtype(dtype, name)
    dt = dtype or D.get_default_dtype()
    if not dt.is_floating_point:
        raise NotImplementedError(f'"{fn}" not implemented for \'{dt.legacy}\'')
    return dt


def _drawn(shape, dt, draw):
    """draw(), the values of a draw of `shape` in dtype dt, with torch's errors where their
    storage cannot be had (a byte count past int64's, before anything is drawn; more than
    can be allocated, numpy's MemoryError, or its "too big" ValueError)."""
    nbytes = aligned.check_nbytes(shape, dt.itemsize)
    try:
        return draw()
    except (MemoryError, ValueError):
        raise aligned.alloc_error(nbytes) from None


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, layout=None,
         pin_memory=False, **kw):
    """Uniform samples in [0, 1)."""
    shape = _sizes(size, kw, "rand", requires_grad)
    _device.check(device)
    _factory_options("rand", layout, pin_memory)
    gen = generator_of(generator, "rand")
    dt = _float_dtype(dtype, "check_uniform_bounds", "rand")
    n = math.prod(shape)
    return _leaf(_drawn(shape, dt, lambda: gen._uniform(n, dt.np).reshape(shape)), dt,
                 requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, layout=None,
          pin_memory=False, **kw):
    """Standard normal samples."""
    shape = _sizes(size, kw, "randn", requires_grad)
    _device.check(device)
    _factory_options("randn", layout, pin_memory)
    gen = generator_of(generator, "randn")
    dt = _float_dtype(dtype, "normal_kernel_cpu", "randn")
    n = math.prod(shape)
    return _leaf(_drawn(shape, dt, lambda: gen._normal(n, dt.np).reshape(shape)), dt,
                 requires_grad)


def _draw_fast(fn, draw):
    """The fast form of rand / randn (`fn`; `draw`: the name of the generator's method making
    n values, theirs): sizes as Python ints, dtype= a float dtype or None, requires_grad= a
    bool, the default generator, the draw made through _drawn as theirs (creation.py's "fast
    forms": anything else goes to the full function)."""
    def fast(size, kw):
        options = _fast_options(kw)
        if options is None:
            return None
        dt, requires_grad = options
        shape = _plain_size(size)
        if shape is None:
            return None
        dt = dt or D.get_default_dtype()
        if not dt.is_floating_point:
            return None   # (the kernel's error)
        gen = generator_of(None, fn)
        n = math.prod(shape)
        return _leaf(_drawn(shape, dt, lambda: getattr(gen, draw)(n, dt.np).reshape(shape)),
                     dt, requires_grad)
    return fast


rand._fast = _draw_fast("rand", "_uniform")
randn._fast = _draw_fast("randn", "_normal")


def _given(generator, dtype, device, requires_grad):
    # (the keyword options a call gave, as the parser's messages list them)
    return {k: v for k, v in (("generator", generator), ("dtype", dtype), ("device", device),
                              ("requires_grad", requires_grad)) if v is not None and v is not False}


def _randint_bound(args, kwargs, *options):
    """randint's positional (low, high, size) or (high, size) as torch's parser binds the
    call's arguments by its forms (native_args), or its TypeError where none takes them."""
    form, values = overloads("randint", False).parse(args, {**kwargs, **_given(*options)})
    _factory_options("randint", kwargs.get("layout"), kwargs.get("pin_memory", False))
    return tuple(values[:3 if form >= 2 else 2])


_INT64_END = 1 << 63


def _randint_fast(args, kw):
    """randint's fast form: randint(high, size) / randint(low, high, size) with Python ints,
    the size a tuple or list of them, low < high, keywords as _fast_options takes them (no
    requires_grad=True: an integer dtype's error is the full function's)."""
    options = _fast_options(kw)
    if options is None or options[1]:
        return None
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2:
        (high, size), low = args, 0
    else:
        return None
    if low.__class__ is not int or high.__class__ is not int or low >= high or \
            low < -_INT64_END or high >= _INT64_END or size.__class__ not in (tuple, list):
        return None   # (bounds past int64: the parser's overflow error)
    shape = _plain_size((size,))
    if shape is None:
        return None
    dt = options[0] or D.int64
    gen = generator_of(None, "randint")
    n = math.prod(shape)
    arr = _drawn(shape, dt, lambda: discrete_draws.randint(gen._engine, n, low, high, dt.np))
    return _leaf(arr.astype(dt.np, copy=False).reshape(shape), dt, False)


@parsed("randint", fast=_randint_fast)
def randint(*args, generator=None, dtype=None, device=None, requires_grad=False, **kwargs):
    """Integers drawn uniformly from [low, high) (int64 unless `dtype` says otherwise):
    `randint(high, size)` or `randint(low, high, size)`."""
    if not _flag(requires_grad):
        raise Unbound("randint")
    if kwargs or not 2 <= len(args) <= 3:
        # (low / high / size by keyword, or a count no form takes: bound as torch's parser
        # binds them, off the positional path)
        args = _randint_bound(args, kwargs, generator, dtype, device, requires_grad)
    low, high, size = args if len(args) == 3 else (args[0], args[1], None)
    if dtype is not None:
        dtype = D.as_dtype(dtype, "randint")
    _device.check(device)
    given = (low, high, size)
    high_given = high is not None
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
        given = given[:2]
    elif high is None:
        low, high = 0, low
    if size is None:   # (torch's parser: the second positional argument is the size)
        if high_given:
            raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, "
                            f"not {type(high).__name__}")
        raise TypeError("randint() missing 1 required positional arguments: \"size\"")
    if not (_is_int_arg(low, True) and _is_int_arg(high, True)):   # (0-d integer tensors too)
        if len(given) == 2:
            raise TypeError(f"randint(): argument 'high' (position 1) must be int, not "
                            f"{errors.type_name(high)}")
        raise arg_error("randint", False, args, _given(generator, dtype, device, requires_grad))
    low, high = (int(_int_arg(v, "randint", "")) for v in (low, high))
    gen = generator_of(generator, "randint")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    dt = dtype or D.int64
    if len(given) == 3 and (not isinstance(size, (tuple, list)) or
                            size and not _is_int_arg(size[0], True)):
        # (of the (low, high, size) forms torch's parser finds none that matches)
        raise arg_error("randint", False, args, _given(generator, dtype, device, requires_grad))
    shape = _size_args((_int_list((size,), "randint", "size", len(given), bare=False),),
                       "randint")
    n = math.prod(shape)
    arr = _drawn(shape, dt, lambda: discrete_draws.randint(gen._engine, n, int(low), int(high),
                                                           dt.np))
    return _leaf(arr.astype(dt.np, copy=False).reshape(shape), dt, requires_grad)


@parsed("randperm")
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False):
    """A random permutation of 0..n-1 (int64)."""
    if not _is_int_arg(n, True) or not _flag(requires_grad):   # (a float or bool n too)
        raise Unbound("randperm")
    _int_arg(n, "randperm", "n")
    _factory_options("randperm", layout, pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _device.check(device)
    gen = generator_of(generator, "randperm")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = dtype or D.int64
    if dt is D.bool_:
        raise NotImplementedError("\"randperm\" not implemented for 'Bool'")
    if not dt.is_floating_point and n > 1 and n - 1 > np.iinfo(dt.np).max:
        raise RuntimeError(f"value cannot be converted to type {np.dtype(dt.np).name}_t "
                           "without overflow")
    return _leaf(discrete_draws.randperm(gen._engine, int(n)).astype(dt.np), dt,
                 requires_grad)


def normal(mean, std=MISSING, size=MISSING, *, generator=None, dtype=MISSING, device=MISSING,
           requires_grad=MISSING, layout=MISSING, pin_memory=MISSING):
    """Normal samples: of `size` for number `mean`/`std`, else of the broadcast shape of the
    tensor(s) among them (torch's overloads: standard normal draws, then * std + mean).  The
    values only: torch.normal (tapegrad/draw_nodes.py) gives them their autograd node.
    Arguments MISSING unless given."""
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    # (which of torch's forms takes the arguments: with a tensor, no size and no option, not
    # even a None; a tensor mean alone, std 1; else a float mean and std and a size)
    if tm or ts:
        if size is not MISSING or any(v is not MISSING for v in (
                dtype, device, requires_grad, layout, pin_memory)) or \
                not (tm or takes("float", mean)) or \
                not (ts or std is MISSING and tm or takes("float", std)):
            raise Unbound("normal")
        std = 1.0 if std is MISSING else std
    elif size is MISSING or not (takes("float", mean) and takes("float", std)) or \
            requires_grad is not MISSING and not _flag(requires_grad):
        raise Unbound("normal")
    dtype, device = (None if v is MISSING else v for v in (dtype, device))
    requires_grad = requires_grad is not MISSING and bool(requires_grad)
    _factory_options("normal", None if layout is MISSING else layout,
                     False if pin_memory is MISSING else pin_memory)
    if dtype is not None:
        dtype = D.as_dtype(dtype)
    _device.check(device)
    gen = generator_of(generator, "normal")
    if not (tm or ts):
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        dt = _float_dtype(dtype, "normal_kernel_cpu", "normal")
        shape = _size_args((size,), "normal")
        n = math.prod(shape)
        return _leaf(_drawn(shape, dt, lambda: gen._normal(n, dt.np, mean, std).reshape(shape)),
                     dt, requires_grad)
    m = mean._array() if tm else mean
    s = std._array() if ts else std
    if not ts and s < 0:   # (a number std: torch's check of the number)
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s:g}")
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    dt = mean._dtype if tm else std._dtype
    if not dt.is_floating_point:   # (the result's dtype, its kernel's)
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{dt.legacy}'")
    shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    n = math.prod(shape)
    # torch's normal_out: a number std scales the draws (normal_(0, std)), then + mean; a
    # tensor std multiplies standard draws, then + mean; each step rounds in the dtype
    if ts:
        arr = gen._normal(n, dt.np).reshape(shape) * np.asarray(s, dt.np)
    else:
        arr = gen._normal(n, dt.np, 0.0, s).reshape(shape)
    arr = arr + np.asarray(m, dt.np)
    return _leaf(np.asarray(arr, dt.np), dt, False)


def bernoulli(input, p=None, *, generator=None):
    """0/1 draws of input's dtype and shape: 1 with probability input (element-wise) or with
    probability `p` (a number) when given, as torch's bernoulli.  The values only:
    torch.bernoulli (tapegrad/draw_nodes.py) gives them their autograd node."""
    gen = generator_of(generator, "bernoulli")
    dt = input._dtype
    if p is None:
        probs = input._array()
        if probs.size and not (np.all(probs >= 0) and np.all(probs <= 1)):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                               "(Could this error message be improved?  If so, please report "
                               "an enhancement request to PyTorch.)")
        draws = discrete_draws.bernoulli_tensor(gen._engine, probs, dt.np)
    else:
        draws = discrete_draws.bernoulli_scalar(gen._engine, input.numel(), p, dt.np)
    return _leaf(np.asarray(draws).astype(dt.np).reshape(input._shape), dt, False)


def _check_distributions(rows, per_element):
    """torch's checks of multinomial's rows of probabilities: a whole-tensor check (no
    replacement, or one sample), or (`per_element`) its with-replacement kernel's, which walks
    each row's elements (a negative or NaN one, an infinite one) and then its sum, and names
    the first failure it meets."""
    # (the common case, which both checks accept, in two passes for one row: no value below
    # 0 (nor nan: the minimum is nan) and each row's total above 0, their sum finite (no inf;
    # a sum that overflows takes the checks below); ufuncs' reduce and Python's isfinite
    # spare ~0.5 us of each of the ~1 us numpy reductions: multinomial(v, 4, True) of 16
    # values ~9.5 -> ~6.5 us)
    if rows.size:
        totals = np.add.reduce(rows, -1)
        if totals.size == 1:
            low = whole = float(totals[0])
        else:
            low, whole = float(np.minimum.reduce(totals)), float(np.add.reduce(totals))
        if low > 0 and math.isfinite(whole) and np.minimum.reduce(rows, None) >= 0:
            return
    if not per_element:
        if not (np.all(np.isfinite(rows)) and np.all(rows >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(rows.sum(-1) == 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        return
    bad = ~(rows >= 0) | ~np.isfinite(rows)
    failing = np.flatnonzero(bad.any(-1) | ~(rows.sum(-1) > 0))
    if failing.size:
        r = failing[0]
        if not bad[r].any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not rows[r, np.argmax(bad[r])] >= 0:     # (NaN too: torch tests `val >= 0` first)
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        raise RuntimeError("invalid multinomial distribution (encountering probability entry "
                           "= infinity or NaN)")


@parsed("multinomial")
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the categories weighted by the rows of `input` (1-d or 2-d), with
    or without replacement, as torch's multinomial (int64)."""
    gen = generator_of(generator, "multinomial")
    _int_arg(num_samples, "multinomial", "num_samples", 2)
    _bool_arg(replacement, "multinomial", "replacement", 3)
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._dtype.legacy}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    probs = input._array()
    if not replacement and num_samples > probs.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    _check_distributions(probs.reshape(-1, probs.shape[-1]), replacement and num_samples > 1)
    idx = discrete_draws.multinomial(gen._engine, probs, int(num_samples), bool(replacement))
    return _leaf(np.asarray(idx, np.int64), D.int64, False)


@parsed("rand_like")
def rand_like(input, *, dtype=None, requires_grad=False, device=None, generator=None,
              layout=None, memory_format=None, pin_memory=False):
    """Uniform samples in [0, 1) of `input`'s shape."""
    _like_args("rand_like", input, requires_grad, layout, memory_format, pin_memory)
    return _in_layout_of(input, rand(input._shape, dtype=dtype or input._dtype,
                                     requires_grad=requires_grad, device=device,
                                     generator=generator))


@parsed("randn_like")
def randn_like(input, *, dtype=None, requires_grad=False, device=None, generator=None,
               layout=None, memory_format=None, pin_memory=False):
    """Standard normal samples of `input`'s shape."""
    _like_args("randn_like", input, requires_grad, layout, memory_format, pin_memory)
    if input.dim() > 1 and not input._array().flags.c_contiguous:
        # torch's normal_ of a tensor that is not row-major takes its serial path
        _device.check(device)
        gen = generator_of(generator, "randn_like")
        dt = _float_dtype(dtype or input._dtype, "normal_kernel_cpu")
        draws = gen._normal(input.numel(), dt.np, contiguous=False)
        return _leaf(arranged_like(input._array(), draws), dt, requires_grad)
    return randn(input._shape, dtype=dtype or input._dtype, requires_grad=requires_grad,
                 device=device, generator=generator)


@parsed("randint_like")
def randint_like(input, low=MISSING, high=MISSING, *, dtype=None, requires_grad=False,
                 device=None, generator=None, layout=None, memory_format=None,
                 pin_memory=False):
    """Integers in [low, high) of `input`'s shape and dtype."""
    # (high MISSING unless given: randint_like(x, 5, None) matches none of torch's forms;
    # randint_like(x, high=5) is the high-only form by keyword)
    if high is MISSING:
        if low is MISSING:
            raise Unbound("randint_like")
        low, high = 0, low
    elif low is MISSING:
        low = 0
    _like_args("randint_like", input, requires_grad, layout, memory_format, pin_memory)
    return _in_layout_of(input, randint(low, high, input._shape, dtype=dtype or input._dtype,
                                        requires_grad=requires_grad, device=device,
                                        generator=generator))


def _in_layout_of(x, t):
    """The fresh leaf t of a `*_like(x)` (its draws row-major, in the order drawn) as torch's:
    in x's memory order and strides (arranged_like)."""
    if x.dim() > 1 and t.numel() > 1:
        arr = x._array()
        if not arr.flags.c_contiguous:
            t = _leaf(arranged_like(arr, t._array()), t._dtype, t.requires_grad)
    return t
