"""tapegrad.composed (torch functions composed of recorded ops) against torch: values,
dtypes, grad_fn names and gradients of every expression, torch's errors, and gradcheck."""
import re
import warnings

import numpy as np
import pytest

import tapegrad
from tapegrad.autograd import gradcheck
import fresh

torch = pytest.importorskip("torch")

SETUP = """
x = m.tensor([[1.0, -2.0, 3.0], [4.0, 0.5, -6.0]], dtype=m.float64, requires_grad=True)
v = m.tensor([0.5, 2.0, -1.0], dtype=m.float64, requires_grad=True)
s = m.tensor(1.5, dtype=m.float64, requires_grad=True)
q = m.tensor([[1.0, 0.5], [-0.25, 2.0]], dtype=m.float64, requires_grad=True)
b = m.tensor([[[1.0, 0.5], [0.0, 2.0]], [[0.3, 1.0], [1.0, 0.0]]], dtype=m.float64,
             requires_grad=True)
fw = m.tensor([1, 2, 1])
aw = m.tensor([0.5, 1.0, 2.0], dtype=m.float64)
"""
EXPRS = [
    "x.t().view(3, 2, 1)", "x.t().view(3, 1, 2)", "x[:, ::2].view(2, 2, 1)",
    "x.expand(2, 2, 3).view(2, 6)", "x[1:].view(3)", "x.t()[1:].view(2, 2)",
    "m.Size([2, 5]) + (3,)", "(3,) + m.Size([2])", "m.Size([2]) * 2", "2 * m.Size([2])",
    "m.Size([2, 5])[::-1]", "x.shape + x.shape",
    "m.addmm(m.tensor([[float('nan'), 1.0], [2.0, float('inf')]]), m.eye(2), m.eye(2), beta=0)",
    "m.arange(24.).reshape(2, 3, 4)[0, :2, :2].diagonal()", "x.t()[:, 1:].diagonal()",
    "m.zeros(2, 2).expand(2, 2, 2).diagonal(dim1=-2, dim2=-1)",
    "m.arange(24.).reshape(2, 3, 4).transpose(0, 2).diagonal(-1, 0, 2)",
    "m.arange(24.).reshape(2, 3, 4)[:, ::2, 1:].diagonal(1, 1, 2)",
    "m.zeros(0, 3).unbind(0)", "x[:, :0].unbind(1)", "m.zeros(3).copy_(m.ones(1))",
    "m.absolute(x)", "m.swapaxes(x, 0, 1)", "m.swapdims(x, 1, 0)", "m.ravel(x)",
    "m.concat([x, x])", "m.concatenate([x, x], axis=1)", "m.atleast_1d(s)", "m.atleast_1d(x)",
    "m.atleast_2d(v)", "m.atleast_2d(s)", "m.atleast_3d(x)", "m.atleast_3d(v)",
    "m.atleast_1d(s, v)[0]", "m.atleast_2d([s, v])[1]", "m.broadcast_to(v, (2, 3))",
    "v.broadcast_to((4, 2, 3))", "m.broadcast_tensors(x, v)[1]", "m.broadcast_tensors(x, v)[0]",
    "m.select(x, 1, -1)", "x.select(0, 1)", "m.tensor_split(x, 3, dim=1)[2]",
    "m.tensor_split(x, 2, dim=1)[0]", "x.tensor_split([1, 5], dim=1)[1]",
    "m.tensor_split(x, [0, 2])[1]", "m.hsplit(x, 3)[1]", "m.hsplit(x, [1])[1]",
    "m.vsplit(x, 2)[1]", "m.dsplit(b[None], 2)[1]", "m.hsplit(v, 3)[2]",
    "m.take_along_dim(x, m.tensor([[2], [0]]), 1)", "m.take_along_dim(x, m.tensor([5, 0, 3]))",
    "x.take_along_dim(m.tensor([[1, 0, 1]]), 0)", "m.take_along_dim(x, m.tensor([[0], [2]]))",
    "m.diff(x)", "m.diff(x, dim=0)", "m.diff(x, n=2, dim=1, prepend=x, append=x)", "v.diff(n=3)",
    "m.diff(v > 0)", "m.diff(x, n=0)", "m.matrix_power(q, 0)", "m.matrix_power(q, 1)",
    "m.matrix_power(q, 2)", "m.matrix_power(q, 3)", "q.matrix_power(5)", "m.matrix_power(b, 6)",
    "m.matrix_power(q, -2)", "m.matrix_power(q, -1)", "m.linalg.matrix_power(q, -1)", "m.positive(x)", "x.positive()", "m.float_power(x, 2)",
    "m.float_power(x.float(), 2)", "m.float_power(2, v)", "x.float_power(v)",
    "m.signbit(m.tensor([-0.0, 0.0, -1.0, 2.0]))", "x.signbit()", "m.signbit(m.tensor([-1, 0]))",
    "m.is_floating_point(x)", "m.is_complex(x)", "m.is_nonzero(m.tensor([0.5]))",
    "x.is_complex()", "m.broadcast_shapes((2, 1), (1, 3), (3,))", "m.broadcast_shapes()",
    "m.nanmean(m.where(x > 0, x, m.tensor(float('nan'), dtype=x.dtype)), 1)", "x.nanmean()",
    "m.nanmean(v, 0, keepdim=True)",
    # stacks, grids, vander
    "m.column_stack([v, v])", "m.column_stack((x.t(), v, s.reshape(1, 1).expand(3, 1)))",
    "m.column_stack([x])", "m.column_stack([s, s])", "m.dstack([x, x])", "m.dstack([v, v])",
    "m.dstack((s, s))", "m.dstack([b, b])", "m.meshgrid(v, v[:2], indexing='ij')[0]",
    "m.meshgrid(v, v[:2], indexing='ij')[1]", "m.meshgrid([v, v[:2], s], indexing='xy')[0]",
    "m.meshgrid((v, v[:2]), indexing='xy')[1]", "m.meshgrid(v, indexing='xy')[0]",
    "m.meshgrid(s, v, indexing='ij')[1]", "m.cartesian_prod(v, v[:2])",
    "m.cartesian_prod(v, v, v[1:])", "m.cartesian_prod(v)", "m.cartesian_prod(m.tensor([1, 2]))",
    "m.combinations(v)", "m.combinations(v, 3)", "m.combinations(v, 1)", "m.combinations(v, 0)",
    "m.combinations(v, 4)", "m.combinations(v, with_replacement=True)",
    "m.combinations(v, 3, True)", "m.combinations(m.tensor([3, 1, 2]))", "m.combinations(v[:0])",
    "m.vander(v.detach())", "m.vander(v.detach(), 4, increasing=True)", "m.vander(v, N=1)",
    "m.vander(v, 0)", "m.vander(m.tensor([1, 2, 3]))",
    "m.vander(m.tensor([1, 2], dtype=m.int32), 3)",
    "m.vander(m.tensor([True, False]))", "m.vander(v.detach().float(), 2)",
    # products and statistics
    "m.inner(x, x)", "m.inner(v, v)", "m.inner(x, v)", "x.inner(v[:1].expand(4, 3))",
    "m.inner(s, x)", "m.inner(v, s)", "m.inner(m.tensor([1, 2]), m.tensor([3, 4]))",
    "m.chain_matmul(x)", "m.chain_matmul(x, x.t())", "m.chain_matmul(x.t(), x, x.t())",
    "m.chain_matmul(x, x.t(), q)", "m.chain_matmul(x, x.t(), x, x.t(), x)",
    "m.chain_matmul(q, q, q, x, x.t(), q)", "m.chain_matmul(fw.reshape(1, 3), fw.reshape(3, 1))",
    "m.cov(x)", "m.cov(v)", "m.cov(x, correction=0)", "m.cov(x, correction=2)",
    "m.cov(x, fweights=fw)", "m.cov(x, aweights=aw)", "m.cov(x, fweights=fw, aweights=aw)",
    "m.cov(x, fweights=fw, aweights=aw, correction=0)", "m.cov(x, fweights=fw, correction=3)",
    "m.cov(x.t())", "x.cov(correction=0)", "m.cov(m.tensor([[1, 2, 4], [3, 3, 1]], dtype=m.int32))",
    "m.cov(x[:, :0])", "m.cov(s)", "m.corrcoef(x)", "m.corrcoef(v)", "m.corrcoef(x.t())",
    "x.corrcoef()", "m.corrcoef(s)", "m.corrcoef(m.tensor([[1, 2, 4], [3, 3, 1]]))",
    "m.corrcoef(x[:, :1])",
    "m.addmv(v[:2], x, v)", "m.addmv(s, x, v, beta=0.5, alpha=2)", "v.addmv(x.t(), q[0], beta=0)",
    "m.addmv(m.tensor([1, 2]), m.tensor([[1, 2], [3, 4]]), m.tensor([5, -1]), beta=0.5, alpha=3)",
    "m.addr(x, q[0], v)", "m.addr(v, q[1], v, beta=2, alpha=0.5)", "x.detach().addr(q[0].detach(), v.float().detach())",
    "m.addr(s.float(), q[0].float(), v.float())",
    "m.addr(m.tensor([[True, False]]), m.tensor([True, False]), m.tensor([False, True]))",
    "m.addr(m.ones(2, 2, dtype=m.int64), m.tensor([1, 2]), m.tensor([3, 4]), beta=2, alpha=3)",
    "m.addr(m.tensor(1.5), m.tensor([1, 2]), m.tensor([3, 4]))",
    "m.baddbmm(q, b, b)", "b.baddbmm(b, b.transpose(1, 2), beta=0, alpha=-1)",
    "m.baddbmm(s, b, b[:, :, :1])", "m.baddbmm(q[0].long(), b.long(), b.long(), beta=2.5)",
    "m.addbmm(q, b, b)", "q[0].addbmm(b, b, alpha=2)", "m.addbmm(s, b[:0], b[:0])",
    "m.addbmm(q.long(), b.long(), b.long(), alpha=2)", "m.addmv(v[:2], x[:, :0], v[:0])",
    "m.select_scatter(x, v.float(), 0, 1)", "m.select_scatter(x, m.tensor([1, 2]), 1, 0)",
    "m.select_scatter(x.long(), v.long(), 0, -1)", "x.select_scatter(x[0] * 3, 0, 0)",
    "m.slice_scatter(x, q, 1, -10, 2)", "m.slice_scatter(x, x[:, :0], 1, 5, 9)",
    "m.slice_scatter(x, q, 1, None, None, 2)", "x.slice_scatter(x[:1], start=-1)",
    "m.diagonal_scatter(x, q[0])", "m.diagonal_scatter(x, v[:1], 2)", "m.diagonal_scatter(x, v[:0], 5)",
    "m.diagonal_scatter(b, q, 0, -1, 0)", "x.t().diagonal_scatter(v[:2] > 0)",
    # (torch 2.13's AsStridedScatterBackward0 is right for src only where input is row-major
    # and src's elements all land in it, once: elsewhere values only; test_ops checks ours)
    "m.as_strided_scatter(x.detach(), q, (2, 2), (3, 1), 1)",
    "x.detach().as_strided_scatter(v * 2, (3,), (2,), storage_offset=0)",
    "m.as_strided_scatter(x.detach().t(), q.detach(), (2, 2), (1, 2))",
    "m.as_strided_scatter(x.detach()[:, 1:], v[:2].detach(), (2,), (1,), 2)",
    "m.as_strided_scatter(x.detach()[1:], v[:2], (2,), (1,))",
    "m.as_strided_scatter(x.detach(), v.detach().reshape(3, 1), (3, 1), (1, 1))",
    "m.as_strided_scatter(x.detach(), q.detach(), (2, 2), (1, 1), m.tensor(1))",
    "m.as_strided_scatter(x.detach().long(), v.detach(), (3,), (2,))",
    "m.as_strided_scatter(x.detach(), v[:0], (0,), (5,), 9)",
    "m.renorm(x, 2, 0, 1.0)", "m.renorm(x, 1, 1, 5)", "x.renorm(0.5, -1, 0.1)", "m.renorm(b, 2, 1, 0.0)",
    "m.renorm(x, True, 0, 1.0)", "m.ldexp(x, m.tensor([1, -2, 0]))", "m.ldexp(v.float(), v)",
    "x.ldexp(m.tensor([1, 2, 3]).int())", "m.ldexp(m.tensor([1, 2]), m.tensor([3, -1]))",
    "m.ldexp(s.float(), m.tensor(2.0))", "m.ldexp(m.tensor([1.0, 2.0]), m.tensor([1024, -1080]))",
    "m.frexp(x)[0]", "m.frexp(x).exponent", "x.float().frexp().mantissa",
    "m.frexp(m.tensor([0.0, -0.0, 1e-310, float('inf'), float('nan')], dtype=m.float64))[0]",
    "m.frexp(m.tensor([0.0, -0.0, 1e-310, float('inf'), float('nan')], dtype=m.float64))[1]",
    "m.heaviside(m.tensor([0.0, -0.0, float('nan'), -1.0]), m.tensor(2.0))",
    "m.trapezoid(x)", "m.trapezoid(x, dx=0.5, dim=0)", "m.trapezoid(x, v)", "m.trapezoid(x, x * x)",
    "m.trapezoid(x, v.detach())", "m.trapezoid(x, q[0], dim=0)", "m.trapezoid(x[:, :1])", "m.trapezoid(x[:, :0])",
    "m.trapezoid(x.long(), dx=2)", "m.trapezoid(x.long(), v.long())", "m.trapezoid(x, v.long())",
    "m.trapz(x)", "m.trapz(x, dx=3)", "m.trapz(x, v, dim=1)", "m.cumulative_trapezoid(x)",
    "m.cumulative_trapezoid(x, dx=2.0, dim=0)", "m.cumulative_trapezoid(x, v)", "m.cumulative_trapezoid(x, x.exp(), dim=-1)",
    "m.cumulative_trapezoid(x[:, :1])", "m.cumulative_trapezoid(x[:, :0])", "m.cumulative_trapezoid(x.long())",
    # (a 0-d tensor that needs no grad is a Number to torch's parser: test_error_fidelity's
    # has the refusals)
    "m.trapezoid(x, dx=m.tensor(0.5))", "m.trapz(x, dx=m.tensor(2))",
    "m.cumulative_trapezoid(x, dx=m.tensor(0.25))",
    "(v[:2] * 1).addmv_(x, v, beta=0.5)", "m.addmv_(v[:2].detach().clone(), x, v)",
    "(x * 2).addr_(q[0], v, alpha=2)", "x.detach().clone().addr_(q[0], v)", "(b * 1).baddbmm_(b, b, beta=0)",
    "(q * 1).addbmm_(b, b, alpha=2)", "q.detach().clone().addbmm_(b, b)",
    "(x * 1).renorm_(2, 0, 1.0)", "(x * 1).ldexp_(m.tensor([1, -1, 2]))", "(x * 1).ldexp_(v)",
    "x.detach().clone().ldexp_(v)", "m.ldexp_(x * 1, v)", "m.ldexp_((x * 1)[1], v)[None] * x",
    "(lambda y: (y[0].addmv_(x, v), y)[1])((x * 1)[:, :2].t())", "m.ones(2, 3).long().addr_(q[0].long(), v.long())",
    "m.heaviside(m.tensor([0, 3, -1]), m.tensor([7]))", "m.heaviside(m.tensor([True, False]), m.tensor([False, True]))",
]
ERRORS = [
    "x.t().view(6)", "x.expand(2, 2, 3).view(4, 3)", "x[:, 1:].view(4)",
    "m.Size([2]) + [1]", "m.Size([2]) + 1",
    "m.vdot(v, 3)", "v.vdot(3)", "m.dist(v, 3)", "v.dist(3)", "m.maximum(v, 3)", "m.fmin(v, 2.0)",
    "m.logaddexp(v, [1.0])", "m.dist(3, v)",
    "m.zeros(1, 3).copy_(m.ones(2, 3))", "m.zeros(3).copy_(x)", "m.zeros(2, 1).copy_(m.ones(2, 3))",
    "m.zeros(2, 3).copy_(m.ones(4))", "m.zeros(2, 3).copy_(m.ones(1, 2, 3))",
    "m.matrix_power(x, 2)", "m.select(x, 0, 5)", "m.select(x, 2, 0)", "m.vsplit(v, 2)",
    "m.hsplit(x, 2)", "m.positive(v > 0)", "m.broadcast_shapes((2, 3), (4, 3))",
    "m.is_nonzero(v)", "m.is_nonzero(v[:0])", "m.tensor_split(x, 0)", "m.dsplit(x, 2)",
    "m.diff(x, n=-1)", "m.broadcast_to(x, (3,))", "m.diff(s)", "m.nanmean(m.tensor([1, 2]))",
    "m.vdot(x, v)", "m.vdot(v, v[:2])", "m.vdot(v, v.float())", "m.dist(x, x[:, :2])",
    "m.column_stack([])", "m.column_stack([s, v])", "m.dstack([])", "m.dstack([x, v])",
    "m.meshgrid()", "m.meshgrid(v, v.float(), indexing='ij')", "m.meshgrid(v, v, indexing='ji')",
    "m.cartesian_prod(v, x)", "m.cartesian_prod(v, fw)", "m.cartesian_prod()", "m.combinations(x)",
    "m.combinations(s)", "m.combinations(v, -1)", "m.vander(x)", "m.vander(s)", "m.vander(v, -1)",
    "m.inner(x, q)", "m.inner(x, x.float())", "m.chain_matmul()", "m.chain_matmul(v, x)",
    "m.chain_matmul(x, v)", "m.chain_matmul(x, x)", "m.chain_matmul(x, q)",
    "m.chain_matmul(x, x.t().float())", "m.chain_matmul(q, q, x, q)", "m.cov(x > 0)",
    "m.cov(b)", "m.cov(x, fweights=aw)", "m.cov(x, aweights=fw)", "m.cov(x, fweights=fw[:2])",
    "m.cov(x, aweights=aw[:1])", "m.cov(x, fweights=-fw)", "m.cov(x, aweights=-aw)",
    "m.cov(x, fweights=fw * 0)", "m.cov(x, aweights=aw * 0)", "m.cov(x, fweights=fw[None])",
    "m.cov(x, aweights=aw[None])", "m.cov(x, correction=1.5)", "m.corrcoef(b)",
    "m.addmv(v, x, v)", "m.addmv(x, x, v)", "m.addmv(v[:2], x, x)", "m.addmv(v[:2], v, v)",
    "m.addmv(q[0], x, v[:2])", "m.addmv(v, x, v)", "m.addmv(v[:2].float(), x, v)",
    "m.addmv(v[:2], x, v.float())", "m.addmv(1.0, x, v)", "m.addmv(v[:2], x, [1, 2, 3])",
    "m.addmv(v[:2], x, v, alpha=1j)", "m.addmv(v[:2] > 0, x > 0, v > 0)",
    "m.addr(x, v, v)", "m.addr(x, x, v)", "m.addr(x, v, x)", "m.addr(b, q[0], v)",
    "m.addr(x, q[0], v, beta=1j)", "m.addr(x.long(), q[0].long(), v.long(), beta=0.5)",
    "m.addr(x.long(), q[0].long(), v.long(), alpha=True)", "m.addr(x, q[0], v, beta=True)",
    "m.addr(x.bool(), q[0].bool(), v.bool(), alpha=2.0)", "m.addr(q, q[0], v)",
    "m.baddbmm(x, b, b)", "m.baddbmm(q, b[0], b)", "m.baddbmm(q, b, b[0])",
    "m.baddbmm(q, b, b[:1])", "m.baddbmm(q, b, x[None].expand(2, 2, 3)[:, :1])",
    "m.baddbmm(q.float(), b, b)", "m.baddbmm(q, b.float(), b)", "m.baddbmm(v, b[0], b)",
    "m.baddbmm(q.bool(), b.bool(), b.bool())", "m.baddbmm(q, b, b, beta=1j)",
    "m.addbmm(b, b, b)", "m.addbmm(q, b[0], b)", "m.addbmm(q, b, b[0])", "m.addbmm(q, b, b[:1])",
    "m.addbmm(q, b, m.ones(2, 3, 2, dtype=m.float64))", "m.addbmm(q.float(), b, b)",
    "m.addbmm(q, b.float(), b)", "m.addbmm(q, b, b.float())", "m.addbmm(q.bool(), b.bool(), b.bool())",
    "m.addbmm(q, m.ones(1, 2, 2, 2), b)",
    "m.select_scatter(x, v[:2], 0, 1)", "m.select_scatter(x, v, 0, 2)", "m.select_scatter(x, v, 2, 0)",
    "m.select_scatter(x, v[:, None], 0, 1)", "m.select_scatter(s, s, 0, 0)", "m.select_scatter(x, 1.0, 0, 1)",
    "m.select_scatter(x, v, 0, True)", "m.select_scatter(x, v, 0, -3)", "x.select_scatter(v, 1.0, 0)",
    "m.slice_scatter(x, q, 1, 0, 3, 0)", "m.slice_scatter(x, v, 1)", "m.slice_scatter(x, q, 2)",
    "m.slice_scatter(s, s)", "m.slice_scatter(x, q, 1, 1.5)", "m.slice_scatter(x, x, 0, None, None, None)",
    "x.slice_scatter(q, 1, 0, 2, -1)", "m.diagonal_scatter(x, v)", "m.diagonal_scatter(x, q, 0, 0, 1)",
    "m.diagonal_scatter(x, q[0], 0, 0, -2)", "m.diagonal_scatter(v, v)", "m.diagonal_scatter(x, q[0], 1.5)",
    "x.diagonal_scatter(q[0], 0, 0, 2)",
    "m.as_strided_scatter(x, q, (2, 2), (3, 3))", "m.as_strided_scatter(x, q, (2, 2), (3, 1), -1)",
    "m.as_strided_scatter(x, q, (2, -2), (3, 1))", "m.as_strided_scatter(x, q, (2, 2), (3, -1))",
    "m.as_strided_scatter(x, v, (2, 2), (3, 1))", "m.as_strided_scatter(x, 1.0, (2, 2), (3, 1))",
    "m.as_strided_scatter(x, v[:2], (2,), (0,))", "m.as_strided_scatter(x, q, (2, 2), (1,))",
    "m.as_strided_scatter(x, q, (2, 2.0), (1, 1))", "m.as_strided_scatter(x, q, 2, (1, 1))",
    "m.as_strided_scatter(x, q, (2, 2), (1, 1), 1.5)", "m.as_strided_scatter(x.t(), v[:2], (2,), (1,))",
    "m.as_strided_scatter(x.detach().long(), v, (3,), (2,))", "m.select_scatter(x.long(), v, 0, 1)",
    "m.as_strided_scatter(x.detach(), v, (3,), (1,), 4)",
    "m.as_strided_scatter(x.detach(), v.detach()[:2, None], (2, 2), (1, 0))",
    "m.renorm(x, 0, 0, 1.0)", "m.renorm(x, -1, 0, 1.0)", "m.renorm(x, 2, 0, -1.0)", "m.renorm(x, 2, 0, -0.5)",
    "m.renorm(x, 1j, 0, 1.0)", "m.renorm(x, 2, 0, 1j)", "m.renorm(v, 2, 0, 1.0)", "m.renorm(s, 2, 0, 1.0)",
    "m.renorm(x, 2, 2, 1.0)", "m.renorm(x.long(), 2, 0, 1.0)", "m.ldexp(x, 2)", "m.ldexp(2.0, v)",
    "m.ldexp(x, q)", "m.ldexp(v, v > 0)", "m.frexp(v.long())", "m.heaviside(x, 0.5)",
    "m.heaviside(x, v.float())", "m.heaviside(x, q)", "m.heaviside(1.0, v)", "x.heaviside(x.long())",
    "m.heaviside(x, m.tensor(0.5, dtype=m.float64))", "m.heaviside(x.detach(), v)", "x.heaviside(x)",
    "m.trapezoid(x, v, dx=1.0)", "m.trapezoid(x, dx=True)", "m.trapezoid(x, dx=1j)", "m.trapezoid(x > 0)",
    "m.trapezoid(x, v > 0)", "m.trapezoid(x, v[:2])", "m.trapezoid(x, m.ones(3, 3, dtype=m.float64))",
    "m.trapezoid(x, dim=2)", "m.trapezoid(s)", "m.trapezoid(1.0)", "m.trapezoid(x, 2.0)", "m.trapezoid(x, dx=v)",
    "m.trapz(x > 0)", "m.trapz(x, v, dx=2.0)", "m.trapz(x, dim=1.5)", "m.cumulative_trapezoid(x, dx=True)",
    "m.cumulative_trapezoid(x > 0)", "m.cumulative_trapezoid(x, v[:2])", "m.cumulative_trapezoid(x, v > 0)",
    "m.cumulative_trapezoid(x, v, dx=1.0)", "m.trapezoid(v, v[None])",
    "x.addmv_(x, v)", "v.addmv_(x, v)", "(v[:1] * 1).addmv_(x, v)", "(v[:2] * 1).addmv_(x, x)",
    "(q[0] * 1).addr_(q[0], v)", "(x[:1] * 1).addr_(q[0], v)", "x.detach().long().addr_(q[0], v)",
    "(q * 1).baddbmm_(b, b[:, :1])", "(q * 1).baddbmm_(b, b)", "q.addbmm_(b, b)",
    "(q * 1).addbmm_(b, b[:1])", "(v * 1).ldexp_(x)", "v.long().ldexp_(v)",
    "(x * 1).renorm_(2, 0, -1.0)", "m.addmv_(1.0, x, v)", "x.renorm_(2, 0, 1.0)",
]


