"""The formula vocabulary: every function a formula of `tapegrad/ops.py` may call, with all of
its implementations in one row, so adding one (say `atan2`) is one row here:

    scalar   on Python floats, IEEE-754 as torch (Python's math raises where torch returns
             inf or nan): the eager scalar fast path and constant folding
    numpy    on arrays: the eager n-d forward
    numba    how the generated kernels spell it: a `math` function, or a helper defined in
             the kernel header (`codegen.HEADER`)
    method   the Tensor method that records it: create_graph evaluates formulas on tensors

A function takes one argument or, with `arity=2`, two (`atan2(y, x)`, `hypot(x, y)`): every
face calls it the same way (create_graph records it as a binary op of its name, the tensor
form goes through the tensor layer's binary recorder, so either argument may be a constant).
`where(cond, x, y)` is the vocabulary's one conditional; its tensor form needs the module
function, which the tensor layer passes to `tensor_namespace`.
"""
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

inf = math.inf
nan = math.nan


# ---- IEEE-754 scalar implementations --------------------------------------------------------
def exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x):
    return math.log(x) if x > 0.0 else (-inf if x == 0.0 else nan)


def sqrt(x):
    return math.sqrt(x) if x >= 0.0 else nan


def sin(x):
    return math.sin(x) if x - x == 0.0 else nan


def cos(x):
    return math.cos(x) if x - x == 0.0 else nan


tanh = math.tanh


def sigmoid(x):
    return 1.0 / (1.0 + exp(-x))


def sign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0 * x)


def where(cond, x, y):
    return x if cond else y


atan2 = math.atan2     # IEEE-754 already: signed zeros, infinities and nan as C's atan2
hypot = math.hypot


# ---- the table --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fn:
    name: str
    scalar: Callable
    numpy: Callable
    numba: str       # "math": math.<name>; "header": a helper in the kernel header; "builtin"
    method: str      # Tensor method recording it ("" for where)
    arity: int = 1   # arguments it takes (2: recorded as a binary op of its name)


FUNCS = {f.name: f for f in (
    Fn("exp", exp, np.exp, "math", "exp"),
    Fn("log", log, np.log, "math", "log"),
    Fn("sqrt", sqrt, np.sqrt, "math", "sqrt"),
    Fn("sin", sin, np.sin, "math", "sin"),
    Fn("cos", cos, np.cos, "math", "cos"),
    Fn("tanh", tanh, np.tanh, "math", "tanh"),
    Fn("sigmoid", sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)), "header", "sigmoid"),
    Fn("sign", sign, np.sign, "header", "sign"),
    Fn("abs", abs, np.abs, "builtin", "abs"),
    Fn("where", where, np.where, "header", ""),
    Fn("atan2", atan2, np.arctan2, "math", "atan2", arity=2),
    Fn("hypot", hypot, np.hypot, "math", "hypot", arity=2),
)}

# what the eager n-d forward evaluates formulas with
NUMPY = {name: f.numpy for name, f in FUNCS.items()}
# functions create_graph records as ops of their own (op name == function name)
RECORDED = frozenset(name for name, f in FUNCS.items() if f.method)
# the generated kernels' `from math import ...`
MATH_IMPORTS = tuple(name for name, f in FUNCS.items() if f.numba == "math")


def tensor_namespace(where_fn, is_tensor, binary_fn):
    """Formula functions on tensors or constants: a tensor operand goes through its recorded
    method (so derivatives of derivatives come out of the same table), constants through the
    scalar implementation.  `where_fn` is the tensor module's `where`; `binary_fn(name, x, y)`
    records the binary op `name` on two operands of which either may be a number (what a
    two-argument function needs: `atan2(1.0, b)` has no method to call on its first)."""
    def lift(f):
        method, scalar = f.method, f.scalar
        if f.arity == 2:
            return lambda x, y: (binary_fn(method, x, y) if is_tensor(x) or is_tensor(y)
                                 else scalar(x, y))
        return lambda x: getattr(x, method)() if is_tensor(x) else scalar(x)
    ns = {name: lift(f) for name, f in FUNCS.items() if f.method}
    ns["where"] = lambda c, x, y: where_fn(c, x, y) if is_tensor(c) else (x if c else y)
    return ns
