"""torch's non-differentiable utilities (tapegrad/searching.py, creation.py, dtypes.py and the
real-tensor identities of composed.py) against torch: values, dtypes, shapes, requires_grad,
warnings and errors of each expression."""
import re
import warnings

import numpy as np
import pytest

import tapegrad
import fresh

torch = pytest.importorskip("torch")

SETUP = """
a = m.tensor([[1, 2], [3, 4]])
f = m.tensor([1.5, 2.0, float('nan'), 3.0])
b = m.tensor([1.0, 2.0, 3.0])
bi = m.tensor([1, 3, 5])
g = m.tensor([0.5, 2.0, -1.0], dtype=m.float64, requires_grad=True)
rows = m.tensor([[1, 3, 5], [2, 4, 6]])
DTS = [m.bool, m.int32, m.int64, m.float32, m.float64]
FINFO = ('bits', 'eps', 'max', 'min', 'tiny', 'smallest_normal', 'resolution', 'dtype')
IINFO = ('bits', 'max', 'min', 'dtype')
"""
EXPRS = [
    # isin
    "m.isin(a, m.tensor([2, 3]))", "m.isin(a, 2)", "m.isin(2, a)", "m.isin(a, 2.5)",
    "m.isin(a, m.tensor([2, 3]), invert=True)", "m.isin(a, m.tensor([2., 3.5]))",
    "m.isin(f, m.tensor([float('nan'), 2]))", "m.isin(a, m.tensor([2, 3]), assume_unique=True)",
    "m.isin(elements=a, test_elements=a[0])", "m.isin(a.int(), a.double())", "m.isin(g, g[1:])",
    "m.isin(b[:0], b)", "m.isin(b, b[:0])",
    # bucketize
    "m.bucketize(f, b)", "m.bucketize(f, b, right=True)", "m.bucketize(f, b, out_int32=True)",
    "m.bucketize(2.0, b)", "m.bucketize(a, bi)", "m.bucketize(a, bi.double())",
    "m.bucketize(a, bi, right=True, out_int32=True)", "m.bucketize(m.tensor(2.5), b)",
    "m.bucketize(b > 1, b)", "m.bucketize(f, b > 1)", "m.bucketize(g, g.detach())",
    "m.bucketize(b, b[:0])",
    # searchsorted
    "m.searchsorted(b, f)", "m.searchsorted(b, f, right=True)",
    "m.searchsorted(b, f, side='right')", "m.searchsorted(b, f, side='right', right=False)",
    "m.searchsorted(b, f, side='left')", "m.searchsorted(b, 2.0)", "m.searchsorted(b, 2)",
    "m.searchsorted(bi, 2.5)", "m.searchsorted(rows, m.tensor([[3], [3]]))",
    "m.searchsorted(rows, m.tensor([[3, 4, 1], [3, 7, 0]]), right=True)",
    "m.searchsorted(rows, m.tensor([[3, 4, 1], [3, 7, 0]]), out_int32=True)",
    "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=m.tensor([1, 2, 0]))",
    "m.searchsorted(m.tensor([[5, 1, 3]]), m.tensor([[2, 4]]), sorter=m.tensor([[1, 2, 0]]))",
    "m.searchsorted(b, f, out_int32=True, right=True, side='right', sorter=m.tensor([0, 1, 2]))",
    "m.searchsorted(b, m.tensor([1, 2]))", "m.searchsorted(bi, f)",
    "m.searchsorted(b, f.reshape(2, 2))", "m.searchsorted(b[:0], f)", "m.searchsorted(b, b > 1)",
    "m.searchsorted(g.detach(), g)", "m.searchsorted(b, f[:0])",
    "m.searchsorted(rows.double(), m.tensor([[2.5], [2.5]]))",
    # argwhere
    "m.argwhere(a)", "m.argwhere(m.tensor(3))", "m.argwhere(m.tensor(0))", "m.argwhere(f)",
    "m.argwhere(b[:0])", "m.argwhere(a > 2)", "a.argwhere()", "m.argwhere(g)",
    "m.argwhere(m.zeros(2, 0, 3))",
    # bincount
    "m.bincount(m.tensor([1, 1, 3]))", "m.bincount(m.tensor([1, 1, 3]), minlength=6)",
    "m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([0.5, 1.0, 2.0]))",
    "m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([0.5, 1.0, 2.0], dtype=m.float64))",
    "m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([1, 2, 3]))",
    "m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([1, 2, 3], dtype=m.int32))",
    "m.bincount(m.tensor([1, 1, 3]), weights=m.tensor([True, False, True]))",
    "m.bincount(m.tensor([1, 1, 3], dtype=m.int32))", "m.bincount(m.tensor([], dtype=m.long))",
    "m.bincount(m.tensor([], dtype=m.long), minlength=3)",
    "m.bincount(m.tensor([], dtype=m.long), weights=m.tensor([]))",
    "m.tensor([2, 0, 2]).bincount(minlength=2)", "m.tensor([2, 0]).bincount(b[:2], 4)",
    # histc
    "m.histc(b)", "m.histc(b, bins=4, min=0, max=3)", "m.histc(b, 4, 0, 3)",
    "m.histc(b.double(), bins=3)", "m.histc(m.tensor([1.0, 1.0]), bins=3)",
    "m.histc(m.tensor([]), bins=3)", "m.histc(b, bins=3, min=2, max=2)",
    "m.histc(m.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]), bins=7, min=0.1, max=0.7)",
    "m.histc(b.reshape(3, 1), bins=2)",
    "m.histc(m.tensor([1.0, 2.0, 2.5, 10.0]), bins=3, min=2, max=3)",
    "m.histc(m.tensor([1.0, float('nan')]), min=0, max=2)", "m.histc(b, min=0.5, max=1e30)",
    "m.histc(b, min=-1.5, max=1.25)", "m.histc(m.tensor([1e-45, 1.0]), bins=3)", "m.histc(g)",
    "b.histc(5)", "m.histc(m.tensor([1, 2]).float(), min=1, max=2, bins=1)",
    "m.histc(m.linspace(-3, 3, 1001), bins=37)",
    "m.histc(m.linspace(-3, 3, 1001).double(), bins=37)",
    "m.histc(m.linspace(0, 1, 999), bins=10, min=0.1, max=0.9)",
    # unravel_index
    "m.unravel_index(m.tensor(4), (3, 2))", "m.unravel_index(m.tensor([4, 1]), (3, 2))",
    "m.unravel_index(m.tensor([[4], [1]]), (3, 2))", "m.unravel_index(m.tensor([4, 1]), 5)",
    "m.unravel_index(m.tensor([4, 1]), m.Size([5]))", "m.unravel_index(m.tensor([4, 1]), [5, 1])",
    "m.unravel_index(m.tensor([4, 6]), (3, 2))", "m.unravel_index(m.tensor([-1, -6]), (3, 2))",
    "m.unravel_index(m.tensor([-7]), (3, 2))",
    "m.unravel_index(m.tensor([1], dtype=m.int32), (3, 2))", "m.unravel_index(m.tensor([1]), ())",
    "m.unravel_index(m.tensor([1, 22]), (2, 3, 4))",
    # gcd, lcm, isreal
    "m.gcd(m.tensor([12, -18, 0, 7]), m.tensor([8, 12, 0, -14]))",
    "m.gcd(m.tensor([12, 18]), m.tensor(8))",
    "m.gcd(m.tensor([12, 18], dtype=m.int32), m.tensor([8, 12]))",
    "m.gcd(m.tensor([12, 18], dtype=m.int32), m.tensor(8))",
    "m.tensor([12, 18]).gcd(m.tensor([8, 12]))", "m.gcd(m.tensor([-2**63]), m.tensor([0]))",
    "m.gcd(m.tensor([[4], [6]]), m.tensor([6, 9]))",
    "m.lcm(m.tensor([12, -18, 0, 7]), m.tensor([8, 12, 0, -14]))",
    "m.lcm(m.tensor([12, 18], dtype=m.int32), m.tensor(8))",
    "m.lcm(m.tensor([2**62]), m.tensor([3]))", "m.lcm(m.tensor([-2**63]), m.tensor([1]))",
    "m.tensor([4, 6]).lcm(m.tensor([6, 4]))",
    "m.lcm(m.tensor([2**30], dtype=m.int32), m.tensor([3], dtype=m.int32))", "m.isreal(b)",
    "m.isreal(a)", "m.isreal(a > 1)", "m.isreal(m.tensor(1.0))", "g.isreal()",
    # unique, unique_consecutive
    "m.unique(m.tensor([3, 1, 2, 1, 5, 3]), sorted=False)",
    "m.unique(m.tensor([3, 1, 2, 1, 5, 3]))",
    "m.unique(m.tensor([3., 1, 2, 1, 5, 3, 10, 7, 8, 2, 100, -4]), sorted=False)",
    "m.unique(m.tensor([3, 1, 2, 1, 5, 3]), sorted=False, return_inverse=True)",
    "m.unique(m.tensor([3, 1, 2, 1, 5, 3]), return_counts=True)",
    "m.unique(m.tensor([3, 1, 2, 1, 5, 3]), return_inverse=True, return_counts=True)",
    "m.unique(m.tensor([[3, 1], [2, 1]]), return_inverse=True)",
    "m.unique(m.tensor([float('nan'), 1.0, float('nan'), 1.0]), return_counts=True)",
    "m.unique(m.tensor([0.0, -0.0, 2, -0.0, float('nan'), 1, float('nan')]), return_inverse=True, return_counts=True)",
    "m.unique(m.tensor([True, False, True]), sorted=False, return_inverse=True)",
    "m.unique(m.tensor(3))", "m.unique(m.tensor(3), return_inverse=True)",
    "m.unique(m.tensor([], dtype=m.long), return_inverse=True, return_counts=True)",
    "m.unique(rows.t(), dim=0)", "m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0)",
    "m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_inverse=True, return_counts=True)",
    "m.unique(m.tensor([[1, 2, 1], [1, 2, 1], [0, 5, 0]]), dim=1, return_inverse=True, return_counts=True)",
    "m.unique(m.tensor([[1, 2, 1], [1, 2, 1], [0, 5, 0]]), dim=-1)",
    "m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, sorted=False)",
    "m.unique(m.zeros(0, 3), dim=0, return_inverse=True, return_counts=True)",
    "m.unique(m.zeros(2, 0), dim=1, return_inverse=True, return_counts=True)",
    "m.unique(m.tensor([[1.0, -0.0], [1.0, 0.0]]), dim=0)", "m.unique(m.tensor([-0.0, 0.0]))",
    "m.unique(m.tensor([[[1, 2], [3, 4]], [[1, 2], [3, 4]], [[0, 9], [3, 4]]]), dim=0, return_inverse=True)",
    "m.unique(m.tensor([[[1, 2], [3, 4]], [[1, 2], [3, 4]], [[0, 9], [3, 4]]]), dim=2, return_inverse=True)",
    "m.unique(m.tensor([[[1, 2], [3, 4]], [[1, 2], [0, 4]], [[1, 2], [3, 4]]]), dim=1, return_counts=True)",
    "m.unique(m.tensor([[2, 1], [1, 9], [2, 0], [1, 9]]), dim=0, return_inverse=True)",
    "m.tensor([3, 1, 3]).unique(return_counts=True)", "m.unique(g)",
    "m.unique(g, return_inverse=True)", "m.unique(g.reshape(3, 1), dim=0, return_counts=True)",
    "m.unique(a > 2, dim=1)", "m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1, 1, 2]))",
    "m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True, return_counts=True)",
    "m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_counts=True)",
    "m.unique_consecutive(m.tensor([[1, 1], [2, 2]]), return_inverse=True)",
    "m.unique_consecutive(m.tensor([[1, 2], [1, 2], [0, 5], [1, 2]]), dim=0, return_inverse=True, return_counts=True)",
    "m.unique_consecutive(m.tensor([[1, 1, 2], [3, 3, 4]]), dim=1, return_inverse=True, return_counts=True)",
    "m.unique_consecutive(m.tensor([float('nan'), float('nan'), 1.0]))",
    "m.unique_consecutive(m.tensor(3))",
    "m.unique_consecutive(m.tensor(3), return_inverse=True, return_counts=True)",
    "m.unique_consecutive(m.tensor([], dtype=m.long), return_inverse=True, return_counts=True)",
    "m.unique_consecutive(m.zeros(0, 2), dim=0, return_inverse=True, return_counts=True)",
    "m.tensor([3, 1, 3]).unique_consecutive(return_counts=True)", "m.unique_consecutive(g)",
    "m.unique_consecutive(m.tensor([-0.0, 0.0, 0.0, 1.0]), return_counts=True)",
    # floor_divide and //
    "m.floor_divide(m.tensor([7, -7, 7, -7]), m.tensor([2, 2, -2, -2]))",
    "m.floor_divide(m.tensor([7., -7., 7.5, -0.0, 1.0, -1.0, 0.0]), m.tensor([2., 2., -2., 3., 0., 0., 0.]))",
    "m.floor_divide(m.tensor([7, -7]), 2)", "m.floor_divide(m.tensor([7, -7]), 2.5)",
    "m.floor_divide(m.tensor([7, -7], dtype=m.int32), m.tensor(2))",
    "m.floor_divide(m.tensor([7, -7], dtype=m.int32), 2)", "m.floor_divide(7, m.tensor([2, 3]))",
    "m.floor_divide(m.tensor([True, False]), 2)", "m.floor_divide(m.tensor([5.]), True)",
    "m.floor_divide(m.tensor([1e300], dtype=m.float64), 1e-300)",
    "m.floor_divide(m.tensor([5.5, -5.5, float('inf'), float('nan'), -float('inf')]), float('inf'))",
    "m.floor_divide(m.tensor([float('inf'), float('nan'), -0.0]), 2.0)", "m.tensor([7, -7]) // 2",
    "2 // m.tensor([3, -3])", "7.5 // m.tensor([2, -2])", "g // 0.7",
    "m.tensor([7., -7.]).floor_divide(2)", "m.tensor([7., -7.]).floor_divide_(2)",
    "m.floor_divide(m.tensor([-2**63]), -1)",
    "m.floor_divide(m.tensor([-2**31], dtype=m.int32), -1)",
    "m.floor_divide(m.tensor([2**62]), 0.5)",
    "m.floor_divide(m.tensor([7.]), m.tensor([2.], dtype=m.float64))",
    "m.floor_divide(m.tensor(7.), m.tensor([2, 3]))", "m.floor_divide(m.tensor(7.5), 2)",
    "m.tensor(-7.5) // m.tensor(2.)", "m.floor_divide(m.linspace(-5, 5, 41), 0.3)",
    "m.floor_divide(m.linspace(-5, 5, 41).double(), -0.3)", "m.floor_divide(g, g.detach() * 0.3)",
    "m.floor_divide(g.detach(), 2)", "m.floor_divide(2, 3)", "m.floor_divide(7.5, 2)",
    "m.floor_divide(True, 2)",
    # tril_indices, triu_indices, logspace, range
    "m.tril_indices(3, 3)", "m.tril_indices(3, 4, 1)", "m.tril_indices(4, 3, -1)",
    "m.tril_indices(3, 3, offset=-5)", "m.tril_indices(3, 3, 10)", "m.tril_indices(0, 3)",
    "m.tril_indices(3, 0)", "m.tril_indices(3, 3, dtype=m.int32)",
    "m.tril_indices(3, 3, device='cpu')", "m.triu_indices(3, 3)", "m.triu_indices(3, 4, 1)",
    "m.triu_indices(4, 3, -1)", "m.triu_indices(3, 3, -10)", "m.triu_indices(3, 3, 10)",
    "m.triu_indices(5, 2, dtype=m.int32)", "m.logspace(0, 2, 3)", "m.logspace(0, 2, 3, base=2)",
    "m.logspace(0, 2, 3, dtype=m.float64)", "m.logspace(0, 2, 3, dtype=m.int64)",
    "m.logspace(0, 2, 3, dtype=m.int32, base=3)", "m.logspace(0, 1, 5, dtype=m.int64)",
    "m.logspace(-1, 1, 3)", "m.logspace(0, 2, 1)", "m.logspace(0, 2, 0)",
    "m.logspace(m.tensor(0), 2, 3)", "m.logspace(0, 2, 3, requires_grad=True)",
    "m.logspace(0, 1, 4, base=10.5)", "m.logspace(0.5, 1.7, 7)",
    "m.logspace(0.5, 1.7, 7, dtype=m.float64)", "m.logspace(0, 40, 5)",
    "m.logspace(0, 3, 4, dtype=m.int64, base=-2)", "m.logspace(0, 3, 4, base=-2)",
    "m.logspace(0, 3, 4, base=0)", "m.logspace(0.7, 2.9, 5, dtype=m.int64)",
    "m.logspace(2.5, 0, 4, dtype=m.int32, base=2.5)", "m.logspace(-3.3, 7.1, 24)",
    "m.logspace(-3.3, 7.1, 25, dtype=m.float64, base=1.7)", "m.logspace(1.5, 3, 1, dtype=m.int64)",
    "m.range(0, 3)", "m.range(0, 3, 0.5)", "m.range(1, 4, 2)", "m.range(0, 3, dtype=m.int64)",
    "m.range(0.5, 3)", "m.range(3, 0, -1)", "m.range(0, 3, requires_grad=True)",
    "m.range(0, 1, 0.1)", "m.range(start=0, end=2)", "m.range(0.5, 3.7, 1.5, dtype=m.int64)",
    "m.range(0, 3.5, 1.5, dtype=m.int32)", "m.range(-2.5, 3.5, 2, dtype=m.int32)",
    "m.range(0, 10**10, 10**9, dtype=m.int64)", "m.range(0, 2, dtype=m.float64)",
    "m.range(-1, 1, 0.3, dtype=m.float64)", "m.range(2, 2)",
    # dtype helpers
    "m.result_type(a, b)", "m.result_type(a, 1.0)", "m.result_type(1, 1.0)",
    "m.result_type(True, 1)", "m.result_type(a.int(), 5)", "m.result_type(a.int(), m.tensor(5))",
    "m.result_type(a.int(), m.tensor(5.))", "m.result_type(m.tensor(5.), a.double())",
    "m.result_type(2, a)", "m.result_type(True, False)", "m.result_type(1.5, 2)",
    "m.result_type(a > 1, True)", "m.result_type(a > 1, 2)",
    "m.result_type(m.tensor(True), a.int())", "m.result_type(m.tensor(1.), b.double())",
    "m.result_type(m.tensor(1, dtype=m.int32), m.tensor(2))",
    "m.result_type(a.int(), np.float64(2.0))", "m.result_type(g, 1)",
    "m.result_type(a.int(), np.int64(2))", "m.result_type(a.int(), np.bool_(True))",
    "m.result_type(a.int(), np.float32(2))", "m.result_type(np.int64(2), np.float32(1))",
    "[m.promote_types(p, q) for p in DTS for q in DTS]",
    "m.promote_types(type1=m.bool, type2=m.bool)", "[m.can_cast(p, q) for p in DTS for q in DTS]",
    "m.can_cast(from_=m.int32, to=m.float32)", "m.finfo(m.float32)", "m.finfo()",
    "m.finfo(m.float64)", "str(m.finfo(m.float32))", "m.finfo(type=m.float64)", "m.iinfo(m.int32)",
    "m.iinfo(m.int64)", "str(m.iinfo(m.int64))", "[getattr(m.finfo(m.float32), k) for k in FINFO]",
    "[getattr(m.finfo(m.float64), k) for k in FINFO]",
    "[type(getattr(m.finfo(m.float64), k)).__name__ for k in FINFO]",
    "[getattr(m.iinfo(m.int32), k) for k in IINFO]",
    "[getattr(m.iinfo(m.int64), k) for k in IINFO]",
    "[type(getattr(m.iinfo(m.int64), k)).__name__ for k in IINFO]", "m.iinfo(type=m.int32).bits",
    "m.finfo(m.float32) == m.finfo(m.float32)", "m.finfo(m.float32) == m.finfo(m.float64)",
    "m.finfo(m.float32) != m.finfo(m.float32)", "m.iinfo(m.int32) == m.iinfo(m.int32)",
    "m.finfo(m.float32) == 3", "m.finfo(m.float32) is m.finfo(m.float32)",
    "isinstance(m.finfo(m.float32), m.finfo)", "(m.finfo.__name__, m.finfo.__module__)",
    "[k for k in dir(m.finfo(m.float32)) if not k.startswith('_')]",
    "[k for k in dir(m.iinfo(m.int32)) if not k.startswith('_')]",
    # complex views of real tensors
    "m.real(g) is g", "g.real is g", "m.conj(g) is g", "g.conj() is g", "m.conj_physical(g) is g",
    "g.conj_physical() is g", "m.resolve_conj(g) is g", "g.resolve_conj() is g",
    "m.resolve_neg(g) is g", "g.resolve_neg() is g", "m.real(a > 1)", "m.conj(a)",
    "(m.is_conj(g), g.is_conj(), m.is_neg(a), a.is_neg())", "(g * 2).real", "m.resolve_conj(g * 2)",
    "m.conj(g[1:])",
]
ERRORS = [
    "m.isin(a, m.tensor([True]))", "m.isin(a > 2, m.tensor([True]))", "m.isin(b, m.tensor([True]))",
    "m.isin(True, b)", "m.isin(b, True)", "m.bucketize(a, b.reshape(1, 3))",
    "m.bucketize(a, m.tensor(2))", "m.searchsorted(b, f, side='left', right=True)",
    "m.searchsorted(b, f, side='middle')", "m.searchsorted(rows, m.tensor([3, 3]))",
    "m.searchsorted(rows, m.tensor([[3], [3], [3]]))",
    "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=m.tensor([1, 2]))",
    "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=m.tensor([1., 2, 0]))",
    "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=m.tensor([1, 2, 5]))",
    "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=m.tensor([[1, 2, 0]]))",
    "m.searchsorted(m.tensor(1.), f)", "m.searchsorted(b > 1, m.tensor([True]))",
    "m.searchsorted(rows, 2)", "m.bincount(m.tensor([-1, 1]))", "m.bincount(m.tensor([1., 2.]))",
    "m.bincount(m.tensor([[1, 2]]))", "m.bincount(m.tensor([1, 2]), minlength=-1)",
    "m.bincount(m.tensor([1, 2]), weights=m.tensor([1.0]))",
    "m.bincount(m.tensor([1, 2]), weights=m.tensor([[1.0, 2.0]]))",
    "m.bincount(m.tensor([True, False]))", "m.bincount(m.tensor(1))", "m.histc(f)",
    "m.histc(b, bins=0)", "m.histc(b, bins=-1)", "m.histc(b, min=3, max=1)", "m.histc(a)",
    "m.histc(m.tensor([float('inf'), 1.0]))", "m.histc(b, min=float('nan'))",
    "m.histc(m.tensor([1.0, float('nan')]))", "m.histc(b, bins=0, min=3, max=1)",
    "m.histc(b, bins=3, min=1, max=float('inf'))", "m.histc(b, bins=2.5)", "m.histc(b > 1)",
    "m.histc(a.int())", "m.histc(m.tensor([-float('inf'), 1.0]), min=5, max=-5)",
    "m.unravel_index(m.tensor([1.0]), (3, 2))", "m.unravel_index(m.tensor([True]), (3, 2))",
    "m.unravel_index(m.tensor([1]), (3, -2))", "m.unravel_index(m.tensor([1]), (3, 2.0))",
    "m.unravel_index(m.tensor([1]), (0, 2))", "m.unravel_index(m.tensor([1]), (2, 0))",
    "m.unravel_index(m.tensor([1]), 2.0)", "m.gcd(m.tensor([12.]), m.tensor([8.]))",
    "m.gcd(m.tensor([True]), m.tensor([True]))", "m.gcd(m.tensor([12]), 8)",
    "m.gcd(m.tensor([12]), m.tensor([8.]))", "m.gcd(m.tensor([12, 3]), m.tensor([8, 3, 4]))",
    "m.lcm(m.tensor([12.]), m.tensor([8.]))", "m.tril_indices(3, 3, dtype=m.float32)",
    "m.tril_indices(3, 3, dtype=m.bool)", "m.tril_indices(-1, 3)", "m.tril_indices(3, -1)",
    "m.triu_indices(3, 3, dtype=m.float64)", "m.triu_indices(3, 3, requires_grad=True)",
    "m.tril_indices(-1, 3, dtype=m.float32)", "m.logspace(0, 2, -1)",
    "m.logspace(0, 2, 3, dtype=m.bool)", "m.logspace(0, 2, 3, dtype=m.int64, requires_grad=True)",
    "m.range(3, 0)", "m.range(0, 3, 0)", "m.range(0, 3, dtype=m.bool)", "m.range(0, float('inf'))",
    "m.range(0, 2, dtype=m.int64, requires_grad=True)",
    "m.range(0, float('inf'), dtype=m.int64)", "m.range(float('nan'), 1)", "m.promote_types(m.int32, 1)",
    "m.can_cast(1, m.bool)", "m.can_cast(m.bool, 'int32')", "m.finfo(m.int32)", "m.finfo(m.bool)",
    "m.finfo('float32')", "m.iinfo(m.bool)", "m.iinfo(m.float32)", "m.iinfo()",
    "m.iinfo(m.int32, m.int64)", "m.iinfo(m.int32).eps", "hash(m.finfo(m.float32))",
    "setattr(m.finfo(m.float32), 'eps', 1.0)", "setattr(m.iinfo(m.int32), 'foo', 1)",
    "m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=2)", "m.unique(m.tensor(3), dim=0)",
    "m.unique(m.zeros(2, 0), dim=0)", "m.unique_consecutive(m.tensor([[1, 2]]), dim=3)",
    "m.unique_consecutive(m.tensor(3), dim=0)", "m.unique_consecutive(m.zeros(2, 0), dim=0)",
    "m.floor_divide(m.tensor([7, -7]), m.tensor([0, 1]))", "m.tensor([7, 1]) // 0",
    "m.floor_divide(m.tensor([True, False]), m.tensor([True, True]))",
    "m.tensor([7, -7]).floor_divide_(2.5)", "m.tensor([7, -7]).floor_divide(m.tensor([2, 3, 4]))",
    "m.tensor([1]) // 'a'", "'a' // m.tensor([1])", "g.imag", "m.imag(b)", "m.conj(1.0)",
    "m.resolve_neg([1])", "m.is_conj(1)", "m.real(2)", "setattr(g, 'real', b)",
]


