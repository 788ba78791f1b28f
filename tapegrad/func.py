"""`tapegrad.func`: torch.func's function transforms `grad`, `grad_and_value`, `vjp`,
`jacrev`, `hessian` and `functional_call`, built on `autograd.grad`.

A transform differentiates with respect to fresh leaves made from its inputs, so the inputs
stay untouched; when an input already requires grad (a transform inside another, e.g.
`hessian` = `jacrev(jacrev(f))`, or a user's leaf) the input itself is differentiated with
`create_graph=True`, so the result stays differentiable for the outer transform.  `jacrev`
of a function of tensors that are not nested uses `autograd.functional.jacobian`, whose
rows come from one Numba call.  Inputs may be pytrees of tensors (tuples, lists, dicts).
"""
import numpy as np

from .autograd import functional as AF
from .autograd.api import grad as _autograd_grad
from .creation import zeros_like
from .grad_mode import enable_grad
from .tensor import Tensor
from .mapping import vmap
from .views import stack

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "hessian", "functional_call", "vmap",
           "jvp", "jacfwd", "stack_module_state"]


# ---- pytrees of tensors ----------------------------------------------------------------------
def _flatten(tree):
    """The tensors of `tree` (a tensor, or tuples / lists / dicts of them) and a rebuilder."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
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
    raise ValueError(f"Expected tensors, got unsupported type {type(tree)}")


def _argnums(argnums, args, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(a)}")
        if not -len(args) <= a < len(args):
            raise RuntimeError(f"Got argnum={a}, but only {len(args)} positional inputs")
    return tuple(a % len(args) for a in nums)


def _differentiable(leaves):
    """Leaves to differentiate with respect to, and whether the results keep a graph."""
    nested = any(x.requires_grad for x in leaves)
    return [x if x.requires_grad else x.detach().requires_grad_() for x in leaves], nested


def _outer_graph(outputs, leaves):
    """Whether an output's graph reaches a tensor that requires grad other than the
    transform's own `leaves` (`w` in `grad(lambda x: (w * x).sum())` with w a parameter):
    then the results keep their graph to it, as torch.func's (an outer backward, as in
    meta-learning, reaches w through them)."""
    own = {id(x) for x in leaves}
    for o in outputs:
        if not (isinstance(o, Tensor) and o.requires_grad):
            continue
        tape = o._tape
        if tape is None:          # the output is a leaf itself
            if id(o) not in own:
                return True
            continue
        n = o._node + 1
        reach = tape.reached([o._node], n)
        imports = np.fromiter(tape.imports, np.int64, len(tape.imports))
        if reach[imports[imports < n]].any():     # a tensor of an older graph
            return True
        leaves = np.fromiter(tape.leaves, np.int64, len(tape.leaves))
        leaves = leaves[leaves < n]
        # (Python only for the reached leaves: the function's own, and any outer one)
        if any(id(tape.leaves[int(k)]) not in own for k in leaves[reach[leaves] != 0]):
            return True
    return False


def _grads(outputs, leaves, grad_outputs, nested, retain=False):
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not live:
        return [zeros_like(x) for x in leaves]
    gs = _autograd_grad([o for o, _ in live], leaves, grad_outputs=[g for _, g in live],
                        retain_graph=True if retain else None, create_graph=nested,
                        allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(gs, leaves)]


def _plain(tree, nested):
    if nested or not isinstance(tree, (Tensor, tuple, list, dict)):
        return tree
    leaves, rebuild = _flatten(tree)
    return rebuild([x.detach() for x in leaves])


# ---- transforms ------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of `func` w.r.t. its `argnums` arguments, value of
    `func`); `func` returns a one-element tensor (and an auxiliary value with `has_aux`)."""
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, args, "grad")
        flats = [_flatten(args[i]) for i in nums]
        leaves, nested = _differentiable([x for f, _ in flats for x in f])
        call, k = list(args), 0
        for i, (f, rebuild) in zip(nums, flats):
            call[i] = rebuild(leaves[k:k + len(f)])
            k += len(f)
        with enable_grad():
            out = func(*call, **kwargs)
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
            nested = nested or _outer_graph([out], leaves)
            gs = _grads([out], leaves, [None], nested)
        res, k = [], 0
        for f, rebuild in flats:
            res.append(rebuild(gs[k:k + len(f)]))
            k += len(f)
        g = res[0] if isinstance(argnums, int) else tuple(res)
        value = out if nested else out.detach()
        return (g, (value, _plain(aux, nested))) if has_aux else (g, value)
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


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) where vjp_fn(cotangents) returns the tuple of vector-Jacobian
    products, one per primal (callable more than once)."""
    flats = [_flatten(p) for p in primals]
    leaves, nested = _differentiable([x for f, _ in flats for x in f])
    call, k = [], 0
    for f, rebuild in flats:
        call.append(rebuild(leaves[k:k + len(f)]))
        k += len(f)
    with enable_grad():
        out = func(*call)
    aux = None
    if has_aux:
        out, aux = out
    outs, out_rebuild = _flatten(out)
    nested = nested or _outer_graph(outs, leaves)

    def vjp_fn(cotangents):
        cots, _ = _flatten(cotangents)
        if len(cots) != len(outs):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function")
        for c, o in zip(cots, outs):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        with enable_grad():
            gs = _grads(outs, leaves, cots, nested, retain=True)
        res, k = [], 0
        for f, rebuild in flats:
            res.append(rebuild(gs[k:k + len(f)]))
            k += len(f)
        return tuple(res)
    value = out_rebuild([o if nested else o.detach() for o in outs])
    return (value, vjp_fn, _plain(aux, nested)) if has_aux else (value, vjp_fn)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of `func` w.r.t. its `argnums` arguments (tensors),
    each block shaped output.shape + input.shape, by reverse mode."""
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, args, "jacrev")
        for i in nums:
            if not isinstance(args[i], Tensor):
                raise NotImplementedError("jacrev: arguments differentiated with respect to "
                                          "must be tensors in tapegrad")
        xs = tuple(args[i] for i in nums)
        nested = any(x.requires_grad for x in xs)
        aux = []

        def f(*ys):
            call = list(args)
            for i, y in zip(nums, ys):
                call[i] = y
            out = func(*call, **kwargs)
            if has_aux:
                out, a = out
                aux.append(a)
            return tuple(out) if isinstance(out, list) else out
        J = AF.jacobian(f, xs, create_graph=nested)
        # AF.jacobian gives [output][input] blocks for tuple inputs: keep torch.func's shape
        if isinstance(J, tuple) and J and isinstance(J[0], tuple):
            J = tuple(b if not isinstance(argnums, int) else b[0] for b in J)
        elif isinstance(argnums, int):
            J = J[0]
        return (J, _plain(aux[0], nested)) if has_aux else J
    return wrapper


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian-vector product with `tangents`).  tapegrad has no
    forward mode: the product is computed by reverse mode twice (autograd.functional.jvp),
    with the same values; Python control flow in `func` runs as for a reverse pass."""
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. "
                           "it should be valid to call f(*primals).")
    if not isinstance(tangents, tuple) or len(tangents) != len(primals):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same python structure.")
    aux = []

    def f(*xs):
        out = func(*xs)
        if has_aux:
            out, a = out
            aux.append(a)
        return out
    nested = any(isinstance(p, Tensor) and p.requires_grad for p in primals)
    out, tangent_out = AF.jvp(f, primals, tangents, create_graph=nested, strict=strict)
    return (out, tangent_out, _plain(aux[0], nested)) if has_aux else (out, tangent_out)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of `func` w.r.t. its `argnums` arguments, as torch.func.jacfwd returns it
    (output.shape + input.shape).  tapegrad has no forward mode: computed by jacrev (the same
    values; reverse mode costs a pass per output element instead of per input element)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of `func` (a one-element tensor) w.r.t. its `argnums` arguments:
    jacrev of jacrev (torch's is forward over reverse; the values are the same)."""
    return jacrev(jacrev(func, argnums), argnums)


