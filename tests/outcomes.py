"""A comparable picture of what a case returned or raised, for tests that run one case on
tapegrad and on torch and compare the two (test_inplace_more, test_view_bookkeeping,
test_view_fastpaths)."""


def fn_name(fn):
    return None if fn is None else type(fn).__name__


def describe(lib, r, strides=False, requires_grad=True):
    """Tensors as (dtype, shape[, strides], values, version[, requires_grad], grad_fn, its
    edges); tuples and lists item by item; strings with the library's name as LIB."""
    if isinstance(r, lib.Tensor):
        fn = r.grad_fn
        edges = None if fn is None else tuple(fn_name(f) for f, _ in fn.next_functions)
        return (("tensor", str(r.dtype).split(".")[-1], tuple(r.shape))
                + ((r.stride(),) if strides else ()) + (r.tolist(), r._version)
                + ((r.requires_grad,) if requires_grad else ()) + (fn_name(fn), edges))
    if isinstance(r, (tuple, list)):
        return tuple(describe(lib, x, strides, requires_grad) for x in r)
    if isinstance(r, str):
        return r.replace(lib.__name__, "LIB")
    return r


def outcome(lib, case, **fields):
    """describe(case(lib)), or ("error", type, message) of what it raised."""
    try:
        return describe(lib, case(lib), **fields)
    except Exception as e:   # noqa: BLE001  (errors are compared too)
        return ("error", type(e).__name__, str(e).replace(lib.__name__, "LIB"))
