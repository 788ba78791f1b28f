"""`tapegrad.func`: torch.func's function transforms `grad`, `grad_and_value`, `vjp`, `jvp`,
`jacrev`, `jacfwd`, `hessian` and `functional_call`, built on `autograd.grad`
(`rearrange`: tapegrad/rearrange.py).

A transform differentiates with respect to fresh leaves made from its inputs, so the inputs
stay untouched; when an input already requires grad (a transform inside another, e.g.
`hessian` = `jacfwd(jacrev(f))`, or a user's leaf) a view of it is differentiated with
`create_graph=True`, so the result stays differentiable for the outer transform.  The
results also keep their graph where the function's output reaches a tensor it closes over
that requires grad (`_outer_graph`), so an outer backward reaches that tensor through them,
as torch's (torch.func's transforms compose with regular autograd); each result tensor
requires grad exactly when it depends on such a tensor, and none does under no_grad.
`jacrev` of a function of tensors that are not nested uses
`autograd.functional.jacobian`, whose rows come from one Numba call.  Inputs and outputs may
be pytrees of tensors (tuples, lists, dicts).
"""
import contextlib
import functools
from collections.abc import Sequence

import numpy as np

from .autograd import functional as AF
from .autograd.api import grad as _autograd_grad
from .creation import eye, zeros, zeros_like
from .grad_mode import (inference_mode, is_grad_enabled, LEVELS, switched_grad,
                        transformed_call, TRANSFORMS)
from .tape import DUAL, STATE, TRANSFORM_LEAF
from .tensor import Tensor
from .mapping import _treespec, drawing_nothing, RANDOM_IN_ERROR_MODE, vmap
from .nn.modules.normalization import _BatchNorm
from .nn.utils import stateless as _stateless
from .rearrange import rearrange
from .views import stack

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "hessian", "functional_call", "vmap",
           "jvp", "jacfwd", "stack_module_state", "linearize", "functionalize",
           "replace_all_batch_norm_modules_", "rearrange", "debug_unwrap"]


# ---- pytrees ----------------------------------------------------------------------------------
def _flatten(tree):
    """The leaves of `tree` (tuples, lists and dicts nest; anything else is a leaf, as in
    torch's pytrees) and a rebuilder from new leaves."""
    if isinstance(tree, (tuple, list, dict)):
        keys = list(tree.keys()) if isinstance(tree, dict) else None
        items = list(tree.values()) if keys is not None else list(tree)
        parts = [_flatten(v) for v in items]
        counts = [len(p[0]) for p in parts]

        def rebuild(leaves):
            out, k = [], 0
            for (_, sub), n in zip(parts, counts):
                out.append(sub(leaves[k:k + n]))
                k += n
            if keys is not None:
                return dict(zip(keys, out))
            return type(tree)(out) if isinstance(tree, tuple) and not hasattr(
                tree, "_fields") else type(tree)(*out) if isinstance(tree, tuple) else out
        return [leaf for p in parts for leaf in p[0]], rebuild
    return [tree], lambda leaves: leaves[0]


class _Asterisk:
    def __repr__(self):
        return "*"


def _pprint(tree):
    """torch's treespec_pprint (in vjp's message): the repr of `tree` with * for each leaf
    (a namedtuple's or structseq's own repr around them)."""
    leaves, rebuild = _flatten(tree)
    return repr(rebuild([_Asterisk()] * len(leaves)))


def _transform_inputs(leaves):
    """torch.func's check of the inputs to differentiate (_create_differentiable)."""
    for x in leaves:
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")


def _tensor_outputs(outs, api):
    """torch.func's check of a function's flattened outputs (assert_non_empty_tensor_output)."""
    if not outs or len(outs) == 1 and outs[0] is None:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got "
                           f"output = {outs})")
    for o in outs:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


def _with_aux(out, api):
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           f"has_aux is True")
    return out


