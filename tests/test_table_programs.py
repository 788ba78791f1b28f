"""Random programs over the whole op table, against torch (issue #11).

test_differential.py's generators draw from small hand-written op tables.  Here a step draws
any row of the op table that has cases in tests/test_ops.py (its CASES: every differentiable
row must have some, test_ops checks that), so a new row joins the random programs as soon as
it has a case.  A step applies one of the row's cases to live values of the program (or to
new leaves): elementwise rows (unary, binary) to operands of any shape, broadcast against each
other; every other row (reductions with their dims and keepdim, structural ops with their
parameters, decompositions) to operands of the case's own shapes.  Operands outside the
case's domain are mapped into it through a differentiable guard.  Steps of the n-d generator
(views, indexing, matmul, reductions) are mixed in, so rows compose with each other.

A failing example prints as a program whose lines call `case("row", "case id")(m, ...)`:
run it with `case` from this module.  `test_every_row_is_drawn_or_excluded` fails when a row
of the table is neither drawable nor listed in EXCLUDED with the reason.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")

import test_ops  # noqa: E402  (the op table's cases)
from tapegrad.ops import OPS  # noqa: E402
from test_differential import (KNOWN_BUGS, ND_STEPS, NS, SETTINGS, Builder,  # noqa: E402
                               _bcast_shape, _shape, check)

CASES = test_ops.CASES

# rows that no step draws, with the reason
EXCLUDED = {name: reason for name, op in OPS.items() for kind, reason in (
    ("leaf", "tape plumbing: every leaf the programs make"),
    ("import", "tape plumbing: a tensor of an older tape"),
    ("const", "tape plumbing: every operand that needs no gradient"),
    ("compare", "no gradient; comparisons are drawn by test_differential's where/index steps"),
    ("guard", "replay only (test_replay.py)"), ("stopgrad", "replay only (test_replay.py)"),
    ("shift", "softmax/logsumexp's shift while tracing (test_decomp.py)"),
) if op.kind == kind}
for _name in ("to_int", "to_int_wrap", "to_uint8", "int_wrap", "int_to_uint8"):
    EXCLUDED[_name] = "replay only: a traced integer cast (test_replay.py)"
EXCLUDED["to_copy"] = ("a float32 round trip: torch rounds the gradient through the float32 "
                       "node where the sweep keeps float64 (test_ops uses rtol 1e-7)")
# cases whose node torch names otherwise (names=False in test_ops): a later line that returns
# the same tensor (`.float()` of a float32 value) would show the name again
# the n-d steps handle values of at most 3 dims
_NAMED = {name: [c for c in cases if not (len(c) > 4 and c[4].get("names") is False)]
          for name, cases in CASES.items()}
_USABLE = {name: [c for c in cases if all(len(s) <= 3 for s in c[2])]
           for name, cases in _NAMED.items()}
for _name in CASES:
    if _name in EXCLUDED:
        continue
    if not _NAMED[_name]:
        EXCLUDED[_name] = ("its only cases are nodes torch names otherwise (create_graph's "
                           "adjoints: test_ops, test_higher)")
    elif not _USABLE[_name]:
        EXCLUDED[_name] = "its cases take 4-d inputs (the n-d steps handle up to 3 dims)"
DRAWABLE = tuple(sorted(n for n in CASES if n not in EXCLUDED))
ELEMENTWISE = frozenset(n for n in DRAWABLE if OPS[n].kind in ("unary", "binary"))
LOSS_ROWS = frozenset({"bce_with_logits", "bce", "smooth_l1", "huber"})

_BY_ID = {name: {c[0]: c for c in cases} for name, cases in CASES.items()}


def case(name, cid):
    """The function of case `cid` of row `name` (tests/test_ops.py's CASES)."""
    return _BY_ID[name][cid][1]


NS["case"] = case     # (the programs of both runs call it)

# domains of test_ops' cases, and a guard into each: POS (0.5, 2), ANY |x| in (0.2, 2)
_DOMAIN = {"pos": (lambda v: bool(((v > 0.5) & (v < 2)).all()), "({a}.tanh() * 0.75 + 1.25)"),
           "any": (lambda v: bool(((v.abs() > 0.2) & (v.abs() < 2)).all()),
                   "({a}.tanh() * 0.9 + 1.1)")}


def _operand(b, shape, dom, dtype):
    inside, guard = _DOMAIN[dom]
    if b.coin(0.7):
        name = b.pick(lambda v: str(v.dtype) == "torch." + dtype and tuple(v.shape) == tuple(shape))
        if name is not None:
            return name if inside(b.val(name).detach().double()) else guard.format(a=name)
    rng = np.random.default_rng(b.integer(0, 2 ** 16))
    lo = 0.5 if dom == "pos" else 0.2
    v = rng.uniform(lo, 2.0, shape) * (1.0 if dom == "pos" else rng.choice([-1.0, 1.0], shape))
    return b.leaf(np.round(v, 2).tolist(), dtype, b.coin(0.8))


# rows whose forward has steps: a one-element float32 value, computed in double here
# (test_float32_scalars_compute_in_double), may land on the other side of a step than
# torch's float32 one (round(1.35f * 3, 1): 4.1 here, 4.0 there); n-d values are float32
_STEPPED = frozenset(("floor", "ceil", "trunc", "round", "round_decimals", "frac",
                      "remainder", "fmod"))


def gen_table_op(b):
    """One case of one row of the op table, on live values or new leaves."""
    name = b.choice(DRAWABLE)
    cid = b.choice([c[0] for c in _USABLE[name]])
    _, _, shapes, dom, *rest = _BY_ID[name][cid]
    if rest and rest[0].get("torch_rtol"):
        # (a case test_ops compares with torch at a looser tolerance, e.g. celu's formula
        # rounding: the program is compared at float32's)
        b.lowp = True
    if name in ELEMENTWISE and shapes:
        live = b.pick(lambda v: v.dtype.is_floating_point)
        base = tuple(b.val(live).shape) if live is not None and b.coin(0.7) else _shape(b)
        if name in _STEPPED and KNOWN_BUGS["float32_in_double"] and math.prod(base) == 1:
            base = (2,) + base
        shapes = [base] + [_bcast_shape(b, base) if b.coin(0.7) else base for _ in shapes[1:]]
        if b.coin(0.5):
            shapes = shapes[::-1]
    # one dtype per call: mixed float32/float64 operands of the nn losses are not torch's
    # (huber_loss(float32, float64) is float32 there and its backward raises; bce_with_logits'
    # (float64, float32) float32: both float64 here, promoted; docs/semantics.md); the
    # elementwise rows whose cases are those losses likewise
    dtype = b.dtype()
    args = [_operand(b, s, dom, b.dtype() if name in ELEMENTWISE and name not in LOSS_ROWS
                     else dtype) for s in shapes]
    if name not in ELEMENTWISE:
        # torch's result may be laid out otherwise (solve: column-major), which its reshape
        # shows (test_differential's test_contiguity_follows_torch); the n-d steps know
        b.strided.add(f"v{b.count}")
    return f"case({name!r}, {cid!r})(m{''.join(', ' + a for a in args)})"


TABLE_STEPS = [(12, gen_table_op)] + ND_STEPS


@st.composite
def table_programs(draw):
    b = Builder(draw)
    b.dtypes = draw(st.sampled_from([["float64"], ["float32"], ["float32", "float64"]]))
    for _ in range(draw(st.integers(1, 2))):
        b.nd_leaf(_shape(b))
    for _ in range(draw(st.integers(1, 8))):
        b.step(TABLE_STEPS)
    b.finish()
    return b.program()


@SETTINGS(60)
@given(table_programs())
def test_table_programs(prog):
    check(prog)


def test_every_row_is_drawn_or_excluded():
    rows = set(OPS)
    neither = sorted(rows - set(DRAWABLE) - set(EXCLUDED))
    assert not neither, f"op rows neither drawable (no case in test_ops) nor excluded: {neither}"
    assert not set(DRAWABLE) & set(EXCLUDED)
    assert all(reason for reason in EXCLUDED.values())
    assert set(ELEMENTWISE) == {n for n in DRAWABLE if OPS[n].kind in ("unary", "binary")}