def _show(r):
    if isinstance(r, (bool, tuple)) and not hasattr(r, "grad_fn"):
        return repr(tuple(r)) if isinstance(r, tuple) else repr(r)
    if isinstance(r, tuple):
        return tuple(_show(t) for t in r)
    fn = r.grad_fn
    a = r.detach().numpy()
    if a.dtype.kind == "f":   # (BLAS and summation orders differ in the last bits)
        a = np.round(a, 12 if a.dtype == np.float64 else 5) + 0.0
    return (repr(a.tolist()), str(r.dtype).split(".")[-1], tuple(r.shape),
            None if fn is None else fn.name().replace("torch::autograd::", ""))


def _run(m, exprs):
    ns = {"m": m}
    exec(SETUP, ns)
    out = []
    for e in exprs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # (test_warnings_as_torch compares them)
                r = eval(e, ns)
            shown = _show(r)
            grads = None
            if hasattr(r, "requires_grad") and r.requires_grad:
                leaves = [ns[k] for k in "xvsqb"]
                gs = m.autograd.grad((r * r).sum(), leaves, allow_unused=True)
                grads = [None if g is None else np.round(g.numpy(), 10).tolist() for g in gs]
            out.append((e, shown, grads))
        except Exception as ex:  # noqa: BLE001
            out.append((e, type(ex).__name__, re.sub("torch|tapegrad", "M", str(ex))))
    return out