def _argnums(argnums, args):
    """argnums as a tuple of non-negative ints, with torch.func's checks (_slice_argnums)."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    nums = []
    for a in ((argnums,) if isinstance(argnums, int) else argnums):
        if not isinstance(a, int):
            raise RuntimeError(f"argnum must be int, got: {type(a)}")
        if not -len(args) <= a < len(args):
            raise RuntimeError(f"Got argnum={a}, but only {len(args)} positional inputs")
        nums.append(a % len(args))
    if isinstance(argnums, tuple):
        if not nums:
            raise RuntimeError("argnums must be non-empty")
        if len(set(nums)) != len(nums):
            raise RuntimeError(f"argnums elements must be unique, got {tuple(nums)}")
    return tuple(nums)


# ---- graphs: which results keep one ----------------------------------------------------------
@contextlib.contextmanager
def _grad_level():
    """The mode a transform runs its function and takes its gradients in: grad mode on and
    inference mode off (inference_mode(False)), as torch.func's grad levels, which record
    under inference_mode as under no_grad (their results are ordinary tensors, with no graph
    unless grad mode was on outside).  linearize and autograd.functional do not: there
    torch's results are zeros.  (A transform level: pyfunc's check of Functions.)"""
    with inference_mode(False):
        TRANSFORMS.depth += 1
        STATE.grad_levels += 1
        try:
            yield
        finally:   # (inline, see grad_mode.TRANSFORMS; an interrupted exit: the generator's close)
            TRANSFORMS.depth -= 1
            STATE.grad_levels -= 1


_LEVELS = LEVELS    # .stack: the fresh-leaf id sets of the running transforms


class _Level:
    """A running transform (its function being called), as torch.func's levels: the ids of
    the fresh leaves that transforms nested in it differentiate with respect to.  Those are
    never tensors of an outer level, so its `_outer_graph` checks pass over them (an inner
    transform's results that keep a graph to a closed-over tensor reach its own leaves too:
    `grad(lambda w: jacrev(lambda x: w * x)(x).sum())`); on exit they go to the level that
    encloses it."""

    def __init__(self):
        self.fresh = set()

    def own(self, leaves):
        """The ids `_outer_graph` passes over: `leaves` (the transform's) and the fresh ones."""
        return {id(x) for x in leaves} | self.fresh


@contextlib.contextmanager
def _level():
    """A _Level, on the thread's stack while the transform runs.  The way out has no call
    (a Ctrl-C at a call's entry there left a stale level on the stack; an interrupted exit
    closes the generator when the manager is dropped, which runs the `finally`)."""
    level = _Level()
    stack = _LEVELS.__dict__.setdefault("stack", [])
    stack.append(level.fresh)
    try:
        yield level
    finally:
        del stack[-1]
        if stack:
            stack[-1] |= level.fresh


def _fresh(leaves):
    """`leaves` (fresh ones, made here or by autograd.functional), noted in the running
    level: a transform around it passes over them."""
    stack = getattr(_LEVELS, "stack", None)
    if stack:
        stack[-1].update(map(id, leaves))
    return leaves


def _differentiable(leaves, reverse=True):
    """Tensors to differentiate with respect to, and whether an input requires grad (then the
    results keep a graph, outside no_grad: under it torch.func's results have none).  Such
    an input is differentiated through a view of it, a tensor of its own: in
    `grad(lambda a: grad(lambda b: a * b * b.sin())(a))` the inner gradient is the partial
    in b alone, not also through the a the function closes over.  For a `reverse` transform
    the view is the leaf of torch's grad level, which an in-place op refuses as a leaf
    (tape.TRANSFORM_LEAF); jvp's and jacfwd's is a view for torch's check too."""
    nested = any(x.requires_grad for x in leaves)
    with _grad_level():
        out = [x.view_as(x) if x.requires_grad else _fresh([AF.transform_leaf(x)])[0]
               for x in leaves]
    if reverse:
        for x, y in zip(leaves, out):
            if x.requires_grad:
                y._flags = getattr(y, "_flags", 0) | TRANSFORM_LEAF
    return out, nested


def _outer_graph(outputs, own):
    """Whether an output's graph reaches a tensor that requires grad other than the
    transform's own leaves and those of transforms nested in it (`own`: their ids, from
    `_Level.own`) (`w` in `grad(lambda x: (w * x).sum())` with w a parameter): then the
    results keep their graph to it, as torch.func's (an outer backward, as in meta-learning,
    reaches w through them)."""
    work = []
    for o in outputs:
        if not (isinstance(o, Tensor) and o.requires_grad):
            continue
        if o._tape is None:          # the output is a leaf itself
            if id(o) not in own:
                return True
            continue
        work.append((o._tape, o._node))
    seen = set()
    while work:
        tape, node = work.pop()
        if (id(tape), node) in seen:
            continue
        seen.add((id(tape), node))
        n = node + 1
        reach = tape.reached([node], n)
        leaves = np.fromiter(tape.leaves, np.int64, len(tape.leaves))
        leaves = leaves[leaves < n]
        # (Python only for the reached leaves: the function's own, and any outer one)
        if any(id(tape.leaves[k]) not in own for k in leaves[reach[leaves] != 0].tolist()):
            return True
        # a reached import: the graph goes on in an older tape (one closed by an in-place
        # change under no_grad, as cosine_similarity's clamp_min_ of its norms), whose
        # leaves may be the transform's own as well: followed there
        imports = np.fromiter(tape.imports, np.int64, len(tape.imports))
        work += [tape.imports[k] for k in imports[imports < n][reach[imports[imports < n]] != 0]
                 .tolist()]
    return False


class _KeepGraph(Exception):
    """Raised by `_closed_over` out of the function that autograd.functional runs for jacrev
    and jvp: its outputs `out` reach a closed-over tensor that requires grad (or one has no
    elements), so the products are taken from them and `leaves` here, with create_graph (the
    function runs once)."""

    def __init__(self, out, leaves):
        super().__init__()
        self.out, self.leaves = out, leaves


def _closed_over(outs, leaves, own, watch, empty=False):
    """`outs` (the function's outputs, a tuple), or _KeepGraph when `watch` and their graph
    reaches a tensor that requires grad other than `own` (`w` in
    `jacrev(lambda x: w * x)`: torch.func's Jacobian then has a graph to it), or with `empty`
    when an output has no elements (autograd.functional.jacobian, as torch's, has no rows to
    stack then; torch.func's Jacobian is empty)."""
    if empty and any(o.numel() == 0 for o in outs) or watch and _outer_graph(outs, own):
        raise _KeepGraph(outs, leaves)
    return outs


def _grads(outputs, leaves, grad_outputs, nested, retain=False):
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        return [zeros_like(x) for x in leaves]
    gs = _autograd_grad([o for o, _ in live], leaves, grad_outputs=[g for _, g in live],
                        retain_graph=True if retain else None, create_graph=nested,
                        allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(gs, leaves)]


def _jacobian_graph(outs, leaves):
    """[output][input] Jacobian blocks with create_graph, a backward per output element."""
    blocks = []
    with _grad_level():
        for o in outs:
            flat = o.reshape(-1)
            rows = [_grads([flat[k]], leaves, [None], True, retain=True)
                    for k in range(o.numel())]
            blocks.append(tuple(
                (stack([r[j] for r in rows]) if rows else zeros((0,) + tuple(x.shape),
                                                               dtype=x.dtype))
                .reshape(tuple(o.shape) + tuple(x.shape)) for j, x in enumerate(leaves)))
    return tuple(blocks)


def _jvp_graph(outs, leaves, tangents):
    """J @ tangents with create_graph, by the double-vjp trick (u -> u^T J is linear in u)."""
    us = [zeros_like(o)._requires_grad() for o in outs]
    with _grad_level():
        g = _grads(outs, leaves, us, True, retain=True)
        return tuple(_grads(g, us, [t.to(x.dtype) for t, x in zip(tangents, leaves)], True,
                            retain=True))


def _map(fn, tree):
    """`tree` (tensors in tuples / lists / dicts) with fn applied to its tensors; anything
    else in it is torch.func's error (an aux output holds tensors only)."""
    if isinstance(tree, Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        items = [_map(fn, v) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)
    raise RuntimeError(f"Expected tensors, got unsupported type {type(tree)}")


def _plain(tree, own, nested, outer):
    """A transform's results or aux output as torch.func returns them: whole when an input
    requires grad (`nested`: the leaves are then partly the caller's own tensors); else each
    tensor detached unless `outer` and its graph reaches a tensor that requires grad other
    than `own` (torch's results require grad exactly when they depend on a tensor of the
    outer level: `w` in `grad(lambda x: (w * x).sum() + x.sin().sum())`, not `x.cos()`)."""
    if nested:
        return _map(lambda t: t, tree)
    return _map(lambda t: t if outer and _outer_graph([t], own) else t.detach(), tree)


# ---- transforms ------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of `func` w.r.t. its `argnums` arguments, value of
    `func`); `func` returns a one-element tensor (and an auxiliary value with `has_aux`)."""
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, args)
        flats = [_flatten(args[i]) for i in nums]
        _transform_inputs([x for f, _ in flats for x in f])
        enabled = is_grad_enabled()
        leaves, nested = _differentiable([x for f, _ in flats for x in f])
        nested = nested and enabled
        call, k = list(args), 0
        for i, (f, rebuild) in zip(nums, flats):
            call[i] = rebuild(leaves[k:k + len(f)])
            k += len(f)
        with _level() as level, _grad_level():
            saved = TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off
            TRANSFORMS.levels = transformed_call("grad", _flatten((call, kwargs))[0])
            STATE.forward_call = STATE.fwd_off = False
            try:
                out = func(*call, **kwargs)
            finally:
                TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off = saved
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out)}")
            if out.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {out.dim()} dims. Maybe you "
                                   f"wanted to use the vjp or jacrev APIs instead?")
            own = level.own(leaves)
            outer = enabled and not nested and _outer_graph([out], own)
            gs = _grads([out], leaves, [None], nested or outer)
        res, k = [], 0
        for f, rebuild in flats:
            res.append(rebuild(gs[k:k + len(f)]))
            k += len(f)
        g = _plain(res[0] if isinstance(argnums, int) else tuple(res), own, nested, outer)
        value = out if nested or outer else out.detach()
        return (g, (value, _plain(aux, own, nested, enabled))) if has_aux else (g, value)
    wrapper._tg_grad = (func, argnums, has_aux, True)    # (vmap's batch-replay path)
    wrapper.__wrapped_gv__ = wrapper
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of `func` (a one-element tensor) w.r.t. its
    `argnums` arguments (and `func`'s auxiliary value with `has_aux`)."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    wrapper._tg_grad = (func, argnums, has_aux, False)   # (vmap's batch-replay path)
    wrapper.__wrapped_gv__ = gv
    return wrapper


def _floating_outputs(outs):
    """torch's check of vjp's (and so jacrev's) outputs."""
    for o in outs:
        if not o.dtype.is_floating_point:
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or complex "
                               f"Tensors, got Tensor with dtype {o.dtype}")


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) where vjp_fn(cotangents) returns the tuple of vector-Jacobian
    products, one per primal (callable more than once)."""
    flats = [_flatten(p) for p in primals]
    _transform_inputs([x for f, _ in flats for x in f])
    enabled = is_grad_enabled()
    leaves, own = _differentiable([x for f, _ in flats for x in f])
    call, k = [], 0
    for f, rebuild in flats:
        call.append(rebuild(leaves[k:k + len(f)]))
        k += len(f)
    with _level() as level, _grad_level():
        saved = TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off
        TRANSFORMS.levels = transformed_call("grad", _flatten(call)[0])
        STATE.forward_call = STATE.fwd_off = False
        try:
            out = func(*call)
        finally:
            TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off = saved
    own_ids = level.own(leaves)
    aux = None
    if has_aux:
        out, aux = _with_aux(out, "vjp(f, *primals)")
    outs, out_rebuild = _flatten(out)
    _tensor_outputs(outs, "vjp(f, *primals)")
    _floating_outputs(outs)
    outer = not own and _outer_graph(outs, own_ids)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        if _treespec(cotangents) != _treespec(out):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{_pprint(cotangents)}, primal output: {_pprint(out)}")
        cots, _ = _flatten(cotangents)
        for c, o in zip(cots, outs):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        # graphs kept as this call's create_graph (default: its grad mode) says, as torch's;
        # a cotangent that requires grad is a tensor of the outer level too
        now = is_grad_enabled() if create_graph is None else bool(create_graph)
        nested = now and own
        keep = now and not own and (outer or any(c.requires_grad for c in cots))
        with _grad_level():
            gs = _grads(outs, leaves, cots, nested or keep, retain=retain_graph)
        res, k = [], 0
        for f, rebuild in flats:
            res.append(rebuild(gs[k:k + len(f)]))
            k += len(f)
        return _plain(tuple(res), own_ids, nested, keep)
    nested = enabled and own
    value = _plain(out, own_ids, nested, enabled and outer)
    return (value, vjp_fn, _plain(aux, own_ids, nested, enabled)) if has_aux else (value, vjp_fn)


def _jacobian_of(func, argnums, has_aux, api):
    """jacrev's and jacfwd's function: the Jacobian blocks laid out as torch.func's (the
    output's structure, each of its tensors holding the `argnums` arguments' structure)."""
    forward = not api.startswith("vjp")   # (jacfwd's)

    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, args)
        flats = [_flatten(args[i]) for i in nums]
        xs = tuple(x for f, _ in flats for x in f)
        _transform_inputs(xs)
        enabled = is_grad_enabled()
        nested = enabled and any(x.requires_grad for x in xs)
        aux, seen, duals = [], [], []

        def f(*ys):
            if forward and not nested:   # (jacfwd's function: torch's dual tensors)
                duals[:] = _duals(ys)
            call, k = list(args), 0
            for i, (fl, rebuild) in zip(nums, flats):
                call[i] = rebuild(list((duals or ys)[k:k + len(fl)]))
                k += len(fl)
            saved = TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off
            TRANSFORMS.levels = transformed_call("grad", _flatten((call, kwargs))[0])
            # (jacfwd's: torch's forward mode, where no_grad stops no tangent, user_set)
            STATE.forward_call, STATE.fwd_off = forward, False
            try:
                out = func(*call, **kwargs)
            finally:
                TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off = saved
            if has_aux:
                out, a = _with_aux(out, api)
                aux.append(a)
            outs, rebuild = _flatten(out)
            _tensor_outputs(outs, api)
            if api.startswith("vjp"):   # (jacrev: torch's vjp check)
                _floating_outputs(outs)
            own = level.own(ys if nested else _fresh(ys))
            seen.append((own, rebuild, [o.dtype for o in outs]))
            return _closed_over(tuple(outs), ys, own, enabled and not nested, empty=True)
        with _level() as level, _grad_level():
            try:
                # (nested: through views of the inputs, as `_differentiable` says why)
                J = AF._jacobian(f, tuple(_differentiable(xs, not forward)[0]) if nested else xs,
                                 nested, False, False, "reverse-mode", False, internal=True)
            except _KeepGraph as k:
                J = _jacobian_graph(k.out, k.leaves)
                J = _plain(J, seen[0][0], nested, True)
        _write_back(xs, duals)
        own, out_rebuild, dtypes = seen[0]
        if not api.startswith("vjp"):
            # NOTE: jacfwd's blocks are forward-mode tangents in torch: the output's dtype
            # (zeros of an integer or bool output's), not the input's as a reverse pass gives
            J = [[b.to(dt) for b in row] for row, dt in zip(J, dtypes)]

        def by_argnums(row):
            per, k = [], 0
            for fl, rebuild in flats:
                per.append(rebuild(list(row[k:k + len(fl)])))
                k += len(fl)
            return per[0] if isinstance(argnums, int) else tuple(per)
        J = out_rebuild([by_argnums(row) for row in J])
        return (J, _plain(aux[0], own, nested, enabled)) if has_aux else J
    return wrapper


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of `func` w.r.t. its `argnums` arguments, each block
    shaped output.shape + input.shape, by reverse mode (`chunk_size` changes nothing here)."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian_of(func, argnums, has_aux, "vjp(f, *primals)")


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian-vector product with `tangents`).  tapegrad has no
    forward mode: the product is computed by reverse mode twice (autograd.functional.jvp),
    with the same values; Python control flow in `func` runs as for a reverse pass.  As
    torch's forward mode, no_grad in `func` stops no tangent (grad_mode.user_set); a
    reverse transform inside it (jacrev) still sees none of what no_grad covers."""
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to "
                           f"call f(*primals).")
    if _treespec(primals) != _treespec(tangents):
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure "
                           f"{_treespec(primals)} and tangents with structure "
                           f"{_treespec(tangents)}")
    flat_p, rebuild_p = _flatten(primals)
    flat_t, _ = _flatten(tangents)
    for what, flat in (("primals", flat_p), ("tangents", flat_t)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {what} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {what} to only contain Tensors, got "
                                   f"{type(x)}")
    for p, t in zip(flat_p, flat_t):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"Trying to set a forward gradient that has a different size "
                               f"than that of the original Tensor, this is not supported. "
                               f"Tensor is of size {list(p.shape)} while the given forward "
                               f"gradient is of size {list(t.shape)}.")
    aux, seen, duals = [], [], []
    enabled = is_grad_enabled()
    nested = enabled and any(p.requires_grad for p in flat_p)
    # (a tangent that requires grad is a tensor of the outer level too)
    outer = enabled and not nested and any(t.requires_grad for t in flat_t)

    def f(*ys):
        saved = TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off
        TRANSFORMS.levels = transformed_call("grad", ys)
        # (torch's forward mode: no_grad in func stops no tangent, grad_mode.user_set)
        STATE.forward_call, STATE.fwd_off = True, False
        try:
            if not nested:
                duals[:] = _duals(ys)
            out = func(*rebuild_p(duals if not nested else list(ys)))
        finally:
            TRANSFORMS.levels, STATE.forward_call, STATE.fwd_off = saved
        if has_aux:
            out, a = _with_aux(out, api)
            aux.append(a)
        outs, rebuild = _flatten(out)
        _tensor_outputs(outs, api)
        own = level.own(ys if nested else _fresh(ys))
        seen.append((own, rebuild, outs))
        # (an integer or bool output has no tangent to compute: zeros of its dtype, below)
        floating = tuple(o for o in outs if o.dtype.is_floating_point)
        if not floating:    # (nothing for autograd.functional: no products at all)
            raise _KeepGraph((), ys)
        return _closed_over(floating, ys, own, enabled and not (nested or outer))
    with _level() as level, _grad_level():
        TRANSFORMS.forwards += 1   # (torch's jvp is forward mode: custom Functions need a jvp)
        try:
            out, tangent_out = AF._jvp(f, tuple(_differentiable(flat_p, False)[0] if nested
                                                else flat_p),
                                       tuple(flat_t), nested or outer, strict, internal=True)
        except _KeepGraph as k:
            outer = True
            out, tangent_out = k.out, _jvp_graph(k.out, k.leaves, flat_t)
        finally:
            TRANSFORMS.forwards -= 1
    _write_back(flat_p, duals)
    own, rebuild, outs = seen[0]
    out, tangent_out = _plain((out, tangent_out), own, nested, outer)
    floating, full, tangents = iter(zip(out, tangent_out)), [], []
    for o in outs:
        value, tangent = next(floating) if o.dtype.is_floating_point else (o, zeros_like(o))
        full.append(value)
        tangents.append(tangent)
    out, tangent_out = rebuild(full), rebuild(tangents)
    return (out, tangent_out, _plain(aux[0], own, nested, enabled)) if has_aux else \
        (out, tangent_out)


