"""`tapegrad.func.vmap` (also `tapegrad.vmap`): torch.func.vmap's semantics, "map then
stack": the function runs once per sample on the inputs' slices along `in_dims` and its
outputs are stacked along `out_dims` with tensor ops (indexing, stack), so gradients flow
through a vmap, a vmap of `grad` gives per-sample gradients, and vmaps nest.  torch's
argument checks and error messages; `randomness`: 'error' (a random draw in the function
raises torch's error, the generator left as it was), 'different' (each sample draws its
own), 'same' (every sample draws the same numbers).  `chunk_size` is accepted (the loop
already runs one sample at a time).

vmap of `func.grad(f)` / `func.grad_and_value(f)` (the per-sample gradient case) takes the
batch-replay path when it can: f is recorded once at the first sample (`tapegrad.record`)
and `Recorded.value_and_grad_batch` replays it at every sample in one parallel kernel call;
samples where a recorded branch does not hold, and every case the path does not cover
(nested transforms, has_aux, pytrees, a random draw, a function that does not record, a
LAPACK op such as logdet or solve), run the loop above, as does a function that closes over
a tensor that requires grad (the first sample, run eagerly, shows it: grad's results then
keep a graph to that tensor, which a recording would bake in as a constant).  Its results carry no graph, as the loop's.  f is
recorded at every call (a cached recording would keep stale values of tensors f reads from
its closure): B = 200 per-sample gradients of a 3-weight linear loss take 18 ms against the
loop's 125 ms (torch's vectorized vmap: 0.2 ms).

Differences from torch, by construction: the function runs B times (its Python side effects
happen B times), and `.item()` on a sample works where torch's batched tensors refuse it."""
import contextlib
import functools

import numpy as np

from .creation import tensor
from .grad_mode import inference_mode, is_grad_enabled
from .grad_mode import transformed_call, TRANSFORMS
from .random import default_generator
from .replay import record
from .tape import STATE
from .tensor import Tensor
from .views import stack

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_NO_CONTEXT = contextlib.nullcontext()


def _is_node(tree):
    """Whether `tree` is a pytree node of torch's: a tuple (namedtuples too), list or dict
    (None and everything else are leaves)."""
    return isinstance(tree, (tuple, list, dict))


def _leaves(tree):
    """The leaves of a pytree (tuples, namedtuples, lists, dicts) in order, and a rebuilder."""
    if isinstance(tree, (tuple, list)):
        parts = [_leaves(v) for v in tree]
        make = (lambda xs: type(tree)(*xs)) if hasattr(tree, "_fields") else type(tree)
        return [x for p, _ in parts for x in p], lambda xs: make(_split(parts, xs))
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_leaves(tree[k]) for k in keys]
        return [x for p, _ in parts for x in p], lambda xs: dict(zip(keys, _split(parts, xs)))
    return [tree], lambda xs: xs[0]


def _split(parts, xs):
    out, k = [], 0
    for leaves, rebuild in parts:
        out.append(rebuild(xs[k:k + len(leaves)]))
        k += len(leaves)
    return out


def _treespec(tree, indent=0):
    """The repr of torch's TreeSpec of `tree`'s structure (in vmap's and jvp's messages)."""
    if not _is_node(tree):
        return "*"
    if isinstance(tree, dict):
        kind, context = "dict", repr(list(tree.keys()))
    elif hasattr(tree, "_fields"):
        kind, context = "namedtuple", repr(type(tree))
    else:
        kind, context = type(tree).__name__, "None"
    items = tree.values() if isinstance(tree, dict) else tree
    kids = (",\n" + " " * (indent + 2)).join(_treespec(v, indent + 2) for v in items)
    return f"TreeSpec({kind}, {context}, [{kids}])"


def _broadcast_dims(dims, tree):
    """One dim per leaf of `tree`, or None where `dims` is not a prefix of `tree` (torch's
    _broadcast_to_and_flatten): a leaf of `dims` (any non-container) applies to every leaf
    below it; a container must be of the tree's exact type, length and keys.  A dict's
    dims come in the order of `dims`' keys, not the tree's, as torch's (which so pairs them
    with the tree's leaves in its own key order)."""
    if not _is_node(dims):
        return [dims] * len(_leaves(tree)[0])
    if type(dims) is not type(tree) or len(dims) != len(tree) or (
            isinstance(dims, dict) and set(dims) != set(tree)):
        return None
    out = []
    for k in (dims if isinstance(dims, dict) else range(len(dims))):
        sub = _broadcast_dims(dims[k], tree[k])
        if sub is None:
            return None
        out += sub
    return out


def _get_name(func):
    """torch's name of the function in vmap's messages (_get_name)."""
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _check_out_dims(out_dims, name):
    """torch's check that `out_dims` is an int, None or a pytree of them."""
    if not all(d is None or isinstance(d, int) for d in _leaves(out_dims)[0]):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                         f"None or a python collection of ints representing where in the "
                         f"outputs the vmapped dimension should appear.")


