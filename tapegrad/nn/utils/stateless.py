"""`tapegrad.nn.utils.stateless.functional_call` (deprecated in torch 2.0 for
`torch.func.functional_call`) and `_functional_call`, which both run (torch's layout: func
builds on nn)."""
import warnings

from ..._signals import COMMIT
from ..parallel import DataParallel
from ._named_member_accessor import NamedMemberAccessor

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


def _untie_named_tensors_map(module, parameters_and_buffers):
    """A copy of the dict with every name of a tied tensor (one tensor under several names)
    given the value given for one of them; a ValueError when its names get different
    tensors."""
    names_of = {}      # id(tensor) -> every name of it (a tied tensor has several)
    for name, t in [*module.named_parameters(remove_duplicate=False),
                    *module.named_buffers(remove_duplicate=False)]:
        names_of.setdefault(id(t), set()).add(name)
    tied_names = {n: names for names in names_of.values() if len(names) > 1 for n in names}
    given_tied = {n for n in parameters_and_buffers if n in tied_names}
    for given in given_tied:
        names = tied_names[given]
        # (as torch's, the values compared are every tied name's: a KeyError when more than
        # one name of the tensor is given but not all)
        if (len(names & given_tied) > 1
                and len({id(parameters_and_buffers[n]) for n in names}) != 1):
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, "
                             f"which are tied. Consider using tie_weights=False")
    untied = parameters_and_buffers.copy()
    for given in given_tied:
        for n in tied_names[given]:
            untied[n] = parameters_and_buffers[given]
    return untied


def _functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                     tie_weights=True, strict=False):
    """module(*args, **kwargs) with its parameters and buffers named in the dict replaced by
    the given tensors for the call (with tie_weights, every other name of a tied one too);
    restored afterwards, also on error.  A tensor the module assigns to one of the names
    during the call is written back into the dict, as torch's."""
    if isinstance(module, DataParallel):
        raise RuntimeError("The stateless API can't be used with nn.DataParallel module")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    untied = (_untie_named_tensors_map(module, parameters_and_buffers) if tie_weights
              else parameters_and_buffers)
    accessor = NamedMemberAccessor(module)
    if strict:
        missing, unexpected = accessor.check_keys(untied)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                module._get_name(), "\n\t".join(msgs)))
    orig = {}
    try:
        # (a Ctrl-C during a swap is held back until it is whole and `orig` is bound: the
        # module never keeps some of the given tensors after the call)
        with COMMIT:
            orig, _ = accessor.swap_tensors_dict(untied, allow_missing=True)
        return module(*args, **kwargs)
    finally:
        with COMMIT:
            new, _ = accessor.swap_tensors_dict(orig, allow_missing=True)
        parameters_and_buffers.update({k: new[k] for k in parameters_and_buffers if k in new})
