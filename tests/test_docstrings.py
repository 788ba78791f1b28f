"""Every public name of `tapegrad`, `tapegrad.autograd` (and its `functional`),
`tapegrad.viz` and `tapegrad.distributions` (and its `constraints`) has a docstring:
the API reference (docs/api.md, mkdocstrings) is generated from them."""
import inspect
import types

import pytest

import tapegrad
import tapegrad.autograd
import tapegrad.autograd.functional
import tapegrad.distributions
import tapegrad.viz


def public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")
                 and not isinstance(getattr(mod, n), types.ModuleType)]
    return [(mod.__name__, n) for n in names]


NAMES = (public(tapegrad) + public(tapegrad.autograd) + public(tapegrad.autograd.functional)
         + public(tapegrad.viz) + public(tapegrad.distributions)
         + public(tapegrad.distributions.constraints))


@pytest.mark.parametrize("module,name", NAMES, ids=[f"{m}.{n}" for m, n in NAMES])
def test_has_docstring(module, name):
    obj = getattr(__import__(module, fromlist=[name]), name)
    if isinstance(obj, types.ModuleType):
        doc = obj.__doc__
    elif inspect.isroutine(obj) or inspect.isclass(obj):
        doc = obj.__doc__
    elif obj is None:                  # a constant None (newaxis, as torch's)
        return
    else:                              # dtype instances: their class says what they are
        doc = type(obj).__doc__
    assert doc and doc.strip(), f"{module}.{name} has no docstring"


def test_the_names_cover_the_api():
    names = {n for _, n in NAMES}
    assert {"tensor", "Tensor", "no_grad", "record", "compile", "tape_summary", "to_dot",
            "backward", "grad", "Variable", "gradcheck", "jacobian", "hessian"} <= names