def _show(r):
    if isinstance(r, tuple):
        return tuple(_show(t) for t in r)
    if hasattr(r, "grad_fn"):
        a = r.detach().numpy()
        return (repr(a.tolist()), str(r.dtype).split(".")[-1], tuple(r.shape), r.requires_grad,
                r.grad_fn is None)
    return re.sub("torch|tapegrad", "M", repr(r))


def _run(m, exprs):
    ns = {"m": m, "np": np}
    exec(SETUP, ns)
    out = []
    for e in exprs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # (test_warnings_as_torch compares them)
                out.append((e, _show(eval(e, ns))))
        except Exception as ex:  # noqa: BLE001
            out.append((e, type(ex).__name__, re.sub("torch|tapegrad", "M", str(ex))))
    return out


@pytest.mark.parametrize("k", range(len(EXPRS)))
def test_expression_as_torch(k):
    e = EXPRS[k:k + 1]
    assert _run(tapegrad, e) == _run(torch, e)


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_error_as_torch(k):
    e = ERRORS[k:k + 1]
    got, want = _run(tapegrad, e), _run(torch, e)
    assert len(want[0]) == 3, want   # (torch raises)
    assert got == want


def test_histc_random_as_torch():
    """histc's bins, in the input's dtype, at random values, edges and bin counts."""
    rng = np.random.default_rng(5)
    for dt in ("float32", "float64"):
        for _ in range(30):
            x = rng.standard_normal(int(rng.integers(1, 400))).astype(dt)
            bins = int(rng.integers(1, 60))
            lo, hi = sorted(rng.uniform(-2, 2, 2).tolist())
            for kw in ({"bins": bins}, {"bins": bins, "min": lo, "max": hi}):
                got = tapegrad.histc(tapegrad.from_numpy(x), **kw).numpy()
                np.testing.assert_array_equal(got, torch.histc(torch.from_numpy(x), **kw).numpy())


