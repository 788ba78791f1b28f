"""Containers: `Container` (deprecated), `Sequential`, `ModuleList`, `ModuleDict` (torch's indexing, iteration and
reprs)."""
import operator
import warnings
from collections import OrderedDict, abc as container_abcs

from .module import Module, _addindent, _has_any_global_hook
# (torch defines its parameter containers in container.py: programs import them from there)
from .paramcontainer import ParameterDict, ParameterList

__all__ = ["Container", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict"]

_MODULE_CALL = Module.__call__


def _index(idx, n):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range")
    return idx % n


class Container(Module):
    """torch's deprecated nn.Container: a Module with the keyword arguments as children (a
    FutureWarning when made)."""

    def __init__(self, **kwargs):
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now "
                      "implemented in `nn.Module`. Subclass that instead.", FutureWarning,
                      stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)


class _Numbered(Module):
    """What Sequential and ModuleList share: children keyed "0", "1", ... in order."""

    def __delitem__(self, idx):
        keys = list(self._modules)
        for k in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self))]]):
            del self._modules[k]
        vals = list(self._modules.values())   # torch renumbers
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def pop(self, key):
        """Remove and return the module at `key` (an int, or a slice: a container of them);
        the rest are renumbered."""
        v = self[key]
        del self[key]
        return v

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self


class Sequential(_Numbered):
    """Modules called one after another: Sequential(m1, m2, ...) or Sequential(OrderedDict)."""

    def extend(self, sequential):   # (torch's parameter name, a keyword too)
        return super().extend(sequential)

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, m in args[0].items():
                self.add_module(key, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(idx, len(self))]
        setattr(self, key, module)

    @staticmethod
    def _check_addend(other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")

    def __add__(self, other):
        """A new Sequential of self's modules, then other's (the same module objects)."""
        self._check_addend(other)
        ret = Sequential()
        for m in list(self) + list(other):
            ret.append(m)
        return ret

    def __iadd__(self, other):
        self._check_addend(other)
        offset = len(self)
        for i, m in enumerate(list(other)):
            self.add_module(str(i + offset), m)
        return self

    def _check_factor(self, other):
        # torch raises (rather than returning NotImplemented) for a non-int factor
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and "
                            f"{type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")

    def __mul__(self, other):
        """A new Sequential of self's modules repeated `other` times (the same objects, so
        the repeats share parameters)."""
        self._check_factor(other)
        ret = Sequential()
        for i, m in enumerate(list(self) * other):
            ret.add_module(str(i), m)
        return ret

    def __rmul__(self, other):
        return self.__mul__(other)

    def __imul__(self, other):
        self._check_factor(other)
        mods = list(self._modules.values())
        offset = len(self)
        for i, m in enumerate(mods * (other - 1)):
            self.add_module(str(i + offset), m)
        return self

    def insert(self, index, module):
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        vals = list(self._modules.values())
        vals.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m
        return self

    def forward(self, input):
        hooked = _has_any_global_hook()     # (every child's call runs the global hooks)
        for m in self._modules.values():
            # a child without hooks (and Module's own __call__) runs its forward directly:
            # what its __call__ would do, without that call's ~0.25 us (a call through C)
            try:
                d = m.__dict__
            except AttributeError:      # (an entry set to None: called, as torch's)
                input = m(input)
                continue
            if (not hooked and type(m).__call__ is _MODULE_CALL
                    and not d.get("_forward_hooks", True)
                    and not d.get("_forward_pre_hooks", True)
                    and not d.get("_backward_hooks", True)
                    and not d.get("_backward_pre_hooks", True)):
                input = m.forward(input)
            else:
                input = m(input)
        return input


class ModuleList(_Numbered):
    """A list of modules, registered (their parameters are the list's)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self)))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(idx, len(self))), module)


    def extend(self, modules):
        if not isinstance(modules, container_abcs.Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        return super().extend(modules)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def insert(self, index, module):
        vals = list(self._modules.values())
        vals.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(vals):
            self.add_module(str(i), m)

    def __repr__(self):
        """torch's: consecutive equal entries folded into `(i-j): n x Module(...)`."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        lines, start = [], 0
        for i in range(1, len(reprs) + 1):
            if i == len(reprs) or reprs[i] != reprs[start]:
                body = _addindent(reprs[start], 2)
                if i - start == 1:
                    lines.append(f"({start}): {body}")
                else:
                    lines.append(f"({start}-{i - 1}): {i - start} x {body}")
                start = i
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add entries from a mapping (in its order) or from (key, module) pairs."""
        if not isinstance(modules, container_abcs.Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value "
                            "pairs, but got " + type(modules).__name__)
        if isinstance(modules, (ModuleDict, container_abcs.Mapping)):
            for k, m in modules.items():
                self[k] = m
            return
        for j, m in enumerate(modules):
            if not isinstance(m, container_abcs.Iterable):
                raise TypeError("ModuleDict update sequence element #" + str(j)
                                + " should be Iterable; is" + type(m).__name__)
            if not len(m) == 2:
                raise ValueError("ModuleDict update sequence element #" + str(j)
                                 + " has length " + str(len(m)) + "; 2 is required")
            self[m[0]] = m[1]


# (torch's home of the parameter containers: type(m) and pickles name it)
ParameterList.__module__ = ParameterDict.__module__ = __name__