def _duals(ys):
    """What the function of jvp (and jacfwd) is given for its fresh leaves ys: torch's dual
    tensors, which an in-place op may change, where the leaves the tangents are taken with
    respect to may not be: a recorded copy of each (its tangent flows to the leaf), shown as
    a leaf with no grad_fn (tape.DUAL)."""
    out = []
    for y in ys:
        d = y.clone()
        d._flags = getattr(d, "_flags", 0) | DUAL
        out.append(d)
    return out


def _write_back(primals, duals):
    """The primals changed in place by jvp's function take their dual's value: torch's dual
    tensor shares the primal's memory (the caller sees the change)."""
    for p, d in zip(primals, duals):
        if d._version:
            with switched_grad(False):
                p.copy_(d.detach())


def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) is the Jacobian-vector product at
    `primals`, as torch.func.linearize's.  func runs twice, as torch's: once for the output
    (with the primals themselves), once on fresh leaves for a graph that jvp_fn reuses by
    the double-vjp trick (`_jvp_graph`: u -> u^T J is linear in u; tapegrad has no forward
    mode), so func's Python code does not run again per call.  jvp_fn's results have no graph
    to the primals, as torch's (it folds them into constant Parameters: its results then
    require grad but reach no primal), only to tangents that require grad; outputs that are not floating-point tensors, or that do not depend on the
    primals, get zeros (non-tensor outputs are returned as they are)."""
    output = func(*primals)
    flat_p, _ = _flatten(primals)
    for p in flat_p:      # (torch's errors, from p.new_empty and fwAD.make_dual)
        if not isinstance(p, Tensor):
            raise AttributeError(f"'{type(p).__name__}' object has no attribute 'new_empty'")
        if not (p.dtype.is_floating_point or p.dtype.is_complex):
            raise ValueError(f"Expected primal to be floating point or complex, but got: "
                             f"{p.dtype}")
    spec = _treespec(primals)
    with switched_grad(True):
        leaves = _fresh([p.detach()._requires_grad() for p in flat_p])
        outs, rebuild = _flatten(func(*_flatten(primals)[1](leaves)))
        live = [k for k, o in enumerate(outs) if isinstance(o, Tensor)
                and o.requires_grad and (o.dtype.is_floating_point or o.dtype.is_complex)]
        us = [zeros_like(outs[k])._requires_grad() for k in live]
        # u^T J for a u of each differentiable output, kept (a graph linear in u)
        uj = _grads([outs[k] for k in live], leaves, us, True, retain=True)

    def jvp_fn(*tangents):
        if _treespec(tangents) != spec:
            raise RuntimeError(f"Expected the tangents {_treespec(tangents)} to have the same "
                               f"argspec as the primals {spec}")
        flat_t, _ = _flatten(tangents)
        for idx, (t, p) in enumerate(zip(flat_t, flat_p)):
            for what, a, b in (("shape", t.shape, p.shape), ("device", t.device, p.device),
                               ("dtype", t.dtype, p.dtype)):
                if a != b:
                    raise RuntimeError(f"tangent:{idx} with {what} {a} in flattened pytree "
                                       f"doesn't match the {what} {b} of the corresponding "
                                       f"primal.")
        keep = is_grad_enabled() and any(t.requires_grad for t in flat_t)
        with switched_grad(True):
            js = _grads(uj, us, flat_t, keep, retain=True) if live else []
        res = [zeros_like(o) if isinstance(o, Tensor) else o for o in outs]
        for k, j in zip(live, js):
            res[k] = j if keep else j.detach()
        return rebuild(res)
    return output, jvp_fn


_REMOVE = {"mutations", "mutations_and_views"}


def functionalize(func, *, remove="mutations"):
    """func with torch.func.functionalize's observable behaviour in eager mode: the same
    results, and an input that func mutates is updated in place afterwards by one copy_
    (func runs on clones of the tensor inputs, so its outputs never alias them; torch's
    remove='mutations' returns views of an input as views of it, see the tests)."""
    if remove not in _REMOVE:
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for "
            f"remove={remove}. Valid options are:\n     remove='mutations': all inplace and out= "
            f"operators will be removed from the program, and replaced with their out-of-place "
            f"equivalents.\n     remove='mutations_and_views': In addition to the above, all "
            f"aliasing operators {{view}} will be replaced with their non-aliasing "
            f"counterparts, {{view}}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        flat, rebuild = _flatten((args, kwargs))
        copies = [x.clone() if isinstance(x, Tensor) else x for x in flat]
        versions = [c._version if isinstance(c, Tensor) else None for c in copies]
        call_args, call_kwargs = rebuild(copies)
        TRANSFORMS.depth += 1    # (a transform to torch: Functions need setup_context, ...)
        try:
            out = func(*call_args, **call_kwargs)
        finally:
            TRANSFORMS.depth -= 1
        for x, c, v in zip(flat, copies, versions):
            if isinstance(x, Tensor) and c._version != v:   # mutated: torch copies it back
                x.copy_(c)
        return out
    return wrapped


def debug_unwrap(tensor, *, recurse=True):
    """torch.func's: the tensor under a functorch wrapper (BatchedTensor, ...).  tapegrad's
    transforms run on plain tensors (vmap on per-sample slices), so there is none to take
    off: the tensor itself, as torch's for an unwrapped one."""
    return tensor


