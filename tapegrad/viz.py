"""Pictures of the backward graph, in the look of torchviz's `make_dot`.

    dot = tapegrad.viz.to_dot(loss, params={"w": w, "b": b})
    dot.source                        # Graphviz dot text
    dot.render("graph", format="svg") # writes graph.svg (needs the graphviz package and `dot`)
    dot                               # in Jupyter: displayed as SVG

Read from the graph API only (`grad_fn`, `next_functions`, `variable`, and the read-only
facts of `tapegrad.graph`): drawing never changes a tensor or a tape.

As in torchviz: light blue boxes are leaves (`AccumulateGrad.variable`, labelled with their
`params` name and shape), green ones the tensors drawn from, grey boxes the `grad_fn` nodes
named as torch names them, orange boxes the tensors a node saved for its backward (tapegrad
adds: dashed and white once a backward without retain_graph freed them, and the node itself
dashed), and a node's saved Python numbers are listed under its name.  Non-leaf tensors that
called `retain_grad()` hang off their node in yellow.  Edges run from inputs to the node that
consumes them.  (Hooks are not drawn, as torchviz draws none.)
"""
import os
import shutil

from .graph import AccumulateGrad, is_freed, retained_tensor, saved_buffers
from .tensor import Tensor

__all__ = ["to_dot", "Dot"]

NODE_ATTR = dict(style="filled", shape="box", align="left", fontsize="10", ranksep="0.1",
                 height="0.2", fontname="monospace")
LEAF, OUTPUT, SAVED, RETAINED = "lightblue", "darkolivegreen1", "orange", "lightyellow"

INSTALL_HINT = ("rendering needs the `graphviz` Python package (pip install graphviz) and "
                "Graphviz's `dot` program (apt-get install graphviz, brew install graphviz or "
                "conda install graphviz)")


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs):
    return " [" + " ".join(f"{k}={_quote(v)}" for k, v in attrs.items()) + "]" if attrs else ""


def _size(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _dtype(t):
    return str(t.dtype).rsplit(".", 1)[-1]


class Dot:
    """Graphviz source of one graph: `.source`, `render()`, and `_repr_svg_` for Jupyter."""

    def __init__(self, name="tapegrad"):
        self.name = name
        self.nodes = []      # (id, attrs)
        self.edges = []      # (tail, head, attrs)

    def node(self, ident, label, **attrs):
        self.nodes.append((ident, dict(label=label, **attrs)))

    def edge(self, tail, head, **attrs):
        self.edges.append((tail, head, attrs))

    @property
    def source(self):
        lines = [f"digraph {self.name} {{",
                 f"\tgraph [size=\"12,12\"]",
                 "\tnode" + _attrs(NODE_ATTR)]
        lines += [f"\t{ident}{_attrs(attrs)}" for ident, attrs in self.nodes]
        lines += [f"\t{tail} -> {head}{_attrs(attrs)}" for tail, head, attrs in self.edges]
        return "\n".join(lines) + "\n}\n"

    def __str__(self):
        return self.source

    def pipe(self, format="svg"):
        """The rendered image as bytes."""
        if format not in ("svg", "png"):
            raise ValueError(f"format must be 'svg' or 'png', got {format!r}")
        try:
            import graphviz
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        if shutil.which("dot") is None:
            raise RuntimeError(INSTALL_HINT + ": the `dot` program is not on PATH")
        return graphviz.Source(self.source).pipe(format=format)

    def render(self, path, format="svg"):
        """Write the picture to `path` (the format's suffix is added when missing); returns
        the file name written."""
        data = self.pipe(format)
        if not path.endswith("." + format):
            path = f"{path}.{format}"
        with open(path, "wb") as f:
            f.write(data)
        return os.fspath(path)

    def _repr_svg_(self):
        return self.pipe("svg").decode("utf-8")


def to_dot(tensor_or_tensors, params=None):
    """The backward graph of `tensor_or_tensors` (a tensor or a sequence of them) as a `Dot`.
    `params` maps names to leaf tensors; leaves found in it are labelled with their name."""
    roots = ([tensor_or_tensors] if isinstance(tensor_or_tensors, Tensor)
             else list(tensor_or_tensors))
    names = {id(t): name for name, t in (params or {}).items()}
    dot = Dot()
    ids = {}
    seen = []   # what ids names, held: a grad_fn nothing holds is made again (graph.py)

    def ident(obj, kind):
        key = (kind, id(obj))
        if key not in ids:
            ids[key] = f"{kind}{len(ids)}"
            seen.append(obj)
        return ids[key]

    def var_label(t, name=""):
        name = name or names.get(id(t), "")
        return f"{name}\n {_size(t.shape)} {_dtype(t)}"

    def add_fn(fn):
        key = ("fn", id(fn))
        if key in ids:
            return ids[key]
        me = ident(fn, "fn")
        label = type(fn).__name__
        if isinstance(fn, AccumulateGrad):
            var = fn.variable
            vid = ident(var, "leaf")
            dot.node(vid, var_label(var), fillcolor=LEAF)
            dot.edge(vid, me)
        else:
            saved = saved_buffers(fn)
            numbers = [f"{s.name}: {s.value:g}" for s in saved if s.value is not None]
            if numbers:
                label += "\n" + "-" * len(label) + "\n" + "\n".join(numbers)
            tensors = {}            # one box per saved tensor, listing its roles
            for s in saved:
                if s.value is None:
                    tensors.setdefault((s.node, s.shape, s.alive), []).append(s.name)
            for k, ((_, shape, alive), roles) in enumerate(tensors.items()):
                sid = f"{me}_saved{k}"
                size = _size(shape) if shape is not None else "1 element"
                text = f"{', '.join(roles)}\n {size}"
                if alive:
                    dot.node(sid, text, fillcolor=SAVED)
                else:
                    dot.node(sid, text + "\n (freed)", fillcolor="white", style="filled,dashed",
                             fontcolor="gray40", color="gray40")
                dot.edge(sid, me, dir="none", **({} if alive else {"style": "dashed"}))
            kept = retained_tensor(fn)
            if kept is not None and not any(kept is r for r in roots):
                rid = ident(kept, "retained")
                grad = "grad" if kept.grad is not None else "grad None"
                dot.node(rid, f"retain_grad\n {_size(kept.shape)}\n {grad}", fillcolor=RETAINED)
                dot.edge(me, rid, style="dotted")
        freed = not isinstance(fn, AccumulateGrad) and is_freed(fn)
        dot.node(me, label, **({"style": "filled,dashed", "fillcolor": "lightgrey"}
                               if freed else {}))
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                dot.edge(add_fn(nxt), me)
        return me

    for t in roots:
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot expects tensors, got {type(t).__name__}")
        key = ("var", id(t))
        if key in ids:
            continue
        vid = ident(t, "var")
        if t.grad_fn is None:
            dot.node(vid, var_label(t), fillcolor=LEAF if t.requires_grad else OUTPUT)
            continue
        label = var_label(t) + ("\n retains_grad" if t.retains_grad else "")
        dot.node(vid, label, fillcolor=OUTPUT)
        dot.edge(add_fn(t.grad_fn), vid)
    return dot