def test_searchsorted_random_as_torch():
    rng = np.random.default_rng(6)
    for _ in range(20):
        bnd = np.sort(rng.integers(0, 20, (3, 8)), axis=-1)
        val = rng.integers(-2, 22, (3, 5))
        for right in (False, True):
            got = tapegrad.searchsorted(tapegrad.from_numpy(bnd), tapegrad.from_numpy(val),
                                        right=right)
            want = torch.searchsorted(torch.from_numpy(bnd), torch.from_numpy(val), right=right)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


WARNED = """
import warnings, {m} as m
b = m.tensor([[1.0, 2.0, 3.0]]).expand(2, 3)
f = m.tensor([[1.5, 2.0], [3.0, 0.0]])
s = m.tensor([1, 9, 2, 9, 0, 9])[::2]
for e in ("m.searchsorted(b, f.t())", "m.searchsorted(b, f.t())", "m.searchsorted(b[0], 1.0)",
          "m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]), sorter=s)",
          "m.bucketize(f.t(), b[0, ::2])"):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        eval(e)
    print(e, [(x.category.__name__, str(x.message).split(" (Triggered")[0]) for x in w])
"""


def test_range_warns_each_call():
    for m in (tapegrad, torch):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m.range(0, 1)
            m.range(0, 1)
        assert [x.category for x in w] == [UserWarning] * 2
        assert w[0].filename == __file__
        assert str(w[0].message).startswith("torch.range is deprecated and will be removed")


