"""IEEE-754 scalar functions for the eager fast path (Python's math raises where torch returns
inf or nan), plus the formula vocabulary's `sigmoid`, `sign` and `where` on floats."""
import math

inf = math.inf
nan = math.nan


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