# ---- functional_call ---------------------------------------------------------------------------
def _owner(module, name):
    *path, leaf = name.split(".")
    m = module
    for p in path:
        m = getattr(m, p)
    return m, leaf


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with its parameters and buffers named in the dict(s) replaced by
    the given tensors for the call (restored afterwards, also on error)."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, (list, tuple)):
        merged = {}
        for d in dicts:
            for k in d:
                if k in merged:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                     f"functional call is ambiguous")
            merged.update(d)
        dicts = merged
    if strict:
        names = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        missing = sorted(names - set(dicts))
        unexpected = sorted(set(dicts) - names)
        if missing or unexpected:
            msg = "Error(s) in reparametrizing for {}:".format(type(module).__name__)
            if unexpected:
                msg += " Unexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + "."
            if missing:
                msg += " Missing key(s): " + ", ".join(f"'{k}'" for k in missing) + "."
            raise RuntimeError(msg)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    saved = []
    try:
        for name, value in dicts.items():
            owner, leaf = _owner(module, name)
            for store in ("_parameters", "_buffers"):
                table = owner.__dict__.get(store)
                if table is not None and leaf in table:
                    saved.append((table, leaf, table[leaf]))
                    table[leaf] = value
                    break
            else:
                saved.append((owner.__dict__, leaf, owner.__dict__.get(leaf, _MISSING)))
                owner.__dict__[leaf] = value
        return module(*args, **(kwargs or {}))
    finally:
        for table, leaf, old in reversed(saved):
            if old is _MISSING:
                del table[leaf]
            else:
                table[leaf] = old


_MISSING = object()


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