@pytest.mark.parametrize("k", range(len(EXPRS)))
def test_expression_as_torch(k):
    e = EXPRS[k:k + 1]
    got, want = _run(tapegrad, e), _run(torch, e)
    assert got[0][:2] == want[0][:2]
    if got[0][2] is not None or want[0][2] is not None:
        for g, w in zip(got[0][2], want[0][2]):
            assert (g is None) == (w is None)
            if g is not None:
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_errors_as_torch():
    assert _run(tapegrad, ERRORS) == _run(torch, ERRORS)


@pytest.mark.parametrize("fn", [
    lambda a: tapegrad.diff(a, n=2, dim=1), lambda a: tapegrad.matrix_power(a[:, :2], 5),
    lambda a: tapegrad.take_along_dim(a, tapegrad.tensor([[2, 1, 0]]), 1),
    lambda a: tapegrad.tensor_split(a, 2, dim=1)[0], lambda a: tapegrad.float_power(a, 3),
    lambda a: tapegrad.column_stack([a.t(), a[0]]), lambda a: tapegrad.dstack([a, a * 2]),
    lambda a: tapegrad.meshgrid(a[0], a[1, :2], indexing="xy")[1] * 1.5,
    lambda a: tapegrad.cartesian_prod(a[0], a[1]), lambda a: tapegrad.combinations(a[0], 2),
    lambda a: tapegrad.combinations(a[1], 3, with_replacement=True),
    lambda a: tapegrad.inner(a, a), lambda a: tapegrad.inner(a, a[1]),
    lambda a: tapegrad.chain_matmul(a, a.t(), a, a.t(), a),
    lambda a: tapegrad.cov(a), lambda a: tapegrad.corrcoef(a),
    lambda a: tapegrad.cov(a, fweights=tapegrad.tensor([2, 1, 3]),
                           aweights=tapegrad.tensor([0.5, 1.0, 2.0], dtype=tapegrad.float64)),
    # (src's first element lands before input's own storage: dropped, no gradient; torch's
    # backward of it fails, and is wrong for a transposed input)
    lambda a: tapegrad.as_strided_scatter(a[1:], a[0, :2] * 2, (2,), (1,), 2),
    lambda a: tapegrad.as_strided_scatter(tapegrad.arange(6.0, dtype=tapegrad.float64)
                                          .reshape(2, 3).t(), a[0, :2] * 2, (2,), (2,), 1)])
