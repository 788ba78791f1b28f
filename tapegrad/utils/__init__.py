"""torch.utils: `checkpoint` (tapegrad.utils.checkpoint), `dlpack`, `hooks`, `swap_tensors` and
`data` (datasets, samplers, DataLoader: tapegrad.utils.data, loaded on first use: with
multiprocessing it is ~15 ms of `import tapegrad`)."""
import copyreg
import weakref

from . import checkpoint, dlpack, hooks
from ..tape import STATE
from ..tensor import Tensor

__all__ = ["checkpoint", "data", "dlpack", "hooks", "swap_tensors"]


def swap_tensors(t1, t2):
    """torch.utils.swap_tensors: t1 and t2 exchange their contents (class, attributes, value,
    graph position, grad) in place, so every reference to t1 now sees what t2 was.  torch's
    checks: no weak references to either (tapegrad's graph refers weakly to the tensors it
    still needs, so this also refuses a tensor a live graph uses, where torch counts uses),
    the same slots.  A leaf that requires grad and is on the current tape is refused too:
    the tape holds the tensor object itself, so its gradient would go to the swapped-in
    contents (torch instead poisons the leaf's AccumulateGrad and raises at backward)."""
    if weakref.getweakrefs(t1):
        raise RuntimeError("Cannot swap t1 because it has weakref associated with it")
    if weakref.getweakrefs(t2):
        raise RuntimeError("Cannot swap t2 because it has weakref associated with it")
    t1_slots = set(copyreg._slotnames(t1.__class__))
    t2_slots = set(copyreg._slotnames(t2.__class__))
    if t1_slots != t2_slots:
        raise RuntimeError("Cannot swap t1 and t2 if they have different slots")

    def swap_attr(name):
        tmp = getattr(t1, name)
        setattr(t1, name, getattr(t2, name))
        setattr(t2, name, tmp)

    for name, t in (("t1", t1), ("t2", t2)):   # (torch's use-count check reads _use_count)
        if not isinstance(t, Tensor):
            raise AttributeError(f"'{type(t).__name__}' object has no attribute '_use_count'")
        if t._recorded and t._tape is None and id(t) in getattr(STATE.tape, "leaf_of", ()):
            raise RuntimeError(f"Cannot swap {name}: it is a leaf of a graph on the current "
                               f"tape, which would accumulate its gradient into the swapped-in "
                               f"tensor; swap it before using it in a graph, or after "
                               f"backward()")
    if type(t1) is not type(t2):
        swap_attr("__class__")
    # (tapegrad's Tensor has no __dict__; a subclass's instance has one)
    d1, d2 = getattr(t1, "__dict__", None), getattr(t2, "__dict__", None)
    if d1 is not None and d2 is not None:
        swap_attr("__dict__")
    for slot in t1_slots:
        if hasattr(t1, slot) and hasattr(t2, slot):
            swap_attr(slot)
        elif hasattr(t1, slot):
            setattr(t2, slot, getattr(t1, slot))
            delattr(t1, slot)
        elif hasattr(t2, slot):
            setattr(t1, slot, getattr(t2, slot))
            delattr(t2, slot)


def __getattr__(name):
    if name == "data":
        import importlib
        return importlib.import_module(f"{__name__}.data")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"data"})