BUCKETIZE_WARNED = """
import warnings, {m} as m
f = m.tensor([[1.5, 2.0], [3.0, 0.0]])
b = m.tensor([1.0, 0.0, 2.0, 0.0, 3.0])
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    m.bucketize(f.t(), b[::2])
print([(x.category.__name__, str(x.message).split(" (Triggered")[0]) for x in w])
"""


@pytest.mark.parametrize("src,count", [(WARNED, 3), (BUCKETIZE_WARNED, 2)])
def test_warnings_as_torch(src, count):
    """searchsorted's (and bucketize's) non-contiguous warnings (TORCH_WARN_ONCE: fresh
    processes)."""
    def run(name):
        out = fresh.run(src.format(m=name)).stdout
        return re.sub("torch|tapegrad", "M", out)
    got = run("tapegrad")
    assert got == run("torch")
    assert got.count("UserWarning") == count


def test_real_assignment_copies():
    for m in (tapegrad, torch):
        t = m.ones(3)
        t.real = m.tensor([1.0, 2.0, 3.0])
        assert t.tolist() == [1.0, 2.0, 3.0]


def test_bincount_weights_requiring_grad():
    """torch's result has a NotImplemented grad_fn (an edge to the weights) whose backward
    raises; under no_grad it is a plain count."""
    idx = [0, 2]
    got = []
    for m in (tapegrad, torch):
        w = m.tensor([0.5, 1.0, 2.0], requires_grad=True)
        r = m.bincount(m.tensor(idx), weights=w[:2])
        fn = r.grad_fn
        got.append((r.requires_grad, r.is_leaf, fn.name(), type(fn).__name__,
                    [f.name() for f, _ in fn.next_functions]))
        with pytest.raises(RuntimeError,
                           match="^derivative for aten::bincount is not implemented$"):
            (r.sum() + w.sum()).backward()
        with m.no_grad():
            assert m.bincount(m.tensor(idx), weights=w[:2]).tolist() == [0.5, 0.0, 1.0]
    assert got[0] == got[1]