def test_gradcheck(fn):
    a = tapegrad.tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(fn, (a,))


WARNED = """
import warnings, {m} as m
x = m.ones(2, 2)
for e in ("m.meshgrid(x[0], x[1])", "m.chain_matmul(x, x)", "m.cov(x[:, :1])"):
    for k in range(2):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            eval(e)
        print(e, k, [(x.category.__name__, str(x.message).split(" (Triggered")[0]) for x in w])
"""


def test_warnings_as_torch():
    """meshgrid without indexing and chain_matmul warn once a process (torch's
    TORCH_WARN_ONCE), cov's degrees of freedom each time: fresh processes for both."""
    def run(name):
        return fresh.run(WARNED.format(m=name)).stdout.replace("torch.", "M.")
    got = run("tapegrad").replace("tapegrad.", "M.")
    assert got == run("torch")
    assert got.count("UserWarning") == 4


def test_vander_backward_as_torch():
    """torch's vander writes cumprod's result over its own input (CopySlices), so a backward
    through it fails on the saved value's version, in tapegrad as in torch."""
    for m in (tapegrad, torch):
        v = m.tensor([0.5, 2.0, -1.0], dtype=m.float64, requires_grad=True)
        out = m.vander(v)
        assert out.grad_fn.next_functions[0][0].name().endswith("CopySlices")
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


