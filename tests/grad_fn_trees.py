"""A graph's grad_fn names as a flat list, for tests comparing tapegrad's graphs with torch's."""


def grad_fn_tree(y, depth):
    """The class names of y.grad_fn and of what its next_functions lead to, depth first, down
    to `depth` edges (None: an empty edge, or one past the depth)."""
    out = []

    def walk(fn, d):
        if fn is None or d > depth:
            out.append(None)
            return
        out.append(type(fn).__name__)
        for f, _ in fn.next_functions:
            walk(f, d + 1)
    walk(y.grad_fn, 0)
    return out
