"""`tapegrad.nn.utils.stateless.functional_call` (deprecated in torch 2.0 for
`torch.func.functional_call`) and `_functional_call`, which both run (torch's layout: func
builds on nn)."""
import warnings

__all__ = ["functional_call"]


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Deprecated: torch.func.functional_call (module(*args, **kwargs) with the named
    parameters and buffers replaced for the call)."""
    warnings.warn("`tapegrad.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 "
                  "and will be removed in a future version of PyTorch. Please use "
                  "`tapegrad.func.functional_call` instead which is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


def _owner(module, name):
    *path, leaf = name.split(".")
    m = module
    for p in path:
        m = getattr(m, p)
    return m, leaf


_MISSING = object()


def _functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                     tie_weights=True, strict=False):
    """module(*args, **kwargs) with its parameters and buffers named in the dict replaced by
    the given tensors for the call (restored afterwards, also on error)."""
    dicts = parameters_and_buffers
    if strict:
        names = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        msgs = []
        unexpected = sorted(set(dicts) - names)
        if unexpected:
            msgs.append("Unexpected key(s): " + ", ".join(map(repr, unexpected)) + ".")
        missing = sorted(names - set(dicts))
        if missing:
            msgs.append("Missing key(s): " + ", ".join(map(repr, missing)) + ".")
        if msgs:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               + "\n\t".join(msgs))
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


