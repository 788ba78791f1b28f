"""Draw the docs' graph pictures (docs/img/*.svg) with tapegrad.viz.

    python docs/make_pictures.py

Needs the graphviz Python package and Graphviz's `dot` (pip install graphviz; apt-get install
graphviz).  Each picture is one of the tutorial's graphs, before and after `backward()`.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tapegrad as t  # noqa: E402
from tapegrad.viz import to_dot  # noqa: E402


def leaves():
    """tutorial.md, "The computation graph and leaves": y = (w + x) * (w + 1), a retained."""
    w = t.tensor([1.0], requires_grad=True)
    x = t.tensor([2.0], requires_grad=True)
    a = w + x
    a.retain_grad()
    b = w + 1
    y = a * b
    params = {"w": w, "x": x}
    yield "leaves_before", to_dot(y, params)
    y.backward()
    yield "leaves_after", to_dot(y, params)


def retain_graph():
    """tutorial.md, "retain_graph": y = x.pow(2), backward with and without retain_graph."""
    x = t.tensor([2.0], requires_grad=True)
    y = x.pow(2)
    yield "pow_before", to_dot(y, {"x": x})
    y.backward(retain_graph=True)
    yield "pow_retained", to_dot(y, {"x": x})
    y.backward()
    yield "pow_freed", to_dot(y, {"x": x})


def summary():
    """tutorial.md, "Summary": d = (a + b).pow(2).sum() over 2x3 tensors."""
    a = t.ones(2, 3, requires_grad=True)
    b = t.ones(2, 3)
    d = t.add(a, b).pow(2).sum()
    yield "summary_before", to_dot(d, {"a": a})
    d.backward()
    yield "summary_after", to_dot(d, {"a": a})


def main():
    out = os.path.join(HERE, "img")
    os.makedirs(out, exist_ok=True)
    for make in (leaves, retain_graph, summary):
        for name, dot in make():
            print(dot.render(os.path.join(out, name), format="svg"))


if __name__ == "__main__":
    main()