def replace_all_batch_norm_modules_(root):
    """torch.func's: every BatchNorm module in `root` (root too) that tracks running stats
    stops doing so, its running_mean / running_var / num_batches_tracked set to None, in
    place; returns root."""
    for m in root.modules():
        # (InstanceNorm, not a _BatchNorm, is left alone, as torch's)
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of `func` w.r.t. its `argnums` arguments, as torch.func.jacfwd returns it
    (output.shape + input.shape).  tapegrad has no forward mode: computed in reverse mode
    (the same values; a pass per output element instead of per input element)."""
    jac = _jacobian_of(func, argnums, has_aux, "jvp(f, primals, tangents)")

    def wrapper(*args, **kwargs):
        if randomness not in ("error", "different", "same"):   # (torch's vmap checks it)
            raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', "
                               f"or 'same'. Got {randomness}")
        # (torch's jacfwd is a vmap of jvp: custom Functions need a vmap rule and a jvp)
        TRANSFORMS.vmaps += 1
        TRANSFORMS.forwards += 1
        try:
            if randomness == "error":   # (torch's jacfwd is a vmap: a draw in func raises)
                return drawing_nothing(lambda: jac(*args, **kwargs))
            if randomness == "different" and not has_aux:
                try:
                    return drawing_nothing(lambda: jac(*args, **kwargs))
                except RuntimeError as e:   # (it drew: the generator is as it was)
                    if str(e) != RANDOM_IN_ERROR_MODE:
                        raise
            else:
                return jac(*args, **kwargs)
        finally:
            TRANSFORMS.vmaps -= 1
            TRANSFORMS.forwards -= 1
        return _jacfwd_drawing(func, argnums, args, kwargs)
    return wrapper


def _jacfwd_drawing(func, argnums, args, kwargs):
    """jacfwd(randomness="different") of a function that draws: torch's jacfwd is a vmap of
    jvp over the basis tangents, so each column of the Jacobian comes from its own draws
    (torch.func.vmap's batched ones, which tapegrad's vmap reproduces), not from one call's;
    the columns of all `argnums` inputs in order."""
    nums = _argnums(argnums, args)
    xs = [args[i] for i in nums]
    if not all(isinstance(x, Tensor) for x in xs):
        raise NotImplementedError("tapegrad.func.jacfwd(randomness='different') of a function "
                                  "that draws takes tensor arguments only")
    sizes = [x.numel() for x in xs]

    def column(e):
        tangents, k = [], 0
        for x, n in zip(xs, sizes):
            tangents.append(e[k:k + n].reshape(x.shape).to(x.dtype))
            k += n

        def f(*ys):
            call = list(args)
            for i, y in zip(nums, ys):
                call[i] = y
            return func(*call, **kwargs)
        return jvp(f, tuple(xs), tuple(tangents))[1]
    cols = vmap(column, randomness="different")(
        eye(sum(sizes), dtype=xs[0].dtype if xs[0].dtype.is_floating_point else None))
    outs, rebuild = _flatten(cols)
    blocks = []
    for o in outs:   # (N, *out.shape) -> per input: out.shape + in.shape
        per, k = [], 0
        for x, n in zip(xs, sizes):
            per.append(o[k:k + n].movedim(0, -1).reshape(tuple(o.shape[1:]) + tuple(x.shape)))
            k += n
        blocks.append(per[0] if isinstance(argnums, int) else tuple(per))
    return rebuild(blocks)


def hessian(func, argnums=0):
    """The Hessian of `func` (a one-element tensor) w.r.t. its `argnums` arguments: jacfwd
    of jacrev, as torch's (tapegrad's jacfwd is reverse mode; the values are the same)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- functional_call ---------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with its parameters and buffers named in the dict(s) replaced by
    the given tensors for the call (restored afterwards, also on error)."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, Sequence) and not isinstance(dicts, dict):
        if not all(isinstance(d, dict) for d in dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        counts = {}
        for d in dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
        dicts = {k: v for d in dicts for k, v in d.items()}
    elif not isinstance(dicts, dict):
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(dicts)}")
    return _stateless._functional_call(module, dicts, args, kwargs, tie_weights=tie_weights,
                                       strict=strict)


def stack_module_state(models):
    """(params, buffers): every parameter and buffer of the `models` (modules of one class,
    in one train/eval mode) stacked along a new first dim, by state-dict name, for
    `vmap(functional_call)` over an ensemble; the stacked parameters are new leaves (as
    torch's), unrelated to the models' own."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError(
            "stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    return ({k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]},
            {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]})


def _stacked_leaf(tensors, name):
    needs = [t.requires_grad for t in tensors]
    if any(needs) and not all(needs):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    out = stack(tensors)
    return out.detach().requires_grad_() if all(needs) else out