@pytest.mark.parametrize("call", [
    "m.unique(x)", "m.unique(x, return_inverse=True, return_counts=True)[0]",
    "m.unique(x.reshape(3, 1), dim=0)", "m.unique_consecutive(x)",
    "m.unique_consecutive(x.reshape(3, 1), dim=0, return_counts=True)[0]"])
def test_unique_node_as_torch(call):
    """unique's values keep an edge to an input that requires grad, through torch's node
    (whose backward raises torch's NotImplementedError); inverse and counts do not."""
    got = []
    for m in (tapegrad, torch):
        x = m.tensor([3.0, 1.0, 3.0], requires_grad=True)
        r = eval(call, {"m": m, "x": x})
        fn = r.grad_fn
        with pytest.raises(NotImplementedError) as err:
            r.sum().backward()
        got.append((fn.name(), [f.name() for f, _ in fn.next_functions], str(err.value)))
        with m.no_grad():
            assert eval(call, {"m": m, "x": x}).grad_fn is None
    assert got[0] == got[1]


def test_unique_random_as_torch():
    rng = np.random.default_rng(7)
    for _ in range(40):
        x = rng.integers(0, 3, (int(rng.integers(1, 7)), int(rng.integers(1, 4))))
        x = x.astype(rng.choice(["int64", "float64"]))
        for dim in (None, 0, 1, -1):
            for name in ("unique", "unique_consecutive"):
                got = getattr(tapegrad, name)(tapegrad.from_numpy(x), return_inverse=True,
                                              return_counts=True, dim=dim)
                want = getattr(torch, name)(torch.from_numpy(x), return_inverse=True,
                                            return_counts=True, dim=dim)
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g.numpy(), w.numpy())