def _chain(fn, depth=8):
    """A grad_fn and its next_functions, recursively, as a string (AccumulateGrad as 'leaf')."""
    if fn is None:
        return "None"
    name = fn.name().replace("torch::autograd::", "")
    if name == "AccumulateGrad" or depth == 0:
        return "leaf" if name == "AccumulateGrad" else name
    return name + "(" + ",".join(_chain(f, depth - 1) for f, _ in fn.next_functions) + ")"


# whole backward graphs as torch's.  Below the top node three differ, from tapegrad's
# primitives: cartesian_prod (a reshape of an expanded grid records no CloneBackward0), inner
# (tensordot skips identity permutes and views differently) and cov with aweights that require
# grad (`correction * sum` shows MulBackward0: tapegrad has no MulBackward1)
CHAINS = [
    "m.column_stack((x.t(), v, s.reshape(1, 1).expand(3, 1)))", "m.dstack([v, s.expand(3)])",
    "m.meshgrid([v, v[:2], s], indexing='xy')[1]", "m.combinations(v, 3, True)",
    "m.vander(v)", "m.vander(v, 4, increasing=True)", "m.chain_matmul(q, q, q, x, x.t(), q)",
    "m.chain_matmul(x.t(), x, x.t())", "m.chain_matmul(x)", "m.cov(x)", "m.cov(v)",
    "m.cov(x, fweights=fw)", "m.cov(x, aweights=aw)", "m.cov(x, fweights=fw, aweights=aw)",
    "m.corrcoef(x)", "m.corrcoef(v)", "m.inner(s, x)",
]


@pytest.mark.parametrize("e", CHAINS)
def test_chain_as_torch(e):
    def run(m):
        ns = {"m": m}
        exec(SETUP, ns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _chain(eval(e, ns).grad_fn)
    assert run(tapegrad) == run(torch)