def _in_dims(in_dims, args, name):
    """(flat inputs, their dims (non-negative), rebuilder, batch size) with torch's checks of
    `in_dims` against the inputs, in torch's order (_process_batched_inputs)."""
    head = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{head}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                         f"inputs, or you are trying to vmap over a function with no inputs. "
                         f"The latter is unsupported.")
    leaves, rebuild = _leaves(args)
    dims = _broadcast_dims(in_dims, args)
    if dims is None:
        raise ValueError(f"{head}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {_treespec(in_dims)} but inputs has "
                         f"structure {_treespec(args)}.")
    sizes = []
    for i, (x, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{head}: Got in_dim={d} for an input but in_dim must be either "
                             f"an integer dimension or None.")
        if not isinstance(x, Tensor):
            raise ValueError(f"{head}: Got in_dim={d} for an input but the input is of type "
                             f"{type(x)}. We cannot vmap over non-Tensor arguments, please use "
                             f"None as the respective in_dim")
        if not -x.dim() <= d < x.dim():
            raise ValueError(f"{head}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {x.dim()} so expected in_dim to satisfy "
                             f"-{x.dim()} <= in_dim < {x.dim()}.")
        dims[i] = d % x.dim()
        sizes.append(x.shape[dims[i]])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(n != sizes[0] for n in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return leaves, dims, rebuild, sizes[0]


def _out_dims(out_dims, out, name):
    """One out_dim per leaf of the function's output `out`, as torch's _unwrap_batched (a
    lone tensor takes an int, None or a 1-tuple)."""
    if isinstance(out, Tensor):
        dims = ([out_dims] if out_dims is None or isinstance(out_dims, int) else
                list(out_dims) if isinstance(out_dims, tuple) and len(out_dims) == 1 else None)
    else:
        dims = _broadcast_dims(out_dims, out)
    if dims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         f"compatible with the structure of `outputs`. out_dims has structure "
                         f"{_treespec(out_dims)} but outputs has structure {_treespec(out)}.")
    return dims


def _placeholder(x, d):
    """A sample of x (mapped along d, of size 0) for a batch of size 0: zeros of a sample's
    shape and x's dtype, in x's graph (a sum over the empty dim), so the function can run
    once to give the outputs' shapes and dtypes."""
    return x.narrow(d, 0, 0).sum(d).to(x.dtype)


def _same(outs):
    """Whether the tensors `outs` (one output's value at each sample) are all equal: how the
    loop tells an output that does not depend on the batch (torch's out_dim None needs
    that; torch tells it by the output not being a BatchedTensor)."""
    a = outs[0]._array()
    return all(isinstance(o, Tensor) and tuple(o.shape) == a.shape and np.array_equal(
        o._array(), a, equal_nan=a.dtype.kind in "fc") for o in outs[1:])


RANDOM_IN_ERROR_MODE = ("vmap: called random operation while in randomness error mode. "
                        "Please either use the 'same' or 'different' randomness flags on vmap "
                        "or perform the randomness operation out of vmap")