def test_floor_divide_node_as_torch():
    """torch has no derivative for floor_divide: its NotImplemented node has an edge to each
    input that requires grad; backward raises; `//=` works in place."""
    got = []
    for m in (tapegrad, torch):
        x = m.tensor([1.5, -2.5], requires_grad=True)
        y = m.tensor([0.5, 2.0], requires_grad=True)
        row = []
        for r in (m.floor_divide(x, y), x // 2, 3.0 // x, m.floor_divide(m.tensor([2.0, 2.0]), x),
                  m.floor_divide(x, m.tensor(2.0))):
            row.append((r.grad_fn.name(), type(r.grad_fn).__name__,
                        [f.name() for f, _ in r.grad_fn.next_functions], r.tolist()))
        with pytest.raises(RuntimeError, match="^derivative for aten::floor_divide is not "
                                               "implemented$"):
            (x // y).sum().backward()
        t = m.tensor([7, -7])
        u = t
        t //= 2
        row.append((t is u, t.tolist()))
        got.append(row)
    assert got[0] == got[1]


def test_floor_divide_random_as_torch():
    rng = np.random.default_rng(8)
    for dt in ("float32", "float64", "int32", "int64"):
        a = (rng.standard_normal(500) * 50).astype(dt)
        b = (rng.standard_normal(500) * 5).astype(dt)
        b[b == 0] = 3
        got = tapegrad.floor_divide(tapegrad.from_numpy(a), tapegrad.from_numpy(b)).numpy()
        want = torch.floor_divide(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        np.testing.assert_array_equal(got, want)