def drawing_nothing(call):
    """call()'s result, or torch's vmap error when it drew from the default generator (whose
    state is then put back): randomness='error' of a transform that runs the function once
    (jacfwd, which torch runs under vmap)."""
    state = default_generator._snapshot()
    before = default_generator._fingerprint()
    out = call()
    if default_generator._fingerprint() != before:
        default_generator._restore(state)
        raise RuntimeError(RANDOM_IN_ERROR_MODE)
    return out


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a batch dimension of its inputs (`in_dims`: an int or None per
    argument, or pytrees of them), its outputs stacked along `out_dims`.  A batch of size 0
    runs func once, on placeholder samples (zeros), for the outputs' shapes: torch's results
    then (empty along the mapped dim)."""
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and not chunk_size > 0:   # (torch's test: a float passes it)
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    name = _get_name(func)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, name)
        leaves, dims, rebuild, size = _in_dims(in_dims, args, name)
        if isinstance(chunk_size, float):   # (torch's chunking: [chunk_size] * n_chunks)
            raise TypeError("can't multiply sequence by non-int of type 'float'")
        TRANSFORMS.depth += 1
        TRANSFORMS.vmaps += 1
        try:
            fast = _batched_grad(func, args, kwargs, leaves, dims, size, out_dims,
                                 randomness)
        finally:
            TRANSFORMS.depth -= 1
            TRANSFORMS.vmaps -= 1
        if fast is not None:
            return fast
        outs, state = [], default_generator._snapshot()
        before = default_generator._fingerprint()
        for i in range(max(size, 1)):
            if randomness == "same":
                default_generator._restore(state)
            sample = [x if d is None else x[(slice(None),) * d + (i,)] if size else
                      _placeholder(x, d) for x, d in zip(leaves, dims)]
            levels = transformed_call("vmap", [s for s, d in zip(sample, dims) if d is not None])
            TRANSFORMS.depth += 1
            TRANSFORMS.vmaps += 1
            saved = TRANSFORMS.levels
            TRANSFORMS.levels = levels
            try:
                outs.append(func(*rebuild(sample), **kwargs))
            finally:
                TRANSFORMS.depth -= 1
                TRANSFORMS.vmaps -= 1
                TRANSFORMS.levels = saved
            if randomness == "error" and default_generator._fingerprint() != before:
                default_generator._restore(state)
                raise RuntimeError(RANDOM_IN_ERROR_MODE)
        if not size:
            default_generator._restore(state)    # (no sample drew anything)
        first, out_rebuild = _leaves(outs[0])
        odims = _out_dims(out_dims, outs[0], name)
        per = [_leaves(o)[0] for o in outs]
        result = []
        for j, (o, d) in enumerate(zip(first, odims)):
            if d is None:
                if isinstance(o, Tensor) and not _same([p[j] for p in per]):
                    raise ValueError(f"vmap({name}, ...): `{name}` can not return a "
                                     f"BatchedTensor when out_dim is None")
                result.append(o)
            elif not isinstance(o, Tensor):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                                 f"type {type(o)}. Did you mean to set out_dims= to None for "
                                 f"output?")
            elif not size:
                result.append(o.unsqueeze(d).narrow(d, 0, 0))
            else:
                result.append(_stacked([p[j] for p in per], d))
        return out_rebuild(result)
    return wrapped


def _stacked(samples, d):
    """The per-sample outputs stacked along d.  Inside inference_mode, an ordinary tensor
    where they are (a grad transform's results: its level turns inference mode off), as
    torch's batched result, which is the computation's own, not one made at the vmap."""
    if STATE.inference and not samples[0].is_inference():
        with inference_mode(False):
            return stack(samples, d)
    return stack(samples, d)


def _keeps_graph(g):
    """Whether a gradient (or tuple of them) of func.grad's has a graph: f closes over a
    tensor that requires grad."""
    return any(t.requires_grad for t in (g if isinstance(g, tuple) else (g,)))


def _batched_grad(func, args, kwargs, leaves, dims, size, out_dims, randomness):
    """vmap(grad(f)) by batch replay (module doc), or None where that path does not apply."""
    spec = getattr(func, "_tg_grad", None)
    if (spec is None or kwargs or out_dims != 0 or randomness == "same" or size < 2
            or getattr(STATE.tape, "recording", False)):
        return None
    f, argnums, has_aux, with_value = spec
    if has_aux or len(leaves) != len(args) or any(
            not isinstance(x, Tensor) or not x.dtype.is_floating_point or x.requires_grad
            or d not in (0, None) for x, d in zip(leaves, dims)):
        return None
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or any(not isinstance(a, int) or not -len(args) <= a < len(args)
                       for a in nums):
        return None
    sample = [x[0] if d == 0 else x for x, d in zip(leaves, dims)]
    if is_grad_enabled() and _keeps_graph(func.__wrapped_gv__(*sample)[0]):
        return None     # f reaches a tensor it closes over that requires grad: the loop keeps
        # the results' graph to it (a recording bakes such a tensor in as a constant)
    state, before = default_generator._snapshot(), default_generator._fingerprint()
    try:
        rec = record(f, *sample)
    except Exception:                   # noqa: BLE001 (the loop gives the error, if any)
        return None
    finally:
        drew = default_generator._fingerprint() != before
        default_generator._restore(state)
    if drew or len(rec.outputs) != 1 or rec.outputs[0][1] not in ((), (1,)) or \
            not rec.batchable:          # (a LAPACK entry: the loop, which pauses for it)
        return None
    xs = [np.ascontiguousarray(x._array()) if d == 0 else
          np.broadcast_to(x._array(), (size,) + tuple(x.shape)) for x, d in zip(leaves, dims)]
    values, grads, held = rec.value_and_grad_batch(
        *xs, argnums=tuple(a % len(args) for a in nums), branch_changed="mask")
    grads = list(grads)
    if not held.all():                  # those samples once more, eagerly
        for i in np.flatnonzero(~held).tolist():
            g, v = func.__wrapped_gv__(*[x[i] if d == 0 else x for x, d in zip(leaves, dims)])
            for k, gk in enumerate(g if not isinstance(argnums, int) else (g,)):
                grads[k][i] = gk._array()
            values[i] = v.item()
    # (ordinary tensors inside inference_mode too, as the loop's grad results: _stacked)
    with inference_mode(False) if STATE.inference else _NO_CONTEXT:
        out = [tensor(g, dtype=leaves[a % len(args)].dtype) for g, a in zip(grads, nums)]
        g = out[0] if isinstance(argnums, int) else tuple(out)
        if with_value:
            return g, tensor(values.reshape((size,) + rec.outputs[0][1]),
                             dtype=rec.outputs[0][2])
    return g
